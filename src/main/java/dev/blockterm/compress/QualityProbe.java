package dev.blockterm.compress;

import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import dev.blockterm.runtime.Verification;
import java.util.List;
import java.util.Map;
import onnx.Onnx;

/**
 * Runs candidate models against the original in ONNX Runtime on fixed inputs: the original's outputs
 * are computed once, each candidate's compared with them (relative error, cosine, top-1 agreement).
 */
final class QualityProbe {

    /** Models larger than this are not run here (the bytes would be copied into the heap per probe). */
    static final long MAX_BYTES = 1L << 30;

    private final Map<String, NpyArray> feeds;
    private final Map<String, NpyArray> expected;
    private final String inputs;
    private final boolean generated;
    private final int threads;

    private QualityProbe(Map<String, NpyArray> feeds, Map<String, NpyArray> expected, String inputs, boolean generated,
                         int threads) {
        this.feeds = feeds;
        this.expected = unpadded(expected); // compared as every candidate's outputs are: without padding
        this.inputs = inputs;
        this.generated = generated;
        this.threads = threads;
    }

    /** On these inputs, described as {@code inputs}, the original's outputs from {@code original}. */
    static QualityProbe on(ModelRunner original, Map<String, NpyArray> feeds, String inputs, int threads) {
        return new QualityProbe(Map.copyOf(feeds), original.run(feeds), inputs, false, threads);
    }

