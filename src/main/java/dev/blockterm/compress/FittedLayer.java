package dev.blockterm.compress;

import dev.blockterm.decompose.LowRank;
import dev.blockterm.onnx.ConvLayer;
import dev.blockterm.onnx.Weights;
import dev.blockterm.tensor.Matrix;
import java.util.function.Supplier;

/**
 * A selected layer as fitted for the decision: what every one of its {@link Form}s shares.
 *
 * @param job               the layer, read as the matrix {@code W (I x J)}
 * @param weight            {@code W}, read from the model when asked
 * @param curve             its exact low-rank curve ({@link LowRank}), in the layer's metric
 * @param whitened          whether that metric is its outputs' on the calibration inputs (else its weight's)
 * @param metric            the metric the curve and every form's errors are measured in
 * @param delta             the damping added to the metric ({@code ||X D||^2 + delta ||D||^2}); 0 without calibration
 * @param seconds           the time its fits took
 * @param dataType          the weight's ONNX element type
 * @param compensatedError  after {@code --sequential}: the chosen point's output error against the original
 *                          model's outputs from the compressed model's inputs; NaN before (or without) it
 */
record FittedLayer(LayerJob job, Supplier<Matrix> weight, LowRank curve, boolean whitened, LayerMetric metric,
                   double delta, double seconds,
                   int dataType, double compensatedError) {

    /** The relative error of {@code approx} in the layer's metric: {@code sqrt(metric(W - W^) / total)}. */
    double metricError(Matrix approx) {
        return QuantizedPoints.relative(weight.get(), approx, metric, curve.total());
    }

    /** Whether the layer was refitted by {@code --sequential}. */
    boolean sequential() {
        return !Double.isNaN(compensatedError);
    }

    /** The bytes of the weight as the model stores it. */
    long denseBytes() {
        return job.parameters() * Weights.width(dataType);
    }

    /** The largest rank whose factored form is smaller than the dense weight and that the curve holds. */
    int smallerThanDense() {
        return Math.min(smallerThanDense(job.rows(), job.cols()), curve.kept());
    }

    /** The largest rank whose factored form {@code r (I + J)} is smaller than the dense {@code I J}. */
    static int smallerThanDense(int rows, int cols) {
        long r = (long) rows * cols / ((long) rows + cols);
        if (r * (rows + cols) >= (long) rows * cols) {
            r--;
        }
        return (int) Math.max(0, Math.min(r, Math.min(rows, cols)));
    }

    /** An approximation's squared Frobenius distance from {@code W} and {@code W}'s squared norm. */
    record Distance(double diff, double norm) {
        /** {@code ||W - W^||_F / ||W||_F}. */
        double relative() {
            return norm == 0 ? 0 : Math.sqrt(diff / norm);
        }

        static Distance between(Matrix w, Matrix approx) {
            double diff = 0;
            double norm = 0;
            for (int i = 0; i < w.data().length; i++) {
                double d = w.data()[i] - approx.data()[i];
                diff += d * d;
                norm += w.data()[i] * w.data()[i];
            }
            return new Distance(diff, norm);
        }
    }

    Distance distance(Matrix approx) {
        return Distance.between(weight.get(), approx);
    }

    /**
     * The relative error of the layer's outputs on the calibration inputs, for an approximation at
     * {@code distance} whose squared error in the damped metric is {@code squared} (absolute):
     * {@code ||X D||^2 = squared - delta ||D||^2}, over {@code ||X W||^2 = total - delta ||W||^2}.
     */
    double outputError(double squared, Distance distance) {
        double out = Math.max(0, squared - delta * distance.diff());
        double base = curve.total() - delta * distance.norm();
        return base <= 0 ? 0 : Math.sqrt(out / base);
    }

    /** The report's words for a convolution factored at rank {@code rank}. */
    static String convForm(ConvLayer layer, int rank) {
        return "k conv " + layer.inChannels() + "->" + rank + ", 1x1 " + rank + "->" + layer.outChannels();
    }

    /** The report's words for the shape of a factored point of rank {@code rank}. */
    String tensorization(int rank) {
        return job instanceof LayerJob.Conv c ? convForm(c.layer(), rank) : job.rows() + " x " + job.cols();
    }
}
