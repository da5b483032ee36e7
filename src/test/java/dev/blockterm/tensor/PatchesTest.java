package dev.blockterm.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** im2col patches: a patch times the kernel is the convolution at that position, computed directly. */
class PatchesTest {

    /** A direct 2-D convolution (one sample, C_in channels, one output channel) at output (y, x). */
    private static double direct(double[] in, int c, int h, int w, double[] kernel, int kh, int kw, int[] strides,
                                 int[] dilations, int top, int left, int y, int x) {
        double s = 0;
        for (int ch = 0; ch < c; ch++) {
            for (int i = 0; i < kh; i++) {
                for (int j = 0; j < kw; j++) {
                    int yy = y * strides[0] - top + i * dilations[0];
                    int xx = x * strides[1] - left + j * dilations[1];
                    if (yy >= 0 && yy < h && xx >= 0 && xx < w) {
                        s += in[(ch * h + yy) * w + xx] * kernel[(ch * kh + i) * kw + j];
                    }
                }
            }
        }
        return s;
    }

    private static void check(Patches p, int c, int h, int w, int top, int left) {
        Random random = new Random(3);
        double[] in = new double[2 * c * h * w]; // two samples: the second is read at its offset
        for (int i = 0; i < in.length; i++) {
            in[i] = random.nextGaussian();
        }
        int kh = p.kernel()[0];
        int kw = p.kernel()[1];
        double[] kernel = new double[c * kh * kw];
        for (int i = 0; i < kernel.length; i++) {
            kernel[i] = random.nextGaussian();
        }
        int[] out = p.outputSizes(new int[] {h, w});
        double[] rows = p.sample(in, c * h * w, new int[] {h, w}, Integer.MAX_VALUE);
        assertEquals(out[0] * out[1] * p.width(), rows.length);
        double[] second = java.util.Arrays.copyOfRange(in, c * h * w, in.length);
        for (int y = 0; y < out[0]; y++) {
            for (int x = 0; x < out[1]; x++) {
                double dot = 0;
                int row = (y * out[1] + x) * p.width();
                for (int k = 0; k < p.width(); k++) {
                    dot += rows[row + k] * kernel[k];
                }
                double expected = direct(second, c, h, w, kernel, kh, kw, p.strides(), p.dilations(), top, left, y, x);
                assertEquals(expected, dot, 1e-9);
            }
        }
    }

    @Test
    void explicitPadsStridesAndDilations() {
        check(new Patches(3, new int[] {3, 2}, new int[] {2, 1}, new int[] {1, 2}, new int[] {1, 0, 2, 1}, "NOTSET"),
                3, 7, 6, 1, 0);
    }

    @Test
    void sameUpperAndSameLowerPadTheOddPixelOnTheirSide() {
        // input 6, stride 2, kernel 3: output 3, total padding (3-1)*2+3-6 = 1
        Patches upper = new Patches(2, new int[] {3, 3}, new int[] {2, 2}, new int[] {1, 1}, new int[4], "SAME_UPPER");
        assertArrayEquals(new int[] {3, 3}, upper.outputSizes(new int[] {6, 6}));
        check(upper, 2, 6, 6, 0, 0);
        Patches lower = new Patches(2, new int[] {3, 3}, new int[] {2, 2}, new int[] {1, 1}, new int[4], "SAME_LOWER");
        check(lower, 2, 6, 6, 1, 1);
        check(new Patches(2, new int[] {3, 3}, new int[] {1, 1}, new int[] {1, 1}, new int[4], "VALID"), 2, 5, 5, 0, 0);
    }

    @Test
    void positionsAreSampledEvenlyWhenTooMany() {
        Patches p = new Patches(1, new int[] {1, 1}, new int[] {1, 1}, new int[] {1, 1}, new int[4], "NOTSET");
        double[] in = new double[100];
        for (int i = 0; i < in.length; i++) {
            in[i] = i;
        }
        double[] rows = p.sample(in, 0, new int[] {10, 10}, 4);
        assertArrayEquals(new double[] {12, 37, 62, 87}, rows, 0); // positions (p + 0.5) * 100 / 4
    }
}
