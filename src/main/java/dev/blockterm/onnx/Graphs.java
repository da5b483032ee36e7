package dev.blockterm.onnx;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;

/** Reading graphs: attributes, initializers, opsets, and the fully connected layers. */
public final class Graphs {

    private Graphs() {
    }

    public static long intAttribute(Onnx.NodeProto node, String name, long fallback) {
        for (Onnx.AttributeProto a : node.getAttributeList()) {
            if (a.getName().equals(name)) {
                return a.getI();
            }
        }
        return fallback;
    }

    public static float floatAttribute(Onnx.NodeProto node, String name, float fallback) {
        for (Onnx.AttributeProto a : node.getAttributeList()) {
            if (a.getName().equals(name)) {
                return a.getF();
            }
        }
        return fallback;
    }

    public static Map<String, Onnx.TensorProto> initializers(Onnx.GraphProto graph) {
        Map<String, Onnx.TensorProto> map = new HashMap<>();
        for (Onnx.TensorProto t : graph.getInitializerList()) {
            map.put(t.getName(), t);
        }
        return map;
    }

    /** The default-domain opset the model imports. */
    public static long opset(Onnx.ModelProto model) {
        for (Onnx.OperatorSetIdProto id : model.getOpsetImportList()) {
            if (id.getDomain().isEmpty() || id.getDomain().equals("ai.onnx")) {
                return id.getVersion();
            }
        }
        return 1;
    }

    /** Every value these nodes read, their subgraphs' reads of outer-scope values included. */
    public static Set<String> referenced(List<Onnx.NodeProto> nodes) {
        Map<String, Integer> uses = new HashMap<>();
        countUses(Onnx.GraphProto.newBuilder().addAllNode(nodes).build(), uses);
        return new HashSet<>(uses.keySet());
    }

    /** How many node inputs, in the graph and its subgraphs, name each value. */
    public static Map<String, Integer> uses(Onnx.GraphProto graph) {
        Map<String, Integer> uses = new HashMap<>();
        countUses(graph, uses);
        for (Onnx.ValueInfoProto out : graph.getOutputList()) {
            uses.merge(out.getName(), 1, Integer::sum);
        }
        return uses;
    }

    private static void countUses(Onnx.GraphProto graph, Map<String, Integer> uses) {
        for (Onnx.NodeProto node : graph.getNodeList()) {
            for (String in : node.getInputList()) {
                uses.merge(in, 1, Integer::sum);
            }
            for (Onnx.AttributeProto a : node.getAttributeList()) {
                if (a.hasG()) {
                    countUses(a.getG(), uses);
                }
                for (Onnx.GraphProto g : a.getGraphsList()) {
                    countUses(g, uses);
                }
            }
        }
    }

