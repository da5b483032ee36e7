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
 * <p>Cost per point: {@code 2 I r J} for {@code D = W - A^ B^}, and with calibration {@code 2 I^2 J} for
 * {@code X^T X D}; ranks are sampled at {@link #RANK_FRACTIONS} of the largest offered rank, not all of them.
 */
final class QuantizedPoints {

    /**
     * A point: the dense weight ({@code rank} 0) or the rank-{@code rank} factors stored at
     * {@code precision}, its bytes, and its relative error in the layer's metric.
     */
    record Point(int rank, Precision precision, long bytes, double error) {
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
     * {@code dataType}, with curve {@code curve} whose ranks up to {@code maxRank} are offered; {@code gram}
     * is {@code X^T X} and {@code delta} the damping where the curve is whitened (else null and 0).
     */
    static List<Point> of(Matrix w, int dataType, LowRank curve, int maxRank, Matrix gram, double delta,
                          List<Precision> precisions) {
        List<Point> out = new ArrayList<>();
        if (precisions.isEmpty() || curve.total() <= 0) {
            return out;
        }
        int width = Weights.width(dataType);
        Matrix stored = rounded(w, dataType);
        Set<Integer> ranks = new TreeSet<>();
        for (double f : RANK_FRACTIONS) {
            int r = (int) Math.round(f * maxRank);
            if (r >= 1 && r <= maxRank) {
                ranks.add(r);
            }
        }
        for (Precision p : precisions) {
            Matrix wq = new Matrix(w.rows(), w.cols(), Quantizer.roundTrip(stored.data(), w.rows(), w.cols(), p));
            out.add(new Point(0, p, Quantizer.bytes(w.rows(), w.cols(), p, width),
                    relative(w, wq, gram, delta, curve.total())));
        }
        for (int r : ranks) {
            Matrix[] ab = curve.factors(r);
            Matrix a = rounded(ab[0], dataType);
            Matrix b = rounded(ab[1], dataType);
            for (Precision p : precisions) {
                Matrix aq = new Matrix(a.rows(), r, Quantizer.roundTrip(a.data(), a.rows(), r, p));
                Matrix bq = new Matrix(r, b.cols(), Quantizer.roundTrip(b.data(), r, b.cols(), p));
                long bytes = Quantizer.bytes(a.rows(), r, p, width) + Quantizer.bytes(r, b.cols(), p, width);
                out.add(new Point(r, p, bytes, relative(w, aq.times(bq), gram, delta, curve.total())));
            }
        }
        return out;
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
    static double relative(Matrix w, Matrix approx, Matrix gram, double delta, double total) {
        double[] d = new double[w.data().length];
        double plain = 0;
        for (int i = 0; i < d.length; i++) {
            d[i] = w.data()[i] - approx.data()[i];
            plain += d[i] * d[i];
        }
        double e = plain;
        if (gram != null) {
            Matrix dm = new Matrix(w.rows(), w.cols(), d);
            e = gram.times(dm).dot(dm) + delta * plain;
        }
        return Math.sqrt(Math.max(0, e) / total);
    }
}
