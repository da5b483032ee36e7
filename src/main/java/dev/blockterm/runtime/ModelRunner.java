package dev.blockterm.runtime;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.platform.Fp16Conversions;
import dev.blockterm.onnx.ModelFiles;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import onnx.Onnx;

/** One model in an ONNX Runtime session; closes the session when closed. */
public final class ModelRunner implements AutoCloseable {

    /** A model input: name, shape (-1 for a dynamic dimension) and element type. */
    public record Input(String name, long[] shape, OnnxJavaType type) {
    }

    private final OrtEnvironment env = NativeLibraries.environment();
    private final OrtSession session;
    private final Object path; // the file, or a label for a model held in memory
    private final InputShapes given;
    private final Supplier<Onnx.GraphProto> graph; // read only to size dynamic spatial axes; null: not known
    private Map<String, long[]> shapes; // the inputs' shapes for generated inputs, found when first asked
    private boolean sizesFound; // whether running the model chose some of them

    /**
     * A model held in memory (under 2 GB, its weights inline), named {@code label} in messages; its
     * generated inputs set every dynamic axis to the row count (the bytes are not kept to read the graph).
     */
    public ModelRunner(byte[] model, String label, int threads) {
        this(model, label, threads, InputShapes.NONE, () -> null);
    }

    /**
     * A model held in memory (under 2 GB, its weights inline), named {@code label} in messages, whose
     * generated inputs take the sizes {@code shapes} gives.
     */
    public ModelRunner(Onnx.ModelProto model, String label, int threads, InputShapes shapes) {
        this(model.toByteArray(), label, threads, shapes, model::getGraph);
    }

    private ModelRunner(byte[] model, String label, int threads, InputShapes shapes, Supplier<Onnx.GraphProto> graph) {
        this.path = label;
        this.given = shapes;
        this.graph = graph;
        try (OrtSession.SessionOptions options = NativeLibraries.sessionOptions(threads)) {
            this.session = env.createSession(model, options);
        } catch (OrtException e) {
            throw new IllegalArgumentException(label + ": ONNX Runtime cannot load the model (" + e.getMessage() + ")", e);
        }
    }

    public ModelRunner(Path path, int threads) {
        this(path, threads, InputShapes.NONE);
    }

    /** The model file at {@code path}, whose generated inputs take the sizes {@code shapes} gives. */
    public ModelRunner(Path path, int threads, InputShapes shapes) {
        this(path, threads, shapes, () -> ModelFiles.read(path).getGraph());
    }

