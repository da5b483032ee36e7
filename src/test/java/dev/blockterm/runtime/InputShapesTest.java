package dev.blockterm.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code [NAME=]D1xD2x...} parsed and checked against the model's inputs, each bad one refused with what was expected. */
class InputShapesTest {

    private static Map<String, long[]> image() {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("x", new long[] {-1, 3, -1, -1});
        return m;
    }

    private static String refused(List<String> specs, Map<String, long[]> model) {
        return assertThrows(IllegalArgumentException.class, () -> InputShapes.parse(specs).apply(model)).getMessage();
    }

    @Test
    void givenSizesFillTheDynamicAxesAndTheBatchStaysOpen() {
        assertArrayEquals(new long[] {-1, 3, 224, 160}, InputShapes.parse(List.of("x=1x3x224x160")).apply(image()).get("x"));
        assertArrayEquals(new long[] {-1, 3, 32, 32}, InputShapes.parse(List.of("8x3x32x32")).apply(image()).get("x"));
        assertArrayEquals(new long[] {-1, 3, -1, -1}, InputShapes.NONE.apply(image()).get("x"));
        Map<String, long[]> fixedBatch = Map.of("x", new long[] {2, 3, -1, -1});
        assertArrayEquals(new long[] {2, 3, 64, 64}, InputShapes.parse(List.of("x=2x3x64x64")).apply(fixedBatch).get("x"));
        assertEquals("[?, 3, ?, ?]", InputShapes.describe(new long[] {-1, 3, -1, -1}));
    }

    @Test
    void badSizesAreRefusedSayingWhy() {
        assertEquals("input shape 'y=1x3x8x8': the model has no input named 'y' (its inputs: x)",
                refused(List.of("y=1x3x8x8"), image()));
        assertEquals("input shape 'x=1x3x8': input 'x' has 4 dimensions [?, 3, ?, ?], found 3",
                refused(List.of("x=1x3x8"), image()));
        assertEquals("input shape 'x=1x4x8x8': input 'x' has size 3 in dimension 1 [?, 3, ?, ?], found 4",
                refused(List.of("x=1x4x8x8"), image()));
        assertEquals("input shape 'x=1x3x0x8': sizes must be positive, found 0", refused(List.of("x=1x3x0x8"), image()));
        assertEquals("input shape 'x=1x3x-2x8': sizes must be positive, found -2", refused(List.of("x=1x3x-2x8"), image()));
        assertEquals("input shape 'x=1x3xax8': expected [NAME=]D1xD2x... with integer sizes, found 'a'",
                refused(List.of("x=1x3xax8"), image()));
        assertEquals("input shape 'x=1x3x8x8': given twice for input 'x'", refused(List.of("x=1x3x8x8", "x=1x3x8x8"), image()));
        Map<String, long[]> two = new LinkedHashMap<>(image());
        two.put("scale", new long[] {-1, 2});
        assertEquals("input shape '1x3x8x8': the model has 2 inputs [x, scale]; name it as NAME=1x3x8x8",
                refused(List.of("1x3x8x8"), two));
    }
}
