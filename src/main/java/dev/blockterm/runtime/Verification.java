package dev.blockterm.runtime;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs an original and a compressed model on the same inputs and compares their outputs:
 * maximum absolute difference, relative error {@code ||a - b|| / ||a||}, top-1 agreement (argmax
 * over the last axis) and, with labels, both accuracies; for embedding models, the cosine similarity
 * of each row's embedding (a token-level output mean-pooled over the attention mask first, as
 * sentence-transformers does).
 */
public final class Verification {

    /** The comparison of one output. */
    public record OutputComparison(String name, double maxAbsError, double relativeError, double top1Agreement,
                                   double accuracyOriginal, double accuracyCompressed) {
    }

    /**
     * The cosine similarity of one output's embeddings, original against compressed, over the rows; and
     * how often a row's nearest other row (by cosine) is the same one under both (a retrieval's view).
     */
    public record EmbeddingComparison(String name, int rows, double meanCosine, double minCosine,
                                      double neighbourAgreement) {
    }

    /**
     * How close one output of a compressed model is to the original's: relative error
     * {@code ||a - b|| / ||a||}, the mean and least cosine similarity of the vectors along the last
     * axis (one per row of a {@code rows x features} output, one per position of a token-level one),
     * and top-1 agreement (argmax over the last axis; for outputs of rank 2, {@code rows x classes}, only).
     */
    public record OutputQuality(String name, double relativeError, double meanCosine, double minCosine,
                                double top1Agreement) {
    }

    private Verification() {
    }

    /** Every output of {@code original} compared with the same output of {@code compressed}. */
    public static List<OutputQuality> quality(Map<String, NpyArray> original, Map<String, NpyArray> compressed) {
        List<OutputQuality> out = new ArrayList<>();
        for (Map.Entry<String, NpyArray> e : original.entrySet()) {
            NpyArray other = compressed.get(e.getKey());
            if (other == null) {
                throw new IllegalArgumentException("the compressed model has no output named '" + e.getKey() + "'");
            }
            out.add(quality(e.getKey(), e.getValue(), other));
        }
        return out;
    }

    static OutputQuality quality(String name, NpyArray a, NpyArray b) {
        OutputComparison c = compare(name, a, b, null);
        double[] x = a.values();
        double[] y = b.values();
        long[] shape = a.shape();
        int width = shape.length == 0 ? 1 : (int) Math.max(1, shape[shape.length - 1]);
        int rows = x.length / width;
        double sum = 0;
        double min = rows == 0 ? Double.NaN : Double.POSITIVE_INFINITY;
        for (int r = 0; r < rows; r++) {
            double c1 = cosine(java.util.Arrays.copyOfRange(x, r * width, (r + 1) * width),
                    java.util.Arrays.copyOfRange(y, r * width, (r + 1) * width));
            sum += c1;
            min = Math.min(min, c1);
        }
        // top-1 agreement means something for class scores (rows x classes), not for token-level or embedding features
        return new OutputQuality(name, c.relativeError(), rows == 0 ? Double.NaN : sum / rows, min,
                width < 2 || shape.length != 2 ? Double.NaN : c.top1Agreement());
    }

    /**
     * Compares the embeddings of every output of rank 2 ({@code rows x H}) or 3 ({@code rows x S x H},
     * mean-pooled over the positions where {@code mask}, an input of shape {@code rows x S}, is non-zero;
     * over all positions when {@code mask} is null).
     */
    public static List<EmbeddingComparison> compareEmbeddings(Path original, Path compressed,
                                                              Map<String, NpyArray> feeds, String mask, int threads) {
        NpyArray m = null;
        if (mask != null) {
            m = feeds.get(mask);
            if (m == null) {
                throw new IllegalArgumentException("--mask: no input named '" + mask + "' among " + feeds.keySet());
            }
        }
        List<Map<String, NpyArray>> both = runBoth(original, compressed, feeds, threads);
        Map<String, NpyArray> a = both.get(0);
        Map<String, NpyArray> b = both.get(1);
        List<EmbeddingComparison> out = new ArrayList<>();
        for (Map.Entry<String, NpyArray> e : a.entrySet()) {
            int rank = e.getValue().shape().length;
            if (rank != 2 && rank != 3) {
                continue;
            }
            NpyArray other = b.get(e.getKey());
            if (other == null) {
                throw new IllegalArgumentException(compressed + ": has no output named '" + e.getKey() + "'");
            }
            double[][] x = pooled(e.getValue(), m);
            double[][] y = pooled(other, m);
            double sum = 0;
            double min = Double.POSITIVE_INFINITY;
            for (int r = 0; r < x.length; r++) {
                double c = cosine(x[r], y[r]);
                sum += c;
                min = Math.min(min, c);
            }
            out.add(new EmbeddingComparison(e.getKey(), x.length, sum / x.length, min, neighbourAgreement(x, y)));
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(original + ": no output of rank 2 or 3 to compare as embeddings");
        }
        return out;
    }