    /** The model file at {@code path}, whose graph {@code graph} gives without reading the file again. */
    ModelRunner(Path path, int threads, InputShapes shapes, Supplier<Onnx.GraphProto> graph) {
        this.path = path;
        this.given = shapes;
        this.graph = graph;
        try (OrtSession.SessionOptions options = NativeLibraries.sessionOptions(threads)) {
            this.session = env.createSession(path.toString(), options);
        } catch (OrtException e) {
            throw new IllegalArgumentException(path + ": ONNX Runtime cannot load the model (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Throws, naming {@code name}, when ONNX Runtime cannot load the model file at {@code path}: the
     * last check on a written model before it is moved into place.
     */
    public static void requireLoads(Path path, String name) {
        OrtEnvironment env = NativeLibraries.environment();
        try (OrtSession.SessionOptions options = NativeLibraries.sessionOptions(1)) {
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
            try (OrtSession session = env.createSession(path.toString(), options)) {
                session.getNumInputs();
            }
        } catch (OrtException e) {
            String message = e.getMessage() == null ? "" : e.getMessage().lines().findFirst().orElse("");
            throw new IllegalArgumentException(name + ": the model written does not load in ONNX Runtime, so it was not "
                    + "kept (" + message.replace(path.toString(), name) + ")", e);
        }
    }

    public List<Input> inputs() {
        List<Input> out = new ArrayList<>();
        try {
            for (Map.Entry<String, NodeInfo> e : session.getInputInfo().entrySet()) {
                if (e.getValue().getInfo() instanceof TensorInfo t) {
                    out.add(new Input(e.getKey(), t.getShape(), t.type));
                }
            }
        } catch (OrtException e) {
            throw new IllegalStateException(path + ": " + e.getMessage(), e);
        }
        return out;
    }

    public List<String> outputNames() {
        return new ArrayList<>(session.getOutputNames());
    }

    /** Inputs converted once and fed to many runs (the ones a run does not override); closed by the caller. */
    public final class Prepared implements AutoCloseable {
        private final Map<String, OnnxTensor> tensors;

        private Prepared(Map<String, OnnxTensor> tensors) {
            this.tensors = tensors;
        }

        @Override
        public void close() {
            tensors.values().forEach(OnnxTensor::close);
        }
    }

    /** These inputs as ONNX Runtime tensors, to feed to many runs. */
    public Prepared prepare(Map<String, NpyArray> feeds) {
        Map<String, OnnxTensor> tensors = new HashMap<>();
        try {
            Map<String, OnnxJavaType> types = types();
            for (Map.Entry<String, NpyArray> e : feeds.entrySet()) {
                tensors.put(e.getKey(), tensor(e.getValue(), typeOf(types, e.getKey())));
            }
            return new Prepared(tensors);
        } catch (OrtException | RuntimeException e) {
            tensors.values().forEach(OnnxTensor::close);
            throw e instanceof RuntimeException r ? r
                    : new IllegalArgumentException(path + ": ONNX Runtime failed (" + e.getMessage() + ")", e);
        }
    }

    private Map<String, OnnxJavaType> types() {
        Map<String, OnnxJavaType> types = new HashMap<>();
        for (Input in : inputs()) {
            types.put(in.name(), in.type());
        }
        return types;
    }

    private OnnxJavaType typeOf(Map<String, OnnxJavaType> types, String name) {
        OnnxJavaType type = types.get(name);
        if (type == null) {
            throw new IllegalArgumentException(path + ": the model has no input named '" + name + "'");
        }
        return type;
    }

    /** Runs the model; returns every output that is a tensor, as float arrays with shapes. */
    public Map<String, NpyArray> run(Map<String, NpyArray> feeds) {
        return run(feeds, null);
    }

    /** Runs the model on {@code feeds} and, for the inputs they do not name, the prepared ones. */
    public Map<String, NpyArray> run(Map<String, NpyArray> feeds, Prepared fixed) {
        Map<String, OnnxTensor> tensors = new HashMap<>();
        try {
            Map<String, OnnxJavaType> types = types();
            for (Map.Entry<String, NpyArray> e : feeds.entrySet()) {
                tensors.put(e.getKey(), tensor(e.getValue(), typeOf(types, e.getKey())));
            }
            Map<String, OnnxTensor> all = new HashMap<>(tensors);
            if (fixed != null) {
                fixed.tensors.forEach(all::putIfAbsent);
            }
            Map<String, NpyArray> out = new LinkedHashMap<>();
            try (OrtSession.Result result = session.run(all)) {
                for (Map.Entry<String, OnnxValue> e : result) {
                    if (e.getValue() instanceof OnnxTensor t) {
                        out.put(e.getKey(), values(t));
                    }
                }
            }
            return out;
        } catch (OrtException e) {
            throw new IllegalArgumentException(path + ": ONNX Runtime failed (" + e.getMessage() + ")", e);
        } finally {
            tensors.values().forEach(OnnxTensor::close);
        }
    }

    private OnnxTensor tensor(NpyArray a, OnnxJavaType type) throws OrtException {
        double[] v = a.values();
        return switch (type) {
            case FLOAT -> {
                float[] f = new float[v.length];
                for (int i = 0; i < v.length; i++) {
                    f[i] = (float) v[i];
                }
                yield OnnxTensor.createTensor(env, FloatBuffer.wrap(f), a.shape());
            }
            case DOUBLE -> OnnxTensor.createTensor(env, DoubleBuffer.wrap(v.clone()), a.shape());
            case FLOAT16, BFLOAT16 -> {
                short[] h = new short[v.length];
                for (int i = 0; i < v.length; i++) {
                    h[i] = type == OnnxJavaType.FLOAT16 ? Fp16Conversions.floatToFp16((float) v[i])
                            : Fp16Conversions.floatToBf16((float) v[i]);
                }
                yield OnnxTensor.createTensor(env, java.nio.ShortBuffer.wrap(h), a.shape(), type);
            }
            case INT64 -> {
                long[] l = new long[v.length];
                for (int i = 0; i < v.length; i++) {
                    l[i] = (long) v[i];
                }
                yield OnnxTensor.createTensor(env, LongBuffer.wrap(l), a.shape());
            }
            case INT32 -> {
                int[] l = new int[v.length];
                for (int i = 0; i < v.length; i++) {
                    l[i] = (int) v[i];
                }
                yield OnnxTensor.createTensor(env, IntBuffer.wrap(l), a.shape());
            }
            case BOOL -> {
                java.nio.ByteBuffer b = java.nio.ByteBuffer.allocateDirect(v.length);
                for (double x : v) {
                    b.put((byte) (x != 0 ? 1 : 0));
                }
                b.flip();
                yield OnnxTensor.createTensor(env, b, a.shape(), OnnxJavaType.BOOL);
            }
            default -> throw new IllegalArgumentException(path + ": input type " + type + " is not supported");
        };
    }

    private static NpyArray values(OnnxTensor t) {
        long[] shape = t.getInfo().getShape();
        double[] v;
        switch (t.getInfo().type) {
            case FLOAT -> {
                FloatBuffer f = t.getFloatBuffer();
                v = new double[f.remaining()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = f.get(i);
                }
            }
            case DOUBLE -> {
                DoubleBuffer d = t.getDoubleBuffer();
                v = new double[d.remaining()];
                d.get(v);
            }
            case INT64 -> {
                LongBuffer l = t.getLongBuffer();
                v = new double[l.remaining()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = l.get(i);
                }
            }
            case INT32 -> {
                IntBuffer l = t.getIntBuffer();
                v = new double[l.remaining()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = l.get(i);
                }
            }
            case INT16 -> {
                java.nio.ShortBuffer l = t.getShortBuffer();
                v = new double[l.remaining()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = l.get(i);
                }
            }
            case FLOAT16, BFLOAT16 -> {
                java.nio.ShortBuffer l = t.getShortBuffer();
                boolean half = t.getInfo().type == OnnxJavaType.FLOAT16;
                v = new double[l.remaining()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = half ? Fp16Conversions.fp16ToFloat(l.get(i)) : Fp16Conversions.bf16ToFloat(l.get(i));
                }
            }
            case INT8, UINT8, BOOL -> {
                java.nio.ByteBuffer l = t.getByteBuffer();
                boolean unsigned = t.getInfo().type != OnnxJavaType.INT8;
                v = new double[l.remaining()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = unsigned ? l.get(i) & 0xff : l.get(i);
                }
            }
            default -> {
                // a type this runner cannot read (string): NaN, so that no comparison takes it for a match
                long n = 1;
                for (long d : shape) {
                    n *= Math.max(d, 0);
                }
                v = new double[(int) Math.max(1, Math.min(n, Integer.MAX_VALUE))];
                java.util.Arrays.fill(v, Double.NaN);
            }
        }
        if (v.length == 0 && shape.length > 0) {
            shape = new long[] {0};
        }
        return new NpyArray(shape, v, "<f8");
    }

    /**
     * The inputs' shapes for generated inputs: the model's, with the sizes given in place and every
     * dynamic spatial axis of a convolutional model sized by running it (see {@link DynamicSizes});
     * -1 where the caller sets the size (the batch, and the dynamic axes of other models).
     *
     * @throws IllegalArgumentException where a given size does not fit the model
     * @throws InputShapes.Unresolved where the model runs at none of the sizes tried
     */
    public synchronized Map<String, long[]> inputShapes() {
        if (shapes == null) {
            Map<String, long[]> declared = new LinkedHashMap<>();
            for (Input in : inputs()) {
                declared.put(in.name(), in.shape());
            }
            Map<String, long[]> known = given.apply(declared);
            shapes = DynamicSizes.resolve(known, graph, this::runs, path.toString());
            sizesFound = shapes != known;
        }
        Map<String, long[]> out = new LinkedHashMap<>();
        shapes.forEach((name, shape) -> out.put(name, shape.clone()));
        return out;
    }

    /**
     * In words, where running the model chose some sizes of {@code feeds} (generated here): their
     * shapes; else the empty string.
     */
    public synchronized String chosenSizes(Map<String, NpyArray> feeds) {
        if (!sizesFound) {
            return "";
        }
        java.util.StringJoiner s = new java.util.StringJoiner(", ");
        feeds.forEach((name, a) -> s.add(name + "=" + InputShapes.join(a.shape())));
        return " of shape " + s + " (dynamic sizes: the first the model runs at; --input-shape gives others)";
    }

    /** Whether the model runs on one row of generated inputs of these shapes (its errors not logged: a trial). */
    private boolean runs(Map<String, long[]> trial) {
        Map<String, NpyArray> feeds = random(trial, 1, 1);
        Map<String, OnnxTensor> tensors = new HashMap<>();
        try (OrtSession.RunOptions quiet = new OrtSession.RunOptions()) {
            quiet.setLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL);
            Map<String, OnnxJavaType> types = types();
            for (Map.Entry<String, NpyArray> e : feeds.entrySet()) {
                tensors.put(e.getKey(), tensor(e.getValue(), typeOf(types, e.getKey())));
            }
            session.run(tensors, quiet).close();
            return true;
        } catch (OrtException | RuntimeException e) {
            return false;
        } finally {
            tensors.values().forEach(OnnxTensor::close);
        }
    }

    /**
     * Seeded N(0,1) inputs matching the model's inputs (0/1 for integer ones), of the shapes
     * {@link #inputShapes} gives, {@code batch} where those leave the size to the caller.
     */
    public Map<String, NpyArray> randomInputs(long seed, int batch) {
        return random(inputShapes(), seed, batch);
    }

    private Map<String, NpyArray> random(Map<String, long[]> shapes, long seed, int batch) {
        Random random = new Random(seed);
        Map<String, OnnxJavaType> types = types();
        Map<String, NpyArray> feeds = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long[] shape = e.getValue().clone();
            double n = 1; // in a double: the product of the sizes may overflow a long
            for (int i = 0; i < shape.length; i++) {
                if (shape[i] < 1) {
                    shape[i] = batch;
                }
                n *= shape[i];
            }
            if (n > InputShapes.MAX_VALUES) {
                throw new IllegalArgumentException("generated input '" + e.getKey() + "' " + InputShapes.describe(shape)
                        + ": " + String.format(java.util.Locale.ROOT, "%.3g", n) + " values, more than the "
                        + InputShapes.MAX_VALUES + " a tensor holds here; give smaller sizes with --input-shape");
            }
            OnnxJavaType type = types.get(e.getKey());
            double[] v = new double[(int) n];
            for (int i = 0; i < v.length; i++) {
                v[i] = type == OnnxJavaType.INT64 || type == OnnxJavaType.INT32 ? random.nextInt(2) : random.nextGaussian();
            }
            feeds.put(e.getKey(), new NpyArray(shape, v, "<f4"));
        }
        return feeds;
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException(path + ": closing the session failed (" + e.getMessage() + ")", e);
        }
    }
}
