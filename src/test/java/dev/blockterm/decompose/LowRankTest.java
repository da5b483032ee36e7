package dev.blockterm.decompose;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.tensor.Matrix;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LowRankTest {

    /** A rows x cols matrix of rank r plus noise of the given size. */
    private static Matrix planted(int rows, int cols, int r, double noise, Random random) {
        Matrix w = Matrix.gaussian(rows, r, random).times(Matrix.gaussian(r, cols, random));
        return w.plus(Matrix.gaussian(rows, cols, random).scale(noise));
    }

    private static double squaredDistance(Matrix a, Matrix b) {
        double s = 0;
        for (int i = 0; i < a.data().length; i++) {
            s += (a.data()[i] - b.data()[i]) * (a.data()[i] - b.data()[i]);
        }
        return s;
    }

    @Test
    void plantedRankIsRecoveredOnBothSides() {
        Random random = new Random(3);
        for (int[] shape : new int[][] {{40, 25}, {25, 40}}) {
            Matrix w = planted(shape[0], shape[1], 6, 0, random);
            LowRank curve = LowRank.of(w);
            assertEquals(25, curve.maxRank());
            assertTrue(curve.relativeError(6) < 1e-7, "rank 6 of a rank-6 matrix: " + curve.relativeError(6));
            assertTrue(curve.relativeError(5) > 1e-3);
            Matrix[] f = curve.factors(6);
            assertTrue(Math.sqrt(squaredDistance(w, f[0].times(f[1]))) < 1e-7 * w.frobeniusNorm());
        }
    }

    @Test
    void tailIsTheErrorOfTheFactorsAndIsMonotone() {
        // Eckart-Young: the squared error of the rank-r factors is the sum of the discarded eigenvalues
        Random random = new Random(4);
        for (int[] shape : new int[][] {{30, 18}, {18, 30}}) {
            Matrix w = Matrix.gaussian(shape[0], shape[1], random);
            LowRank curve = LowRank.of(w);
            assertEquals(w.frobeniusNorm() * w.frobeniusNorm(), curve.total(), 1e-8 * curve.total());
            double previous = Double.MAX_VALUE;
            for (int r = 1; r <= curve.maxRank(); r++) {
                Matrix[] f = curve.factors(r);
                assertEquals(curve.tail(r), squaredDistance(w, f[0].times(f[1])), 1e-8 * curve.total());
                assertTrue(curve.tail(r) <= previous);
                previous = curve.tail(r);
            }
            assertEquals(0, curve.tail(curve.maxRank()), 1e-8 * curve.total());
        }
    }

    @Test
    void whitenedCurveIsTheOutputErrorOptimum() {
        // with C = X^T X (+ damping), tail(r) = ||X (W - W^)||^2 + delta ||W - W^||^2, and the whitened
        // factors beat the weight-space SVD on the output error at every rank, on both sides
        Random random = new Random(5);
        for (int[] shape : new int[][] {{24, 16}, {16, 24}}) {
            int in = shape[0];
            // correlated inputs: a few directions dominate
            Matrix x = Matrix.gaussian(300, 4, random).times(Matrix.gaussian(4, in, random))
                    .plus(Matrix.gaussian(300, in, random).scale(0.05));
            Matrix w = Matrix.gaussian(in, shape[1], random);
            Matrix xtx = Whitening.gram(x);
            double damping = 1e-2;
            double delta = 0;
            for (int i = 0; i < in; i++) {
                delta += xtx.get(i, i);
            }
            delta = damping * delta / in;
            LowRank whitened = LowRank.whitened(w, xtx, damping);
            LowRank plain = LowRank.of(w);
            for (int r = 1; r < whitened.maxRank(); r++) {
                Matrix[] f = whitened.factors(r);
                Matrix approx = f[0].times(f[1]);
                double output = squaredDistance(x.times(w), x.times(approx));
                assertEquals(whitened.tail(r), output + delta * squaredDistance(w, approx), 1e-7 * whitened.total());
                Matrix[] g = plain.factors(r);
                double plainOutput = squaredDistance(x.times(w), x.times(g[0].times(g[1])));
                assertTrue(output <= plainOutput * (1 + 1e-9) + delta * squaredDistance(w, approx),
                        "rank " + r + ": whitened " + output + ", plain " + plainOutput);
            }
        }
    }

    @Test
    void tensorTrainReconstructsTheFactors() {
        Matrix w = Matrix.gaussian(12, 9, new Random(6));
        LowRank curve = LowRank.of(w);
        Matrix[] f = curve.factors(4);
        assertTrue(Math.sqrt(squaredDistance(f[0].times(f[1]), new Matrix(12, 9, curve.tensorTrain(4).reconstruct().data())))
                < 1e-10 * w.frobeniusNorm());
    }
}
