package dev.blockterm.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.blockterm.onnx.TinyModels;
import dev.blockterm.onnx.Weights;
import java.util.List;
import java.util.Map;
import onnx.Onnx;
import org.junit.jupiter.api.Test;

/** Outputs of every element type the comparisons meet are read as numbers, never as "nothing to compare". */
class ModelRunnerTest {

    @Test
    void halfPrecisionValuesAreRead() {
        assertEquals(1.0f, ai.onnxruntime.platform.Fp16Conversions.fp16ToFloat((short) 0x3c00));
        assertEquals(-2.0f, ai.onnxruntime.platform.Fp16Conversions.fp16ToFloat((short) 0xc000));
        assertEquals(65504f, ai.onnxruntime.platform.Fp16Conversions.fp16ToFloat((short) 0x7bff));
        assertEquals(5.9604645e-8f, ai.onnxruntime.platform.Fp16Conversions.fp16ToFloat((short) 0x0001));
        assertEquals(Float.POSITIVE_INFINITY, ai.onnxruntime.platform.Fp16Conversions.fp16ToFloat((short) 0x7c00));
        assertEquals(0.333251953125f, ai.onnxruntime.platform.Fp16Conversions.fp16ToFloat((short) 0x3555));
    }

    @Test
    void castOutputsOfOtherTypesAreRead() {
        // y = Cast(x, to), for the types a model may end in
        int[] types = {Onnx.TensorProto.DataType.INT32_VALUE, Onnx.TensorProto.DataType.UINT8_VALUE,
            Onnx.TensorProto.DataType.INT8_VALUE, Onnx.TensorProto.DataType.INT16_VALUE,
            Onnx.TensorProto.DataType.FLOAT16_VALUE, Onnx.TensorProto.DataType.BFLOAT16_VALUE,
            Onnx.TensorProto.DataType.BOOL_VALUE};
        double[] x = {0, 1, 2, 3, 100, 7};
        for (int type : types) {
            Onnx.NodeProto cast = Onnx.NodeProto.newBuilder().setOpType("Cast").setName("cast").addInput("x")
                    .addOutput("y").addAttribute(TinyModels.intAttr("to", type)).build();
            Onnx.ValueInfoProto y = Onnx.ValueInfoProto.newBuilder().setName("y").setType(Onnx.TypeProto.newBuilder()
                    .setTensorType(Onnx.TypeProto.Tensor.newBuilder().setElemType(type))).build();
            Onnx.ModelProto model = TinyModels.model(13, List.of(TinyModels.input("x", 2, 3)), List.of(y), List.of(cast),
                    List.<Onnx.TensorProto>of());
            try (ModelRunner runner = new ModelRunner(model.toByteArray(), "cast", 1)) {
                NpyArray out = runner.run(Map.of("x", new NpyArray(new long[] {2, 3}, x, "<f4"))).get("y");
                double[] expected = type == Onnx.TensorProto.DataType.BOOL_VALUE ? new double[] {0, 1, 1, 1, 1, 1} : x;
                assertArrayEquals(expected, out.values(), 1e-9, "type " + type);
                assertArrayEquals(new long[] {2, 3}, out.shape());
            }
        }
        assertEquals(Weights.FLOAT, Onnx.TensorProto.DataType.FLOAT_VALUE);
    }
}