    /** The share of rows whose nearest other row by cosine is the same in {@code x} and {@code y} (NaN: one row). */
    static double neighbourAgreement(double[][] x, double[][] y) {
        if (x.length < 2) {
            return Double.NaN;
        }
        int same = 0;
        for (int r = 0; r < x.length; r++) {
            if (nearest(x, r) == nearest(y, r)) {
                same++;
            }
        }
        return (double) same / x.length;
    }

    private static int nearest(double[][] e, int r) {
        int best = -1;
        double bestCosine = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < e.length; k++) {
            double c = k == r ? Double.NEGATIVE_INFINITY : cosine(e[r], e[k]);
            if (c > bestCosine) {
                bestCosine = c;
                best = k;
            }
        }
        return best;
    }

    /** The outputs of both models on the same feeds. */
    private static List<Map<String, NpyArray>> runBoth(Path original, Path compressed, Map<String, NpyArray> feeds,
                                                       int threads) {
        try (ModelRunner ra = new ModelRunner(original, threads); ModelRunner rb = new ModelRunner(compressed, threads)) {
            return List.of(ra.run(feeds), rb.run(feeds));
        }
    }

    /** One embedding per row: rank 2 as it is, rank 3 mean-pooled over the (masked) middle axis. */
    static double[][] pooled(NpyArray out, NpyArray mask) {
        long[] shape = out.shape();
        double[] v = out.values();
        int rows = (int) shape[0];
        int h = (int) shape[shape.length - 1];
        int s = shape.length == 3 ? (int) shape[1] : 1;
        if (shape.length == 3 && mask != null && mask.values().length != rows * s) {
            throw new IllegalArgumentException("--mask: " + mask.values().length + " mask values for an output of "
                    + rows + " x " + s + " positions");
        }
        double[][] e = new double[rows][h];
        for (int r = 0; r < rows; r++) {
            double count = 0;
            for (int t = 0; t < s; t++) {
                double w = shape.length == 3 && mask != null ? (mask.values()[r * s + t] != 0 ? 1 : 0) : 1;
                count += w;
                for (int j = 0; w != 0 && j < h; j++) {
                    e[r][j] += v[(r * s + t) * h + j];
                }
            }
            for (int j = 0; j < h; j++) {
                e[r][j] /= Math.max(count, 1e-9);
            }
        }
        return e;
    }

    private static double cosine(double[] x, double[] y) {
        double xy = 0;
        double xx = 0;
        double yy = 0;
        for (int i = 0; i < x.length; i++) {
            xy += x[i] * y[i];
            xx += x[i] * x[i];
            yy += y[i] * y[i];
        }
        return xx == 0 || yy == 0 ? (xx == yy ? 1 : 0) : xy / Math.sqrt(xx * yy);
    }

    public static List<OutputComparison> compare(Path original, Path compressed, Map<String, NpyArray> feeds,
                                                 NpyArray labels, int threads) {
        List<Map<String, NpyArray>> both = runBoth(original, compressed, feeds, threads);
        Map<String, NpyArray> a = both.get(0);
        Map<String, NpyArray> b = both.get(1);
        List<OutputComparison> out = new ArrayList<>();
        for (Map.Entry<String, NpyArray> e : a.entrySet()) {
            NpyArray other = b.get(e.getKey());
            if (other == null) {
                throw new IllegalArgumentException(compressed + ": has no output named '" + e.getKey() + "'");
            }
            out.add(compare(e.getKey(), e.getValue(), other, labels));
        }
        return out;
    }

    static OutputComparison compare(String name, NpyArray a, NpyArray b, NpyArray labels) {
        double[] x = a.values();
        double[] y = b.values();
        if (x.length != y.length) {
            throw new IllegalArgumentException("output '" + name + "': " + x.length + " values against " + y.length);
        }
        double maxAbs = 0;
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < x.length; i++) {
            maxAbs = Math.max(maxAbs, Math.abs(x[i] - y[i]));
            diff += (x[i] - y[i]) * (x[i] - y[i]);
            norm += x[i] * x[i];
        }
        long[] shape = a.shape();
        int classes = shape.length == 0 ? 1 : (int) shape[shape.length - 1];
        int rows = classes == 0 ? 0 : x.length / classes;
        int agree = 0;
        int correctA = 0;
        int correctB = 0;
        if (labels != null && labels.values().length != rows) {
            throw new IllegalArgumentException("labels: " + labels.values().length + " labels for " + rows + " outputs");
        }
        for (int r = 0; r < rows; r++) {
            int ia = argmax(x, r * classes, classes);
            int ib = argmax(y, r * classes, classes);
            agree += ia == ib ? 1 : 0;
            if (labels != null) {
                correctA += ia == (int) labels.values()[r] ? 1 : 0;
                correctB += ib == (int) labels.values()[r] ? 1 : 0;
            }
        }
        double nan = Double.NaN;
        return new OutputComparison(name, maxAbs, norm == 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm),
                rows == 0 ? nan : (double) agree / rows,
                labels == null ? nan : (double) correctA / rows, labels == null ? nan : (double) correctB / rows);
    }

    private static int argmax(double[] v, int offset, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (v[offset + i] > v[offset + best]) {
                best = i;
            }
        }
        return best;
    }
}
