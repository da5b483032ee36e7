package dev.blockterm.compress;

import dev.blockterm.decompose.BlockTerm;
import dev.blockterm.decompose.BlockTermConfig;
import dev.blockterm.decompose.FitResult;
import dev.blockterm.decompose.Initialization;
import dev.blockterm.decompose.MetricBlockTermAls;
import dev.blockterm.decompose.MetricLeastSquares;
import dev.blockterm.decompose.SpatialSvd;
import dev.blockterm.decompose.TensorTrain;
import dev.blockterm.decompose.Term;
import dev.blockterm.decompose.Whitening;
import dev.blockterm.onnx.ConvLayer;
import dev.blockterm.rewrite.ConvRewriter;
import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Tensor;
import dev.blockterm.tensor.Tensorization;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * A convolution's forms beside channel low rank (whose curve {@code LowRank} gives at every rank),
 * each fitted at a few sizes and measured in the layer's metric, so that the allocation ranks all of
 * them by output error:
 * <ul>
 *   <li>spatial SVD ({@link SpatialSvd}; 2-D kernels wider than 1 on both axes): without calibration
 *       the SVD is optimal and free at every size; with it, refined by ALS in the patch covariance;</li>
 *   <li>the block-term chain (1x1, grouped k, 1x1; kernels larger than 1x1): fitted to the kernel by
 *       ALS, then with calibration its last 1x1 convolution refitted exactly to the outputs
 *       ({@link MetricLeastSquares}).</li>
 * </ul>
 * A 1x1 convolution is a fully connected layer over the channels: its channel low rank is the linear
 * layer's whitened truncated SVD, the exact optimum, and it takes no other form here.
 */
final class ConvForms {

    /** Sizes (dense parameters over these) at which the forms are fitted with calibration. */
    static final double[] CALIBRATED_RATIOS = {1.5, 2, 3, 4, 8};
    /** Sizes at which spatial SVD is offered without calibration (each a truncation of one SVD). */
    static final double[] SVD_RATIOS = {1.25, 1.5, 2, 3, 4, 6, 8, 12, 16};
    /** Sizes at which the block-term chain is fitted. */
    static final double[] CHAIN_RATIOS = {2, 4, 8};
    /** ALS sweeps of spatial SVD in the metric. */
    static final int SPATIAL_SWEEPS = 3;
    /** ALS sweeps of the block-term chain. */
    static final int CHAIN_SWEEPS = 15;
    /**
     * Sweeps of the chain's refinement in the metric (conjugate gradients on its split layout: on PP-OCRv3's
     * 40-odd convolutions 15 sweeps cost about 200 s, 3 sweeps most of the gain).
     */
    static final int REFINE_SWEEPS = 3;

    private ConvForms() {
    }

    /**
     * The points of the forms allowed by the options.
     *
     * @param w    the kernel as {@code (C_in K) x C_out}
     * @param gram the covariance of its input patches, or null
     */
    static List<FormPoint> points(LayerJob.Conv job, Matrix w, Matrix gram, CompressionOptions options,
                                  Consumer<String> progress) {
        ConvLayer layer = job.layer();
        Matrix metric = gram == null ? null : Whitening.damped(gram, Whitening.DEFAULT_DAMPING);
        Measure measure = new Measure(w, metric, gram);
        List<FormPoint> out = new ArrayList<>();
        int[] k = layer.kernel();
        if (options.convForms().contains(ConvForm.SPATIAL) && k.length == 2 && k[0] > 1 && k[1] > 1) {
            out.addAll(spatial(job, w, metric, measure, progress));
        }
        if (options.convForms().contains(ConvForm.CHAIN) && layer.kernelSize() > 1) {
            out.addAll(chain(job, w, metric, measure, options, progress));
        }
        return out;
    }

    /** Errors of an approximation in the three senses the report gives. */
    private record Measure(Matrix w, Matrix metric, Matrix gram) {
        double relative(Matrix c, Matrix approx) {
            double total = MetricLeastSquares.squaredNorm(c, w);
            double e = MetricLeastSquares.squaredNorm(c, w.plus(approx.scale(-1)));
            return total == 0 ? 0 : Math.sqrt(e / total);
        }
    }

