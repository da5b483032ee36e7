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

    /** How many node inputs, in the graph and its subgraphs, name each value. */
    static Map<String, Integer> uses(Onnx.GraphProto graph) {
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
            int[] strides = new int[spatial];
            for (int k = 0; k < spatial; k++) {
                kernel[k] = (int) w.getDims(k + 2);
                strides[k] = 1;
            }
            for (Onnx.AttributeProto a : node.getAttributeList()) {
                if (a.getName().equals("strides")) {
                    for (int k = 0; k < Math.min(spatial, a.getIntsCount()); k++) {
                        strides[k] = (int) a.getInts(k);
                    }
                }
            }
            long group = intAttribute(node, "group", 1);
            String reason = Weights.unsupported(w);
            int count = uses.getOrDefault(w.getName(), 0);
            if (reason == null && count > 1) {
                reason = "kernel '" + w.getName() + "' is shared by " + count + " uses; left dense";
            }
            if (reason == null && group != 1) {
                reason = "grouped convolution (group = " + group + ") left dense";
            }
            String name = node.getName().isEmpty() ? w.getName() : node.getName();
            if (!names.add(name)) {
                name = name + "#" + i;
                names.add(name);
            }
            layers.add(new ConvLayer(i, name, w.getName(), (int) w.getDims(0), (int) w.getDims(1), kernel, strides, reason));
        }
        return layers;
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
