package dev.blockterm;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Comparisons shared by the tests. */
public final class TestArrays {

    private TestArrays() {
    }

    /** {@code ||expected - actual|| / ||expected||}, after checking the lengths agree. */
    public static double relativeError(double[] expected, double[] actual) {
        assertEquals(expected.length, actual.length, "array lengths");
        double d = 0;
        double n = 0;
        for (int i = 0; i < expected.length; i++) {
            d += (expected[i] - actual[i]) * (expected[i] - actual[i]);
            n += expected[i] * expected[i];
        }
        return Math.sqrt(d / n);
    }
}
