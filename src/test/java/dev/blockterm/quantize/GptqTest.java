package dev.blockterm.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.tensor.Matrix;
import java.util.Random;
import org.junit.jupiter.api.Test;

class GptqTest {

    private static double outputError(Matrix x, double[] w, double[] approx, int rows, int cols) {
        double[] d = new double[w.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = w[i] - approx[i];
        }
        Matrix xd = x.times(new Matrix(rows, cols, d));
        return Math.sqrt(xd.dot(xd));
    }

    /** With uncorrelated inputs of equal scale there is nothing to feed back: GPTQ rounds to nearest. */
    @Test
    void anIdentityCovarianceGivesRoundingToNearest() {
        Random random = new Random(1);
        int rows = 150;
        int cols = 7;
        double[] w = Matrix.gaussian(rows, cols, random).data();
        double[] identity = Matrix.identity(rows).data();
        for (Precision p : new Precision[] {Precision.INT8, Precision.INT4}) {
            Quantized g = Gptq.quantize(w, rows, cols, p, identity);
            Quantized r = Quantizer.quantize(w, rows, cols, p);
            assertArrayEquals(r.q(), g.q(), p.toString());
            assertArrayEquals(r.scales(), g.scales(), p.toString());
        }
    }

    /**
     * On correlated inputs, the error fed back to the rows not yet quantized lowers the output error
     * against rounding to nearest (the point of the method), with every value on the grid.
     */
    @Test
    void correlatedInputsGiveALowerOutputErrorThanRounding() {
        Random random = new Random(2);
        int rows = 200;
        int cols = 24;
        // inputs with a few strong directions: x = z M, z gaussian, M of low effective rank plus noise
        Matrix mix = Matrix.gaussian(12, rows, random).plus(Matrix.gaussian(12, rows, random).scale(0.1));
        Matrix x = Matrix.gaussian(500, 12, random).times(mix).plus(Matrix.gaussian(500, rows, random).scale(0.05));
        double[] w = Matrix.gaussian(rows, cols, random).data();
        Matrix gram = x.transposeTimes(x);
        double[] damped = dev.blockterm.decompose.Whitening.damped(gram, 0.01).data();
        for (Precision p : new Precision[] {Precision.INT8, Precision.INT4}) {
            Quantized g = Gptq.quantize(w, rows, cols, p, damped);
            for (byte q : g.q()) {
                assertTrue(Math.abs(q) <= p.levels());
            }
            double gptq = outputError(x, w, Quantizer.values(g), rows, cols);
            double nearest = outputError(x, w, Quantizer.values(Quantizer.quantize(w, rows, cols, p)), rows, cols);
            assertTrue(gptq < 0.8 * nearest, p + ": gptq " + gptq + " against rounding " + nearest);
        }
    }
}
