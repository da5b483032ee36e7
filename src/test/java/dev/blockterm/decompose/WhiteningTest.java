package dev.blockterm.decompose;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

class WhiteningTest {

    @Test
    void whiteningIsInvertibleAndPreservesTheOutputNorm() {
        Random random = new Random(1);
        Matrix x = Matrix.gaussian(200, 12, random);
        Matrix m = Matrix.gaussian(12, 5, random);
        Whitening w = Whitening.of(x, 1e-12);
        assertArrayEquals(m.data(), w.unapply(w.apply(m)).data(), 1e-9);
        // ||X M|| = ||L^T M|| up to the (tiny) damping
        assertTrue(Math.abs(x.times(m).frobeniusNorm() - w.apply(m).frobeniusNorm()) < 1e-6 * x.times(m).frobeniusNorm());
    }

    @Test
    void whitenedFitsReachTheOutputErrorOptimum() {
        // the best rank-r W^ for ||X (W - W^)|| is L^-T times the truncated SVD of L^T W;
        // it beats the weight-space SVD on output error, and the weight-space SVD beats it on weight error
        Random random = new Random(2);
        int in = 30;
        int out = 20;
        double[] scales = new double[in];
        for (int i = 0; i < in; i++) {
            scales[i] = Math.pow(0.8, i); // strongly anisotropic inputs
        }
        Matrix x = Matrix.gaussian(500, in, random);
        for (int r = 0; r < x.rows(); r++) {
            for (int c = 0; c < in; c++) {
                x.data()[r * in + c] *= scales[c];
            }
        }
        Matrix weights = Matrix.gaussian(in, out, random);
        Whitening w = Whitening.of(x, 1e-10);
        BlockTermConfig config = BlockTermConfig.of(1, 4, 4).withSweeps(200, 1e-12);
        Matrix plain = reconstruct(BlockTermAls.fit(new Tensor(new int[] {in, out}, weights.data()), config));
        Matrix whitened = w.unapply(reconstruct(BlockTermAls.fit(new Tensor(new int[] {in, out},
                w.apply(weights).data()), config)));
        double outputPlain = x.times(weights.plus(plain.scale(-1))).frobeniusNorm();
        double outputWhitened = x.times(weights.plus(whitened.scale(-1))).frobeniusNorm();
        assertTrue(outputWhitened < 0.9 * outputPlain, outputWhitened + " vs " + outputPlain);
        assertTrue(weights.plus(plain.scale(-1)).frobeniusNorm() < weights.plus(whitened.scale(-1)).frobeniusNorm());
    }

    private static Matrix reconstruct(FitResult<BlockTerm> fit) {
        Tensor t = fit.model().reconstruct();
        return new Matrix(t.size(0), t.size(1), t.data());
    }
}
