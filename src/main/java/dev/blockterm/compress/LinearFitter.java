package dev.blockterm.compress;

import dev.blockterm.decompose.BlockTermAls;
import dev.blockterm.decompose.BlockTermConfig;
import dev.blockterm.decompose.Decomposition;
import dev.blockterm.decompose.FitResult;
import dev.blockterm.decompose.Format;
import dev.blockterm.decompose.TtSvd;
import dev.blockterm.decompose.Whitening;
import dev.blockterm.onnx.LinearLayer;
import dev.blockterm.report.Alternative;
import dev.blockterm.rewrite.ContractionPlan;
import dev.blockterm.rewrite.LinearRewriter;
import dev.blockterm.tensor.Layout;
import dev.blockterm.tensor.Matrix;
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
    private final Whitening whitening;
    private final Matrix calibration; // X^T X of the calibration inputs, I x I; null without them
    private final double[] whitenedWeight; // L^T W, null without calibration
    private final double outputNorm; // ||X W||, the output errors' denominator
    private long overheadParams;
    private double overheadFlops;

    /**
     * @param rebuilt the weight is rebuilt at load rather than contracted at run time: only the
     *                parameter count decides, not the FLOPs
     */
    LinearFitter(LinearLayer layer, double[] weight, CompressionOptions options, Consumer<String> progress,
                 boolean rebuilt) {
        this(layer, weight, options, progress, rebuilt, null);
    }

    /**
     * @param calibration the Gram matrix {@code X^T X} of the layer's calibration inputs ({@code I x I}), or null: with them, candidates
     *                    whose input is one mode are fitted whitened (exactly minimizing the output
     *                    error) and every candidate is ranked by its output error
     */
    LinearFitter(LinearLayer layer, double[] weight, CompressionOptions options, Consumer<String> progress,
                 boolean rebuilt, Matrix calibration) {
        this.layer = layer;
        this.weight = weight;
        this.options = options;
        this.progress = progress;
        this.rebuilt = rebuilt;
        this.calibration = calibration;
        this.whitening = calibration == null ? null : Whitening.ofGram(calibration, Whitening.DEFAULT_DAMPING);
        Matrix dense = new Matrix(layer.inputSize(), layer.outputSize(), weight);
        this.whitenedWeight = whitening == null ? null : whitening.apply(dense).data();
        this.outputNorm = calibration == null ? Double.NaN : Whitening.outputNorm(calibration, dense);
    }

    /**
     * Parameters and FLOPs per sample that come with any factored form of this layer (a recurrent
     * input projection moved out of its op leaves an identity weight behind): counted against it.
     */
    LinearFitter withOverhead(long params, double flops) {
        overheadParams = params;
        overheadFlops = flops;
        return this;
    }

    Attempt fit(List<Candidates.Candidate> candidates) {
        double flopsBefore = 2.0 * layer.parameters();
        List<Alternative> tried = new ArrayList<>();
        Compressor.LayerFit best = null;
        ContractionPlan bestPlan = null;
        Candidates.Candidate chosen = null;
        String firstRefusal = null;
        double bestScore = Double.MAX_VALUE;
        for (Candidates.Candidate c : candidates) {
            Tensorization tz = c.tensorization();
            long params = c.parameters() + overheadParams;
            ContractionPlan plan = LinearRewriter.plan(layer, tz, c.format() == Format.TT, c.blocks(), c.ranks(),
                    options.expectedBatch());
            String refusal = null;
            if (params >= layer.parameters()) {
                refusal = "not smaller (" + params + " >= " + layer.parameters() + " parameters)";
            } else if (!rebuilt && plan.flopsPerSample() + overheadFlops >= flopsBefore) {
                refusal = String.format(Locale.ROOT, "not cheaper to run (%.0f >= %.0f FLOPs/sample)",
                        plan.flopsPerSample() + overheadFlops, flopsBefore);
            }
            if (refusal != null && !options.force()) {
                firstRefusal = firstRefusal == null ? refusal : firstRefusal;
                tried.add(alternative(c, plan, Double.NaN, Double.NaN, "not fitted: " + refusal));
                continue;
            }
            progress.accept("fitting " + layer.name() + " (" + layer.weightShape() + ") as " + c.format().label() + " "
                    + tz.layout().label() + " " + tz.describe() + ", N=" + c.blocks() + ", ranks "
                    + Arrays.toString(c.ranks()));
            FitResult<?> fit = fitOne(c);
            double outputError = outputError(tz, fit);
            tried.add(alternative(c, plan, fit.relativeError(), outputError, whitened(c) ? "whitened" : tz.padded()
                    ? "padded" : ""));
            double score = Double.isNaN(outputError) ? fit.relativeError() : outputError;
            if (best == null || score < bestScore) {
                best = new Compressor.LayerFit(layer.name(), tz, fit, outputError);
                bestPlan = plan;
                chosen = c;
                bestScore = score;
            }
        }
        return new Attempt(best, bestPlan, chosen, tried, firstRefusal);
    }

    /** Whether the candidate is fitted whitened: calibration inputs and the input as one mode. */
    private boolean whitened(Candidates.Candidate c) {
        return whitening != null && c.tensorization().layout() == Layout.INPUT_WHOLE;
    }

    private FitResult<?> fitOne(Candidates.Candidate c) {
        boolean whiten = whitened(c);
        var tensor = c.tensorization().tensorize(whiten ? whitenedWeight : weight);
        FitResult<?> fit = c.format() == Format.TT ? TtSvd.fit(tensor, c.ranks(), options.seed())
                : BlockTermAls.fit(tensor, new BlockTermConfig(c.blocks(), c.ranks(), options.maxSweeps(),
                        options.tolerance(), options.seed(), options.init(), 1));
        if (!whiten) {
            return fit;
        }
        // back from L^T W to W: the input mode's factor times L^-T; the weight error is then recomputed
        Decomposition model = whitening.unwhiten(fit.model(), 0);
        double[] w = c.tensorization().matricize(model.reconstruct());
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < w.length; i++) {
            diff += (weight[i] - w[i]) * (weight[i] - w[i]);
            norm += weight[i] * weight[i];
        }
        return new FitResult<>(model, fit.errors(), fit.sweeps(), fit.converged(), Math.sqrt(diff / norm), fit.init(),
                fit.seconds(), fit.sweepSeconds());
    }

    /** {@code ||X (W - W^)|| / ||X W||}, the output error on the calibration inputs; NaN without them. */
    private double outputError(Tensorization tz, FitResult<?> fit) {
        if (calibration == null) {
            return Double.NaN;
        }
        double[] approx = tz.matricize(fit.model().reconstruct());
        double[] diff = new double[approx.length];
        for (int i = 0; i < diff.length; i++) {
            diff[i] = weight[i] - approx[i];
        }
        double num = Whitening.outputNorm(calibration, new Matrix(layer.inputSize(), layer.outputSize(), diff));
        return outputNorm == 0 ? 0 : num / outputNorm;
    }

    private static Alternative alternative(Candidates.Candidate c, ContractionPlan plan, double error, double outputError,
                                           String note) {
        Tensorization tz = c.tensorization();
        return new Alternative(c.format().label() + " " + tz.layout().label(), tz.describe(), c.blocks(), c.ranksText(),
                c.parameters(), plan.flopsPerSample(), error, outputError, note);
    }
}
