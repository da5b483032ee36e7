package dev.blockterm.compress;

import dev.blockterm.onnx.Graphs;
import dev.blockterm.report.CompressionReport;
import dev.blockterm.report.Json;
import dev.blockterm.rewrite.LinearRewriter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;

/** Puts the compressed model together: the replacements spliced in, unused weights out, provenance recorded. */
final class Assembly {

    private Assembly() {
    }

    /** Every name a model uses: initializers, graph inputs and outputs, node outputs. */
    static Set<String> names(Onnx.ModelProto model) {
        Set<String> names = new HashSet<>();
        Onnx.GraphProto g = model.getGraph();
        g.getInitializerList().forEach(t -> names.add(t.getName()));
        g.getInputList().forEach(v -> names.add(v.getName()));
        g.getOutputList().forEach(v -> names.add(v.getName()));
        g.getNodeList().forEach(n -> names.addAll(n.getOutputList()));
        return names;
    }

    /**
     * The replacement with every name it introduces (its initializers, its intermediate values) made
     * unique against {@code taken} (a suffix {@code _1}, {@code _2}, ...), which then holds them too:
     * a model may already hold an initializer named like ours ({@code <layer>.bt.core}). The names it
     * keeps ({@code kept}: the replaced node's outputs, or a rebuilt weight's own name) stay.
     */
    static LinearRewriter.Replacement unique(LinearRewriter.Replacement r, Set<String> taken, Set<String> kept) {
        Map<String, String> renamed = new java.util.HashMap<>();
        List<String> introduced = new java.util.ArrayList<>();
        r.initializers().forEach(t -> introduced.add(t.getName()));
        r.nodes().forEach(n -> introduced.addAll(n.getOutputList()));
        for (String name : introduced) {
            if (kept.contains(name) || renamed.containsKey(name)) {
                continue;
            }
            String fresh = name;
            for (int k = 1; taken.contains(fresh); k++) {
                fresh = name + "_" + k;
            }
            taken.add(fresh);
            if (!fresh.equals(name)) {
                renamed.put(name, fresh);
            }
        }
        if (renamed.isEmpty()) {
            return r;
        }
        List<Onnx.TensorProto> inits = new java.util.ArrayList<>();
        for (Onnx.TensorProto t : r.initializers()) {
            inits.add(t.toBuilder().setName(renamed.getOrDefault(t.getName(), t.getName())).build());
        }
        List<Onnx.NodeProto> nodes = new java.util.ArrayList<>();
        for (Onnx.NodeProto n : r.nodes()) {
            Onnx.NodeProto.Builder b = n.toBuilder().clearInput().clearOutput();
            n.getInputList().forEach(x -> b.addInput(renamed.getOrDefault(x, x)));
            n.getOutputList().forEach(x -> b.addOutput(renamed.getOrDefault(x, x)));
            nodes.add(b.build());
        }
        return new LinearRewriter.Replacement(nodes, inits, r.flopsPerSample(), r.plan());
    }

    /**
     * The graph with the replaced nodes spliced in; initializers that only the replaced nodes read
     * (their weights, a bias Gemm's beta replaced) are removed, and so are the rebuilt weights.
     */
    static Onnx.ModelProto rebuild(Onnx.ModelProto model, Map<Integer, LinearRewriter.Replacement> replacements,
                                           Set<String> replacedWeights, Set<String> rebuiltWeights) {
        Onnx.GraphProto graph = model.getGraph();
        Set<String> released = new HashSet<>(replacedWeights);
        for (int i : replacements.keySet()) {
            if (i >= 0) {
                released.addAll(graph.getNode(i).getInputList());
            }
        }
        Onnx.GraphProto.Builder g = graph.toBuilder().clearNode().clearInitializer().clearInput();
        // weights rebuilt at load come first: they depend on initializers only
        replacements.keySet().stream().filter(k -> k < 0).sorted(java.util.Comparator.reverseOrder())
                .forEach(k -> g.addAllNode(replacements.get(k).nodes()));
        for (int i = 0; i < graph.getNodeCount(); i++) {
            LinearRewriter.Replacement r = replacements.get(i);
            if (r == null) {
                g.addNode(graph.getNode(i));
            } else {
                g.addAllNode(r.nodes());
            }
        }
        Set<String> used = Graphs.referenced(g.getNodeList());
        for (Onnx.ValueInfoProto o : graph.getOutputList()) {
            used.add(o.getName());
        }
        for (Onnx.TensorProto t : graph.getInitializerList()) {
            boolean replaced = released.contains(t.getName()) && !used.contains(t.getName());
            if (!replaced && !rebuiltWeights.contains(t.getName())) {
                g.addInitializer(t);
            }
        }
        for (LinearRewriter.Replacement r : replacements.values()) {
            g.addAllInitializer(r.initializers());
        }
        Set<String> initializers = new HashSet<>();
        for (Onnx.TensorProto t : graph.getInitializerList()) {
            initializers.add(t.getName());
        }
        for (Onnx.ValueInfoProto in : graph.getInputList()) {
            // a graph input that is also a released initializer (IR < 4) goes with it; true inputs stay
            boolean replaced = released.contains(in.getName()) && initializers.contains(in.getName())
                    && !used.contains(in.getName());
            if (!replaced && !rebuiltWeights.contains(in.getName())) {
                g.addInput(in);
            }
        }
        if (model.getIrVersion() < 4) {
            // before IR 4 every initializer must also be a graph input
            for (LinearRewriter.Replacement r : replacements.values()) {
                for (Onnx.TensorProto t : r.initializers()) {
                    g.addInput(valueInfo(t));
                }
            }
        }
        return model.toBuilder().setGraph(g.build()).build();
    }

    private static Onnx.ValueInfoProto valueInfo(Onnx.TensorProto t) {
        Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
        for (long d : t.getDimsList()) {
            shape.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        }
        return Onnx.ValueInfoProto.newBuilder().setName(t.getName()).setType(Onnx.TypeProto.newBuilder()
                .setTensorType(Onnx.TypeProto.Tensor.newBuilder().setElemType(t.getDataType()).setShape(shape))).build();
    }
}
