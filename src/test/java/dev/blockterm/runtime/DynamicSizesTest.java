package dev.blockterm.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import onnx.Onnx;
import org.junit.jupiter.api.Test;

/** Dynamic spatial axes of a convolutional model get a size it runs at, or the user is asked for one. */
class DynamicSizesTest {

    @Test
    void totalStrideIsTheLongestChainOfStrides() {
        assertEquals(4, DynamicSizes.stride(StridedModels.cnn(64).getGraph()));
        // two strided branches side by side count once: x -> (conv s2 | conv s2) -> add -> pool s2
        Onnx.GraphProto branches = Onnx.GraphProto.newBuilder()
                .addNode(strided("Conv", "x", "a", 2)).addNode(strided("Conv", "x", "b", 2))
                .addNode(Onnx.NodeProto.newBuilder().setOpType("Add").addInput("a").addInput("b").addOutput("c"))
                .addNode(strided("MaxPool", "c", "d", 2)).build();
        assertEquals(4, DynamicSizes.stride(branches));
        assertEquals(List.of(32L, 48L, 64L, 96L), DynamicSizes.candidates(4).subList(0, 4));
        // the common sizes that the stride divides first, then small multiples of the stride
        assertEquals(List.of(48L, 96L, 192L, 384L, 768L, 144L), DynamicSizes.candidates(48).subList(0, 6));
    }

    private static Onnx.NodeProto strided(String op, String in, String out, long stride) {
        return Onnx.NodeProto.newBuilder().setOpType(op).addInput(in).addOutput(out)
                .addAttribute(dev.blockterm.onnx.TinyModels.intsAttr("strides", stride, stride)).build();
    }

    @Test
    void sizeOneDoesNotRunButTheChosenSizeDoes() {
        Onnx.ModelProto model = StridedModels.cnn(64);
        try (ModelRunner runner = new ModelRunner(model, "cnn", 1, InputShapes.NONE)) {
            Map<String, NpyArray> ones = Map.of("x", new NpyArray(new long[] {1, 1, 1, 1}, new double[1], "<f4"));
            assertThrows(IllegalArgumentException.class, () -> runner.run(ones));
            Map<String, NpyArray> feeds = runner.randomInputs(3, 2);
            assertArrayEquals(new long[] {2, 1, 64, 64}, feeds.get("x").shape(), "the first candidate it runs at");
            assertArrayEquals(new long[] {2, 10}, runner.run(feeds).get("y").shape());
            assertTrue(runner.chosenSizes(feeds).contains("x=2x1x64x64"), runner.chosenSizes(feeds));
        }
    }

    @Test
    void givenSizesAreUsedAsGiven() {
        Onnx.ModelProto model = StridedModels.cnn(0);
        try (ModelRunner runner = new ModelRunner(model, "cnn", 1, InputShapes.parse(List.of("x=1x1x40x24")))) {
            Map<String, NpyArray> feeds = runner.randomInputs(3, 5);
            assertArrayEquals(new long[] {5, 1, 40, 24}, feeds.get("x").shape(), "the batch axis takes the rows");
            assertEquals("", runner.chosenSizes(feeds));
            assertArrayEquals(new long[] {5, 4, StridedModels.pooled(40), StridedModels.pooled(24)},
                    runner.run(feeds).get("p").shape());
        }
    }

    /** A recognizer-like model: its height fixed by the network (32), its width free: each axis sized on its own. */
    @Test
    void axesThatTakeDifferentSizesAreSizedEachOnItsOwn() {
        Onnx.GraphProto graph = Onnx.GraphProto.newBuilder()
                .addNode(strided("Conv", "x", "a", 2)).addNode(Onnx.NodeProto.newBuilder().setOpType("MaxPool")
                        .addInput("a").addOutput("b").addAttribute(dev.blockterm.onnx.TinyModels.intsAttr("strides", 2, 1)))
                .build();
        assertEquals(4, DynamicSizes.stride(graph, 0));
        assertEquals(2, DynamicSizes.stride(graph, 1));
        Map<String, long[]> shapes = new java.util.LinkedHashMap<>();
        shapes.put("x", new long[] {-1, 3, -1, -1});
        Map<String, long[]> sized = DynamicSizes.resolve(shapes, () -> graph,
                trial -> trial.get("x")[2] == 48 && trial.get("x")[3] >= 40, "recognizer");
        assertEquals(48, sized.get("x")[2]);
        assertTrue(sized.get("x")[3] >= 40);
        assertEquals(-1, sized.get("x")[0], "the batch is the caller's");
        // smallest areas first
        List<long[]> c = DynamicSizes.combinations(List.of(List.of(8L, 16L), List.of(2L, 4L)), 3);
        assertArrayEquals(new long[] {8, 2}, c.get(0));
        assertEquals(3, c.size());
    }

    @Test
    void noSizeRunsAsksForTheSize() {
        Onnx.ModelProto model = StridedModels.cnn(50); // runs at 50 and 51 only: no candidate
        try (ModelRunner runner = new ModelRunner(model, "cnn.onnx", 1, InputShapes.NONE)) {
            InputShapes.Unresolved e = assertThrows(InputShapes.Unresolved.class, () -> runner.randomInputs(1, 1));
            assertTrue(e.getMessage().startsWith("cnn.onnx: input 'x' has dynamic dimensions [?, 1, ?, ?]"), e.getMessage());
            assertTrue(e.getMessage().endsWith("give its size with --input-shape x=1x1x224x224"), e.getMessage());
        }
        try (ModelRunner runner = new ModelRunner(model, "cnn.onnx", 1, InputShapes.parse(List.of("1x1x50x50")))) {
            assertArrayEquals(new long[] {1, 10}, runner.run(runner.randomInputs(1, 1)).get("y").shape());
        }
    }

    @Test
    void modelsWithoutConvolutionsKeepTheRowsOnDynamicAxes() {
        Onnx.ModelProto model = dev.blockterm.onnx.TinyModels.matmul3d(8, 4, 13);
        try (ModelRunner runner = new ModelRunner(model, "mlp", 1, InputShapes.NONE)) {
            assertArrayEquals(new long[] {3, 3, 8}, runner.randomInputs(1, 3).get("x").shape());
        }
    }

    @Test
    void convolutionInputShapesFollowTheSizes() {
        Onnx.ModelProto model = StridedModels.cnn(0);
        Map<String, long[]> shapes = ActivationCapture.shapes(model, List.of("c"), InputShapes.parse(List.of("x=1x1x21x21")));
        assertArrayEquals(new long[] {1, 4, 10, 10}, shapes.get("c"));
        assertArrayEquals(new long[] {1, 4, 15, 15}, ActivationCapture.shapes(model, List.of("c"), InputShapes.NONE).get("c"));
    }
}
