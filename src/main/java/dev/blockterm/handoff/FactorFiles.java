package dev.blockterm.handoff;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.ModelException;
import dev.blockterm.onnx.Weights;
import dev.blockterm.rewrite.ContractionPlan;
import dev.blockterm.rewrite.ConvChain;
import dev.blockterm.rewrite.FactoredLayer;
import dev.blockterm.rewrite.TensorNetwork;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;

/**
 * The fine-tuning handoff: a compressed model's factors as a safetensors file whose metadata
 * {@code blockterm.manifest} (JSON) describes each layer, and the way back, tuned factors put into
 * the model in place of the fitted ones. Tensor names are the initializer names in the compressed
 * model, so a file and a model match by name and shape.
 *
 * <p>Manifest, per layer: {@code name}, {@code op}, {@code kind} ({@code linear}: y = x W;
 * {@code rebuilt}: the weight itself; {@code conv}), the original {@code weight} and
 * {@code weight_shape}, {@code format}, {@code layout}, {@code blocks}, {@code ranks},
 * {@code input_size}, {@code output_size}, {@code input_factors}, {@code output_factors} (zero padding
 * where their product is larger), {@code einsum} with its {@code operands} ({@code x} is the input
 * reshaped to {@code [batch, *input_factors]}; the result is {@code [batch, *output_factors]}, or for a
 * rebuilt weight, with no {@code x}, {@code [*input_factors, *output_factors]}),
 * the pairwise contraction order of least FLOPs as an opt_einsum {@code path},
 * {@code bias}, {@code bias_scale}, {@code transpose_input} and {@code tensors}. A {@code conv} has no
 * einsum but {@code convs}, the chain of convolutions that replaced it, in order, each step an ONNX
 * Conv: {@code weight}, {@code bias} (absent when none), {@code kernel_shape}, {@code strides},
 * {@code pads} (every axis's begin, then every end), {@code dilations}, {@code group} and
 * {@code auto_pad}, read from the replacement's nodes, so every conv form has the one description.
 * Version 2 (version 1 described a conv in prose).
 */
public final class FactorFiles {

    public static final String MANIFEST = "blockterm.manifest";
    public static final int MANIFEST_VERSION = 2;

    private FactorFiles() {
    }

    /** The factors of these layers with their manifest. */
    public static SafeTensors export(String model, List<FactoredLayer> layers) {
        List<SafeTensors.Tensor> tensors = new ArrayList<>();
        Set<String> written = new HashSet<>(); // a tensor two layers share (a bias) is written once
        JsonArray entries = new JsonArray();
        for (FactoredLayer l : layers) {
            JsonObject e = new JsonObject();
            e.addProperty("name", l.name());
            e.addProperty("op", l.op());
            e.addProperty("kind", l.kind());
            e.addProperty("weight", l.weight());
            e.add("weight_shape", array(l.weightShape()));
            e.addProperty("format", l.format());
            e.addProperty("layout", l.layout());
            e.addProperty("blocks", l.blocks());
            e.add("ranks", array(Arrays.stream(l.ranks()).asLongStream().toArray()));
            e.addProperty("input_size", l.inputSize());
            e.addProperty("output_size", l.outputSize());
            e.add("input_factors", array(Arrays.stream(l.inputFactors()).asLongStream().toArray()));
            e.add("output_factors", array(Arrays.stream(l.outputFactors()).asLongStream().toArray()));
            if (l.plan() != null) {
                Einsum es = einsum(l.plan().network());
                e.addProperty("einsum", es.equation());
                JsonArray operands = new JsonArray();
                es.operands().forEach(operands::add);
                e.add("operands", operands);
                JsonArray path = new JsonArray();
                for (int[] pair : path(l.plan())) {
                    path.add(array(new long[] {pair[0], pair[1]}));
                }
                e.add("path", path);
            }
            if (l.convs() != null) {
                e.add("convs", convs(l.convs()));
            }
            if (l.bias() != null) {
                e.addProperty("bias", l.bias());
                e.addProperty("bias_scale", l.biasScale());
            }
            e.addProperty("transpose_input", l.transposeInput());
            JsonArray names = new JsonArray();
            for (Onnx.TensorProto t : l.tensors()) {
                names.add(t.getName());
                if (!written.add(t.getName())) {
                    continue;
                }
                String dtype = t.getDataType() == Weights.DOUBLE ? "F64" : "F32";
                tensors.add(new SafeTensors.Tensor(t.getName(), dtype,
                        t.getDimsList().stream().mapToLong(Long::longValue).toArray(), Weights.values(t)));
            }
            e.add("tensors", names);
            entries.add(e);
        }
        JsonObject manifest = new JsonObject();
        manifest.addProperty("version", MANIFEST_VERSION);
        manifest.addProperty("model", model);
        manifest.add("layers", entries);
        return new SafeTensors(Map.of(MANIFEST, new GsonBuilder().disableHtmlEscaping().create().toJson(manifest),
                "format", "pt"), tensors);
    }