    /** Every Gemm and MatMul with a constant 2-D weight, compressible or not (with the reason). */
    public static List<LinearLayer> linearLayers(Onnx.GraphProto graph) {
        Map<String, Onnx.TensorProto> inits = initializers(graph);
        Map<String, Integer> uses = uses(graph);
        List<LinearLayer> layers = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < graph.getNodeCount(); i++) {
            Onnx.NodeProto node = graph.getNode(i);
            String op = node.getOpType();
            if (!node.getDomain().isEmpty() && !node.getDomain().equals("ai.onnx")) {
                continue;
            }
            if (!(op.equals("Gemm") || op.equals("MatMul")) || node.getInputCount() < 2) {
                continue;
            }
            Onnx.TensorProto w = inits.get(node.getInput(1));
            if (w == null || w.getDimsCount() != 2) {
                continue;
            }
            boolean transposed = op.equals("Gemm") && intAttribute(node, "transB", 0) != 0;
            int rows = (int) w.getDims(0);
            int cols = (int) w.getDims(1);
            String reason = Weights.unsupported(w);
            int count = uses.getOrDefault(w.getName(), 0);
            if (reason == null && count > 1) {
                reason = "weight '" + w.getName() + "' is shared by " + count + " uses; left dense";
            }
            if (reason == null && inits.containsKey(node.getInput(0))) {
                reason = "both operands are constant";
            }
            String name = node.getName().isEmpty() ? w.getName() : node.getName();
            if (!names.add(name)) {
                name = name + "#" + i;
                names.add(name);
            }
            layers.add(new LinearLayer(i, name, op, w.getName(), transposed ? cols : rows, transposed ? rows : cols,
                    transposed, reason));
        }
        return layers;
    }

    /**
     * A Conv node's geometry: strides, dilations, pads (every axis's begin, then every end, ONNX's
     * order) and {@code auto_pad}, at ONNX's defaults where absent (1, 1, 0, NOTSET).
     */
    public record ConvAttributes(int[] strides, int[] dilations, int[] pads, String autoPad) {
        public ConvAttributes {
            strides = strides.clone();
            dilations = dilations.clone();
            pads = pads.clone();
        }

        @Override
        public int[] strides() {
            return strides.clone();
        }

        @Override
        public int[] dilations() {
            return dilations.clone();
        }

        @Override
        public int[] pads() {
            return pads.clone();
        }
    }

    /** The geometry of a Conv node with {@code spatial} spatial axes. */
    public static ConvAttributes convAttributes(Onnx.NodeProto node, int spatial) {
        int[] strides = new int[spatial];
        int[] dilations = new int[spatial];
        java.util.Arrays.fill(strides, 1);
        java.util.Arrays.fill(dilations, 1);
        int[] pads = new int[2 * spatial];
        String autoPad = "NOTSET";
        for (Onnx.AttributeProto a : node.getAttributeList()) {
            switch (a.getName()) {
                case "strides" -> copyInts(a, strides);
                case "dilations" -> copyInts(a, dilations);
                case "pads" -> copyInts(a, pads);
                case "auto_pad" -> autoPad = a.getS().toStringUtf8().isEmpty() ? "NOTSET" : a.getS().toStringUtf8();
                default -> { }
            }
        }
        return new ConvAttributes(strides, dilations, pads, autoPad);
    }

    private static void copyInts(Onnx.AttributeProto a, int[] into) {
        for (int i = 0; i < Math.min(into.length, a.getIntsCount()); i++) {
            into[i] = (int) a.getInts(i);
        }
    }

    /** Every Conv with a constant kernel, compressible or not (with the reason). */
    public static List<ConvLayer> convLayers(Onnx.GraphProto graph) {
        Map<String, Onnx.TensorProto> inits = initializers(graph);
        Map<String, Integer> uses = uses(graph);
        List<ConvLayer> layers = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < graph.getNodeCount(); i++) {
            Onnx.NodeProto node = graph.getNode(i);
            if (!node.getOpType().equals("Conv") || node.getInputCount() < 2
                    || !(node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx"))) {
                continue;
            }
            Onnx.TensorProto w = inits.get(node.getInput(1));
            if (w == null || w.getDimsCount() < 3) {
                continue;
            }
            int spatial = w.getDimsCount() - 2;
            int[] kernel = new int[spatial];
            for (int k = 0; k < spatial; k++) {
                kernel[k] = (int) w.getDims(k + 2);
            }
            int[] strides = convAttributes(node, spatial).strides();
            long group = intAttribute(node, "group", 1);
            String reason = Weights.unsupported(w);
            int count = uses.getOrDefault(w.getName(), 0);
            if (reason == null && count > 1) {
                reason = "kernel '" + w.getName() + "' is shared by " + count + " uses; left dense";
            }
            String name = node.getName().isEmpty() ? w.getName() : node.getName();
            if (!names.add(name)) {
                name = name + "#" + i;
                names.add(name);
            }
            layers.add(new ConvLayer(i, name, w.getName(), (int) w.getDims(0), (int) w.getDims(1), kernel, strides, (int) group,
                    reason));
        }
        return layers;
    }

    /** Recurrent ops and the inputs holding their weight matrices. */
    private static final Map<String, List<Integer>> RECURRENT = Map.of("LSTM", List.of(1, 2), "GRU", List.of(1, 2),
            "RNN", List.of(1, 2));

    /**
     * The weights to store factored and rebuild at load: recurrent {@code W} and {@code R}, and every
     * other initializer of at least two dimensions whose name matches {@code named} (null: none)
     * that is not already a Gemm, MatMul or Conv weight.
     */
    public static List<StoredWeight> storedWeights(Onnx.GraphProto graph, java.util.regex.Pattern named) {
        Map<String, Onnx.TensorProto> inits = initializers(graph);
        Set<String> layerWeights = new HashSet<>();
        for (LinearLayer l : linearLayers(graph)) {
            layerWeights.add(l.weightName());
        }
        for (ConvLayer c : convLayers(graph)) {
            layerWeights.add(c.weightName());
        }
        Map<String, String> uses = new java.util.LinkedHashMap<>();
        Map<String, String> labels = new HashMap<>();
        Map<String, Integer> nodes = new HashMap<>();
        Set<String> inputWeights = new HashSet<>();
        for (int n = 0; n < graph.getNodeCount(); n++) {
            Onnx.NodeProto node = graph.getNode(n);
            List<Integer> inputs = RECURRENT.get(node.getOpType());
            if (inputs == null || !(node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx"))) {
                continue;
            }
            for (int i : inputs) {
                if (node.getInputCount() > i && inits.containsKey(node.getInput(i))
                        && uses.putIfAbsent(node.getInput(i), node.getOpType() + " '" + node.getName() + "' input "
                        + (i == 1 ? "W" : "R")) == null) {
                    nodes.put(node.getInput(i), n);
                    labels.put(node.getInput(i), node.getOpType() + ":" + (i == 1 ? "W" : "R"));
                    if (i == 1) {
                        inputWeights.add(node.getInput(i));
                    }
                }
            }
        }
        if (named != null) {
            for (Onnx.TensorProto t : graph.getInitializerList()) {
                if (named.matcher(t.getName()).find() && !layerWeights.contains(t.getName())) {
                    uses.putIfAbsent(t.getName(), "named by --weights");
                }
            }
        }
        List<StoredWeight> out = new ArrayList<>();
        for (Map.Entry<String, String> e : uses.entrySet()) {
            Onnx.TensorProto t = inits.get(e.getKey());
            long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
            String reason = Weights.unsupported(t);
            if (reason == null && dims.length < 2) {
                reason = "fewer than two dimensions";
            }
            long rows = 1;
            for (int i = 0; i < dims.length - 1; i++) {
                rows *= dims[i];
            }
            int cols = dims.length == 0 ? 1 : (int) dims[dims.length - 1];
            out.add(new StoredWeight(t.getName(), e.getValue(), labels.getOrDefault(t.getName(), "weight"), dims,
                    (int) rows, cols, reason,
                    nodes.getOrDefault(t.getName(), -1), inputWeights.contains(t.getName())));
        }
        return out;
    }

    /**
     * Every {@code Gather} along axis 0 whose data is a constant 2-D float initializer that no other node
     * reads and that is not already a layer's or a stored weight ({@code taken}): the embedding tables.
     * A table that another node reads too (tied weights) is listed with the reason it stays.
     */
    public static List<EmbeddingTable> embeddingTables(Onnx.GraphProto graph, Set<String> taken) {
        Map<String, Onnx.TensorProto> inits = initializers(graph);
        Map<String, Integer> readers = new HashMap<>();
        for (Onnx.NodeProto node : graph.getNodeList()) {
            for (String in : new HashSet<>(node.getInputList())) {
                readers.merge(in, 1, Integer::sum);
            }
        }
        List<EmbeddingTable> out = new ArrayList<>();
        for (int n = 0; n < graph.getNodeCount(); n++) {
            Onnx.NodeProto node = graph.getNode(n);
            if (!node.getOpType().equals("Gather") || !(node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx"))
                    || node.getInputCount() < 2 || intAttribute(node, "axis", 0) != 0) {
                continue;
            }
            Onnx.TensorProto t = inits.get(node.getInput(0));
            if (t == null || t.getDimsCount() != 2 || taken.contains(t.getName()) || inits.containsKey(node.getInput(1))) {
                continue;
            }
            String reason = Weights.unsupported(t);
            if (reason == null && readers.getOrDefault(t.getName(), 0) > 1) {
                reason = "the table is also read by another node (tied weights): kept as it is";
            }
            String name = node.getName().isEmpty() ? t.getName() : node.getName();
            out.add(new EmbeddingTable(n, name, t.getName(), node.getInput(1), (int) t.getDims(0), (int) t.getDims(1),
                    reason));
        }
        return out;
    }

    /**
     * Gemm, MatMul and Conv nodes inside subgraphs ({@code If}, {@code Loop}, {@code Scan} bodies):
     * one line each saying where, for the report. They are not rewritten.
     */
    public static List<String> subgraphLayers(Onnx.GraphProto graph) {
        List<String> out = new ArrayList<>();
        for (Onnx.NodeProto node : graph.getNodeList()) {
            for (Onnx.AttributeProto a : node.getAttributeList()) {
                List<Onnx.GraphProto> bodies = new ArrayList<>(a.getGraphsList());
                if (a.hasG()) {
                    bodies.add(a.getG());
                }
                for (Onnx.GraphProto body : bodies) {
                    for (Onnx.NodeProto inner : body.getNodeList()) {
                        if (inner.getOpType().equals("Gemm") || inner.getOpType().equals("MatMul")
                                || inner.getOpType().equals("Conv")) {
                            out.add(inner.getOpType() + " '" + inner.getName() + "' inside the " + a.getName()
                                    + " subgraph of " + node.getOpType() + " '" + node.getName() + "'");
                        }
                    }
                    out.addAll(subgraphLayers(body));
                }
            }
        }
        return out;
    }

    /**
     * The model with every {@code Constant} node that holds a tensor ({@code value}) turned into an
     * initializer of the same name, so weights held in Constant nodes are found like any other.
     */
    public static Onnx.ModelProto liftConstants(Onnx.ModelProto model) {
        Onnx.GraphProto graph = model.getGraph();
        Onnx.GraphProto.Builder g = graph.toBuilder().clearNode();
        boolean changed = false;
        for (Onnx.NodeProto node : graph.getNodeList()) {
            Onnx.AttributeProto value = null;
            if (node.getOpType().equals("Constant") && (node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx"))
                    && node.getAttributeCount() == 1 && node.getAttribute(0).getName().equals("value")) {
                value = node.getAttribute(0);
            }
            if (value == null || !value.hasT() || value.getT().getDataLocation() == Onnx.TensorProto.DataLocation.EXTERNAL) {
                g.addNode(node);
                continue;
            }
            g.addInitializer(value.getT().toBuilder().setName(node.getOutput(0)).build());
            if (model.getIrVersion() < 4) {
                Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
                for (long d : value.getT().getDimsList()) {
                    shape.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
                }
                g.addInput(Onnx.ValueInfoProto.newBuilder().setName(node.getOutput(0)).setType(Onnx.TypeProto.newBuilder()
                        .setTensorType(Onnx.TypeProto.Tensor.newBuilder().setElemType(value.getT().getDataType())
                                .setShape(shape))));
            }
            changed = true;
        }
        return changed ? model.toBuilder().setGraph(g).build() : model;
    }

    /** The layer's weight as a row-major {@code I x J} matrix (MatMul convention). */
    public static double[] weightMatrix(LinearLayer layer, Onnx.TensorProto w) {
        double[] v = Weights.values(w);
        if (!layer.transposed()) {
            return v;
        }
        int rows = layer.outputSize();
        int cols = layer.inputSize();
        double[] t = new double[v.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = v[r * cols + c];
            }
        }
        return t;
    }
}