    private static List<FormPoint> spatial(LayerJob.Conv job, Matrix w, Matrix metric, Measure measure,
                                           Consumer<String> progress) {
        ConvLayer layer = job.layer();
        int kh = layer.kernel()[0];
        int kw = layer.kernel()[1];
        SpatialSvd svd = new SpatialSvd(w, layer.inChannels(), kh, kw);
        List<FormPoint> out = new ArrayList<>();
        int last = 0;
        for (double ratio : metric == null ? SVD_RATIOS : CALIBRATED_RATIOS) {
            int r = (int) Math.min(svd.maxRank(), (long) Math.floor(job.parameters() / ratio)
                    / (svd.parameters(1)));
            if (r < 1 || r == last || svd.parameters(r) >= job.parameters()) {
                continue;
            }
            last = r;
            if (metric != null) {
                progress.accept("fitting " + job.name() + " as spatial SVD " + kh + "x1, 1x" + kw + " at rank " + r
                        + " in its output metric");
            }
            SpatialSvd.Fit fit = svd.fit(r, metric, SPATIAL_SWEEPS);
            Matrix approx = svd.expand(fit.p(), fit.q());
            double weightError = measure.relative(null, approx);
            double outputError = measure.gram() == null ? Double.NaN : measure.relative(measure.gram(), approx);
            TensorTrain tt = new TensorTrain(List.of(new Tensor(new int[] {1, fit.p().rows(), r}, fit.p().data()),
                    new Tensor(new int[] {r, fit.q().cols(), 1}, fit.q().data())));
            FitResult<TensorTrain> result = new FitResult<>(tt, new double[] {weightError}, fit.sweeps(), true,
                    weightError, Initialization.GREEDY, 0, 0);
            Matrix p = fit.p();
            Matrix q = fit.q();
            out.add(new FormPoint(Form.Family.SPATIAL, "spatial svd" + (metric == null ? "" : " whitened"),
                    kh + "x1 conv " + layer.inChannels() + "->" + r + ", 1x" + kw + " " + r + "->" + layer.outChannels(),
                    1, Integer.toString(r), svd.parameters(r), fit.relativeError(), weightError, outputError,
                    fit.sweeps(), true, ConvRewriter.spatialFlopsPerPosition(layer, r), () -> svd.expand(p, q),
                    m -> ConvRewriter.rewriteSpatial(m, layer, p, q),
                    new Compressor.LayerFit(job.name(), null, result, outputError)));
        }
        return out;
    }

    private static List<FormPoint> chain(LayerJob.Conv job, Matrix w, Matrix metric, Measure measure,
                                         CompressionOptions options, Consumer<String> progress) {
        ConvLayer layer = job.layer();
        ConvFitter fitter = new ConvFitter(layer, options.toBuilder().format(dev.blockterm.decompose.Format.BT)
                .sweeps(Math.min(options.maxSweeps(), CHAIN_SWEEPS), Math.max(options.tolerance(), 1e-4)).build());
        Tensor kernel = new Tensor(new int[] {layer.outChannels(), layer.inChannels(), layer.kernelSize()},
                w.transpose().data());
        List<FormPoint> out = new ArrayList<>();
        long previous = -1;
        for (double ratio : CHAIN_RATIOS) {
            ConvFitter.Setting s = fitter.largestUnder((long) Math.floor(job.parameters() / ratio));
            if (s == null || s.parameters(layer) == previous || s.parameters(layer) >= job.parameters()
                    || s.flops(layer) >= job.flops(0)) {
                continue;
            }
            previous = s.parameters(layer);
            progress.accept(String.format(Locale.ROOT, "fitting %s as a block-term chain N=%d, ranks %s%s", job.name(),
                    s.blocks(), s.ranksText(), metric == null ? "" : ", its last 1x1 convolution refitted to the outputs, "
                    + "then every factor by ALS in their metric"));
            FitResult<BlockTerm> fit = fitter.fit(kernel, s);
            if (metric != null) {
                BlockTerm last = refitLast(fit.model(), w, metric, layer);
                FitResult<BlockTerm> refined = refined(last, w, metric, layer, options);
                fit = refined != null ? refined : new FitResult<>(last, fit.errors(), fit.sweeps(), fit.converged(),
                        fit.relativeError(), fit.init(), fit.seconds(), fit.sweepSeconds());
            }
            BlockTerm bt = fit.model();
            Matrix approx = matrixOf(bt, layer);
            double weightError = measure.relative(null, approx);
            double error = measure.relative(metric, approx);
            double outputError = measure.gram() == null ? Double.NaN : measure.relative(measure.gram(), approx);
            FitResult<BlockTerm> result = new FitResult<>(bt, fit.errors(), fit.sweeps(), fit.converged(), weightError,
                    fit.init(), fit.seconds(), fit.sweepSeconds());
            out.add(new FormPoint(Form.Family.BLOCK_TERM, "bt conv chain" + (metric == null ? "" : " refitted"),
                    "1x1, grouped k, 1x1 convolutions", s.blocks(), s.ranksText(), s.parameters(layer), error,
                    weightError, outputError, fit.sweeps(), fit.converged(), s.flops(layer), () -> matrixOf(bt, layer),
                    m -> ConvRewriter.rewrite(m, layer, bt), new Compressor.LayerFit(job.name(), null, result, outputError)));
        }
        return out;
    }

