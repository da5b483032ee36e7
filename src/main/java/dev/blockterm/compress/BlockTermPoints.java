package dev.blockterm.compress;

import dev.blockterm.decompose.BlockTerm;
import dev.blockterm.decompose.BlockTermAls;
import dev.blockterm.decompose.BlockTermConfig;
import dev.blockterm.decompose.FitResult;
import dev.blockterm.decompose.Format;
import dev.blockterm.decompose.LowRank;
import dev.blockterm.decompose.UnfoldingBound;
import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Tensorization;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A layer's block-term points beside its low-rank curve: block terms on other tensorizations of the
 * weight, sized at a few ratios, checked against the unfolding bound, fitted by ALS where the bound
 * leaves room to beat the curve, kept where they do.
 */
final class BlockTermPoints {

    /** The ratios at which block-term layouts are sized, checked against the bound, and fitted where it allows. */
    private static final double[] ALS_RATIOS = {2, 4, 8, 16};
    /** The sweep limit of a block-term curve point. */
    static final int ALS_SWEEPS = 15;
    /**
     * Block terms are tried only on weights with a side at most this narrow: measured, the only ones
     * where they beat the low-rank curve (the digits models' 512x10, 512x8 and 64x512 weights), while on
     * all-MiniLM-L6-v2 (384 and 1536 wide) none of 72 bound-allowed fits did, at 140 s of fitting.
     */
    static final int ALS_NARROW_SIDE = 64;
    /** Block-term candidates fitted per layer at most. */
    static final int ALS_PER_LAYER = 2;
    /** A candidate whose error after this many sweeps is more than ALS_PROBE_MARGIN times the curve's is dropped. */
    static final int ALS_PROBE_SWEEPS = 3;
    static final double ALS_PROBE_MARGIN = 1.25;

    private final CompressionOptions options;
    private final java.util.function.Consumer<String> progress;
    private final java.util.concurrent.atomic.AtomicInteger alsSized = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger alsFitted = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger alsKept = new java.util.concurrent.atomic.AtomicInteger();

    BlockTermPoints(CompressionOptions options, java.util.function.Consumer<String> progress) {
        this.options = options;
        this.progress = progress;
    }

    /** What was sized, fitted and kept, in words. */
    String describe() {
        return String.format(Locale.ROOT, "block-term layouts: %d sized, %d allowed by the unfolding bound and fitted, "
                + "%d beat the low-rank curve", alsSized.get(), alsFitted.get(), alsKept.get());
    }

