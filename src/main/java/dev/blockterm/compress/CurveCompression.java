package dev.blockterm.compress;

import dev.blockterm.decompose.BlockTerm;
import dev.blockterm.decompose.BlockTermAls;
import dev.blockterm.decompose.BlockTermConfig;
import dev.blockterm.decompose.FitResult;
import dev.blockterm.decompose.Format;
import dev.blockterm.decompose.UnfoldingBound;
import dev.blockterm.decompose.Initialization;
import dev.blockterm.decompose.LowRank;
import dev.blockterm.decompose.TensorTrain;
import dev.blockterm.decompose.Whitening;
import dev.blockterm.onnx.ConvLayer;
import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.LinearLayer;
import dev.blockterm.onnx.StoredWeight;
import dev.blockterm.onnx.Weights;
import dev.blockterm.report.LayerReport;
import dev.blockterm.rewrite.ConvRewriter;
import dev.blockterm.rewrite.LinearRewriter;
import dev.blockterm.rewrite.WeightRebuilder;
import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Tensorization;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Function;
import onnx.Onnx;

/**
 * The targets that decide from exact low-rank curves ({@link Target#usesCurves()}): every selected
 * layer is read as a matrix {@code I x J} (a fully connected weight as it is multiplied, a stored
 * weight as {@code rows x cols}, a convolution kernel as {@code (C_in K) x C_out}), one
 * eigendecomposition gives its best error at every rank ({@link LowRank}: in the metric of the
 * layer's output where calibration inputs were captured, else of the weight), and the ranks are
 * chosen per layer ({@code MaxError}) or by one {@link Allocation} over all curves (whole-model
 * targets; the quality target bisects it with the model run on held-out inputs).
 *
 * <p>The offered ranks are those whose factored form is smaller than the dense weight, which here
 * also means cheaper to run ({@code 2 r (I + J) < 2 I J} FLOPs per row or output position).
 */
final class CurveCompression {

    /**
     * A job with its curve, its weight and its other forms ({@code lowRank}: whether the curve's points
     * are offered; a convolution limited to other forms offers only those).
     */
    private record Fitted(LayerJob job, java.util.function.Supplier<Matrix> weight, LowRank curve, boolean whitened, double delta, double seconds,
                          int speedCap, boolean lowRank, List<FormPoint> als, double compensatedError,
                          List<QuantizedPoints.Point> bits, int dataType, int idBase) {
        /** The curve point id of the j-th other form's point (low-rank points are their rank). */
        int alsId(int j) {
            return idBase + j;
        }

        /** The largest rank whose factored form is smaller than the dense weight (and fast enough, where asked). */
        int maxRank() {
            return lowRank ? Math.min(speedCap, smallerThanDense()) : 0;
        }

        int smallerThanDense() {
            return Math.min(CurveCompression.smallerThanDense(job.rows(), job.cols()), curve.kept());
        }

        Fitted capped(int rank) {
            return new Fitted(job, weight, curve, whitened, delta, seconds, rank, lowRank, List.of(), // others are not timed
                    compensatedError, bits.stream().filter(b -> b.rank() <= rank).toList(), dataType, idBase);
        }

        /** The curve point id of the j-th point on the bits axis (after the other forms' ids). */
        int bitsId(int j) {
            return idBase + als.size() + j;
        }

        /** The bits-axis point with this id, or null. */
        QuantizedPoints.Point bitsPoint(int id) {
            int j = id - idBase - als.size();
            return j >= 0 && j < bits.size() ? bits.get(j) : null;
        }

        /** The low-rank rank of a point (a float one's id, a quantized one's rank); 0 for a dense or other form. */
        int rankOf(int id) {
            QuantizedPoints.Point b = bitsPoint(id);
            if (b != null) {
                return b.rank();
            }
            return id > 0 && id < idBase ? id : 0;
        }

        /** The bytes of the weight as the model stores it. */
        long denseBytes() {
            return job.parameters() * dev.blockterm.onnx.Weights.width(dataType);
        }
    }

    private final Compressor compressor;
    private final Target target;
    private final Map<String, Onnx.TensorProto> inits;
    private List<Fitted> fitted;
    private double[] sensitivity; // measured: model output error per unit of the layer's own error; null: not measured
    private final List<Compressor.LayerOutcome> skippedOutcomes = new ArrayList<>();
    /**
     * Whether the allocation counts bytes (and offers the lower precisions) or parameters (a parameter
     * budget: float points only).
     */
    private final boolean inBytes;

