package dev.blockterm.onnx;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import onnx.Onnx;
import org.junit.jupiter.api.Test;
import org.nd4j.shade.protobuf.ByteString;

/** Malformed structure, attributes and values are refused on read, naming the node, attribute or tensor. */
class ModelCheckTest {

    private static Onnx.ModelProto conv(Onnx.AttributeProto... attributes) {
        return TinyModels.conv(8, 4, new int[] {3, 3}, 10, null, List.of(attributes));
    }

    private static void assertRefused(Onnx.ModelProto model, String... expected) {
        ModelException e = assertThrows(ModelException.class, () -> ModelCheck.check(model, "m.onnx"));
        for (String s : expected) {
            assertTrue(e.getMessage().contains(s), "'" + s + "' in: " + e.getMessage());
        }
        assertTrue(e.getMessage().lines().count() == 1, e.getMessage());
    }

    private static Onnx.ModelProto withInitializer(Onnx.ModelProto m, String name, UnaryOperator<Onnx.TensorProto.Builder> change) {
        Onnx.GraphProto.Builder g = m.getGraph().toBuilder();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            if (g.getInitializer(i).getName().equals(name)) {
                g.setInitializer(i, change.apply(g.getInitializer(i).toBuilder()).build());
            }
        }
        return m.toBuilder().setGraph(g).build();
    }

    @Test
    void soundModelsPass() {
        assertDoesNotThrow(() -> ModelCheck.check(conv(TinyModels.intsAttr("strides", 1, 1),
                TinyModels.intsAttr("pads", 1, 1, 1, 1), TinyModels.intsAttr("kernel_shape", 3, 3)), "m.onnx"));
        assertDoesNotThrow(() -> ModelCheck.check(TinyModels.gemm(16, 8, 1, 1, 13), "m.onnx"));
        assertDoesNotThrow(() -> ModelCheck.check(ModelFiles.read(Path.of("models/digits_cnn.onnx")), "cnn"));
        assertDoesNotThrow(() -> ModelCheck.check(ModelFiles.read(Path.of("models/digits_lstm.onnx")), "lstm"));
    }

    @Test
    void convolutionAttributesThatCrashOnnxRuntime() {
        assertRefused(conv(TinyModels.intsAttr("strides", 0, 1)), "node 'conv' (Conv)", "strides", ">= 1");
        assertRefused(conv(TinyModels.intsAttr("dilations", 1, 0)), "dilations", ">= 1");
        assertRefused(conv(TinyModels.intsAttr("pads", 0, -1, 0, 0)), "pads", ">= 0");
        assertRefused(conv(TinyModels.intsAttr("strides", 1, 1, 1)), "strides has 3 values, expected 2");
        assertRefused(conv(TinyModels.intsAttr("kernel_shape", 3, 5)), "kernel_shape [3, 5] does not match");
        assertRefused(conv(TinyModels.intAttr("group", 0)), "group = 0");
        assertRefused(conv(TinyModels.intAttr("group", 3)), "group = 3 does not divide");
        assertRefused(conv(TinyModels.intAttr("group", 2)), "input 'x' has 4 channels", "reads 8");
        assertRefused(conv(TinyModels.stringAttr("auto_pad", "SIDEWAYS")), "auto_pad 'SIDEWAYS'");
    }

    @Test
    void poolingWindows() {
        Onnx.NodeProto pool = Onnx.NodeProto.newBuilder().setOpType("MaxPool").setName("pool").addInput("x").addOutput("y")
                .addAttribute(TinyModels.intsAttr("kernel_shape", 2, 2)).addAttribute(TinyModels.intsAttr("strides", 2, 0)).build();
        Onnx.ModelProto m = TinyModels.model(13, List.of(TinyModels.input("x", -1, 4, 8, 8)), List.of(TinyModels.input("y", -1, 4, 4, 4)),
                List.of(pool), List.of());
        assertRefused(m, "node 'pool' (MaxPool)", "strides");
    }

    @Test
    void gemmAttributes() {
        assertRefused(TinyModels.gemm(16, 8, Float.NaN, 1, 13), "node 'fc' (Gemm)", "alpha = NaN is not finite");
        assertRefused(TinyModels.gemm(16, 8, 1, Float.POSITIVE_INFINITY, 13), "beta = Infinity");
        assertRefused(withInitializer(TinyModels.gemm(16, 8, 1, 1, 13), "w", t -> t.clearDims().addDims(128)), "has rank 1");
    }

    /** Two kinds of invalid input that the 10,000-mutant fuzz run found passing through to invalid outputs. */
    @Test
    void whatTheOnnxCheckerRequiresOfTheGraphsInterface() {
        Onnx.ModelProto m = TinyModels.gemm(16, 8, 1, 1, 13);
        assertRefused(m.toBuilder().setIrVersion(3).build(), "IR version 3 requires every initializer to be a graph input",
                "'w' is not");
        Onnx.GraphProto.Builder g = m.getGraph().toBuilder().clearOutput().addOutput(Onnx.ValueInfoProto.newBuilder()
                .setName("y").setType(Onnx.TypeProto.newBuilder().setTensorType(Onnx.TypeProto.Tensor.newBuilder()
                        .setElemType(Weights.FLOAT))));
        assertRefused(m.toBuilder().setGraph(g).build(), "graph output 'y' has a tensor type without a shape");
    }

    @Test
    void undefinedInputsAndDuplicates() {
        Onnx.ModelProto m = TinyModels.matmul3d(16, 8, 13);
        Onnx.GraphProto.Builder g = m.getGraph().toBuilder();
        g.setNode(1, g.getNode(1).toBuilder().setInput(0, "nowhere"));
        assertRefused(m.toBuilder().setGraph(g).build(), "node 'act' (Relu)", "reads 'nowhere'");
        Onnx.GraphProto.Builder twice = m.getGraph().toBuilder().addInitializer(m.getGraph().getInitializer(0));
        assertRefused(m.toBuilder().setGraph(twice).build(), "two initializers are named 'w'");
        Onnx.GraphProto.Builder out = m.getGraph().toBuilder().addOutput(TinyModels.input("ghost", 1));
        assertRefused(m.toBuilder().setGraph(out).build(), "graph output 'ghost' is produced by no node");
        Onnx.GraphProto.Builder swapped = m.getGraph().toBuilder();
        Onnx.NodeProto first = swapped.getNode(0);
        swapped.setNode(0, swapped.getNode(1)).setNode(1, first);
        assertRefused(m.toBuilder().setGraph(swapped).build(), "reads 'h'");
    }

    @Test
    void tensorShapesAndSizes() {
        Onnx.ModelProto m = TinyModels.matmul3d(16, 8, 13);
        assertRefused(withInitializer(m, "w", t -> t.setDims(0, -16).setDims(1, -8)), "initializer 'w'", "negative dimension -16");
        assertRefused(withInitializer(m, "w", t -> t.setDims(0, 1L << 40).setDims(1, 1L << 40)), "too many elements");
        assertRefused(withInitializer(m, "w", t -> t.setRawData(t.getRawData().substring(0, 100))), "raw data holds 100 bytes",
                "need 512");
        assertRefused(withInitializer(m, "w", t -> t.clearRawData().addFloatData(1f)), "holds 1 values", "says 128");
        assertRefused(withInitializer(m, "w", t -> t.setDataType(0)), "no element type");
        assertRefused(withInitializer(m, "w", t -> t.setDataType(99)), "unknown element type 99");
    }

    @Test
    void nonFiniteValuesInAnyFloatInitializer() {
        Onnx.ModelProto conv = conv();
        double[] bias = TinyModels.gaussian(8, 12);
        bias[5] = Double.POSITIVE_INFINITY;
        Onnx.ModelProto infBias = withInitializer(conv, "b", t -> t.setRawData(Weights.tensor("b", new long[] {8}, bias,
                Weights.FLOAT).getRawData()));
        assertRefused(infBias, "initializer 'b'", "non-finite value Infinity at index 5");
        Onnx.ModelProto typedNaN = withInitializer(conv, "b", t -> {
            t.clearRawData();
            for (int i = 0; i < 8; i++) {
                t.addFloatData(i == 2 ? Float.NaN : i);
            }
            return t;
        });
        assertRefused(typedNaN, "initializer 'b'", "NaN at index 2");
        Onnx.ModelProto half = withInitializer(conv, "b", t -> t.setDataType(10).setRawData(ByteString.copyFrom(
                new byte[] {0, 0x3C, 0, 0x7C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}))); // 1.0, +Inf, 0...
        assertRefused(half, "initializer 'b'", "at index 1");
    }

    @Test
    void versions() {
        Onnx.ModelProto m = TinyModels.matmul3d(16, 8, 13);
        assertRefused(m.toBuilder().setIrVersion(99).build(), "IR version 99");
        List<Onnx.OperatorSetIdProto> opsets = new ArrayList<>(List.of(Onnx.OperatorSetIdProto.newBuilder().setVersion(500).build()));
        assertRefused(m.toBuilder().clearOpsetImport().addAllOpsetImport(opsets).build(), "opset 500");
        assertRefused(m.toBuilder().clearOpsetImport().build(), "no opset of the default ONNX domain");
    }
}