    /**
     * The block-term layouts (merged, split, input-whole with the output split) of a weight fitted
     * to its weights, with a side at most {@link #ALS_NARROW_SIDE}: at each of {@link #ALS_RATIOS}, the
     * largest candidate within the budget is sized; it may be fitted by ALS only where the unfolding
     * bound ({@link UnfoldingBound}) is below the low-rank curve's error at the same size; the
     * {@link #ALS_PER_LAYER} with the lowest bound are, and each is kept where its fit is below the
     * curve too. (With calibration the curves are
     * whitened, the exact optimum of the output error for their form, and these are not tried.)
     */
    List<FormPoint> points(LayerJob job, java.util.function.Supplier<Matrix> weight, LowRank curve) {
        if (job instanceof LayerJob.Conv || Math.min(job.rows(), job.cols()) > ALS_NARROW_SIDE) {
            return List.of();
        }
        List<FormPoint> out = new ArrayList<>();
        List<Tensorization> layouts;
        try {
            layouts = Candidates.tensorizations(job.name(), job.rows(), job.cols(), options.withLayout(null));
        } catch (IllegalArgumentException e) {
            return List.of();
        }
        record Allowed(Tensorization tz, dev.blockterm.tensor.Tensor tensor, Candidates.Candidate c, double flops,
                       double lowRank, double bound) {
        }
        List<Allowed> allowed = new ArrayList<>();
        for (Tensorization tz : layouts) {
            if (tz.equals(LayerJob.plain(job.rows(), job.cols())) || tz.padded()) {
                continue;
            }
            UnfoldingBound bound = null;
            dev.blockterm.tensor.Tensor tensor = null;
            for (double ratio : ALS_RATIOS) {
                Candidates.Candidate c = Candidates.largestUnder(Format.BT, tz, options.blocks(),
                        (long) Math.floor(job.parameters() / ratio));
                if (c == null || c.parameters() >= job.parameters()) {
                    continue;
                }
                double flops = job.flops(tz, c);
                if (flops >= job.flops(0) && !(job instanceof LayerJob.Stored)) {
                    continue;
                }
                alsSized.incrementAndGet();
                int rank = (int) Math.min(curve.maxRank(), c.parameters() / ((long) job.rows() + job.cols()));
                double lowRank = curve.tail(rank);
                if (bound == null) {
                    tensor = tz.tensorize(weight.get().data());
                    bound = new UnfoldingBound(tensor);
                }
                double b = bound.squaredError(c.blocks(), c.ranks());
                if (b < lowRank) { // else no fit of this form can beat the low-rank curve at its size
                    allowed.add(new Allowed(tz, tensor, c, flops, lowRank, b));
                }
            }
        }
        // the most promising first (the bound furthest below the curve), at most ALS_PER_LAYER of them
        allowed.sort(java.util.Comparator.comparingDouble(a -> a.bound() / a.lowRank()));
        for (Allowed a : allowed.subList(0, Math.min(ALS_PER_LAYER, allowed.size()))) {
            alsFitted.incrementAndGet();
            Candidates.Candidate c = a.c();
            progress.accept("fitting " + job.name() + " as bt " + a.tz().layout().label() + " "
                    + a.tz().describe() + ", N=" + c.blocks() + ", ranks " + java.util.Arrays.toString(c.ranks())
                    + String.format(Locale.ROOT, " (its unfolding bound is %.2f of the low-rank curve's error at its size)",
                    a.bound() / a.lowRank()));
            // a curve point, not the user's fit: the cheap start, a few sweeps to see whether it comes near the
            // curve (ALS rarely closes a wide gap), then a short sweep budget
            FitResult<BlockTerm> fit = fitBlockTerm(a.tensor(), c, ALS_PROBE_SWEEPS);
            double e = fit.relativeError();
            if (e * e * curve.total() > ALS_PROBE_MARGIN * a.lowRank()) {
                progress.accept(String.format(Locale.ROOT, "  dropped: after %d sweeps %.2f of the curve's "
                        + "error", ALS_PROBE_SWEEPS, e * e * curve.total() / a.lowRank()));
                continue;
            }
            fit = fitBlockTerm(a.tensor(), c, ALS_SWEEPS);
            e = fit.relativeError();
            progress.accept(String.format(Locale.ROOT, "  %.2f of the curve's error", e * e * curve.total()
                    / a.lowRank()));
            if (e * e * curve.total() < a.lowRank()) {
                alsKept.incrementAndGet();
                Tensorization tz = a.tz();
                BlockTerm bt = fit.model();
                out.add(new FormPoint(Form.Family.BLOCK_TERM, "bt " + tz.layout().label(), tz.describe(), c.blocks(), c.ranksText(),
                        c.parameters(), e, e, Double.NaN, fit.sweeps(), fit.converged(), a.flops(),
                        () -> new Matrix(job.rows(), job.cols(), tz.matricize(bt.reconstruct())), job.rewrite(tz, bt),
                        new Compressor.LayerFit(job.name(), tz, fit, Double.NaN)));
            }
        }
        return out;
    }

    private FitResult<BlockTerm> fitBlockTerm(dev.blockterm.tensor.Tensor tensor, Candidates.Candidate c, int sweeps) {
        return BlockTermAls.fit(tensor, new BlockTermConfig(c.blocks(), c.ranks(), Math.min(options.maxSweeps(), sweeps),
                Math.max(options.tolerance(), 1e-4), options.seed(), dev.blockterm.decompose.Initialization.GREEDY, 1));
    }
}
