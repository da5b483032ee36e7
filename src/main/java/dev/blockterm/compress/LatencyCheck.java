package dev.blockterm.compress;

import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.LinearLayer;
import dev.blockterm.report.LayerLatency;
import dev.blockterm.rewrite.LinearRewriter;
import dev.blockterm.runtime.Latency;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;

/**
 * Times a fully connected layer dense and factored, each alone in a one-layer model, in ONNX
 * Runtime at the expected batch: FLOPs do not say what a chain of small products costs (each op
 * has a fixed overhead, and a dense layer at batch 1 is bound by reading its weight), so the
 * decision to keep a layer dense rests on the measurement.
 */
public final class LatencyCheck {

    /** Intra-op threads of the check the compressor runs: the small machines the models ship to. */
    public static final int THREADS = 1;
    private static final int WARMUP = 10;
    private static final int RUNS = 31;

    private LatencyCheck() {
    }

    /**
     * Node {@code nodeIndex} of {@code model} timed alone against its replacement, on an input of
     * {@code shape} ({@code batch} along its batch axis); null where the node cannot be cut out
     * alone (it reads a value that is neither its input nor a weight, or its input is not float).
     */
    public static LayerLatency time(Onnx.ModelProto model, int nodeIndex, LinearRewriter.Replacement replacement,
                                    long[] shape, long batch, int threads) {
        byte[][] pair = oneLayerModels(model, nodeIndex, replacement, shape);
        if (pair == null) {
            return null;
        }
        String x = model.getGraph().getNode(nodeIndex).getInput(0);
        double[] millis = Latency.pairedMedianMillis(pair[0], pair[1], x, shape, threads, WARMUP, RUNS);
        return new LayerLatency(batch, threads, millis[0], millis[1]);
    }

    /**
     * The node alone and its replacement alone, serialized: input the node's input, output its
     * output; null where the node cannot be cut out (see {@link #time}).
     */
    static byte[][] oneLayerModels(Onnx.ModelProto model, int nodeIndex, LinearRewriter.Replacement replacement,
                                   long[] shape) {
        Onnx.GraphProto graph = model.getGraph();
        Onnx.NodeProto node = graph.getNode(nodeIndex);
        Map<String, Onnx.TensorProto> inits = Graphs.initializers(graph);
        Onnx.TensorProto weight = inits.get(node.getInput(1));
        if (weight == null || !dev.blockterm.onnx.Weights.fitted(weight.getDataType())) {
            return null;
        }
        String x = node.getInput(0);
        int type = weight.getDataType();
        byte[] dense = oneLayer(model, List.of(node), List.of(), inits, x, shape, node.getOutput(0), type);
        byte[] factored = oneLayer(model, replacement.nodes(), replacement.initializers(), inits, x, shape,
                node.getOutput(0), type);
        return dense == null || factored == null ? null : new byte[][] {dense, factored};
    }

    /**
     * A fully connected layer's input, {@code batch} rows at the rank the graph gives it, and the
     * axis the rows run along (Gemm's transA read as stored).
     */
    static InputShape linearInput(Onnx.GraphProto graph, LinearLayer layer) {
        Onnx.NodeProto node = graph.getNode(layer.nodeIndex());
        if (layer.op().equals("Gemm")) {
            boolean transA = Graphs.intAttribute(node, "transA", 0) != 0;
            return transA ? new InputShape(new long[] {layer.inputSize(), 1}, 1)
                    : new InputShape(new long[] {1, layer.inputSize()}, 0);
        }
        int rank = Math.max(2, LinearRewriter.staticRank(graph, node.getInput(0)));
        long[] shape = new long[rank];
        Arrays.fill(shape, 1);
        shape[rank - 1] = layer.inputSize();
        return new InputShape(shape, rank - 2);
    }

    /** A layer's input shape and the axis the batch runs along. */
    public record InputShape(long[] shape, int batchAxis) {

        public InputShape {
            shape = shape.clone();
        }

        public long[] at(long batch) {
            long[] s = shape.clone();
            s[batchAxis] = batch;
            return s;
        }
    }

    /**
     * A model of {@code nodes} alone: input {@code x}, output {@code y}, the initializers they read;
     * null when they read a value that is neither.
     */
    private static byte[] oneLayer(Onnx.ModelProto model, List<Onnx.NodeProto> nodes, List<Onnx.TensorProto> own,
                                   Map<String, Onnx.TensorProto> inits, String x, long[] shape, String y,
                                   int type) {
        Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName("layer").addAllNode(nodes).addAllInitializer(own);
        Set<String> available = new HashSet<>(List.of(x, ""));
        own.forEach(t -> available.add(t.getName()));
        for (Onnx.NodeProto n : nodes) {
            for (String in : n.getInputList()) {
                if (!available.contains(in)) {
                    Onnx.TensorProto t = inits.get(in);
                    if (t == null) {
                        return null;
                    }
                    g.addInitializer(t);
                    available.add(in);
                }
            }
            available.addAll(n.getOutputList());
        }
        Onnx.TensorShapeProto.Builder s = Onnx.TensorShapeProto.newBuilder();
        for (long dim : shape) {
            s.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(dim));
        }
        g.addInput(value(x, s.build(), type));
        g.addOutput(value(y, null, type));
        return model.toBuilder().clearMetadataProps().setGraph(g).build().toByteArray();
    }

    private static Onnx.ValueInfoProto value(String name, Onnx.TensorShapeProto shape, int type) {
        Onnx.TypeProto.Tensor.Builder t = Onnx.TypeProto.Tensor.newBuilder().setElemType(type);
        if (shape != null) {
            t.setShape(shape);
        }
        return Onnx.ValueInfoProto.newBuilder().setName(name).setType(Onnx.TypeProto.newBuilder().setTensorType(t)).build();
    }
}
