package dev.blockterm.compress;

import java.util.Locale;
import java.util.function.Consumer;
import java.util.function.ToDoubleFunction;

/**
 * A quality target on the model's outputs: the smallest model the {@link Allocation} gives whose
 * outputs, on the probe's inputs, are within relative error {@code E} of the original's.
 *
 * <p>Bisection over the parameter target (geometric: the range spans orders of magnitude), each
 * probe the allocation at that size ({@link Allocation#ranksFor}) assembled from the layers' cached
 * curves and run once: the accuracy control that NNCF and Neural Compressor give quantization. The
 * error is not guaranteed monotone in the size, so the answer is always a size that was measured
 * within {@code E}; the search stops when the bracket is narrower than {@link #RESOLUTION} (relative)
 * or after {@link #MAX_PROBES} runs.
 */
final class QualitySearch {

    static final double RESOLUTION = 0.01;
    static final int MAX_PROBES = 16;

    private QualitySearch() {
    }

    /**
     * @param errorOf the model's largest relative output error with the curves at these ranks
     * @param inputs  what the probes run on, in words
     */
    static Compressor.Decision search(Allocation allocation, CurveCompression curves, double target,
                                      ToDoubleFunction<int[]> errorOf, String inputs, Consumer<String> progress) {
        long dense = allocation.sizeAt(0);
        long smallest = allocation.sizeAt(allocation.steps());
        int probes = 0;
        long good = dense; // nothing compressed: error 0
        double goodError = 0;
        long bad = smallest;
        double e = measure(allocation, smallest, errorOf, progress);
        probes++;
        if (e <= target) {
            good = smallest;
            goodError = e;
        } else {
            while (probes < MAX_PROBES && (double) good / bad > 1 + RESOLUTION) {
                long mid = Math.round(Math.sqrt((double) good * bad));
                if (mid >= good || mid <= bad) {
                    break;
                }
                e = measure(allocation, mid, errorOf, progress);
                probes++;
                if (e <= target) {
                    good = mid;
                    goodError = e;
                } else {
                    bad = mid;
                }
            }
        }
        int[] ranks = good == dense ? new int[allocation.curves().size()] : allocation.ranksFor(good);
        long params = allocation.sizeOf(ranks);
        String note = String.format(Locale.ROOT, "bisection over one allocation of %s: %d model runs on %s; the selected"
                + " layers come to %d %s (%.2fx) at output error %.4g (target %.4g)%s", curves.describeCurves(),
                probes, inputs, params, curves.unit(), (double) dense / Math.max(1, params), goodError, target,
                good == dense ? "; no compression met the target, so every layer stays dense" : "");
        return new Compressor.Decision(ranks, note);
    }

    private static double measure(Allocation allocation, long parameters, ToDoubleFunction<int[]> errorOf,
                                  Consumer<String> progress) {
        int[] ranks = allocation.ranksFor(parameters);
        double e = errorOf.applyAsDouble(ranks);
        progress.accept(String.format(Locale.ROOT, "  %d: output error %.4g", allocation.sizeOf(ranks), e));
        return e;
    }
}
