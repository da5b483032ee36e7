package dev.blockterm.compress;

import dev.blockterm.decompose.FitResult;
import dev.blockterm.decompose.Initialization;
import dev.blockterm.decompose.LowRank;
import dev.blockterm.onnx.Weights;
import dev.blockterm.report.LayerReport;
import dev.blockterm.rewrite.LinearRewriter;
import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Tensorization;
import java.util.List;
import java.util.function.Function;
import onnx.Onnx;

/**
 * The points of a layer's exact low-rank curve: rank {@code r = 1..maxRank} as {@code A B} with
 * {@code A} of {@code I x r} and {@code B} of {@code r x J} ({@link LowRank}: the best rank-r
 * approximation in the layer's metric, Eckart-Young in the whitened coordinates), at the weight's own
 * float type. Point {@code p} is rank {@code p + 1}.
 *
 * @param layer   the layer and its curve
 * @param maxRank the largest rank offered (smaller than dense, and fast enough where a speed-up is asked)
 */
record LowRankForm(FittedLayer layer, int maxRank) implements Form {

    @Override
    public int points() {
        return maxRank;
    }

    @Override
    public Family family(int p) {
        return Family.LOW_RANK;
    }

    @Override
    public long size(int p, boolean inBytes) {
        long width = inBytes ? Weights.width(layer.dataType()) : 1;
        return (long) rank(p) * (layer.job().rows() + layer.job().cols()) * width;
    }

    @Override
    public double error(int p) {
        return layer.curve().relativeError(rank(p));
    }

    @Override
    public int rank(int p) {
        return p + 1;
    }

    @Override
    public Matrix approximation(int p) {
        Matrix[] ab = layer.curve().factors(rank(p));
        return ab[0].times(ab[1]);
    }

    @Override
    public Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite(int p) {
        // the factors are computed when the layer is rewritten: a large model's are never all held at once
        return m -> layer.job().rewrite(layer.curve().factors(rank(p))).apply(m);
    }

    @Override
    public Compressor.LayerOutcome outcome(int p, String selection) {
        int rank = rank(p);
        LayerJob job = layer.job();
        LowRank curve = layer.curve();
        double weightError;
        double outputError = Double.NaN;
        if (!layer.whitened()) {
            weightError = curve.relativeError(rank); // Eckart-Young: the curve's error is the weight's
        } else {
            FittedLayer.Distance distance = layer.distance(approximation(p));
            weightError = distance.relative();
            // against the original outputs from the compressed model's inputs where refitted (--sequential)
            outputError = layer.sequential() ? layer.compensatedError()
                    : layer.outputError(curve.tail(rank), distance);
        }
        double seconds = layer.seconds();
        double error = weightError;
        // and again only where the fit is asked for
        java.util.function.Supplier<FitResult<?>> fit = () -> new FitResult<>(curve.tensorTrain(rank),
                new double[] {error}, 0, true, error, Initialization.GREEDY, seconds, 0);
        Tensorization tz = job instanceof LayerJob.Conv ? null : LayerJob.plain(job.rows(), job.cols());
        long params = (long) rank * (job.rows() + job.cols());
        String layout = layer.sequential() ? "low-rank sequential" : layer.whitened() ? "low-rank whitened" : "low-rank";
        LayerReport report = new LayerReport(job.name(), job.op(), job.shape(), true, null, layout,
                layer.tensorization(rank), false, 1, Integer.toString(rank), job.parameters(), params, weightError,
                outputError, 0, true, seconds, job.flops(0), job.flops(rank), List.of(), selection,
                job instanceof LayerJob.Stored, null);
        return new Compressor.LayerOutcome(job.nodeIndex(), job.weightName(), report,
                new Compressor.LayerFit(job.name(), tz, fit, outputError), rewrite(p), job.timed());
    }
}