    /**
     * The chain refined in the output metric on all its factors and cores ({@link MetricBlockTermAls},
     * from {@code start}, so its error in the metric never rises): the kernel read as the matrix
     * {@code W} ({@code (C_in K) x C_out}) in the split layout with the input legs {@code (C_in, K)} and
     * the output leg {@code C_out}, that is modes {@code (C_in, K, C_out)} with ranks
     * {@code (R_in, K, R_out)}, the chain's own {@code (C_out, C_in, K)} permuted; null where
     * {@code K > R_in R_out} (no core of those ranks exists).
     */
    static FitResult<BlockTerm> refined(BlockTerm start, Matrix w, Matrix metric, ConvLayer layer,
                                        CompressionOptions options) {
        int cIn = layer.inChannels();
        int k = layer.kernelSize();
        int cOut = layer.outChannels();
        Tensorization tz = Tensorization.split(cIn * k, cOut, new int[] {cIn, k}, new int[] {cOut});
        BlockTerm permuted = permute(start, new int[] {1, 2, 0}); // (C_out, C_in, K) -> (C_in, K, C_out)
        int[] ranks = permuted.ranks();
        if (ranks[1] > ranks[0] * ranks[2]) {
            return null; // the spatial mode's rank is bounded by R_in R_out: a core this thin is left as refitted
        }
        BlockTermConfig config = new BlockTermConfig(start.blocks(), permuted.ranks(),
                Math.min(options.maxSweeps(), REFINE_SWEEPS), Math.max(options.tolerance(), 1e-4), options.seed(),
                dev.blockterm.decompose.Initialization.GREEDY, 1);
        FitResult<BlockTerm> fit = MetricBlockTermAls.fit(w, tz, metric, config, permuted);
        return new FitResult<>(permute(fit.model(), new int[] {2, 0, 1}), // back to (C_out, C_in, K)
                fit.errors(), fit.sweeps(), fit.converged(), fit.relativeError(), fit.init(), fit.seconds(),
                fit.sweepSeconds());
    }

    /** The decomposition with its modes reordered: new mode m is old mode {@code order[m]}. */
    static BlockTerm permute(BlockTerm bt, int[] order) {
        List<Term> terms = new ArrayList<>();
        for (Term t : bt.terms()) {
            List<Matrix> factors = new ArrayList<>();
            for (int m : order) {
                factors.add(t.factors().get(m));
            }
            terms.add(new Term(t.core().permute(order), factors));
        }
        return new BlockTerm(terms);
    }

    /** The chain's kernel as {@code (C_in K) x C_out}. */
    private static Matrix matrixOf(BlockTerm bt, ConvLayer layer) {
        return new Matrix(layer.outChannels(), layer.inChannels() * layer.kernelSize(), bt.reconstruct().data()).transpose();
    }

    /**
     * The chain with each term's output factor {@code A_n} ({@code C_out x R_out}) refitted jointly and
     * exactly in the metric: with {@code F[(c,s), (n,p)] = sum_r B_n[c,r] C_n[p,r,s]} (the first two
     * convolutions), {@code [A_1 .. A_N]^T = argmin tr((W - F X)^T C (W - F X))}.
     */
    static BlockTerm refitLast(BlockTerm bt, Matrix w, Matrix metric, ConvLayer layer) {
        int cIn = layer.inChannels();
        int k = layer.kernelSize();
        List<Tensor> cores = ConvRewriter.foldedCores(bt); // R_out x R_in x K each
        int width = 0;
        for (Tensor c : cores) {
            width += c.size(0);
        }
        double[] f = new double[cIn * k * width];
        int col = 0;
        for (int n = 0; n < bt.blocks(); n++) {
            Matrix b = bt.terms().get(n).factors().get(1); // C_in x R_in
            Tensor core = cores.get(n);
            int rOut = core.size(0);
            int rIn = core.size(1);
            for (int c = 0; c < cIn; c++) {
                for (int s = 0; s < k; s++) {
                    for (int p = 0; p < rOut; p++) {
                        double v = 0;
                        for (int r = 0; r < rIn; r++) {
                            v += b.get(c, r) * core.data()[(p * rIn + r) * k + s];
                        }
                        f[(c * k + s) * width + col + p] = v;
                    }
                }
            }
            col += rOut;
        }
        Matrix x = MetricLeastSquares.solve(new Matrix(cIn * k, width, f), metric, w); // (sum R_out) x C_out
        List<Term> terms = new ArrayList<>();
        col = 0;
        for (int n = 0; n < bt.blocks(); n++) {
            Term t = bt.terms().get(n);
            int rOut = t.factors().get(0).cols();
            // the folded core replaces core and spatial factor: G_n x_3 S_n with an identity spatial factor
            Tensor core = cores.get(n);
            double[] a = new double[layer.outChannels() * rOut];
            for (int o = 0; o < layer.outChannels(); o++) {
                for (int p = 0; p < rOut; p++) {
                    a[o * rOut + p] = x.get(col + p, o);
                }
            }
            terms.add(new Term(core, List.of(new Matrix(layer.outChannels(), rOut, a), t.factors().get(1),
                    Matrix.identity(k))));
            col += rOut;
        }
        return new BlockTerm(terms);
    }
}