    CurveCompression(Compressor compressor, Target target, List<LinearLayer> layers, List<ConvLayer> convs,
                     List<StoredWeight> stored, List<dev.blockterm.onnx.EmbeddingTable> tables,
                     Map<String, Onnx.TensorProto> inits, Calibration calibration, java.nio.file.Path staging) {
        this.compressor = compressor;
        this.target = target;
        this.inits = inits;
        this.inBytes = target.wholeModel() && !(target instanceof Target.Budget);
        CompressionOptions options = compressor.options();
        List<LayerJob> jobs = new ArrayList<>();
        for (LinearLayer l : layers) {
            add(jobs, new LayerJob.Linear(l, options.expectedBatch()), l.skipReason(), 2.0 * l.parameters());
        }
        for (ConvLayer c : convs) {
            add(jobs, new LayerJob.Conv(c), c.skipReason(), c.flopsPerPosition());
        }
        for (int i = 0; i < stored.size(); i++) {
            StoredWeight w = stored.get(i);
            add(jobs, new LayerJob.Stored(w, -1 - i, inits.get(w.name()).getDataType()), w.skipReason(), 0);
        }
        for (dev.blockterm.onnx.EmbeddingTable t : tables) {
            add(jobs, new LayerJob.Embedding(t), t.skipReason(), 0);
        }
        // the eigendecompositions, the bulk of the work, run where the runner runs them; the other forms here
        List<CurveTask> tasks = new ArrayList<>();
        for (LayerJob job : jobs) {
            tasks.add(new CurveTask(tasks.size(), job, new dev.blockterm.onnx.WeightSource.Held(inits.get(job.weightName())),
                    covariance(job, calibration), smallerThanDense(job.rows(), job.cols()), staging.toString()));
        }
        List<CurveFit> curves = compressor.runner().run(tasks, compressor.progress());
        List<Callable<Fitted>> others = new ArrayList<>();
        for (int i = 0; i < jobs.size(); i++) {
            LayerJob job = jobs.get(i);
            CurveFit fit = curves.get(i);
            CurveTask.Covariance covariance = tasks.get(i).covariance();
            Matrix gram = covariance instanceof CurveTask.Held h ? h.gram() : null;
            LayerMetric metric = covariance instanceof CurveTask.Diagonal d ? new LayerMetric.Rows(d.counts(), fit.delta())
                    : gram != null ? new LayerMetric.Gram(gram, fit.delta()) : new LayerMetric.Plain();
            others.add(() -> fitted(job, fit, gram, metric));
        }
        this.fitted = Parallel.run(others, options.threads());
    }

    /**
     * The covariance a layer's curve is fitted in: its inputs' {@code X^T X} where captured (a stored
     * weight has no inputs), an embedding table's row counts where it is at least as tall as wide.
     */
    private static CurveTask.Covariance covariance(LayerJob job, Calibration calibration) {
        if (calibration == null || job instanceof LayerJob.Stored) {
            return null;
        }
        if (job instanceof LayerJob.Embedding) {
            double[] counts = calibration.counts(job.name());
            return counts == null || job.cols() > job.rows() ? null : new CurveTask.Diagonal(counts);
        }
        Matrix gram = calibration.gram(job.name());
        return gram == null ? null : new CurveTask.Held(gram);
    }

    /** The largest rank whose factored form {@code r (I + J)} is smaller than the dense {@code I J}. */
    static int smallerThanDense(int rows, int cols) {
        long r = (long) rows * cols / ((long) rows + cols);
        if (r * (rows + cols) >= (long) rows * cols) {
            r--;
        }
        return (int) Math.max(0, Math.min(r, Math.min(rows, cols)));
    }

    private void add(List<LayerJob> jobs, LayerJob job, String unsupported, double flops) {
        String skip = compressor.skipReason(job.name(), job.parameters(), unsupported);
        if (skip == null) {
            jobs.add(job);
            return;
        }
        LayerReport dense = LayerReport.dense(job.name(), job.op(), job.shape(), job.parameters(), flops, skip,
                List.of(), 0);
        skippedOutcomes.add(Compressor.LayerOutcome.dense(job.nodeIndex(), job.weightName(), dense));
    }

