package dev.blockterm.report;

import dev.blockterm.runtime.Verification.OutputQuality;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The written model against the original, end to end: both run in ONNX Runtime on the same inputs.
 *
 * @param inputs        what the models ran on, in words
 * @param generated     the inputs were generated (random), not the user's: weak evidence, since random
 *                      inputs can hide damage that real ones show
 * @param outputs       every output compared
 * @param target        the target and how it was met, in words (null: none)
 */
public record ModelQuality(String inputs, boolean generated, List<OutputQuality> outputs, String target) {

    /** Below these the report warns. */
    public static final double MIN_COSINE = 0.99;
    public static final double MIN_TOP1 = 0.99;

    public ModelQuality {
        outputs = List.copyOf(outputs);
    }

    /** The largest relative error over the outputs (0 with none). */
    public double worstRelativeError() {
        double worst = 0;
        for (OutputQuality o : outputs) {
            worst = Math.max(worst, o.relativeError());
        }
        return worst;
    }

    /** The warnings: outputs whose mean cosine or top-1 agreement is below the bounds, and weak evidence. */
    public List<String> warnings() {
        List<String> out = new ArrayList<>();
        for (OutputQuality o : outputs) {
            if (o.meanCosine() < MIN_COSINE) {
                out.add(String.format(Locale.ROOT, "output '%s': mean cosine %.4f is below %.2f: the model's outputs have "
                        + "changed noticeably", o.name(), o.meanCosine(), MIN_COSINE));
            }
            if (o.top1Agreement() < MIN_TOP1) {
                out.add(String.format(Locale.ROOT, "output '%s': top-1 agreement %.4f is below %.2f: the compressed model "
                        + "decides differently on %.1f%% of the rows", o.name(), o.top1Agreement(), MIN_TOP1,
                        100 * (1 - o.top1Agreement())));
            }
        }
        if (generated) {
            out.add("measured on generated inputs, which can hide damage that real inputs show (a recognizer that read 0% "
                    + "of text lines agreed 100% on random inputs): give --calibration with real inputs, then "
                    + "check with verify on your own data");
        }
        return out;
    }

    /** The lines printed under the table. */
    public String text() {
        StringBuilder sb = new StringBuilder();
        sb.append("model outputs, compressed against original, on ").append(inputs).append(":\n");
        for (OutputQuality o : outputs) {
            sb.append(String.format(Locale.ROOT, "    %-24s rel.err %.4f  cosine mean %.4f min %.4f  top-1 agreement %s%n",
                    o.name(), o.relativeError(), o.meanCosine(), o.minCosine(),
                    Double.isNaN(o.top1Agreement()) ? "-" : String.format(Locale.ROOT, "%.4f", o.top1Agreement())));
        }
        if (target != null) {
            sb.append("target: ").append(target).append('\n');
        }
        for (String w : warnings()) {
            sb.append("WARNING: ").append(w).append('\n');
        }
        return sb.toString();
    }
}
