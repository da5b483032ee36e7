package dev.blockterm.runtime;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import onnx.Onnx;

/**
 * The sizes the user fixes for a model's inputs where the model leaves them open (dynamic axes),
 * written {@code NAME=D1xD2x...} ({@code D1xD2x...} alone for a model with one input). They apply
 * wherever the tool generates inputs: {@link ModelRunner#randomInputs} (the quality measurement,
 * {@code verify}'s generated inputs), the shapes of the layers' inputs probed for the latency
 * timing, the size images are resized to. A dynamic first axis is the batch: each use sets its own
 * row count there. Checked against the model's inputs: a name it lacks, a wrong number of
 * dimensions, a size other than a fixed one.
 */
public final class InputShapes {

    /** The most values one generated input tensor holds (a Java array's length). */
    public static final long MAX_VALUES = Integer.MAX_VALUE - 8;

    /** No sizes given. */
    public static final InputShapes NONE = new InputShapes(new LinkedHashMap<>());

    private final Map<String, long[]> given; // "" for the one input of a single-input model, unnamed

    private InputShapes(Map<String, long[]> given) {
        this.given = given;
    }

    /** Parses {@code [NAME=]D1xD2x...}, one per input; throws, naming the bad one, on a malformed or non-positive size. */
    public static InputShapes parse(List<String> specs) {
        Map<String, long[]> given = new LinkedHashMap<>();
        for (String spec : specs) {
            int eq = spec.lastIndexOf('=');
            String name = eq < 0 ? "" : spec.substring(0, eq);
            String[] parts = spec.substring(eq + 1).split("x", -1);
            long[] dims = new long[parts.length];
            for (int i = 0; i < parts.length; i++) {
                try {
                    dims[i] = Long.parseLong(parts[i].trim());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("input shape '" + spec + "': expected [NAME=]D1xD2x... with "
                            + "integer sizes, found '" + parts[i] + "'");
                }
                if (dims[i] < 1) {
                    throw new IllegalArgumentException("input shape '" + spec + "': sizes must be positive, found "
                            + dims[i]);
                }
            }
            if ((eq == 0) || given.put(name, dims) != null) {
                throw new IllegalArgumentException("input shape '" + spec + "': "
                        + (eq == 0 ? "the input's name is empty" : "given twice for " + describeName(name)));
            }
        }
        if (given.containsKey("") && given.size() > 1) {
            throw new IllegalArgumentException("input shape: one without a name applies to a single-input model; "
                    + "name every input as NAME=D1xD2x...");
        }
        return new InputShapes(given);
    }

    public boolean isEmpty() {
        return given.isEmpty();
    }

    /**
     * Every input's shape ({@code shapes}: name to the model's shape, -1 for a dynamic dimension, in the
     * model's order) with the given sizes in place; dimensions neither the model nor the user fixes stay
     * -1, and so does a dynamic first axis (the batch), whatever size is given there.
     */
    public Map<String, long[]> apply(Map<String, long[]> shapes) {
        Map<String, long[]> out = new LinkedHashMap<>();
        shapes.forEach((name, shape) -> out.put(name, shape.clone()));
        for (Map.Entry<String, long[]> e : given.entrySet()) {
            String name = e.getKey();
            String spec = (name.isEmpty() ? "" : name + "=") + join(e.getValue());
            if (name.isEmpty()) {
                if (shapes.size() != 1) {
                    throw new IllegalArgumentException("input shape '" + spec + "': the model has " + shapes.size()
                            + " inputs " + shapes.keySet() + "; name it as NAME=" + spec);
                }
                name = shapes.keySet().iterator().next();
            }
            long[] model = shapes.get(name);
            if (model == null) {
                throw new IllegalArgumentException("input shape '" + spec + "': the model has no input named '" + name
                        + "' (its inputs: " + String.join(", ", shapes.keySet()) + ")");
            }
            long[] dims = e.getValue();
            if (dims.length != model.length) {
                throw new IllegalArgumentException("input shape '" + spec + "': input '" + name + "' has "
                        + model.length + " dimensions " + describe(model) + ", found " + dims.length);
            }
            for (int i = 0; i < dims.length; i++) {
                if (model[i] > 0 && model[i] != dims[i]) {
                    throw new IllegalArgumentException("input shape '" + spec + "': input '" + name + "' has size "
                            + model[i] + " in dimension " + i + " " + describe(model) + ", found " + dims[i]);
                }
            }
            long[] sized = dims.clone();
            if (model[0] < 1) {
                sized[0] = -1; // the batch: each use sets its own row count
            }
            double values = 1; // in a double: the product of the sizes may overflow a long
            for (long d : sized) {
                values *= Math.max(d, 1);
            }
            if (values > MAX_VALUES) {
                throw new IllegalArgumentException("input shape '" + spec + "': " + String.format(java.util.Locale.ROOT,
                        "%.3g", values) + " values in one row of input '" + name + "', more than the " + MAX_VALUES
                        + " a tensor holds here");
            }
            out.put(name, sized);
        }
        return out;
    }