    /** A layer's curve as fitted, with its other forms (fitted here: convolutions and narrow weights). */
    private Fitted fitted(LayerJob job, CurveFit fit, Matrix gram, LayerMetric metric) {
        long started = System.nanoTime();
        Onnx.TensorProto tensor = inits.get(job.weightName());
        java.util.function.Supplier<Matrix> weight = () -> job.matrix(tensor);
        LowRank curve = fit.curve(job.rows(), job.cols(), weight);
        CompressionOptions options = compressor.options();
        boolean lowRank = !(job instanceof LayerJob.Conv) || options.convForms().contains(ConvForm.CHANNEL);
        List<FormPoint> others = List.of(); // with a minimum speed-up only the curve, which is timed
        if (options.minSpeedup() == 0 && job instanceof LayerJob.Conv c) {
            others = ConvForms.points(c, weight.get(), gram, options, compressor.progress());
        } else if (options.minSpeedup() == 0 && gram == null) {
            others = blockTerms(job, weight, curve);
        }
        List<dev.blockterm.quantize.Precision> lower = QuantizedPoints.lower(options.bits(), tensor.getDataType());
        List<QuantizedPoints.Point> bits = List.of();
        if (!lower.isEmpty() && inBytes) {
            int offered = lowRank ? Math.min(CurveCompression.smallerThanDense(job.rows(), job.cols()), curve.kept()) : 0;
            compressor.progress().accept("measuring " + job.name() + " at " + dev.blockterm.quantize.Precision.text(
                    java.util.EnumSet.copyOf(lower)) + " bits, dense and factored");
            bits = QuantizedPoints.of(weight.get(), tensor.getDataType(), curve, offered, metric, lower, job.rowScales());
        }
        double seconds = fit.seconds() + (System.nanoTime() - started) / 1e9;
        return new Fitted(job, weight, curve, fit.whitened(), fit.delta(), seconds, Integer.MAX_VALUE, lowRank, others,
                Double.NaN, bits, tensor.getDataType(), curve.maxRank() + 1);
    }

    /**
     * Speed as a constraint before the choice: each layer that runs factored offers only the ranks at
     * which {@code timer} finds it at least {@code minSpeedup} times faster than dense (bisection over
     * the rank: a higher rank is never faster). Weights rebuilt at load are not timed.
     */
    void limitBySpeed(double minSpeedup, Function<Compressor.LayerOutcome, dev.blockterm.report.LayerLatency> timer) {
        List<Fitted> limited = new ArrayList<>();
        for (Fitted f : fitted) {
            LayerJob job = f.job();
            if (job.timed() == null || f.maxRank() == 0) {
                limited.add(f);
                continue;
            }
            compressor.progress().accept("timing " + job.name() + " factored at several ranks against dense");
            int good = 0;
            int bad = f.maxRank() + 1;
            while (bad - good > 1) {
                int mid = good + (bad - good) / 2;
                dev.blockterm.report.LayerLatency t = timer.apply(new Compressor.LayerOutcome(job.nodeIndex(),
                        job.weightName(), null, null, job.rewrite(f.curve().factors(mid)), job.timed()));
                if (t == null) {
                    compressor.progress().accept("  " + job.name() + " cannot be timed alone (its input shape is not "
                            + "known, or it reads a computed value): not limited by the minimum speed-up");
                    good = bad - 1;
                    break;
                }
                if (t.denseMillis() >= minSpeedup * t.factoredMillis()) {
                    good = mid;
                } else {
                    bad = mid;
                }
            }
            limited.add(f.capped(good));
        }
        fitted = limited;
    }

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

    private final java.util.concurrent.atomic.AtomicInteger alsSized = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger alsFitted = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger alsKept = new java.util.concurrent.atomic.AtomicInteger();

