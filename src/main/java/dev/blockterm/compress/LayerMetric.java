package dev.blockterm.compress;

import dev.blockterm.tensor.Matrix;

/**
 * The metric a layer's error {@code D = W - W^} ({@code I x J}) is measured in: the one its low-rank curve
 * was fitted in, so that every form's points are ranked by the same measure.
 */
sealed interface LayerMetric {

    /** The squared error of {@code d} in this metric. */
    double squared(Matrix d);

    /** {@code ||D||_F^2}: the weight's own (no calibration inputs). */
    record Plain() implements LayerMetric {
        public double squared(Matrix d) {
            return d.dot(d);
        }
    }

    /** {@code ||X D||_F^2 + delta ||D||_F^2} for calibration inputs {@code X} with {@code X^T X = xtx} ({@code I x I}). */
    record Gram(Matrix xtx, double delta) implements LayerMetric {
        public double squared(Matrix d) {
            return xtx.times(d).dot(d) + delta * d.dot(d);
        }
    }

    /**
     * {@code sum_i (c_i + delta) ||D[i, :]||^2}: an embedding table looked up {@code c_i} times at row
     * {@code i} on the calibration inputs (its one-hot inputs' {@code X^T X} is {@code diag(c)}), the
     * damping a floor for rows never seen.
     */
    record Rows(double[] counts, double delta) implements LayerMetric {
        public double squared(Matrix d) {
            double s = 0;
            for (int i = 0; i < d.rows(); i++) {
                double row = 0;
                for (int j = 0; j < d.cols(); j++) {
                    double v = d.data()[i * d.cols() + j];
                    row += v * v;
                }
                s += (counts[i] + delta) * row;
            }
            return s;
        }
    }
}
