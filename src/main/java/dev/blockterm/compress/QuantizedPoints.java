package dev.blockterm.compress;

import dev.blockterm.decompose.LowRank;
import dev.blockterm.onnx.Weights;
import dev.blockterm.quantize.Precision;
import dev.blockterm.quantize.Quantizer;
import dev.blockterm.tensor.Matrix;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * A layer's points on the bits axis: the dense weight and the low-rank factors at a spread of ranks,
 * each stored at every lower precision the user allows, with the bytes that takes and the error it
 * gives, <em>measured</em> on the quantized values in the layer's own metric (the damped output
 * metric {@code ||X D||^2 + delta ||D||^2} with calibration, {@code ||D||^2} without, relative to the
 * same metric of the weight: the low-rank curve's own), so the allocation sets every (form, rank,
 * bits) point side by side by one measured error per byte.
 *
 * <p>Cost per point: {@code 2 I r J} for {@code D = W - A^ B^}, and with a full calibration covariance
 * {@code 2 I^2 J} for {@code X^T X D}; ranks are sampled at {@link #RANK_FRACTIONS} of the largest offered rank, not all of them.
 */
final class QuantizedPoints {

    /**
     * A point: the dense weight ({@code rank} 0) or the rank-{@code rank} factors stored at
     * {@code precision}, its bytes, and its relative error in the layer's metric; {@code quantized}: the
     * dense weight's values where they were quantized with error feedback (GPTQ, in the metric of the
     * layer's inputs), which the written model then stores as they are; else null (rounded to nearest).
     */
    record Point(int rank, Precision precision, long bytes, double error, dev.blockterm.quantize.Quantized quantized) {
    }

    /** The ranks tried, as fractions of the largest offered rank (the allocation's hull needs only a spread). */
    static final double[] RANK_FRACTIONS = {1 / 32.0, 1 / 16.0, 1 / 8.0, 3 / 16.0, 1 / 4.0, 5 / 16.0, 3 / 8.0, 1 / 2.0,
        5 / 8.0, 3 / 4.0, 7 / 8.0, 1};

    private QuantizedPoints() {
    }

    /** The precisions below the weight's own that {@code allowed} offers (float16 only for a wider weight). */
    static List<Precision> lower(Set<Precision> allowed, int dataType) {
        List<Precision> out = new ArrayList<>();
        for (Precision p : allowed) {
            if (p == Precision.FLOAT || (p == Precision.HALF && Weights.width(dataType) <= 2)) {
                continue;
            }
            out.add(p);
        }
        return out;
    }

    /**
     * The points of a layer whose weight is {@code w} ({@code I x J} as the job reads it), of element type
     * {@code dataType}, with curve {@code curve} whose ranks up to {@code maxRank} are offered, measured in
     * {@code metric} (the curve's own); {@code rowScales}: the weight's rows are its channels (an
     * embedding table, one scale per looked-up row).
     */
    static List<Point> of(Matrix w, int dataType, LowRank curve, int maxRank, LayerMetric metric,
                          List<Precision> precisions, boolean rowScales) {
        List<Point> out = new ArrayList<>();
        if (precisions.isEmpty() || curve.total() <= 0) {
            return out;
        }
        int width = Weights.width(dataType);
        Set<Integer> ranks = new TreeSet<>();
        for (double f : RANK_FRACTIONS) {
            int r = (int) Math.round(f * maxRank);
            if (r >= 1 && r <= maxRank) {
                ranks.add(r);
            }
        }
        for (Precision p : precisions) {
            dev.blockterm.quantize.Quantized q = null;
            Matrix wq;
            if (metric instanceof LayerMetric.Gram g && p.integer() && !rowScales) {
                // rounding to nearest is the optimum of the weight's own metric; in the inputs' one, GPTQ
                q = dev.blockterm.quantize.Gptq.quantize(rounded(w, dataType).data(), w.rows(), w.cols(), p,
                        dev.blockterm.decompose.Whitening.damped(g.xtx(), dev.blockterm.decompose.Whitening.DEFAULT_DAMPING)
                                .data());
                wq = new Matrix(w.rows(), w.cols(), Quantizer.values(q));
            } else {
                wq = stored(w, p, dataType, rowScales);
            }
            out.add(new Point(0, p, bytes(w.rows(), w.cols(), p, width, rowScales),
                    relative(w, wq, metric, curve.total()), q));
        }
        for (int r : ranks) {
            Matrix[] ab = curve.factors(r);
            for (Precision p : precisions) {
                Matrix approx = stored(ab[0], p, dataType, rowScales).times(stored(ab[1], p, dataType, false));
                long bytes = bytes(ab[0].rows(), r, p, width, rowScales) + bytes(r, ab[1].cols(), p, width, false);
                out.add(new Point(r, p, bytes, relative(w, approx, metric, curve.total()), null));
            }
        }
        return out;
    }

    /**
     * Point {@code b} fitted again for a layer whose inputs changed upstream ({@code --sequential}): with
     * {@code g = X^T X}, {@code gPrime = X'^T X'} and {@code cross = X'^T X}, the output error splits as
     * {@code ||X W - X' W^||^2 = ||X W - X' W*||^2 + ||X' (W* - W^)||^2} with
     * {@code W*} the compensated weight ({@link LowRank#compensated}'s identity), so the dense
     * weight's quantized values are GPTQ's of {@code W*} in the metric of {@code X'}; a low-rank point's
     * factors are {@code curve}'s (the compensated curve), stored as before. The error is the compensated
     * one, relative to {@code ||X W||}.
     */
    static Point compensated(Matrix w, Point b, LowRank curve, int dataType, Matrix g, Matrix gPrime, Matrix cross) {
        if (b.rank() > 0 || !b.precision().integer()) {
            Matrix approx = approximation(w, curve, b, dataType, false);
            return new Point(b.rank(), b.precision(), b.bytes(), LowRank.compensatedError(w, approx, g, gPrime, cross),
                    null);
        }
        // the ridge pulls toward W rather than toward 0: W* = (G' + delta I)^-1 (C W + delta W), which is W
        // itself where the inputs did not change, and which keeps the refit from spending the fitting rows'
        // noise on directions those rows barely see
        double delta = dev.blockterm.decompose.Whitening.delta(gPrime, dev.blockterm.decompose.Whitening.DEFAULT_DAMPING);
        Matrix metric = dev.blockterm.decompose.Whitening.damped(gPrime, dev.blockterm.decompose.Whitening.DEFAULT_DAMPING);
        Matrix target = dev.blockterm.decompose.MetricLeastSquares.pseudoSolve(metric, cross.times(w).plus(w.scale(delta)));
        dev.blockterm.quantize.Quantized q = dev.blockterm.quantize.Gptq.quantize(rounded(target, dataType).data(),
                w.rows(), w.cols(), b.precision(), metric.data());
        Matrix wq = new Matrix(w.rows(), w.cols(), Quantizer.values(q));
        return new Point(0, b.precision(), b.bytes(), LowRank.compensatedError(w, wq, g, gPrime, cross), q);
    }

    /** The bytes of a {@code rows x cols} matrix stored at {@code p}, its channels its columns or its rows. */
    static long bytes(int rows, int cols, Precision p, int width, boolean channelsAreRows) {
        return channelsAreRows ? Quantizer.bytes(cols, rows, p, width) : Quantizer.bytes(rows, cols, p, width);
    }

    /** The dense weight point {@code b} computes, as the written model computes it. */
    static Matrix approximation(Matrix w, LowRank curve, Point b, int dataType, boolean rowScales) {
        if (b.rank() == 0) {
            return b.quantized() != null ? new Matrix(w.rows(), w.cols(), Quantizer.values(b.quantized()))
                    : stored(w, b.precision(), dataType, rowScales);
        }
        Matrix[] ab = curve.factors(b.rank());
        return stored(ab[0], b.precision(), dataType, rowScales).times(stored(ab[1], b.precision(), dataType, false));
    }

    /**
     * {@code m} as stored at {@code p} and read back: rounded to the model's element type, then quantized
     * with its columns as channels (or its rows, {@code channelsAreRows}).
     */
    static Matrix stored(Matrix m, Precision p, int dataType, boolean channelsAreRows) {
        Matrix r = rounded(m, dataType);
        if (channelsAreRows) {
            Matrix t = r.transpose();
            return new Matrix(t.rows(), t.cols(), Quantizer.roundTrip(t.data(), t.rows(), t.cols(), p)).transpose();
        }
        return new Matrix(r.rows(), r.cols(), Quantizer.roundTrip(r.data(), r.rows(), r.cols(), p));
    }

    /** The values as the model's element type holds them. */
    static Matrix rounded(Matrix m, int dataType) {
        double[] v = new double[m.data().length];
        for (int i = 0; i < v.length; i++) {
            v[i] = Weights.round(m.data()[i], dataType);
        }
        return new Matrix(m.rows(), m.cols(), v);
    }

    /** {@code sqrt(metric(W - W^) / total)}: the relative error in the curve's metric. */
    static double relative(Matrix w, Matrix approx, LayerMetric metric, double total) {
        double[] d = new double[w.data().length];
        for (int i = 0; i < d.length; i++) {
            d[i] = w.data()[i] - approx.data()[i];
        }
        return Math.sqrt(Math.max(0, metric.squared(new Matrix(w.rows(), w.cols(), d))) / total);
    }
}
