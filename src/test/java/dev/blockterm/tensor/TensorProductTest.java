package dev.blockterm.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TensorProductTest {

    /** Reference: {@code (T x_k A^T)} entry by entry, with mode k moved to the front. */
    private static Tensor naiveProjectToFront(Tensor t, int mode, Matrix a) {
        int[] shape = t.shape();
        int d = shape.length;
        int[] out = new int[d];
        out[0] = a.cols();
        for (int j = 0, p = 1; j < d; j++) {
            if (j != mode) {
                out[p++] = shape[j];
            }
        }
        double[] v = new double[(int) Tensor.product(out)];
        int[] index = new int[d];
        for (int flat = 0; flat < t.length(); flat++) {
            int rem = flat;
            for (int j = d - 1; j >= 0; j--) {
                index[j] = rem % shape[j];
                rem /= shape[j];
            }
            for (int r = 0; r < a.cols(); r++) {
                int o = r;
                for (int j = 0; j < d; j++) {
                    if (j != mode) {
                        o = o * shape[j] + index[j];
                    }
                }
                v[o] += a.get(index[mode], r) * t.data()[flat];
            }
        }
        return new Tensor(out, v);
    }

    @Test
    void projectEachMatchesOneProductPerFactorWithTheModeFirst() {
        Random random = new Random(7);
        // small enough for the Java path and large enough for native BLAS
        for (int[] shape : new int[][] {{3, 4, 5}, {40, 24, 30, 16}}) {
            Tensor t = Tensor.gaussian(random, shape);
            for (int mode : new int[] {0, shape.length - 1}) {
                List<Matrix> factors = List.of(Matrix.gaussian(shape[mode], 2, random),
                        Matrix.gaussian(shape[mode], 3, random), Matrix.gaussian(shape[mode], 1, random));
                List<Tensor> each = t.projectEach(mode, factors);
                assertEquals(3, each.size());
                for (int b = 0; b < factors.size(); b++) {
                    Tensor expected = naiveProjectToFront(t, mode, factors.get(b));
                    assertArrayEquals(expected.shape(), each.get(b).shape());
                    assertArrayEquals(expected.data(), each.get(b).data(), 1e-10 * t.norm());
                }
            }
        }
    }

    @Test
    void projectEachRefusesMiddleModes() {
        Tensor t = Tensor.gaussian(new Random(1), 3, 4, 5);
        assertThrows(IllegalArgumentException.class, () -> t.projectEach(1, List.of(Matrix.gaussian(4, 2, new Random(2)))));
    }

    @Test
    void unfoldingGramIsTheUnfoldingTimesItsTranspose() {
        Random random = new Random(9);
        // the middle modes of an 8^6 tensor go through the batched native path
        for (int[] shape : new int[][] {{3, 4, 5}, {8, 8, 8, 8, 8, 8}, {4, 40, 3}}) {
            Tensor t = Tensor.gaussian(random, shape);
            for (int mode = 0; mode < shape.length; mode++) {
                Matrix u = t.unfold(mode);
                double[] expected = new double[u.rows() * u.rows()];
                Gemm.javaMultiply(false, true, u.rows(), u.rows(), u.cols(), u.data(), 0, u.data(), 0, expected, 0);
                assertArrayEquals(expected, t.unfoldingGram(mode).data(), 1e-9 * t.norm() * t.norm(),
                        java.util.Arrays.toString(shape) + " mode " + mode);
            }
        }
    }
}
