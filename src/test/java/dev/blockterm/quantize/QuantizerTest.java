package dev.blockterm.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.Random;
import org.junit.jupiter.api.Test;

class QuantizerTest {

    @Test
    void valuesOnTheGridAreKeptExactly() {
        // each column's largest magnitude is 127 steps of its scale: quantizing q s gives back q s
        int rows = 5;
        int cols = 3;
        double[] m = new double[rows * cols];
        float[] s = {0.5f, 0.25f, 2f};
        int[][] q = {{127, -3, 0}, {1, 127, -127}, {-127, 0, 5}, {64, 7, 1}, {0, -127, 2}};
        for (int i = 0; i < rows; i++) {
            for (int c = 0; c < cols; c++) {
                m[i * cols + c] = q[i][c] * s[c];
            }
        }
        Quantized got = Quantizer.quantize(m, rows, cols, Precision.INT8);
        assertArrayEquals(s, got.scales());
        assertArrayEquals(m, Quantizer.values(got), 0);
    }

    @Test
    void int4GroupsHaveTheirOwnScalesAndPadToWholeGroups() {
        int rows = 70;
        double[] m = new double[rows];
        for (int i = 0; i < rows; i++) {
            m[i] = i < 64 ? 7.0 : 0.07; // a second group a hundred times smaller keeps its precision
        }
        Quantized got = Quantizer.quantize(m, rows, 1, Precision.INT4);
        assertEquals(64, got.group());
        assertEquals(128, got.q().length, "70 rows pad to two groups of 64");
        assertEquals(1f, got.scales()[0], 1e-7);
        assertEquals(0.01f, got.scales()[1], 1e-9);
        assertArrayEquals(m, Quantizer.values(got), 1e-6);
        assertEquals((128 + 1) / 2 + 8, Quantizer.bytes(rows, 1, Precision.INT4, 4));
    }

    @Test
    void theErrorFallsAsTheBitsRise() {
        Random random = new Random(3);
        double[] m = new double[96 * 40];
        for (int i = 0; i < m.length; i++) {
            m[i] = random.nextGaussian();
        }
        double previous = Double.MAX_VALUE;
        for (Precision p : new Precision[] {Precision.INT4, Precision.INT8, Precision.HALF, Precision.FLOAT}) {
            double[] back = Quantizer.roundTrip(m, 96, 40, p);
            double e = 0;
            for (int i = 0; i < m.length; i++) {
                e += (m[i] - back[i]) * (m[i] - back[i]);
            }
            assertTrue(e < previous || e == 0, p + ": " + e + " after " + previous);
            previous = e;
            assertTrue(Quantizer.bytes(96, 40, p, 4) <= 96L * 40 * 4);
        }
        assertEquals(0, previous);
    }

    @Test
    void bitListsAreParsedAndBadOnesRefusedInOneLine() {
        assertEquals(EnumSet.of(Precision.FLOAT, Precision.INT8), Precision.parse("32,8"));
        assertEquals("32,16,8,4", Precision.text(Precision.parse("4,8,16,32")));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Precision.parse("32,3"));
        assertEquals("bits: expected 32, 16, 8 or 4, found 3", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Precision.parse("eight"));
    }
}
