package dev.blockterm.runtime;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs an original and a compressed model on the same inputs and compares their outputs:
 * maximum absolute difference, relative error {@code ||a - b|| / ||a||}, top-1 agreement (argmax
 * over the last axis) and, with labels, both accuracies.
 */
public final class Verification {

    /** The comparison of one output. */
    public record OutputComparison(String name, double maxAbsError, double relativeError, double top1Agreement,
                                   double accuracyOriginal, double accuracyCompressed) {
    }

    private Verification() {
    }

    public static List<OutputComparison> compare(Path original, Path compressed, Map<String, NpyArray> feeds,
                                                 NpyArray labels, int threads) {
        Map<String, NpyArray> a;
        Map<String, NpyArray> b;
        try (ModelRunner ra = new ModelRunner(original, threads); ModelRunner rb = new ModelRunner(compressed, threads)) {
            a = ra.run(feeds);
            b = rb.run(feeds);
        }
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
