package dev.blockterm.runtime;

import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.TempFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import onnx.Onnx;

/**
 * Captures intermediate values (the inputs of the layers to compress) on calibration data: a
 * temporary copy of the model lists them as extra graph outputs and runs in ONNX Runtime.
 */
public final class ActivationCapture {

    private ActivationCapture() {
    }

    /**
     * The shapes of {@code values} in one run of the model on random inputs of one row, sized as
     * {@code sizes} and {@link ModelRunner#inputShapes} say; those the run could not produce are missing.
     *
     * @throws InputShapes.Unresolved where the model has dynamic spatial sizes it runs at none of
     */
    public static Map<String, long[]> shapes(Onnx.ModelProto model, List<String> values, InputShapes sizes) {
        Map<String, long[]> out = new HashMap<>();
        try {
            Map<String, NpyArray> all = capture(model, values, null, sizes, 1);
            all.forEach((name, a) -> out.put(name, a.shape()));
        } catch (InputShapes.Unresolved e) {
            throw e; // the user must give the sizes: said once, not taken for a model random inputs cannot run
        } catch (RuntimeException e) {
            // a model that random inputs cannot run (token ids, say): no shapes
        }
        return out;
    }

    /** {@code values} on {@code feeds}. */
    public static Map<String, NpyArray> capture(Onnx.ModelProto model, List<String> values, Map<String, NpyArray> feeds,
                                                int threads) {
        return capture(model, values, feeds, InputShapes.NONE, threads);
    }

    /** {@code values} on {@code feeds} (null: one row of seeded random inputs, sized as {@code sizes} says). */
    private static Map<String, NpyArray> capture(Onnx.ModelProto model, List<String> values,
                                                 Map<String, NpyArray> feeds, InputShapes sizes, int threads) {
        Map<String, NpyArray> out = new HashMap<>();
        stream(model, values, java.util.Collections.singletonList(feeds), sizes, threads, out::putAll);
        return out;
    }

    /**
     * {@code values} on each of {@code chunks} in turn (a null chunk: one row of seeded random inputs,
     * sized as {@code sizes} says), handed to {@code sink} one chunk at a time: one temporary model and
     * one session for them all, and no more activations held than one chunk's.
     */
    public static void stream(Onnx.ModelProto model, List<String> values, List<Map<String, NpyArray>> chunks,
                              InputShapes sizes, int threads, java.util.function.Consumer<Map<String, NpyArray>> sink) {
        stream(List.of(model), values, chunks, sizes, threads, both -> sink.accept(both.get(0)));
    }

    /**
     * {@code values} of each of {@code models} (which all compute them: a model and its partly
     * compressed copy) on each chunk in turn, handed to {@code sink} together, one chunk at a time,
     * so that the rows of one model's values line up with the other's.
     */
    public static void stream(List<Onnx.ModelProto> models, List<String> values, List<Map<String, NpyArray>> chunks,
                              InputShapes sizes, int threads,
                              java.util.function.Consumer<List<Map<String, NpyArray>>> sink) {
        List<Path> temps = new java.util.ArrayList<>();
        List<ModelRunner> runners = new java.util.ArrayList<>();
        try {
            for (Onnx.ModelProto model : models) {
                Path temp = TempFiles.create("blockterm-capture", ".onnx");
                temps.add(temp);
                TempFiles.register(temp.resolveSibling(temp.getFileName() + ".data")); // written only for a large model
                ModelFiles.write(withOutputs(model, values), temp, null);
                runners.add(new ModelRunner(temp, threads, sizes, model::getGraph));
            }
            for (Map<String, NpyArray> feeds : chunks) {
                List<Map<String, NpyArray>> outs = new java.util.ArrayList<>();
                for (ModelRunner runner : runners) {
                    Map<String, NpyArray> all = runner.run(feeds != null ? feeds : runner.randomInputs(1, 1));
                    Map<String, NpyArray> out = new HashMap<>();
                    for (String v : values) {
                        NpyArray a = all.get(v);
                        if (a == null) {
                            throw new IllegalArgumentException("calibration: the model did not produce '" + v + "'");
                        }
                        out.put(v, a);
                    }
                    outs.add(out);
                }
                sink.accept(outs);
            }
        } catch (IOException e) {
            throw new IllegalStateException("calibration: cannot write a temporary model (" + e.getMessage() + ")", e);
        } finally {
            runners.forEach(ModelRunner::close);
            for (Path temp : temps) {
                TempFiles.delete(temp);
                TempFiles.delete(temp.resolveSibling(temp.getFileName() + ".data")); // a large model's weights
            }
        }
    }

    /** The model with {@code values} listed among its outputs. */
    private static Onnx.ModelProto withOutputs(Onnx.ModelProto model, List<String> values) {
        Onnx.GraphProto.Builder g = model.getGraph().toBuilder();
        java.util.Set<String> outputs = new java.util.HashSet<>();
        for (Onnx.ValueInfoProto o : g.getOutputList()) {
            outputs.add(o.getName());
        }
        for (String v : values) {
            if (outputs.add(v)) {
                g.addOutput(Onnx.ValueInfoProto.newBuilder().setName(v));
            }
        }
        return model.toBuilder().setGraph(g).build();
    }
}