    /**
     * The block-term layouts (merged, split, input-whole with the output split) of a weight fitted
     * to its weights, with a side at most {@link #ALS_NARROW_SIDE}: at each of {@link #ALS_RATIOS}, the
     * largest candidate within the budget is sized; it may be fitted by ALS only where the unfolding
     * bound ({@link UnfoldingBound}) is below the low-rank curve's error at the same size; the
     * {@link #ALS_PER_LAYER} with the lowest bound are, and each is kept where its fit is below the
     * curve too. (With calibration the curves are
     * whitened, the exact optimum of the output error for their form, and these are not tried.)
     */
    private List<FormPoint> blockTerms(LayerJob job, java.util.function.Supplier<Matrix> weight, LowRank curve) {
        if (job instanceof LayerJob.Conv || Math.min(job.rows(), job.cols()) > ALS_NARROW_SIDE) {
            return List.of();
        }
        CompressionOptions options = compressor.options();
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
            compressor.progress().accept("fitting " + job.name() + " as bt " + a.tz().layout().label() + " "
                    + a.tz().describe() + ", N=" + c.blocks() + ", ranks " + java.util.Arrays.toString(c.ranks())
                    + String.format(Locale.ROOT, " (its unfolding bound is %.2f of the low-rank curve's error at its size)",
                    a.bound() / a.lowRank()));
            // a curve point, not the user's fit: the cheap start, a few sweeps to see whether it comes near the
            // curve (ALS rarely closes a wide gap), then a short sweep budget
            FitResult<BlockTerm> fit = fitBlockTerm(a.tensor(), c, ALS_PROBE_SWEEPS);
            double e = fit.relativeError();
            if (e * e * curve.total() > ALS_PROBE_MARGIN * a.lowRank()) {
                compressor.progress().accept(String.format(Locale.ROOT, "  dropped: after %d sweeps %.2f of the curve's "
                        + "error", ALS_PROBE_SWEEPS, e * e * curve.total() / a.lowRank()));
                continue;
            }
            fit = fitBlockTerm(a.tensor(), c, ALS_SWEEPS);
            e = fit.relativeError();
            compressor.progress().accept(String.format(Locale.ROOT, "  %.2f of the curve's error", e * e * curve.total()
                    / a.lowRank()));
            if (e * e * curve.total() < a.lowRank()) {
                alsKept.incrementAndGet();
                Tensorization tz = a.tz();
                BlockTerm bt = fit.model();
                out.add(new FormPoint("bt " + tz.layout().label(), tz.describe(), c.blocks(), c.ranksText(),
                        c.parameters(), e, e, Double.NaN, fit.sweeps(), fit.converged(), a.flops(),
                        () -> new Matrix(job.rows(), job.cols(), tz.matricize(bt.reconstruct())), job.rewrite(tz, bt),
                        new Compressor.LayerFit(job.name(), tz, fit, Double.NaN)));
            }
        }
        return out;
    }

    private FitResult<BlockTerm> fitBlockTerm(dev.blockterm.tensor.Tensor tensor, Candidates.Candidate c, int sweeps) {
        CompressionOptions options = compressor.options();
        return BlockTermAls.fit(tensor, new BlockTermConfig(c.blocks(), c.ranks(), Math.min(options.maxSweeps(), sweeps),
                Math.max(options.tolerance(), 1e-4), options.seed(), dev.blockterm.decompose.Initialization.GREEDY, 1));
    }

    /**
     * Sequential compensation (SVD-LLM's update, for {@code --sequential}): with the ranks chosen, the
     * layers are refitted in graph order, each to the original model's outputs from the inputs the model
     * compressed up to it gives ({@link LowRank#compensated}), so that it corrects what the layers
     * before it changed. Layers reading the same value are refitted together; a layer kept dense or
     * given another form is left as it is. One run of the original and the partly compressed model on
     * the fitting rows per group.
     */
    void compensate(int[] ranks, Onnx.ModelProto model, Calibration calibration) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < fitted.size(); i++) {
            Fitted f = fitted.get(i);
            QuantizedPoints.Point b = f.bitsPoint(ranks[i]);
            boolean refit = f.rankOf(ranks[i]) > 0 || b != null && b.precision().integer();
            if (refit && f.whitened() && !(f.job() instanceof LayerJob.Stored)) {
                order.add(i);
            }
        }
        order.sort(java.util.Comparator.comparingInt(i -> fitted.get(i).job().nodeIndex()));
        int at = 0;
        while (at < order.size()) {
            String input = model.getGraph().getNode(fitted.get(order.get(at)).job().nodeIndex()).getInput(0);
            List<Integer> group = new ArrayList<>();
            while (at < order.size()
                    && model.getGraph().getNode(fitted.get(order.get(at)).job().nodeIndex()).getInput(0).equals(input)) {
                group.add(order.get(at++));
            }
            int first = fitted.get(group.get(0)).job().nodeIndex();
            List<Compressor.LayerOutcome> before = new ArrayList<>();
            int[] earlier = new int[ranks.length];
            for (int i = 0; i < fitted.size(); i++) {
                LayerJob job = fitted.get(i).job();
                // a weight rebuilt at load is computed before every node: it is upstream of all of them
                earlier[i] = job.nodeIndex() < first ? ranks[i] : 0;
            }
            before.addAll(replacements(earlier));
            if (before.isEmpty()) {
                continue; // nothing upstream changed: the curves already fit these inputs
            }
            List<LinearLayer> linear = new ArrayList<>();
            List<ConvLayer> convs = new ArrayList<>();
            for (int i : group) {
                if (fitted.get(i).job() instanceof LayerJob.Linear l) {
                    linear.add(l.layer());
                } else if (fitted.get(i).job() instanceof LayerJob.Conv c) {
                    convs.add(c.layer());
                }
            }
            compressor.progress().accept("refitting " + String.join(", ", group.stream()
                    .map(i -> fitted.get(i).job().name()).toList()) + " to the original outputs from the inputs of the "
                    + "model compressed up to them");
            calibration.captureCompensating(model, Compressor.assemble(model, before), linear, convs);
            for (int i : group) {
                Fitted f = fitted.get(i);
                Calibration.Compensation c = calibration.takeCompensation(f.job().name());
                if (c == null) {
                    continue;
                }
                Matrix w = f.weight().get();
                int rank = f.rankOf(ranks[i]);
                LowRank curve = f.curve();
                double error = Double.NaN;
                if (rank > 0) {
                    curve = LowRank.compensated(w, c.gPrime(), c.cross(), Whitening.DEFAULT_DAMPING,
                            Math.min(rank, Math.min(w.rows(), w.cols()))); // only the chosen rank is asked for
                    Matrix[] ab = curve.factors(Math.min(rank, curve.maxRank()));
                    error = LowRank.compensatedError(w, ab[0].times(ab[1]), c.g(), c.gPrime(), c.cross());
                }
                List<QuantizedPoints.Point> bits = f.bits();
                QuantizedPoints.Point b = f.bitsPoint(ranks[i]);
                if (b != null) {
                    // the chosen point stored from the refitted values (GPTQ of the compensated weight for a dense one)
                    bits = new ArrayList<>(bits);
                    QuantizedPoints.Point refitted = QuantizedPoints.compensated(w, b, curve, f.dataType(), c.g(),
                            c.gPrime(), c.cross());
                    bits.set(bits.indexOf(b), refitted);
                    error = refitted.error();
                }
                fitted.set(i, new Fitted(f.job(), f.weight(), curve, true, f.delta(), f.seconds(), f.speedCap(),
                        f.lowRank(), f.als(), error, List.copyOf(bits), f.dataType(), f.idBase()));
            }
        }
    }

    /**
     * The allocation over every selected layer's curve (squared relative errors in each layer's metric),
     * sized in bytes (every float point at the weight's own width, the lower precisions beside them)
     * or, for a parameter budget, in parameters.
     */
    Allocation allocation() {
        List<Allocation.Curve> curves = new ArrayList<>();
        for (Fitted f : fitted) {
            int max = f.maxRank();
            long width = inBytes ? dev.blockterm.onnx.Weights.width(f.dataType()) : 1;
            int n = max + f.als().size() + f.bits().size();
            int[] ranks = new int[n];
            long[] sizes = new long[n];
            double[] errors = new double[n];
            for (int r = 1; r <= max; r++) {
                ranks[r - 1] = r;
                sizes[r - 1] = (long) r * (f.job().rows() + f.job().cols()) * width;
                double e = f.curve().relativeError(r) * scale(f);
                errors[r - 1] = e * e;
            }
            for (int j = 0; j < f.als().size(); j++) {
                FormPoint p = f.als().get(j);
                ranks[max + j] = f.alsId(j);
                sizes[max + j] = p.parameters() * width;
                double e = p.error() * scale(f);
                errors[max + j] = e * e;
            }
            for (int j = 0; j < f.bits().size(); j++) {
                QuantizedPoints.Point p = f.bits().get(j);
                int at = max + f.als().size() + j;
                ranks[at] = f.bitsId(j);
                sizes[at] = p.bytes();
                double e = p.error() * scale(f);
                errors[at] = e * e;
            }
            curves.add(new Allocation.Curve(f.job().name(), f.job().parameters() * width, ranks, sizes, errors));
        }
        return new Allocation(curves);
    }

    /** What the allocation counts: "bytes" or "parameters". */
    String unit() {
        return inBytes ? "bytes" : "parameters";
    }

    /** Each layer's id of its dense weight stored at {@code p} (0 where it has none): the int8-alone reference. */
    int[] denseAt(dev.blockterm.quantize.Precision p) {
        int[] ids = new int[fitted.size()];
        for (int i = 0; i < ids.length; i++) {
            Fitted f = fitted.get(i);
            for (int j = 0; j < f.bits().size(); j++) {
                if (f.bits().get(j).rank() == 0 && f.bits().get(j).precision() == p) {
                    ids[i] = f.bitsId(j);
                }
            }
        }
        return ids;
    }

    /** The bytes of the selected layers' weights as the model stores them. */
    long selectedBytes() {
        long b = 0;
        for (Fitted f : fitted) {
            b += f.denseBytes();
        }
        return b;
    }

    /** The layer's measured sensitivity, 1 where none was measured. */
    private double scale(Fitted f) {
        return sensitivity == null ? 1 : sensitivity[fitted.indexOf(f)];
    }

    /** The relative error at which each layer's sensitivity is probed. */
    static final double PROBE_ERROR = 0.25;

    /**
     * Measures how much each layer's error moves the model's outputs (ASVD's sensitivity, done
     * linearly): the layer alone at the rank where its own relative error first reaches
     * {@link #PROBE_ERROR}, the model run once; the model's relative output error over the layer's
     * own is its sensitivity, and the allocation then ranks by {@code (sensitivity * error)^2}, the
     * estimated squared error of the model's outputs. One model run per layer.
     */
    void measureSensitivity(QualityProbe.WeightFeeds feeds) {
        double[] s = new double[fitted.size()];
        int[] ranks = new int[fitted.size()];
        for (int i = 0; i < fitted.size(); i++) {
            Fitted f = fitted.get(i);
            s[i] = 1;
            if (f.maxRank() == 0) {
                continue;
            }
            int probe = f.maxRank();
            for (int r = 1; r <= f.maxRank(); r++) {
                if (f.curve().relativeError(r) <= PROBE_ERROR) {
                    probe = r;
                    break;
                }
            }
            double own = f.curve().relativeError(probe);
            if (own <= 0) {
                continue;
            }
            ranks[i] = probe;
            double model = feeds.worstError(weights(ranks));
            ranks[i] = 0;
            s[i] = Math.max(model / own, 1e-6);
            compressor.progress().accept(String.format(Locale.ROOT, "sensitivity of %s: output error %.4g at its error "
                    + "%.4g (rank %d)", f.job().name(), model, own, probe));
        }
        sensitivity = s;
    }

    /** The names of the selected layers' weights (the inputs of a weight-feeding probe). */
    java.util.Set<String> weightNames() {
        java.util.Set<String> names = new java.util.HashSet<>();
        for (Fitted f : fitted) {
            names.add(f.job().weightName());
        }
        return names;
    }

    /**
     * The selected weights that these ranks change, as stored in the model (dims and layout of the
     * initializer): the reconstruction of each chosen point (rank 0, the original, is left out).
     */
    Map<String, dev.blockterm.runtime.NpyArray> weights(int[] ranks) {
        Map<String, dev.blockterm.runtime.NpyArray> out = new java.util.HashMap<>();
        for (int i = 0; i < fitted.size(); i++) {
            Fitted f = fitted.get(i);
            LayerJob job = f.job();
            Matrix m;
            if (ranks[i] == 0) {
                continue;
            }
            m = approximation(f, ranks[i]);
            boolean transposed = job instanceof LayerJob.Conv || (job instanceof LayerJob.Linear l && l.layer().transposed());
            Matrix stored = transposed ? m.transpose() : m;
            long[] dims = inits.get(job.weightName()).getDimsList().stream().mapToLong(Long::longValue).toArray();
            out.put(job.weightName(), new dev.blockterm.runtime.NpyArray(dims, stored.data(),
                    dev.blockterm.onnx.Weights.descr(inits.get(job.weightName()).getDataType())));
        }
        return out;
    }

    /** The dense parameters of the selected layers together. */
    long selectedParameters() {
        long p = 0;
        for (Fitted f : fitted) {
            p += f.job().parameters();
        }
        return p;
    }

    /** Per layer: the smallest rank whose relative error (in the layer's metric) is at most {@code error}; 0: none. */
    int[] ranksWithin(double error) {
        int[] ranks = new int[fitted.size()];
        for (int i = 0; i < ranks.length; i++) {
            Fitted f = fitted.get(i);
            for (int r = 1; r <= f.maxRank(); r++) {
                if (f.curve().relativeError(r) <= error) {
                    ranks[i] = r;
                    break;
                }
            }
        }
        return ranks;
    }

    /** The outcome of every layer at these ranks (0: dense), the skipped layers included. */
    List<Compressor.LayerOutcome> outcomes(int[] ranks, String selection) {
        List<Compressor.LayerOutcome> out = new ArrayList<>(skippedOutcomes);
        for (int i = 0; i < fitted.size(); i++) {
            out.add(outcome(fitted.get(i), ranks[i], selection));
        }
        return out;
    }

    /** The outcomes that replace layers, without reports: for assembling a candidate model quickly. */
    List<Compressor.LayerOutcome> replacements(int[] ranks) {
        List<Compressor.LayerOutcome> out = new ArrayList<>();
        for (int i = 0; i < fitted.size(); i++) {
            if (ranks[i] > 0) {
                Fitted f = fitted.get(i);
                LayerJob job = f.job();
                out.add(new Compressor.LayerOutcome(job.nodeIndex(), job.weightName(), null, null, rewrite(f, ranks[i]),
                        null));
            }
        }
        return out;
    }

    /** The dense weight (the job's {@code I x J} matrix) that point {@code id} computes, as the model computes it. */
    private static Matrix approximation(Fitted f, int id) {
        FormPoint p = als(f, id);
        if (p != null) {
            return p.approximation().get();
        }
        QuantizedPoints.Point b = f.bitsPoint(id);
        if (b == null) {
            Matrix[] ab = f.curve().factors(id);
            return ab[0].times(ab[1]);
        }
        return QuantizedPoints.approximation(f.weight().get(), f.curve(), b, f.dataType(), f.job().rowScales());
    }

    /** How point {@code id} replaces the layer. */
    private static Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite(Fitted f, int id) {
        FormPoint p = als(f, id);
        if (p != null) {
            return p.rewrite();
        }
        QuantizedPoints.Point b = f.bitsPoint(id);
        LayerJob job = f.job();
        if (b == null) {
            return job.rewrite(f.curve().factors(id));
        }
        if (b.rank() == 0) {
            return job.denseRewrite(b.precision(), b.quantized());
        }
        LowRank curve = f.curve();
        return m -> dev.blockterm.rewrite.QuantizedWeights.store(job.rewrite(curve.factors(b.rank())).apply(m), job.name(),
                b.precision(), dev.blockterm.onnx.Graphs.opset(m));
    }

    /** The other form's point with this id, or null for a low-rank point. */
    private static FormPoint als(Fitted f, int id) {
        int j = id - f.idBase();
        return j >= 0 && j < f.als().size() ? f.als().get(j) : null;
    }

    private Compressor.LayerOutcome outcome(Fitted f, int rank, String selection) {
        LayerJob job = f.job();
        boolean rebuilt = job instanceof LayerJob.Stored;
        FormPoint point = rank == 0 ? null : als(f, rank);
        QuantizedPoints.Point bits = rank == 0 ? null : f.bitsPoint(rank);
        if (bits != null) {
            return quantizedOutcome(f, rank, bits, selection);
        }
        if (point != null) {
            LayerReport report = new LayerReport(job.name(), job.op(), job.shape(), true, null, point.layout(),
                    point.tensorization(), false, point.blocks(), point.ranksText(), job.parameters(), point.parameters(),
                    point.weightError(), point.outputError(), point.sweeps(), point.converged(), f.seconds(),
                    job.flops(0), point.flops(), List.of(), selection, rebuilt, null);
            return new Compressor.LayerOutcome(job.nodeIndex(), job.weightName(), report, point.fit(), point.rewrite(),
                    job.timed());
        }
        if (rank == 0) {
            String reason = f.smallerThanDense() == 0 ? "no rank gives a factored form smaller than the dense weight"
                    : f.maxRank() == 0 ? "no rank runs fast enough factored (the minimum speed-up)"
                    : "kept dense by the target (" + target.describe() + ")";
            return Compressor.LayerOutcome.dense(job.nodeIndex(), job.weightName(), LayerReport.dense(job.name(),
                    job.op(), job.shape(), job.parameters(), job.flops(0), reason, List.of(), f.seconds()));
        }
        LowRank curve = f.curve();
        double weightError;
        double outputError = Double.NaN;
        if (!f.whitened()) {
            weightError = curve.relativeError(rank); // Eckart-Young: the curve's error is the weight's
        } else {
            Matrix[] factors = curve.factors(rank);
            Matrix approx = factors[0].times(factors[1]);
            double diff = 0;
            double norm = 0;
            double[] w = f.weight().get().data();
            for (int i = 0; i < w.length; i++) {
                diff += (w[i] - approx.data()[i]) * (w[i] - approx.data()[i]);
                norm += w[i] * w[i];
            }
            weightError = norm == 0 ? 0 : Math.sqrt(diff / norm);
            if (!Double.isNaN(f.compensatedError())) {
                outputError = f.compensatedError(); // against the original outputs, from the compressed model's inputs
            } else {
                // tail = ||X D||^2 + delta ||D||^2 and total = ||X W||^2 + delta ||W||^2 (D = W - W^)
                double out = Math.max(0, curve.tail(rank) - f.delta() * diff);
                double total = curve.total() - f.delta() * norm;
                outputError = total <= 0 ? 0 : Math.sqrt(out / total);
            }
        }
        double seconds = f.seconds();
        double error = weightError;
        // the factors are computed when the layer is rewritten (and again only where the fit is asked for):
        // a large model's factors are never all held at once
        java.util.function.Supplier<FitResult<?>> fit = () -> new FitResult<>(curve.tensorTrain(rank),
                new double[] {error}, 0, true, error, Initialization.GREEDY, seconds, 0);
        Tensorization tz = job instanceof LayerJob.Conv ? null : LayerJob.plain(job.rows(), job.cols());
        long params = (long) rank * (job.rows() + job.cols());
        String layout = !Double.isNaN(f.compensatedError()) ? "low-rank sequential" : f.whitened() ? "low-rank whitened"
                : "low-rank";
        String tensorization = job instanceof LayerJob.Conv c ? convForm(c.layer(), rank) : job.rows() + " x " + job.cols();
        LayerReport report = new LayerReport(job.name(), job.op(), job.shape(), true, null, layout, tensorization, false,
                1, Integer.toString(rank), job.parameters(), params, weightError, outputError, 0, true, f.seconds(),
                job.flops(0), job.flops(rank), List.of(), selection, rebuilt, null);
        return new Compressor.LayerOutcome(job.nodeIndex(), job.weightName(), report,
                new Compressor.LayerFit(job.name(), tz, fit, outputError), m -> job.rewrite(curve.factors(rank)).apply(m),
                job.timed());
    }

    /** A point of the bits axis: the dense weight or the low-rank factors stored at a lower precision. */
    private Compressor.LayerOutcome quantizedOutcome(Fitted f, int id, QuantizedPoints.Point bits, String selection) {
        LayerJob job = f.job();
        Matrix w = f.weight().get();
        Matrix approx = approximation(f, id);
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < w.data().length; i++) {
            double d = w.data()[i] - approx.data()[i];
            diff += d * d;
            norm += w.data()[i] * w.data()[i];
        }
        double weightError = norm == 0 ? 0 : Math.sqrt(diff / norm);
        double outputError = Double.NaN;
        boolean sequential = !Double.isNaN(f.compensatedError());
        if (sequential) {
            outputError = bits.error(); // refitted: against the original outputs, from the compressed model's inputs
        } else if (f.whitened()) {
            // the point's error is in the damped metric: ||X D||^2 = e^2 total - delta ||D||^2
            double total = f.curve().total();
            double out = Math.max(0, bits.error() * bits.error() * total - f.delta() * diff);
            double base = total - f.delta() * norm;
            outputError = base <= 0 ? 0 : Math.sqrt(out / base);
        }
        int r = bits.rank();
        String precision = bits.precision().label(dev.blockterm.onnx.Weights.width(f.dataType()));
        String layout = r == 0 ? (sequential ? "dense sequential" : "dense") : sequential ? "low-rank sequential"
                : f.whitened() ? "low-rank whitened" : "low-rank";
        String tensorization = r == 0 ? job.shape() : job instanceof LayerJob.Conv c ? convForm(c.layer(), r)
                : job.rows() + " x " + job.cols();
        long params = r == 0 ? job.parameters() : (long) r * (job.rows() + job.cols());
        LayerReport report = new LayerReport(job.name(), job.op(), job.shape(), true, null, layout, tensorization, false,
                1, r == 0 ? "-" : Integer.toString(r), job.parameters(), params, weightError, outputError, 0, true,
                f.seconds(), job.flops(0), job.flops(r), List.of(), selection, job instanceof LayerJob.Stored, null)
                .withPrecision(precision).withBytes(f.denseBytes(), bits.bytes());
        return new Compressor.LayerOutcome(job.nodeIndex(), job.weightName(), report, null, rewrite(f, id), job.timed());
    }

    private static String convForm(ConvLayer layer, int rank) {
        return "k conv " + layer.inChannels() + "->" + rank + ", 1x1 " + rank + "->" + layer.outChannels();
    }

    String describeCurves() {
        long whitened = fitted.stream().filter(Fitted::whitened).count();
        return String.format(Locale.ROOT, "%d layers' exact low-rank curves (%d in the metric of their outputs on the "
                + "calibration inputs, %d of their weights%s; block-term layouts: %d sized, %d allowed by the unfolding "
                + "bound and fitted, %d beat the low-rank curve)", fitted.size(), whitened, fitted.size() - whitened,
                sensitivity == null ? "" : "; each scaled by its measured effect on the model's outputs",
                alsSized.get(), alsFitted.get(), alsKept.get());
    }
}
