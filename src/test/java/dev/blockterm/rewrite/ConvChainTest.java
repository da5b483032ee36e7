package dev.blockterm.rewrite;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.onnx.TinyModels;
import dev.blockterm.onnx.Weights;
import java.util.List;
import java.util.Map;
import onnx.Onnx;
import org.junit.jupiter.api.Test;

/** A replacement read back as a chain of convolutions: defaults filled in, anything else refused by name. */
class ConvChainTest {

    private static final Map<String, Onnx.TensorProto> STORED = Map.of(
            "w1", Weights.tensor("w1", new long[] {3, 4, 5, 1}, new double[60], Weights.FLOAT),
            "w2", Weights.tensor("w2", new long[] {6, 3, 1, 1}, new double[18], Weights.FLOAT),
            "b", Weights.tensor("b", new long[] {6}, new double[6], Weights.FLOAT));

    private static Onnx.NodeProto conv(String name, String in, String weight, String out, Onnx.AttributeProto... attributes) {
        return Onnx.NodeProto.newBuilder().setOpType("Conv").setName(name).addInput(in).addInput(weight).addOutput(out)
                .addAllAttribute(List.of(attributes)).build();
    }

    @Test
    void absentAttributesTakeOnnxDefaultsAndTheKernelComesFromTheWeight() {
        Onnx.NodeProto last = conv("c2", "h", "w2", "y").toBuilder().addInput("b").build();
        ConvChain chain = ConvChain.of(List.of(conv("c1", "x", "w1", "h", TinyModels.intsAttr("strides", 2, 1),
                TinyModels.stringAttr("auto_pad", "SAME_UPPER")), last), STORED);
        ConvChain.Step first = chain.steps().get(0);
        assertArrayEquals(new long[] {5, 1}, first.kernelShape());
        assertArrayEquals(new long[] {2, 1}, first.strides());
        assertArrayEquals(new long[] {0, 0, 0, 0}, first.pads());
        assertArrayEquals(new long[] {1, 1}, first.dilations());
        assertEquals(1, first.group());
        assertEquals("SAME_UPPER", first.autoPad());
        assertNull(first.bias());
        assertEquals("b", chain.steps().get(1).bias());
        assertEquals("NOTSET", chain.steps().get(1).autoPad());
        assertEquals(List.of("w1", "w2", "b"), chain.tensors(STORED).stream().map(Onnx.TensorProto::getName).toList());
    }

    @Test
    void whatIsNotAChainOfStoredConvolutionsIsRefused() {
        Onnx.NodeProto relu = Onnx.NodeProto.newBuilder().setOpType("Relu").setName("act").addInput("h").addOutput("y").build();
        Map<List<Onnx.NodeProto>, String> bad = Map.of(
                List.of(conv("c1", "x", "w1", "h"), relu), "node 'act' (Relu)",
                List.of(conv("c1", "x", "w1", "h"), conv("c2", "x", "w2", "y")), "reads 'x', not the previous",
                List.of(conv("c1", "x", "computed", "h")), "'computed' is not a stored tensor",
                List.of(conv("c1", "x", "w1", "h", TinyModels.intsAttr("kernel_shape", 3, 3))), "kernel_shape [3, 3]",
                List.of(conv("c1", "x", "w1", "h", TinyModels.intsAttr("pads", 1, 1))), "4 pads");
        bad.forEach((nodes, message) -> {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConvChain.of(nodes, STORED));
            assertTrue(e.getMessage().contains(message), e.getMessage());
        });
        assertThrows(IllegalArgumentException.class, () -> ConvChain.of(List.of(), STORED));
    }
}
