package dev.blockterm.compress;

import java.util.Locale;
import java.util.function.Consumer;
import java.util.function.Function;
import onnx.Onnx;

/**
 * A quality target on the model's outputs: the smallest model along the {@link Allocation}'s path
 * whose outputs, on the probe's inputs, are within relative error {@code E} of the original's.
 *
 * <p>Bisection over the path's steps (the accuracy control that NNCF and Neural Compressor give
 * quantization): each probe assembles the model from the layers' cached curves (one small product
 * per layer, no fitting) and runs it once. The error is not guaranteed monotone along the path, so
 * the step returned is one that was measured within {@code E}; the search stops when the bracket is
 * within {@link #RESOLUTION} of the selected layers' dense parameters, or after {@link #MAX_PROBES}.
 */
final class QualitySearch {

    /** The search stops when the best and worst bracket ends differ by less than this share of the parameters. */
    static final double RESOLUTION = 0.005;
    static final int MAX_PROBES = 16;

    private QualitySearch() {
    }

    static Compressor.Decision search(Allocation allocation, CurveCompression curves, double target, QualityProbe probe,
                                      Function<int[], Onnx.ModelProto> assemble, Consumer<String> progress,
                                      long selected) {
        int good = 0; // dense: error 0
        double goodError = 0;
        int bad = allocation.steps() + 1;
        int probes = 0;
        int last = allocation.steps();
        double lastError = measure(allocation, last, probe, assemble, progress);
        probes++;
        if (lastError <= target) {
            good = last;
            goodError = lastError;
        } else {
            bad = last;
            while (bad - good > 1 && probes < MAX_PROBES
                    && allocation.parametersAt(good) - allocation.parametersAt(bad) > RESOLUTION * selected) {
                int mid = good + (bad - good) / 2;
                double e = measure(allocation, mid, probe, assemble, progress);
                probes++;
                if (e <= target) {
                    good = mid;
                    goodError = e;
                } else {
                    bad = mid;
                }
            }
        }
        long params = allocation.parametersAt(good);
        String note = String.format(Locale.ROOT, "bisection over one allocation of %s: %d model runs on %s; the selected"
                + " layers come to %d parameters (%.2fx) at output error %.4g (target %.4g)%s", curves.describeCurves(),
                probes, probe.inputs(), params, (double) selected / Math.max(1, params), goodError, target,
                good == 0 ? "; no compression met the target, so every layer stays dense" : "");
        return new Compressor.Decision(allocation.ranksAt(good), note);
    }

    private static double measure(Allocation allocation, int step, QualityProbe probe,
                                  Function<int[], Onnx.ModelProto> assemble, Consumer<String> progress) {
        double e = probe.worstError(assemble.apply(allocation.ranksAt(step)));
        progress.accept(String.format(Locale.ROOT, "  step %d of %d: %d parameters, output error %.4g", step,
                allocation.steps(), allocation.parametersAt(step), e));
        return e;
    }
}