    /** A chain of convolutions as JSON: per step its weight, bias and every ONNX Conv attribute. */
    static JsonArray convs(ConvChain chain) {
        JsonArray steps = new JsonArray();
        for (ConvChain.Step s : chain.steps()) {
            JsonObject step = new JsonObject();
            step.addProperty("weight", s.weight());
            if (s.bias() != null) {
                step.addProperty("bias", s.bias());
            }
            step.add("kernel_shape", array(s.kernelShape()));
            step.add("strides", array(s.strides()));
            step.add("pads", array(s.pads()));
            step.add("dilations", array(s.dilations()));
            step.addProperty("group", s.group());
            step.addProperty("auto_pad", s.autoPad());
            steps.add(step);
        }
        return steps;
    }

    /** An einsum equation of a network, one letter per label, and its operands ({@code x} for the input). */
    record Einsum(String equation, List<String> operands) {
    }

    static Einsum einsum(TensorNetwork network) {
        Map<String, Character> letters = new HashMap<>();
        String alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        Set<String> labels = new LinkedHashSet<>();
        if (network.batchLabel() != null) {
            labels.add(network.batchLabel());
        }
        network.operands().forEach(o -> labels.addAll(o.labels()));
        if (labels.size() > alphabet.length()) {
            throw new IllegalArgumentException("einsum: " + labels.size() + " labels is more than 52 letters");
        }
        for (String label : labels) {
            letters.put(label, alphabet.charAt(letters.size()));
        }
        StringBuilder eq = new StringBuilder();
        List<String> operands = new ArrayList<>();
        for (TensorNetwork.Operand o : network.operands()) {
            if (eq.length() > 0) {
                eq.append(',');
            }
            o.labels().forEach(l -> eq.append(letters.get(l)));
            boolean input = network.batchLabel() != null && o.labels().contains(network.batchLabel());
            operands.add(input ? "x" : o.value());
        }
        eq.append("->");
        network.output().forEach(l -> eq.append(letters.get(l)));
        return new Einsum(eq.toString(), operands);
    }

    /**
     * The plan's pairwise order as opt_einsum writes a path: each step names two positions in the
     * current list of operands, which are removed and their product appended.
     */
    static List<int[]> path(ContractionPlan plan) {
        List<Integer> current = new ArrayList<>();
        for (int i = 0; i < plan.network().operands().size(); i++) {
            current.add(1 << i);
        }
        List<int[]> out = new ArrayList<>();
        walk(plan.root(), current, out);
        return out;
    }

    private static void walk(ContractionPlan.Step step, List<Integer> current, List<int[]> out) {
        if (step.leaf()) {
            return;
        }
        walk(step.left(), current, out);
        walk(step.right(), current, out);
        int a = current.indexOf(step.left().mask());
        int b = current.indexOf(step.right().mask());
        out.add(new int[] {Math.min(a, b), Math.max(a, b)});
        current.remove(Math.max(a, b));
        current.remove(Math.min(a, b));
        current.add(step.mask());
    }

    /**
     * The model with these tensors in place of its initializers of the same names. Every tensor must
     * name an initializer of the model with the same shape (the dtype may differ: values are stored in
     * the initializer's type); anything else is refused, naming the tensor.
     */
    public static Onnx.ModelProto importInto(Onnx.ModelProto model, SafeTensors factors, String file) {
        Map<String, Onnx.TensorProto> inits = Graphs.initializers(model.getGraph());
        Map<String, Onnx.TensorProto> replaced = new HashMap<>();
        for (SafeTensors.Tensor t : factors.tensors()) {
            Onnx.TensorProto old = inits.get(t.name());
            if (old == null) {
                throw new ModelException(file + ": tensor '" + t.name() + "' is not a weight of the model");
            }
            long[] dims = old.getDimsList().stream().mapToLong(Long::longValue).toArray();
            if (!Arrays.equals(dims, t.shape())) {
                throw new ModelException(file + ": tensor '" + t.name() + "' has shape " + Arrays.toString(t.shape())
                        + "; the model's has " + Arrays.toString(dims));
            }
            if (Weights.unsupported(old) != null) {
                throw new ModelException(file + ": tensor '" + t.name() + "': the model stores it as "
                        + Weights.unsupported(old));
            }
            boolean single = old.getDataType() == Weights.FLOAT;
            for (double v : t.values()) {
                if (!Double.isFinite(v)) {
                    throw new ModelException(file + ": tensor '" + t.name() + "' holds a value that is not finite");
                }
                if (single && !Float.isFinite((float) v)) {
                    throw new ModelException(file + ": tensor '" + t.name() + "' holds " + v + ", beyond the range of the "
                            + "model's float32 (" + Float.MAX_VALUE + ")");
                }
            }
            replaced.put(t.name(), Weights.tensor(t.name(), dims, t.values(), old.getDataType()));
        }
        if (replaced.isEmpty()) {
            throw new ModelException(file + ": holds no tensors");
        }
        Onnx.GraphProto.Builder g = model.getGraph().toBuilder();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            Onnx.TensorProto t = replaced.get(g.getInitializer(i).getName());
            if (t != null) {
                g.setInitializer(i, t);
            }
        }
        return model.toBuilder().setGraph(g).build();
    }

    private static JsonArray array(long[] values) {
        JsonArray a = new JsonArray();
        for (long v : values) {
            a.add(v);
        }
        return a;
    }
}
