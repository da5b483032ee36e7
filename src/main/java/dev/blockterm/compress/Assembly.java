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

    static Onnx.ModelProto withProvenance(Onnx.ModelProto model, CompressionReport report) {
        Onnx.ModelProto.Builder b = model.toBuilder();
        List<Onnx.StringStringEntryProto> kept = new ArrayList<>();
        for (Onnx.StringStringEntryProto e : model.getMetadataPropsList()) {
            if (!e.getKey().startsWith("blockterm.")) {
                kept.add(e);
            }
        }
        b.clearMetadataProps().addAllMetadataProps(kept);
        b.addMetadataProps(entry(Compressor.META_VERSION, Compressor.VERSION));
        b.addMetadataProps(entry(Compressor.META_OPTIONS, report.options()));
        b.addMetadataProps(entry(Compressor.META_REPORT, Json.of(report)));
        b.addMetadataProps(entry(Compressor.META_TABLE, report.table()));
        return b.build();
    }

    private static Onnx.StringStringEntryProto entry(String key, String value) {
        return Onnx.StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }
}