    /**
     * The outputs without their padding positions: where the inputs hold an {@code attention_mask} of
     * shape {@code [rows, T]}, every output whose leading dimensions are {@code [rows, T]} keeps only the
     * positions the mask marks (as {@code [1, kept, ...]}), so that what the model computes at padding,
     * which no user reads, moves no error figure.
     */
    private Map<String, NpyArray> unpadded(Map<String, NpyArray> outputs) {
        NpyArray mask = feeds.get(Calibration.MASK_INPUT);
        if (mask == null) {
            return outputs;
        }
        Map<String, NpyArray> out = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, NpyArray> e : outputs.entrySet()) {
            NpyArray a = e.getValue();
            double[] kept = Calibration.unpaddedRows(a, mask);
            if (kept == null || kept.length == a.values().length) {
                out.put(e.getKey(), a);
                continue;
            }
            long[] s = a.shape().clone();
            s[1] = kept.length / (a.values().length / (s[0] * s[1]));
            s[0] = 1;
            out.put(e.getKey(), new NpyArray(s, kept, a.descr()));
        }
        return out;
    }

    /**
     * The most input values generated for one run (64 rows of a 3x224x224 image): at large input sizes
     * fewer rows, so that ONNX Runtime's activations stay bounded (64 rows of 3x1500x1500 grew its
     * memory past 21 GB).
     */
    static final double MAX_GENERATED_VALUES = 64.0 * 3 * 224 * 224;

    /** The values of one row of {@code shape} (a size left open counts as 1), in a double. */
    static double values(long[] shape) {
        double n = 1;
        for (long d : shape) {
            n *= Math.max(1, d);
        }
        return n;
    }

    /** At most {@code rows} rows of {@code perRow} values each, within {@link #MAX_GENERATED_VALUES}; at least one. */
    static long rowsWithin(double perRow, long rows) {
        return Math.max(1, Math.min(rows, (long) (MAX_GENERATED_VALUES / Math.max(1, perRow))));
    }

    /**
     * On seeded random inputs of {@code rows} rows matching the model's inputs (fewer where one row
     * holds more than {@link #MAX_GENERATED_VALUES} / rows values, at least one): weak evidence.
     */
    static QualityProbe generated(ModelRunner original, long seed, int rows, int threads) {
        double perRow = 0;
        for (long[] shape : original.inputShapes().values()) {
            perRow += values(shape);
        }
        rows = (int) rowsWithin(perRow, rows);
        Map<String, NpyArray> feeds = original.randomInputs(seed, rows);
        return new QualityProbe(feeds, original.run(feeds), rows + " rows of generated inputs (seed " + seed + ")"
                + original.chosenSizes(feeds), true, threads);
    }

    String inputs() {
        return inputs;
    }

    boolean generated() {
        return generated;
    }

    /**
     * A session on {@code model} with the named weights (float, double, float16 or bfloat16 initializers) made graph inputs, so
     * that a candidate that differs from the model only in those weights runs without building a new
     * model or session: each probe feeds the weights it wants (a factored layer as its reconstructed
     * dense weight, which computes the same function). Null where a weight is of another type.
     */
    WeightFeeds withWeightsAsInputs(Onnx.ModelProto model, java.util.Set<String> weights) {
        // initializers may already be listed as graph inputs (required before IR 4): listed once, shaped below
        Onnx.GraphProto.Builder g = model.getGraph().toBuilder().clearInitializer().clearInput();
        for (Onnx.ValueInfoProto in : model.getGraph().getInputList()) {
            if (!weights.contains(in.getName())) {
                g.addInput(in);
            }
        }
        for (Onnx.TensorProto t : model.getGraph().getInitializerList()) {
            if (!weights.contains(t.getName())) {
                g.addInitializer(t);
                continue;
            }
            if (!dev.blockterm.onnx.Weights.fitted(t.getDataType())) {
                return null;
            }
            Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
            for (long d : t.getDimsList()) {
                shape.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
            }
            g.addInput(Onnx.ValueInfoProto.newBuilder().setName(t.getName()).setType(Onnx.TypeProto.newBuilder()
                    .setTensorType(Onnx.TypeProto.Tensor.newBuilder().setElemType(t.getDataType()).setShape(shape))));
        }
        Onnx.ModelProto open = model.toBuilder().setGraph(g).build();
        if (ModelFiles.serializedBytes(open) > MAX_BYTES) {
            return null;
        }
        ModelRunner runner;
        try {
            runner = new ModelRunner(open.toByteArray(), "the model with its weights as inputs", threads);
        } catch (IllegalArgumentException e) {
            return null; // the probes then assemble each candidate
        }
        try {
            Map<String, NpyArray> fixed = new java.util.HashMap<>(feeds);
            for (Onnx.TensorProto t : model.getGraph().getInitializerList()) {
                if (weights.contains(t.getName())) {
                    long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
                    fixed.put(t.getName(), new NpyArray(dims, dev.blockterm.onnx.Weights.values(t), "<f4"));
                }
            }
            return new WeightFeeds(runner, runner.prepare(fixed));
        } catch (RuntimeException e) {
            runner.close();
            throw e;
        }
    }

    /** One session whose selected weights are inputs; closed when done. */
    final class WeightFeeds implements AutoCloseable {
        private final ModelRunner runner;
        private final ModelRunner.Prepared fixed; // the data and the original weights, converted once

        private WeightFeeds(ModelRunner runner, ModelRunner.Prepared fixed) {
            this.runner = runner;
            this.fixed = fixed;
        }

        /** The largest relative error over the outputs with these weights fed (the others as in the model). */
        double worstError(Map<String, NpyArray> weights) {
            return worst(Verification.quality(expected, unpadded(runner.run(weights, fixed))));
        }

        @Override
        public void close() {
            fixed.close();
            runner.close();
        }
    }

    /** Every output of the candidate against the original's. */
    List<Verification.OutputQuality> measure(Onnx.ModelProto candidate) {
        try (ModelRunner runner = new ModelRunner(candidate.toByteArray(), "the compressed model", threads)) {
            return Verification.quality(expected, unpadded(runner.run(feeds)));
        }
    }

    /** The largest relative error over the candidate's outputs. */
    double worstError(Onnx.ModelProto candidate) {
        return worst(measure(candidate));
    }

    /** The largest relative error over these outputs; an output that cannot be compared (NaN) counts as infinite. */
    private static double worst(List<Verification.OutputQuality> outputs) {
        double worst = 0;
        for (Verification.OutputQuality q : outputs) {
            worst = Math.max(worst, Double.isNaN(q.relativeError()) ? Double.POSITIVE_INFINITY : q.relativeError());
        }
        return worst;
    }
}