    /** The model's inputs ({@link ModelRunner#inputs}) with the given sizes in place (checked as {@link #apply(Map)}). */
    public List<ModelRunner.Input> apply(List<ModelRunner.Input> inputs) {
        Map<String, long[]> declared = new LinkedHashMap<>();
        for (ModelRunner.Input in : inputs) {
            declared.put(in.name(), in.shape());
        }
        Map<String, long[]> sized = apply(declared);
        List<ModelRunner.Input> out = new ArrayList<>();
        for (ModelRunner.Input in : inputs) {
            out.add(new ModelRunner.Input(in.name(), sized.get(in.name()), in.type()));
        }
        return out;
    }

    /** Checks the sizes against the graph inputs of {@code model} (its weights listed as inputs excluded). */
    public void check(Onnx.ModelProto model) {
        apply(graphInputs(model.getGraph()));
    }

    /** The graph's inputs that are not weights: name to shape, -1 for a dimension without a fixed size. */
    static Map<String, long[]> graphInputs(Onnx.GraphProto graph) {
        java.util.Set<String> weights = new java.util.HashSet<>();
        for (Onnx.TensorProto t : graph.getInitializerList()) {
            weights.add(t.getName());
        }
        Map<String, long[]> out = new LinkedHashMap<>();
        for (Onnx.ValueInfoProto in : graph.getInputList()) {
            if (weights.contains(in.getName())) {
                continue;
            }
            List<Onnx.TensorShapeProto.Dimension> dims = in.getType().getTensorType().getShape().getDimList();
            long[] shape = new long[dims.size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = dims.get(i).hasDimValue() && dims.get(i).getDimValue() > 0 ? dims.get(i).getDimValue() : -1;
            }
            out.put(in.getName(), shape);
        }
        return out;
    }

    /** A shape as {@code [?, 3, ?, ?]}, {@code ?} for a dynamic dimension. */
    public static String describe(long[] shape) {
        StringJoiner s = new StringJoiner(", ", "[", "]");
        for (long d : shape) {
            s.add(d > 0 ? Long.toString(d) : "?");
        }
        return s.toString();
    }

    /** Sizes as {@code D1xD2x...}. */
    public static String join(long[] dims) {
        StringJoiner s = new StringJoiner("x");
        for (long d : dims) {
            s.add(Long.toString(d));
        }
        return s.toString();
    }

    private static String describeName(String name) {
        return name.isEmpty() ? "the single input" : "input '" + name + "'";
    }

    /** The sizes as given, {@code [NAME=]D1xD2x...} each (for messages and the record of what was run). */
    public List<String> describe() {
        List<String> out = new ArrayList<>();
        given.forEach((name, dims) -> out.add((name.isEmpty() ? "" : name + "=") + join(dims)));
        return out;
    }

    @Override
    public String toString() {
        return given.isEmpty() ? "none" : String.join(" ", describe());
    }

    /**
     * A model input whose dynamic sizes could not be found by running the model: the user must give
     * them. Not a failure of one run, so callers that go on without a model run do not catch it.
     */
    public static final class Unresolved extends IllegalArgumentException {
        public Unresolved(String message) {
            super(message);
        }
    }
}
