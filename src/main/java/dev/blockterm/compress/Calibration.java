package dev.blockterm.compress;

import dev.blockterm.onnx.ConvLayer;
import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.LinearLayer;
import dev.blockterm.runtime.ActivationCapture;
import dev.blockterm.runtime.NpyArray;
import dev.blockterm.tensor.Gemm;
import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Patches;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import onnx.Onnx;

/**
 * Calibration inputs of the layers: each layer's input covariance accumulated on the user's calibration
 * data run through ONNX Runtime a chunk at a time (a fully connected layer's over its input rows, all
 * leading dimensions as rows and Gemm's transA undone; a convolution's over its im2col patches).
 */
public final class Calibration {

    private final Map<String, NpyArray> feeds;
    private final int threads;

    /** @param feeds the calibration data, one array per model input */
    public Calibration(Map<String, NpyArray> feeds, int threads) {
        this.feeds = Map.copyOf(feeds);
        this.threads = threads;
    }

    /** Calibration sets with fewer rows than this are not split: fits and measurement share all rows. */
    static final int MIN_ROWS_TO_HOLD_OUT = 10;

    /** The number of rows (the first dimension, common to every input). */
    int rows() {
        int rows = -1;
        for (Map.Entry<String, NpyArray> e : feeds.entrySet()) {
            long[] shape = e.getValue().shape();
            int n = shape.length == 0 ? 1 : (int) shape[0];
            if (rows >= 0 && n != rows) {
                throw new IllegalArgumentException("calibration: input '" + e.getKey() + "' has " + n
                        + " rows where the others have " + rows);
            }
            rows = n;
        }
        return Math.max(rows, 0);
    }

    /** The rows kept for fitting: all but the last fifth (all of them when there are few). */
    Calibration fitting() {
        int rows = rows();
        return rows < MIN_ROWS_TO_HOLD_OUT ? this : new Calibration(slice(0, rows - heldOutRows(rows)), threads);
    }

    /** The rows held out from fitting for measuring the model: the last fifth (all rows when there are few). */
    Map<String, NpyArray> heldOut() {
        int rows = rows();
        return rows < MIN_ROWS_TO_HOLD_OUT ? feeds : slice(rows - heldOutRows(rows), rows);
    }

    /** The held-out rows in words. */
    String heldOutText() {
        int rows = rows();
        return rows < MIN_ROWS_TO_HOLD_OUT ? rows + " calibration rows (too few to hold any out: the fits used them too)"
                : heldOutRows(rows) + " calibration rows held out from the fits (the layers' sensitivities, and a "
                + "quality target's size, were measured on them: check with verify on other data)";
    }

    private static int heldOutRows(int rows) {
        return Math.max(1, rows / 5);
    }

