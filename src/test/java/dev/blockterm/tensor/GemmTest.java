package dev.blockterm.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

class GemmTest {

    /**
     * Native products through the pooled buffers agree with the plain Java product over many shapes
     * in a row (buffers reused as views of other sizes, evicted and reallocated), including the same
     * operand sent again under another shape, and the product split into row blocks.
     */
    @Test
    void pooledNativeProductsMatchTheJavaProduct() {
        Random random = new Random(11);
        double[] shared = gaussian(random, 300 * 1200);
        for (int trial = 0; trial < 120; trial++) {
            int m = 1 + random.nextInt(300);
            int n = 1 + random.nextInt(1200);
            int k = 1 + random.nextInt(300);
            boolean transA = random.nextBoolean();
            boolean transB = random.nextBoolean();
            // every third trial reuses one array as B, read under whatever shape this trial has
            double[] a = gaussian(random, m * k);
            double[] b = trial % 3 == 0 && k * n <= shared.length ? shared : gaussian(random, k * n);
            double[] expected = new double[m * n];
            Gemm.javaMultiply(transA, transB, m, n, k, a, 0, b, 0, expected, 0);
            double[] actual = new double[m * n];
            Gemm.multiply(transA, transB, m, n, k, a, 0, b, 0, actual, 0);
            assertArrayEquals(expected, actual, 1e-9 * Math.sqrt(k), "trial " + trial);

            int split = m / 2;
            double[][] parts = {new double[split * n], new double[(m - split) * n]};
            Gemm.multiply(transA, transB, m, n, k, a, 0, b, 0, parts);
            double[] joined = new double[m * n];
            System.arraycopy(parts[0], 0, joined, 0, parts[0].length);
            System.arraycopy(parts[1], 0, joined, parts[0].length, parts[1].length);
            assertArrayEquals(expected, joined, 1e-9 * Math.sqrt(k), "trial " + trial + ", in row blocks");
        }
    }

    private static double[] gaussian(Random random, int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = random.nextGaussian();
        }
        return x;
    }
}
