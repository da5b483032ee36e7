package dev.blockterm.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TensorizationTest {

    private static double[] matrix(int rows, int cols) {
        double[] w = new double[rows * cols];
        Random r = new Random(1);
        for (int i = 0; i < w.length; i++) {
            w[i] = r.nextGaussian();
        }
        return w;
    }

    @Test
    void everyLayoutRoundTrips() {
        for (int[] size : new int[][] {{64, 512}, {12, 10}, {13, 7}, {60, 97}}) {
            double[] w = matrix(size[0], size[1]);
            for (Tensorization t : List.of(Tensorization.merged(size[0], size[1], 2), Tensorization.merged(size[0], size[1], 3),
                    Tensorization.split(size[0], size[1], 2, 2), Tensorization.inputWhole(size[0], size[1], 1),
                    Tensorization.inputWhole(size[0], size[1], 2))) {
                assertArrayEquals(w, t.matricize(t.tensorize(w)), 0.0, t.describe());
            }
        }
    }

    @Test
    void mergedModeIndexIsInputThenOutputLeg() {
        // W[(i1 i2), (j1 j2)] = T[(i1 j1), (i2 j2)] with I = 2*3, J = 4*5
        Tensorization t = new Tensorization(Layout.MERGED, 6, 20, new int[] {2, 3}, new int[] {4, 5},
                List.of(new int[] {0, 2}, new int[] {1, 3}));
        double[] w = matrix(6, 20);
        Tensor tensor = t.tensorize(w);
        assertArrayEquals(new int[] {8, 15}, tensor.shape());
        int i1 = 1, i2 = 2, j1 = 3, j2 = 4;
        assertEquals(w[(i1 * 3 + i2) * 20 + (j1 * 5 + j2)], tensor.data()[(i1 * 4 + j1) * 15 + (i2 * 5 + j2)]);
    }

    @Test
    void primeSizesArePaddedNeverSilently() {
        Tensorization t = Tensorization.merged(97, 64, 2);
        assertTrue(t.padded());
        assertTrue(t.paddedInput() > 97);
        assertTrue(Factorization.imbalance(t.inputFactors()) <= 2.0);
        assertEquals(false, Tensorization.merged(4096, 4096, 4).padded());
        assertArrayEquals(new int[] {8, 8, 8, 8}, Tensorization.merged(4096, 4096, 4).inputFactors());
    }

    @Test
    void permutationMatchesIndexDefinition() {
        Tensor t = Tensor.gaussian(new Random(2), 2, 3, 4);
        Tensor p = t.permute(2, 0, 1);
        assertArrayEquals(new int[] {4, 2, 3}, p.shape());
        assertEquals(t.data()[(1 * 3 + 2) * 4 + 3], p.data()[(3 * 2 + 1) * 3 + 2]);
    }

    @Test
    void nativeAndJavaProductsAgree() {
        Random r = new Random(4);
        int m = 300, n = 200, k = 100; // 6M multiply-adds: above the native threshold
        double[] a = Matrix.gaussian(k, m, r).data();
        double[] b = Matrix.gaussian(n, k, r).data();
        double[] c1 = new double[m * n];
        double[] c2 = new double[m * n];
        Gemm.multiply(true, true, m, n, k, a, 0, b, 0, c1, 0);
        Gemm.javaMultiply(true, true, m, n, k, a, 0, b, 0, c2, 0);
        assertArrayEquals(c2, c1, 1e-9);
    }
}