    private Map<String, NpyArray> slice(int from, int to) {
        Map<String, NpyArray> out = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, NpyArray> e : feeds.entrySet()) {
            NpyArray a = e.getValue();
            if (a.shape().length == 0) {
                out.put(e.getKey(), a); // a scalar input: the same in every slice
                continue;
            }
            long[] shape = a.shape().clone();
            int per = (int) (a.values().length / Math.max(1, shape[0]));
            shape[0] = to - from;
            out.put(e.getKey(), new NpyArray(shape, java.util.Arrays.copyOfRange(a.values(), from * per, to * per),
                    a.descr()));
        }
        return out;
    }

    /** Rows run through the model at a time while the covariances are accumulated. */
    static final int CHUNK_ROWS = 16;
    /** Output positions of one sample whose patches enter a convolution's covariance, at most (evenly spread). */
    static final int MAX_POSITIONS = 1024;
    /**
     * Convolutions with longer patches ({@code C_in K}) are fitted to their weights (a covariance of 170 MB).
     * Tried at 9216 (PP-OCRv3's 1024-channel 3x3 kernel, a quarter of its weights, then fitted in its
     * metric with low rank and bits only): at 1/6 of the file 66.5% of lines read as dense against 62%,
     * for 269 s against 109 s and a 7.6 GB peak against 2.4 GB.
     */
    static final int MAX_PATCH = 4608;
    /** The calibration input whose zeros mark padding positions, masked out of every covariance. */
    static final String MASK_INPUT = "attention_mask";

    /** Captures the inputs of these layers and convolutions of {@code model}. */
    void capture(Onnx.ModelProto model, List<LinearLayer> layers, List<ConvLayer> convs) {
        capture(model, model, layers, convs);
    }

    /**
     * {@link #capture} and, in the same runs, how often each row of these embedding tables is looked up
     * on the calibration inputs (padding positions left out): their one-hot inputs' diagonal {@code X^T X}.
     */
    void capture(Onnx.ModelProto model, List<LinearLayer> layers, List<ConvLayer> convs,
                 List<dev.blockterm.onnx.EmbeddingTable> tables) {
        this.tables = List.copyOf(tables);
        try {
            capture(model, model, layers, convs);
        } finally {
            this.tables = List.of();
        }
    }

    /** The tables whose lookups the current capture counts. */
    private List<dev.blockterm.onnx.EmbeddingTable> tables = List.of();
    private final Map<String, double[]> lookups = new java.util.concurrent.ConcurrentHashMap<>();

    /** How often each row of an embedding table was looked up on the calibration inputs, or null. */
    double[] counts(String table) {
        return lookups.get(table);
    }

    /**
     * Accumulates the input covariance of these layers (found in {@code model}) by running
     * {@code source}, a model with the same values (for {@code --sequential}: the model with the earlier
     * layers compressed), {@link #CHUNK_ROWS} rows at a time: a fully connected layer's {@code X^T X}
     * over its input rows, a convolution's over its im2col patches ({@link Patches}, at most
     * {@link #MAX_POSITIONS} positions a sample). Activations are never held beyond one chunk. Rows at
     * padding positions (zeros of an {@code attention_mask} input of shape {@code [rows, T]}) are left
     * out wherever an activation's leading dimensions are {@code [rows, T]}.
     */
    void capture(Onnx.ModelProto model, Onnx.ModelProto source, List<LinearLayer> layers, List<ConvLayer> convs) {
        Map<String, double[]> sums = new HashMap<>();
        Map<String, long[]> counts = new HashMap<>();
        streamRows(model, List.of(source), layers, convs, (name, x) -> {
            accumulate(sums, name, x.get(0), x.get(0));
            counts.computeIfAbsent(name, k -> new long[1])[0] += x.get(0).rows();
        });
        for (Map.Entry<String, double[]> e : sums.entrySet()) {
            int n = (int) Math.round(Math.sqrt(e.getValue().length));
            grams.put(e.getKey(), new Gram(new Matrix(n, n, e.getValue()), counts.get(e.getKey())[0]));
        }
    }

    /**
     * What fitting a layer to the original model's outputs from the inputs the compressed model gives it
     * needs (the inputs of these layers with {@code X} from {@code model} and {@code X'} from
     * {@code compressed}, the model with the layers before them compressed, on the same rows): the
     * covariances {@code X^T X}, {@code X'^T X'} and {@code X'^T X}. Streamed as {@link #capture}.
     */
    void captureCompensating(Onnx.ModelProto model, Onnx.ModelProto compressed, List<LinearLayer> layers,
                             List<ConvLayer> convs) {
        Map<String, double[]> g = new HashMap<>();
        Map<String, double[]> gPrime = new HashMap<>();
        Map<String, double[]> cross = new HashMap<>();
        streamRows(model, List.of(model, compressed), layers, convs, (name, x) -> {
            accumulate(g, name, x.get(0), x.get(0));
            accumulate(gPrime, name, x.get(1), x.get(1));
            accumulate(cross, name, x.get(1), x.get(0));
        });
        for (String name : g.keySet()) {
            int n = (int) Math.round(Math.sqrt(g.get(name).length));
            compensations.put(name, new Compensation(new Matrix(n, n, g.get(name)), new Matrix(n, n, gPrime.get(name)),
                    new Matrix(n, n, cross.get(name))));
        }
    }

    /**
     * The covariances of a layer whose inputs change upstream: {@code g = X^T X} (the original inputs),
     * {@code gPrime = X'^T X'} (the inputs in the compressed model), {@code cross = X'^T X}.
     */
    record Compensation(Matrix g, Matrix gPrime, Matrix cross) {
    }

    private final Map<String, Compensation> compensations = new java.util.concurrent.ConcurrentHashMap<>();

    /** The layer's compensation covariances, or null; forgotten here once taken (three I x I matrices). */
    Compensation takeCompensation(String layer) {
        return compensations.remove(layer);
    }

    /**
     * Runs {@code sources} (models computing the same values as {@code model}) on the calibration rows
     * {@link #CHUNK_ROWS} at a time and hands each layer's input rows (a fully connected layer's rows,
     * a convolution's im2col patches; padding rows left out), one matrix per source, to {@code sink}.
     */
    private void streamRows(Onnx.ModelProto model, List<Onnx.ModelProto> sources, List<LinearLayer> layers,
                            List<ConvLayer> convs, java.util.function.BiConsumer<String, List<Matrix>> sink) {
        Map<String, List<String>> byValue = new java.util.LinkedHashMap<>(); // an input may feed several layers
        Map<String, dev.blockterm.onnx.EmbeddingTable> looked = new HashMap<>();
        for (dev.blockterm.onnx.EmbeddingTable t : tables) {
            byValue.computeIfAbsent(t.ids(), k -> new ArrayList<>()).add(t.name());
            looked.put(t.name(), t);
        }
        Map<String, LinearLayer> linear = new HashMap<>();
        Map<String, Patches> patches = new HashMap<>();
        for (LinearLayer l : layers) {
            byValue.computeIfAbsent(model.getGraph().getNode(l.nodeIndex()).getInput(0), k -> new ArrayList<>()).add(l.name());
            linear.put(l.name(), l);
        }
        for (ConvLayer c : convs) {
            Patches p = patches(model.getGraph().getNode(c.nodeIndex()), c);
            if (p.width() > MAX_PATCH) {
                continue;
            }
            byValue.computeIfAbsent(model.getGraph().getNode(c.nodeIndex()).getInput(0), k -> new ArrayList<>()).add(c.name());
            patches.put(c.name(), p);
        }
        if (byValue.isEmpty()) {
            return;
        }
        int rows = rows();
        int chunk = chunkRows(sources.get(0));
        List<Map<String, NpyArray>> chunks = new ArrayList<>();
        for (int from = 0; from < rows; from += chunk) {
            chunks.add(slice(from, Math.min(rows, from + chunk)));
        }
        java.util.Iterator<Map<String, NpyArray>> feedsOfChunk = chunks.iterator();
        ActivationCapture.stream(sources, new ArrayList<>(byValue.keySet()), chunks,
                dev.blockterm.runtime.InputShapes.NONE, threads, captured -> {
                    NpyArray mask = feedsOfChunk.next().get(MASK_INPUT);
                    for (Map.Entry<String, List<String>> e : byValue.entrySet()) {
                        for (String name : e.getValue()) {
                            if (looked.containsKey(name)) {
                                count(looked.get(name), unmasked(captured.get(0).get(e.getKey()), 1, mask));
                                continue;
                            }
                            if (linear.containsKey(name)) {
                                List<Matrix> x = new ArrayList<>();
                                for (Map<String, NpyArray> one : captured) {
                                    x.add(linearRows(model, linear.get(name), one.get(e.getKey()), mask));
                                }
                                sink.accept(name, x);
                                continue;
                            }
                            // a convolution's patches a few samples at a time (a chunk's could be large), as
                            // many as fill PATCH_BATCH values: each sum over a covariance this wide is one pass
                            int samples = (int) captured.get(0).get(e.getKey()).shape()[0];
                            List<List<Matrix>> pending = new ArrayList<>();
                            long held = 0;
                            for (int b = 0; b < samples; b++) {
                                List<Matrix> x = new ArrayList<>();
                                for (Map<String, NpyArray> one : captured) {
                                    x.add(patchRows(one.get(e.getKey()), patches.get(name), b));
                                }
                                pending.add(x);
                                held += (long) x.get(0).rows() * x.get(0).cols();
                                if (held >= PATCH_BATCH || b == samples - 1) {
                                    sink.accept(name, stacked(pending));
                                    pending.clear();
                                    held = 0;
                                }
                            }
                        }
                    }
                });
    }

    /** Adds one chunk's looked-up ids to the table's row counts (an id outside the table is not counted: the model fails on it). */
    private void count(dev.blockterm.onnx.EmbeddingTable t, Matrix ids) {
        double[] c = lookups.computeIfAbsent(t.name(), k -> new double[t.rows()]);
        for (double v : ids.data()) {
            long id = (long) v < 0 ? (long) v + t.rows() : (long) v; // Gather counts negative indices from the end
            if (id >= 0 && id < t.rows()) {
                c[(int) id]++;
            }
        }
    }

    /** A fully connected layer's input rows ({@code n x I}; Gemm's transA undone; padding rows left out). */
    private static Matrix linearRows(Onnx.ModelProto model, LinearLayer l, NpyArray a, NpyArray mask) {
        Onnx.NodeProto node = model.getGraph().getNode(l.nodeIndex());
        boolean transposed = l.op().equals("Gemm") && Graphs.intAttribute(node, "transA", 0) != 0;
        int width = l.inputSize();
        int n = a.values().length / width;
        return transposed ? new Matrix(width, n, a.values()).transpose() : unmasked(a, width, mask);
    }

    /** {@link #CHUNK_ROWS}, or the fixed first dimension of an input that has one (a model built for batch 1). */
    private int chunkRows(Onnx.ModelProto model) {
        for (Onnx.ValueInfoProto in : model.getGraph().getInputList()) {
            if (feeds.containsKey(in.getName()) && in.getType().getTensorType().getShape().getDimCount() > 0) {
                Onnx.TensorShapeProto.Dimension first = in.getType().getTensorType().getShape().getDim(0);
                if (first.hasDimValue() && first.getDimValue() > 0) {
                    return (int) Math.min(first.getDimValue(), Integer.MAX_VALUE);
                }
            }
        }
        return CHUNK_ROWS;
    }

    /** Patch values (of doubles) stacked before their rows are summed into a convolution's covariance. */
    static final long PATCH_BATCH = 8L << 20;

    /** Each source's rows of several samples, one on top of the other. */
    private static List<Matrix> stacked(List<List<Matrix>> samples) {
        if (samples.size() == 1) {
            return samples.get(0);
        }
        List<Matrix> out = new ArrayList<>();
        for (int s = 0; s < samples.get(0).size(); s++) {
            int rows = 0;
            int cols = samples.get(0).get(s).cols();
            for (List<Matrix> one : samples) {
                rows += one.get(s).rows();
            }
            double[] v = new double[rows * cols];
            int at = 0;
            for (List<Matrix> one : samples) {
                double[] d = one.get(s).data();
                System.arraycopy(d, 0, v, at, one.get(s).rows() * cols);
                at += one.get(s).rows() * cols;
            }
            out.add(new Matrix(rows, cols, v));
        }
        return out;
    }

    /** A layer's input covariance {@code X^T X} ({@code I x I}) and the rows it sums. */
    record Gram(Matrix xtx, long rows) {
    }

    private final Map<String, Gram> grams = new java.util.concurrent.ConcurrentHashMap<>();

    /** {@code sums[name] += a^T b} ({@code a}, {@code b}: the same rows). */
    private static void accumulate(Map<String, double[]> sums, String name, Matrix a, Matrix b) {
        int m = a.cols();
        int n = b.cols();
        double[] sum = sums.computeIfAbsent(name, k -> new double[m * n]);
        if (a.rows() > 0) {
            Gemm.multiplyAdd(true, false, m, n, a.rows(), a.data(), 0, b.data(), 0, sum, 0);
        }
    }

    /** The activation as {@code n x width} rows, without the rows at padding positions. */
    private static Matrix unmasked(NpyArray a, int width, NpyArray mask) {
        double[] kept = mask != null && (long) mask.values().length * width == a.values().length
                ? unpaddedRows(a, mask) : null;
        return kept == null ? new Matrix(a.values().length / width, width, a.values())
                : new Matrix(kept.length / width, width, kept);
    }

    /**
     * The values of {@code a} ({@code [rows, T, ...]}) at the positions that {@code mask}
     * ({@code [rows, T]}, an {@code attention_mask}) marks non-zero, position after position; null
     * where {@code a}'s leading dimensions are not the mask's.
     */
    static double[] unpaddedRows(NpyArray a, NpyArray mask) {
        long[] shape = a.shape();
        double[] m = mask.values();
        if (mask.shape().length != 2 || shape.length < 3 || shape[0] != mask.shape()[0] || shape[1] != mask.shape()[1]
                || m.length == 0) {
            return null;
        }
        int width = a.values().length / m.length;
        int kept = 0;
        for (double v : m) {
            kept += v != 0 ? 1 : 0;
        }
        double[] out = new double[kept * width];
        int row = 0;
        for (int i = 0; i < m.length; i++) {
            if (m[i] != 0) {
                System.arraycopy(a.values(), i * width, out, row++ * width, width);
            }
        }
        return out;
    }

    /** The im2col patches of sample {@code b} of a convolution's input {@code [n, C, S...]}. */
    private static Matrix patchRows(NpyArray a, Patches p, int b) {
        long[] shape = a.shape();
        int[] sizes = new int[shape.length - 2];
        int area = 1;
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = (int) shape[i + 2];
            area *= sizes[i];
        }
        int per = (int) shape[1] * area;
        double[] rows = p.sample(a.values(), b * per, sizes, MAX_POSITIONS);
        return new Matrix(rows.length / p.width(), p.width(), rows);
    }

    /** The im2col geometry of a convolution node. */
    static Patches patches(Onnx.NodeProto node, ConvLayer layer) {
        Graphs.ConvAttributes a = Graphs.convAttributes(node, layer.kernel().length);
        return new Patches(layer.inChannels(), layer.kernel(), a.strides(), a.dilations(), a.pads(), a.autoPad());
    }

    /** The layer's input covariance ({@code I x I}; a convolution's over its patches), or null when none was captured. */
    Matrix gram(String layer) {
        Gram g = grams.get(layer);
        return g == null ? null : g.xtx();
    }
}
