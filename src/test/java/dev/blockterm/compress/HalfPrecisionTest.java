package dev.blockterm.compress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.onnx.TinyModels;
import dev.blockterm.onnx.Weights;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.util.List;
import java.util.Map;
import onnx.Onnx;
import org.junit.jupiter.api.Test;

/**
 * Float16, bfloat16 and float64 weights are compressed (fitted in double) and their factors stored
 * in the weight's own type: the written graph keeps its types, with no Cast added.
 */
class HalfPrecisionTest {

    /**
     * {@code y = relu(x W)} ([batch, seq, 48] x [48, 40]) and a conv, both in {@code type} (the conv
     * only in float16: ONNX Runtime's CPU provider has no float64 Conv).
     */
    private static Onnx.ModelProto model(int type) {
        Onnx.ModelProto mm = TinyModels.matmul3d(48, 40, 13);
        if (type == Weights.DOUBLE) {
            Onnx.GraphProto.Builder g = mm.getGraph().toBuilder().clearInitializer();
            Onnx.TensorProto t = mm.getGraph().getInitializer(0);
            g.addInitializer(Weights.tensor(t.getName(), new long[] {48, 40}, Weights.values(t), type));
            g.getInputBuilder(0).getTypeBuilder().getTensorTypeBuilder().setElemType(type);
            g.getOutputBuilder(0).getTypeBuilder().getTensorTypeBuilder().setElemType(type);
            return mm.toBuilder().setGraph(g).build();
        }
        Onnx.ModelProto conv = TinyModels.conv(16, 8, new int[] {3, 3}, 6, null,
                List.of(TinyModels.intsAttr("pads", 1, 1, 1, 1)));
        Onnx.GraphProto.Builder g = mm.getGraph().toBuilder();
        Onnx.NodeProto node = conv.getGraph().getNode(0).toBuilder().setInput(0, "image").setInput(1, "kernel")
                .setInput(2, "bias").setOutput(0, "features").build();
        g.addNode(node).addInput(conv.getGraph().getInput(0).toBuilder().setName("image"))
                .addOutput(conv.getGraph().getOutput(0).toBuilder().setName("features"));
        g.clearInitializer();
        Map<String, Onnx.TensorProto> weights = Map.of("w", mm.getGraph().getInitializer(0),
                "kernel", conv.getGraph().getInitializer(0), "bias", conv.getGraph().getInitializer(1));
        for (Map.Entry<String, Onnx.TensorProto> e : weights.entrySet()) {
            Onnx.TensorProto t = e.getValue();
            long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
            g.addInitializer(Weights.tensor(e.getKey(), dims, Weights.values(t), type));
        }
        for (int i = 0; i < g.getInputCount(); i++) {
            g.getInputBuilder(i).getTypeBuilder().getTensorTypeBuilder().setElemType(type);
        }
        for (int i = 0; i < g.getOutputCount(); i++) {
            g.getOutputBuilder(i).getTypeBuilder().getTensorTypeBuilder().setElemType(type);
        }
        return mm.toBuilder().setGraph(g).build();
    }

    @Test
    void everyFloatTypeIsCompressedInItsOwnType() {
        // bfloat16 is read and written (below) but not run here: ONNX Runtime's CPU provider has no bfloat16
        // MatMul or Conv, and a model it cannot load is refused before fitting
        for (int type : new int[] {Weights.FLOAT16, Weights.DOUBLE}) {
          // the whole-model ratio (curves) and the per-layer ratio (every layer fitted alone)
          for (Target target : List.<Target>of(new Target.Ratio(2), new Target.LayerRatio(2))) {
            Onnx.ModelProto model = model(type);
            CompressionOptions options = CompressionOptions.builder().target(target).bits(java.util.EnumSet.of(dev.blockterm.quantize.Precision.FLOAT)).minParams(0)
                    .latencyCheck(false).build();
            Compressor.Result result = new Compressor(options, m -> { }).compress(model, "typed");
            String label = Onnx.TensorProto.DataType.forNumber(type).name() + " " + target.describe();
            long compressed = result.report().layers().stream().filter(l -> l.compressed()).count();
            assertTrue(target instanceof Target.Ratio ? compressed >= 1
                    : compressed == result.report().layers().size(),
                    label + "\n" + result.report().table());
            Onnx.GraphProto g = result.model().getGraph();
            assertTrue(g.getNodeList().stream().noneMatch(n -> n.getOpType().equals("Cast")), label);
            for (Onnx.TensorProto t : g.getInitializerList()) {
                assertTrue(t.getDataType() == type || t.getDataType() == Weights.INT64, label + ": " + t.getName()
                        + " is " + t.getDataType());
            }
            Map<String, NpyArray> feeds;
            try (ModelRunner dense = new ModelRunner(model.toByteArray(), "dense", 1);
                 ModelRunner written = new ModelRunner(result.model().toByteArray(), "written", 1)) {
                feeds = dense.randomInputs(3, 2);
                Map<String, NpyArray> a = dense.run(feeds);
                Map<String, NpyArray> b = written.run(feeds);
                double changed = 0;
                for (String out : a.keySet()) {
                    double e = dev.blockterm.TestArrays.relativeError(a.get(out).values(), b.get(out).values());
                    assertTrue(e < 0.9, label + " " + out + ": relative error " + e);
                    changed = Math.max(changed, e);
                }
                assertTrue(changed > 1e-4, label + ": the compressed layers change the outputs");
            }
            assertTrue(result.report().quality() != null, label);
          }
        }
    }

    @Test
    void halfPrecisionValuesRoundTrip() {
        double[] v = {0, 1, -2.5, 65504, 1e-3, 3.14159};
        for (int type : new int[] {Weights.FLOAT16, Weights.BFLOAT16}) {
            Onnx.TensorProto t = Weights.tensor("t", new long[] {v.length}, v, type);
            assertEquals(2L * v.length, t.getRawData().size());
            double[] back = Weights.values(t);
            for (int i = 0; i < v.length; i++) {
                assertEquals(Weights.round(v[i], type), back[i], 0);
                assertEquals(v[i], back[i], Math.abs(v[i]) * (type == Weights.FLOAT16 ? 1e-3 : 8e-3));
            }
        }
    }
}
