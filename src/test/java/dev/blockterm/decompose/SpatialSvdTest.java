package dev.blockterm.decompose;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.tensor.Matrix;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Spatial SVD: planted separable kernels recovered; in a metric, ALS reaches below the SVD start, monotonely. */
class SpatialSvdTest {

    private static final int C_IN = 4;
    private static final int KH = 3;
    private static final int KW = 3;
    private static final int C_OUT = 5;

    /** A kernel (as (C_in k_h k_w) x C_out) whose S matrix has rank r. */
    private static Matrix planted(int r, Random random) {
        Matrix p = Matrix.gaussian(C_IN * KH, r, random);
        Matrix q = Matrix.gaussian(r, KW * C_OUT, random);
        SpatialSvd any = new SpatialSvd(Matrix.zeros(C_IN * KH * KW, C_OUT), C_IN, KH, KW);
        return any.expand(p, q);
    }

    /** A covariance with strongly unequal directions: {@code X^T X} of correlated inputs. */
    private static Matrix covariance(Random random) {
        int n = C_IN * KH * KW;
        Matrix mix = Matrix.gaussian(n, n, random);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                mix.data()[i * n + j] *= Math.pow(0.8, j);
            }
        }
        Matrix x = Matrix.gaussian(400, n, random).times(mix.transpose());
        return x.transposeTimes(x);
    }

    @Test
    void aPlantedSeparableKernelIsRecoveredInBothMetrics() {
        Random random = new Random(5);
        Matrix m = planted(2, random);
        SpatialSvd svd = new SpatialSvd(m, C_IN, KH, KW);
        assertEquals(0, svd.relativeError(2), 1e-6); // the square root of a rounded eigenvalue tail
        SpatialSvd.Fit plain = svd.fit(2, null, 0);
        assertEquals(0, plain.relativeError(), 1e-6);
        double rel = m.plus(svd.expand(plain.p(), plain.q()).scale(-1)).frobeniusNorm() / m.frobeniusNorm();
        assertEquals(0, rel, 1e-9);
        SpatialSvd.Fit metric = svd.fit(2, covariance(random), 3);
        assertEquals(0, metric.relativeError(), 1e-6);
    }

    @Test
    void inTheMetricAlsImprovesOnTheSvdStartAndReportsItsTrueError() {
        Random random = new Random(7);
        Matrix m = Matrix.gaussian(C_IN * KH * KW, C_OUT, random);
        Matrix c = covariance(random);
        SpatialSvd svd = new SpatialSvd(m, C_IN, KH, KW);
        double previous = Double.POSITIVE_INFINITY;
        for (int sweeps = 0; sweeps <= 4; sweeps++) {
            SpatialSvd.Fit fit = svd.fit(3, c, sweeps);
            // its reported error is the metric error of the factors it returns
            Matrix d = m.plus(svd.expand(fit.p(), fit.q()).scale(-1));
            assertEquals(MetricLeastSquares.squaredNorm(c, d), fit.squaredError(), 1e-8 * fit.total());
            assertTrue(fit.squaredError() <= previous * (1 + 1e-9), "sweeps " + sweeps);
            previous = fit.squaredError();
        }
        SpatialSvd.Fit start = svd.fit(3, c, 0);
        SpatialSvd.Fit refined = svd.fit(3, c, 4);
        assertTrue(refined.squaredError() < 0.95 * start.squaredError(),
                refined.squaredError() + " vs the SVD start's " + start.squaredError());
    }

    @Test
    void metricLeastSquaresReachesTheNormalEquationsOptimum() {
        Random random = new Random(9);
        Matrix f = Matrix.gaussian(12, 4, random);
        f = Matrix.hstack(f, f.columns(0, 1)); // a repeated column: rank deficient
        Matrix w = Matrix.gaussian(12, 3, random);
        Matrix x0 = Matrix.gaussian(30, 12, random);
        Matrix c = x0.transposeTimes(x0);
        Matrix x = MetricLeastSquares.solve(f, c, w);
        double best = MetricLeastSquares.squaredNorm(c, w.plus(f.times(x).scale(-1)));
        // no perturbation does better
        for (int t = 0; t < 20; t++) {
            Matrix other = x.plus(Matrix.gaussian(x.rows(), x.cols(), random).scale(1e-3));
            assertTrue(MetricLeastSquares.squaredNorm(c, w.plus(f.times(other).scale(-1))) >= best - 1e-9);
        }
        // the gradient F^T C (W - F X) vanishes
        Matrix grad = f.transposeTimes(c.times(w.plus(f.times(x).scale(-1))));
        assertEquals(0, grad.frobeniusNorm() / f.transposeTimes(c.times(w)).frobeniusNorm(), 1e-8);
    }
}
