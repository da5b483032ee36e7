package dev.blockterm.compress;

import dev.blockterm.decompose.BlockTermAls;
import dev.blockterm.decompose.BlockTermConfig;
import dev.blockterm.decompose.FitResult;
import dev.blockterm.decompose.Format;
import dev.blockterm.decompose.TtSvd;
import dev.blockterm.onnx.LinearLayer;
import dev.blockterm.report.Alternative;
import dev.blockterm.rewrite.ContractionPlan;
import dev.blockterm.rewrite.LinearRewriter;
import dev.blockterm.tensor.Tensorization;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * Fits candidate factored forms of one weight matrix and keeps the one of least error among those
 * that are smaller and (for a layer contracted at run time) cheaper to run than the dense layer
 * (all of them with {@code --force}). Candidates that are not are costed and reported, not fitted.
 */
final class LinearFitter {

    /** The outcome of one round of candidates. */
    record Attempt(Compressor.LayerFit best, ContractionPlan plan, Candidates.Candidate chosen, List<Alternative> tried,
                   String refusal) {
    }

    private final LinearLayer layer;
    private final double[] weight;
    private final CompressionOptions options;
    private final Consumer<String> progress;
    private final boolean rebuilt;

    /**
     * @param rebuilt the weight is rebuilt at load rather than contracted at run time: only the
     *                parameter count decides, not the FLOPs
     */
    LinearFitter(LinearLayer layer, double[] weight, CompressionOptions options, Consumer<String> progress,
                 boolean rebuilt) {
        this.layer = layer;
        this.weight = weight;
        this.options = options;
        this.progress = progress;
        this.rebuilt = rebuilt;
    }

    Attempt fit(List<Candidates.Candidate> candidates) {
        double flopsBefore = 2.0 * layer.parameters();
        List<Alternative> tried = new ArrayList<>();
        Compressor.LayerFit best = null;
        ContractionPlan bestPlan = null;
        Candidates.Candidate chosen = null;
        String firstRefusal = null;
        for (Candidates.Candidate c : candidates) {
            Tensorization tz = c.tensorization();
            long params = c.parameters();
            ContractionPlan plan = LinearRewriter.plan(layer, tz, c.format() == Format.TT, c.blocks(), c.ranks(),
                    options.expectedBatch());
            String refusal = null;
            if (params >= layer.parameters()) {
                refusal = "not smaller (" + params + " >= " + layer.parameters() + " parameters)";
            } else if (!rebuilt && plan.flopsPerSample() >= flopsBefore) {
                refusal = String.format(Locale.ROOT, "not cheaper to run (%.0f >= %.0f FLOPs/sample)",
                        plan.flopsPerSample(), flopsBefore);
            }
            if (refusal != null && !options.force()) {
                firstRefusal = firstRefusal == null ? refusal : firstRefusal;
                tried.add(alternative(c, plan, Double.NaN, "not fitted: " + refusal));
                continue;
            }
            progress.accept("fitting " + layer.name() + " (" + layer.weightShape() + ") as " + c.format().label() + " "
                    + tz.layout().label() + " " + tz.describe() + ", N=" + c.blocks() + ", ranks "
                    + Arrays.toString(c.ranks()));
            FitResult<?> fit = fitOne(c);
            tried.add(alternative(c, plan, fit.relativeError(), tz.padded() ? "padded" : ""));
            if (best == null || fit.relativeError() < best.fit().relativeError()) {
                best = new Compressor.LayerFit(layer.name(), tz, fit);
                bestPlan = plan;
                chosen = c;
            }
        }
        return new Attempt(best, bestPlan, chosen, tried, firstRefusal);
    }

    private FitResult<?> fitOne(Candidates.Candidate c) {
        var tensor = c.tensorization().tensorize(weight);
        if (c.format() == Format.TT) {
            return TtSvd.fit(tensor, c.ranks(), options.seed());
        }
        return BlockTermAls.fit(tensor, new BlockTermConfig(c.blocks(), c.ranks(), options.maxSweeps(),
                options.tolerance(), options.seed(), options.init(), 1));
    }

    private static Alternative alternative(Candidates.Candidate c, ContractionPlan plan, double error, String note) {
        Tensorization tz = c.tensorization();
        return new Alternative(c.format().label() + " " + tz.layout().label(), tz.describe(), c.blocks(), c.ranksText(),
                c.parameters(), plan.flopsPerSample(), error, note);
    }
}
