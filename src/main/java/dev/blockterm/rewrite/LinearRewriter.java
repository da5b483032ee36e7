package dev.blockterm.rewrite;

import dev.blockterm.decompose.BlockTerm;
import dev.blockterm.decompose.Decomposition;
import dev.blockterm.decompose.TensorTrain;
import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.LinearLayer;
import dev.blockterm.onnx.Weights;
import dev.blockterm.tensor.Tensorization;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import onnx.Onnx;

/**
 * Replaces one {@code Gemm} or {@code MatMul} node by its factored form. Gemm keeps its meaning:
 * {@code Y = alpha op(A) op(B) + beta C} with {@code transA} as a Transpose of the input,
 * {@code alpha} folded into the cores and {@code beta C} added after. MatMul inputs may have any
 * leading dimensions: they are flattened to {@code [batch, I]}, contracted, and restored.
 */
public final class LinearRewriter {

    /** The nodes and initializers that replace a layer, and the FLOPs per sample of the contraction. */
    public record Replacement(List<Onnx.NodeProto> nodes, List<Onnx.TensorProto> initializers, double flopsPerSample,
                              ContractionPlan plan) {
    }

    private LinearRewriter() {
    }

    /**
     * The contraction plan alone (for costing a candidate without fitting it): a tensor train when
     * {@code tensorTrain}, else a block term of {@code blocks} blocks.
     */
    public static ContractionPlan plan(LinearLayer layer, Tensorization tz, boolean tensorTrain, int blocks, int[] ranks,
                                       long expectedBatch) {
        return ContractionPlan.optimal(tensorTrain
                ? TensorTrainLinear.network(layer.name(), "x", tz, ranks, expectedBatch)
                : FactoredLinear.network(layer.name(), "x", tz, blocks, ranks, expectedBatch));
    }

    public static Replacement rewrite(Onnx.ModelProto model, LinearLayer layer, Tensorization tz, Decomposition factored,
                                      long expectedBatch) {
        Onnx.GraphProto graph = model.getGraph();
        Onnx.NodeProto node = graph.getNode(layer.nodeIndex());
        Map<String, Onnx.TensorProto> inits = Graphs.initializers(graph);
        int dataType = inits.get(layer.weightName()).getDataType();
        boolean gemm = layer.op().equals("Gemm");
        double alpha = gemm ? Graphs.floatAttribute(node, "alpha", 1f) : 1.0;
        double beta = gemm ? Graphs.floatAttribute(node, "beta", 1f) : 1.0;

        GraphBuilder g = new GraphBuilder(layer.name(), Graphs.opset(model));
        List<Onnx.TensorProto> factors = factored instanceof TensorTrain tt
                ? TensorTrainLinear.initializers(layer.name(), tz, tt, alpha, dataType)
                : FactoredLinear.initializers(layer.name(), tz, (BlockTerm) factored, alpha, dataType);
        factors.forEach(g::addInitializer);

        String x = node.getInput(0);
        if (gemm && Graphs.intAttribute(node, "transA", 0) != 0) {
            x = g.transpose(x, new int[] {1, 0});
        }
        int staticRank = gemm ? 2 : staticRank(graph, x);
        String flat = staticRank == 2 ? x : g.reshape(x, new long[] {-1, layer.inputSize()});
        if (tz.paddedInput() > layer.inputSize()) {
            flat = g.padColumns(flat, tz.paddedInput() - layer.inputSize());
        }
        long[] inShape = new long[tz.inputLegs() + 1];
        inShape[0] = -1;
        for (int l = 0; l < tz.inputLegs(); l++) {
            inShape[l + 1] = tz.legSize(l);
        }
        String xt = tz.inputLegs() == 1 ? flat : g.reshape(flat, inShape);

        TensorNetwork net = factored instanceof TensorTrain tt
                ? TensorTrainLinear.network(layer.name(), xt, tz, tt.ranks(), expectedBatch)
                : FactoredLinear.network(layer.name(), xt, tz, ((BlockTerm) factored).blocks(),
                        ((BlockTerm) factored).ranks(), expectedBatch);
        ContractionPlan plan = ContractionPlan.optimal(net);
        String y = NetworkEmitter.emit(g, plan);
        if (tz.outputLegs() > 1) {
            y = g.reshape(y, new long[] {-1, tz.paddedOutput()});
        }
        if (tz.paddedOutput() > layer.outputSize()) {
            y = g.slice(y, 1, 0, layer.outputSize());
        }
        if (gemm && node.getInputCount() > 2 && !node.getInput(2).isEmpty() && beta != 0) {
            String c = node.getInput(2);
            if (beta != 1.0) {
                Onnx.TensorProto bias = inits.get(c);
                if (bias != null && Weights.unsupported(bias) == null) {
                    double[] v = Weights.values(bias);
                    for (int i = 0; i < v.length; i++) {
                        v[i] *= beta;
                    }
                    long[] dims = bias.getDimsList().stream().mapToLong(Long::longValue).toArray();
                    c = g.addInitializer(Weights.tensor(layer.name() + ".bt.bias", dims, v, bias.getDataType()));
                } else {
                    String b = g.addInitializer(Weights.tensor(layer.name() + ".bt.beta", new long[0],
                            new double[] {beta}, dataType));
                    c = g.op("Mul", List.of(c, b), List.of());
                }
            }
            y = g.op("Add", List.of(y, c), List.of());
        }
        if (staticRank != 2) {
            // restore the leading dimensions: shape(x)[:-1] ++ [J]
            String shape = g.op("Shape", List.of(x), List.of());
            String leading = g.slice(shape, 0, 0, -1);
            String last = g.addInitializer(Weights.int64s(layer.name() + ".bt/out_dim", layer.outputSize()));
            Onnx.AttributeProto axis = Onnx.AttributeProto.newBuilder().setName("axis")
                    .setType(Onnx.AttributeProto.AttributeType.INT).setI(0).build();
            String full = g.op("Concat", List.of(leading, last), List.of(axis));
            y = g.op("Reshape", List.of(y, full), List.of());
        }
        if (y.equals(xt) || g.nodes().isEmpty()) {
            throw new IllegalStateException("layer " + layer.name() + ": emitted no operation");
        }
        g.renameLastOutput(y, node.getOutput(0));
        return new Replacement(new ArrayList<>(g.nodes()), new ArrayList<>(g.initializers()), plan.flopsPerSample(), plan);
    }

    /** The rank of a value when the graph declares it (graph input or value_info), else -1. */
    public static int staticRank(Onnx.GraphProto graph, String value) {
        List<Onnx.ValueInfoProto> infos = new ArrayList<>(graph.getInputList());
        infos.addAll(graph.getValueInfoList());
        for (Onnx.ValueInfoProto v : infos) {
            if (v.getName().equals(value) && v.hasType() && v.getType().hasTensorType()
                    && v.getType().getTensorType().hasShape()) {
                return v.getType().getTensorType().getShape().getDimCount();
            }
        }
        return -1;
    }
}
