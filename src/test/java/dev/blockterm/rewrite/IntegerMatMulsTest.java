package dev.blockterm.rewrite;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.onnx.TinyModels;
import dev.blockterm.onnx.Weights;
import dev.blockterm.quantize.Precision;
import dev.blockterm.quantize.Quantized;
import dev.blockterm.quantize.Quantizer;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import onnx.Onnx;
import org.junit.jupiter.api.Test;

/**
 * Int8 compute: a MatMul by an int8 weight, rewritten to {@code DynamicQuantizeLinear} +
 * {@code MatMulInteger}, computes in ONNX Runtime what the ONNX specification of those ops says,
 * worked out here by plain loops (uint8 activations with a per-tensor scale and zero point,
 * round half to even, the int8 values and per-column scales); nothing is left of the float reader;
 * a float weight's MatMul is left alone; an opset without DynamicQuantizeLinear is refused.
 */
class IntegerMatMulsTest {

    private static final int IN = 70;
    private static final int OUT = 9;

    /**
     * {@code y = x W_int8 + x V} with {@code W} read back by the int8 reader, {@code V} a float weight;
     * {@code gemm}: the first product a {@code Gemm} with {@code transB} (W stored {@code OUT x IN}) and a
     * bias of ones.
     */
    private static Onnx.ModelProto model(long opset, double[] w, double[] v, boolean gemm) {
        GraphBuilder g = new GraphBuilder("fc", opset);
        String read = gemm ? QuantizedWeights.emit(g, "w", new long[] {OUT, IN}, transpose(w),
                QuantizedWeights.Layout.CHANNEL_FIRST, Precision.INT8, Weights.FLOAT)
                : QuantizedWeights.emit(g, "w", new long[] {IN, OUT}, w, QuantizedWeights.Layout.CHANNEL_LAST,
                Precision.INT8, Weights.FLOAT);
        List<Onnx.NodeProto> nodes = new ArrayList<>(g.nodes());
        nodes.add(gemm ? Onnx.NodeProto.newBuilder().setOpType("Gemm").setName("q").addInput("x").addInput(read)
                .addInput("c").addOutput("a").addAttribute(TinyModels.intAttr("transB", 1)).build()
                : Onnx.NodeProto.newBuilder().setOpType("MatMul").setName("q").addInput("x").addInput(read)
                .addOutput("a").build());
        nodes.add(Onnx.NodeProto.newBuilder().setOpType("MatMul").setName("f").addInput("x").addInput("v")
                .addOutput("b").build());
        nodes.add(Onnx.NodeProto.newBuilder().setOpType("Add").addInput("a").addInput("b").addOutput("y").build());
        List<Onnx.TensorProto> inits = new ArrayList<>(g.initializers());
        inits.add(Weights.tensor("v", new long[] {IN, OUT}, v, Weights.FLOAT));
        if (gemm) {
            double[] ones = new double[OUT];
            java.util.Arrays.fill(ones, 1);
            inits.add(Weights.tensor("c", new long[] {OUT}, ones, Weights.FLOAT));
        }
        return TinyModels.model(opset, List.of(TinyModels.input("x", 4, IN)), List.of(TinyModels.input("y", 4, OUT)),
                nodes, inits);
    }

    private static double[] transpose(double[] w) {
        double[] t = new double[w.length];
        for (int i = 0; i < IN; i++) {
            for (int j = 0; j < OUT; j++) {
                t[j * IN + i] = w[i * OUT + j];
            }
        }
        return t;
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void aProductByAnInt8WeightComputesWhatTheIntegerOpsSpecify(boolean gemm) {
        double[] w = TinyModels.gaussian(IN * OUT, 5);
        double[] v = TinyModels.gaussian(IN * OUT, 6);
        double[] x = TinyModels.gaussian(4 * IN, 9);
        x[3] = 4.2; // a lopsided range: the zero point is not 128
        IntegerMatMuls.Result r = IntegerMatMuls.apply(model(13, w, v, gemm));
        assertEquals(1, r.rewritten());
        List<String> ops = r.model().getGraph().getNodeList().stream().map(Onnx.NodeProto::getOpType).toList();
        assertTrue(ops.contains("MatMulInteger") && ops.contains("DynamicQuantizeLinear"), ops.toString());
        assertEquals(1, ops.stream().filter(o -> o.equals("MatMul")).count(), "the float weight's MatMul stays: " + ops);
        assertTrue(!ops.contains("Gemm"), ops.toString());
        assertTrue(r.model().getGraph().getNodeList().stream().noneMatch(n -> n.getOpType().equals("Cast")
                && n.getInput(0).equals("w.int8")), "the float reader is gone: " + ops);

        // the specification, by hand
        Quantized q = Quantizer.quantize(w, IN, OUT, Precision.INT8);
        double lo = 0;
        double hi = 0;
        for (double e : x) {
            lo = Math.min(lo, (float) e);
            hi = Math.max(hi, (float) e);
        }
        float scale = (float) ((hi - lo) / 255);
        double zero = Math.max(0, Math.min(255, Math.rint(-lo / scale)));
        double[] expected = new double[4 * OUT];
        for (int b = 0; b < 4; b++) {
            for (int j = 0; j < OUT; j++) {
                long acc = 0;
                double exact = 0;
                for (int i = 0; i < IN; i++) {
                    double a = Math.max(0, Math.min(255, Math.rint((float) x[b * IN + i] / scale) + zero));
                    acc += (long) (a - zero) * q.q()[i * OUT + j];
                    exact += (float) x[b * IN + i] * (float) v[i * OUT + j];
                }
                expected[b * OUT + j] = acc * (double) (scale * q.scales()[j]) + exact + (gemm ? 1 : 0);
            }
        }
        double[] got;
        try (ModelRunner runner = new ModelRunner(r.model().toByteArray(), "int8 compute", 1)) {
            got = runner.run(Map.of("x", new NpyArray(new long[] {4, IN}, x, "<f4"))).get("y").values();
        }
        double[] floatRead;
        try (ModelRunner runner = new ModelRunner(model(13, w, v, gemm).toByteArray(), "int8 weights", 1)) {
            floatRead = runner.run(Map.of("x", new NpyArray(new long[] {4, IN}, x, "<f4"))).get("y").values();
        }
        double moved = 0;
        for (int k = 0; k < expected.length; k++) {
            assertEquals(expected[k], got[k], 1e-4 * (1 + Math.abs(expected[k])), "output " + k);
            moved = Math.max(moved, Math.abs(got[k] - floatRead[k]));
        }
        assertTrue(moved > 1e-5, "the activations' rounding shows: the integer product is not the float one");
    }

    @Test
    void anOpsetWithoutDynamicQuantizeLinearIsRefused() {
        Onnx.ModelProto old = model(10, TinyModels.gaussian(IN * OUT, 5), TinyModels.gaussian(IN * OUT, 6), false);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> IntegerMatMuls.apply(old));
        assertTrue(e.getMessage().contains("opset 11"), e.getMessage());
    }
}
