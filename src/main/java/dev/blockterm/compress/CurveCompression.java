package dev.blockterm.compress;

import dev.blockterm.decompose.LowRank;
import dev.blockterm.onnx.ConvLayer;
import dev.blockterm.onnx.LinearLayer;
import dev.blockterm.onnx.StoredWeight;
import dev.blockterm.onnx.Weights;
import dev.blockterm.report.LayerReport;
import dev.blockterm.tensor.Matrix;
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

    private final Compressor compressor;
    private final Target target;
    private final Map<String, Onnx.TensorProto> inits;
    private List<LayerForms> fitted;
    private double[] sensitivity; // measured: model output error per unit of the layer's own error; null: not measured
    private final List<Compressor.LayerOutcome> skippedOutcomes = new ArrayList<>();
    /**
     * Whether the allocation counts bytes (and offers the lower precisions) or parameters (a parameter
     * budget: float points only).
     */
    private final boolean inBytes;
    /** The forms the allocation may choose among. */
    private final CurveFormat format;
    /** The verdicts measured before {@code --sequential} refitted the chosen points; null without it. */
    private String[] verdicts;
    /** The block-term points fitted beside the curves (and what was tried, for the summary). */
    private final BlockTermPoints blockTerms;
    private final boolean blockTermsTried;

    CurveCompression(Compressor compressor, Target target, List<LinearLayer> layers, List<ConvLayer> convs,
                     List<StoredWeight> stored, List<dev.blockterm.onnx.EmbeddingTable> tables,
                     Map<String, Onnx.TensorProto> inits, Calibration calibration, java.nio.file.Path staging) {
        this.compressor = compressor;
        this.target = target;
        this.inits = inits;
        this.inBytes = target.wholeModel() && !(target instanceof Target.Budget);
        this.format = compressor.options().curveFormat();
        CompressionOptions options = compressor.options();
        this.blockTerms = new BlockTermPoints(options, options.curveFormat().fitted(),
                !options.curveFormat().allows(Form.Family.LOW_RANK), compressor.progress());
        List<LayerJob> jobs = new ArrayList<>();
        for (LinearLayer l : layers) {
            add(jobs, new LayerJob.Linear(l, options.expectedBatch()), l.skipReason(), 2.0 * l.parameters());
        }
        for (ConvLayer c : convs) {
            // a grouped convolution has no factored form here, but where bytes are counted its kernel has its bits
            boolean bitsOnly = c.grouped() && c.storable() && inBytes
                    && !QuantizedPoints.lower(options.bits(), inits.get(c.weightName()).getDataType()).isEmpty();
            add(jobs, new LayerJob.Conv(c), bitsOnly ? null : c.skipReason(), c.flopsPerPosition());
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
                    covariance(job, calibration), FittedLayer.smallerThanDense(job.rows(), job.cols()), staging.toString()));
        }
        List<CurveFit> curves = compressor.runner().run(tasks, compressor.progress());
        List<Callable<LayerForms>> others = new ArrayList<>();
        for (int i = 0; i < jobs.size(); i++) {
            LayerJob job = jobs.get(i);
            CurveFit fit = curves.get(i);
            CurveTask.Covariance covariance = tasks.get(i).covariance();
            Matrix gram = covariance instanceof CurveTask.Held h ? h.gram() : null;
            LayerMetric metric = covariance instanceof CurveTask.Diagonal d ? new LayerMetric.Rows(d.counts(), fit.delta())
                    : gram != null ? new LayerMetric.Gram(gram, fit.delta()) : new LayerMetric.Plain();
            others.add(() -> fitted(job, fit, gram, metric));
        }
        List<LayerForms> forms = Parallel.run(others, options.threads());
        // block terms after the curves, as what was tried on one layer of a shape decides what the others try
        this.blockTermsTried = options.minSpeedup() == 0 && options.curveFormat().fitsBlockTerms();
        this.fitted = blockTermsTried ? blockTerms.attach(forms, options.threads()) : forms;
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

    /** A layer's curve as fitted, with its bits axis and a convolution's other forms. */
    private LayerForms fitted(LayerJob job, CurveFit fit, Matrix gram, LayerMetric metric) {
        long started = System.nanoTime();
        Onnx.TensorProto tensor = inits.get(job.weightName());
        java.util.function.Supplier<Matrix> weight = () -> job.matrix(tensor);
        LowRank curve = fit.curve(job.rows(), job.cols(), weight);
        CompressionOptions options = compressor.options();
        boolean grouped = job instanceof LayerJob.Conv g && g.layer().grouped(); // its bits only
        boolean lowRank = !grouped && (!(job instanceof LayerJob.Conv) || options.convForms().contains(ConvForm.CHANNEL));
        List<FormPoint> others = List.of(); // with a minimum speed-up only the curve, which is timed
        if (options.minSpeedup() == 0 && !grouped && job instanceof LayerJob.Conv c) {
            others = ConvForms.points(c, weight.get(), gram, options, compressor.progress());
        }
        List<dev.blockterm.quantize.Precision> lower = QuantizedPoints.lower(options.bits(), tensor.getDataType());
        List<QuantizedPoints.Point> bits = List.of();
        if (!lower.isEmpty() && inBytes) {
            int offered = lowRank ? Math.min(FittedLayer.smallerThanDense(job.rows(), job.cols()), curve.kept()) : 0;
            compressor.progress().accept("measuring " + job.name() + " at " + dev.blockterm.quantize.Precision.text(
                    java.util.EnumSet.copyOf(lower)) + " bits, dense and factored");
            bits = QuantizedPoints.of(weight.get(), tensor.getDataType(), curve, offered, metric, lower, job.rowScales());
        }
        double seconds = fit.seconds() + (System.nanoTime() - started) / 1e9;
        FittedLayer layer = new FittedLayer(job, weight, curve, fit.whitened(), metric, fit.delta(), seconds,
                tensor.getDataType(), Double.NaN);
        return new LayerForms(layer, List.of(new LowRankForm(layer, lowRank ? layer.smallerThanDense() : 0),
                new FittedForms(layer, others), new BitsForm(layer, bits)));
    }

    /**
     * Speed as a constraint before the choice: each layer that runs factored offers only the ranks at
     * which {@code timer} finds it at least {@code minSpeedup} times faster than dense (bisection over
     * the rank: a higher rank is never faster). Weights rebuilt at load are not timed.
     */
    void limitBySpeed(double minSpeedup, Function<Compressor.LayerOutcome, dev.blockterm.report.LayerLatency> timer) {
        List<LayerForms> limited = new ArrayList<>();
        for (LayerForms f : fitted) {
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
                        job.weightName(), null, null, job.rewrite(f.layer().curve().factors(mid)), job.timed()));
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

    /**
     * Sequential compensation (SVD-LLM's update, for {@code --sequential}): with the points chosen, the
     * layers are refitted in graph order ({@link Sequential}), each to the original model's outputs from
     * the inputs the model compressed up to it gives.
     */
    void compensate(int[] ids, Onnx.ModelProto model, Calibration calibration) {
        verdicts = verdicts(ids); // in the layers' own metric, before the refit changes the chosen points' errors
        fitted = new Sequential(fitted, compressor.progress()).refit(ids, model, calibration, this::replacements);
    }

    /**
     * The allocation over every selected layer's points (squared relative errors in each layer's metric,
     * scaled by its measured sensitivity), sized in bytes (every float point at the weight's own width,
     * the lower precisions beside them) or, for a parameter budget, in parameters.
     */
    Allocation allocation() {
        List<Allocation.Curve> curves = new ArrayList<>();
        for (int i = 0; i < fitted.size(); i++) {
            curves.add(fitted.get(i).curve(sensitivity == null ? 1 : sensitivity[i], inBytes, format));
        }
        return new Allocation(curves);
    }

    /** The selected layers with their forms, in the order of the allocation's curves. */
    List<LayerForms> layers() {
        return List.copyOf(fitted);
    }

    /** What the allocation counts: "bytes" or "parameters". */
    String unit() {
        return inBytes ? "bytes" : "parameters";
    }

    /** Each layer's id of its dense weight stored at {@code p} (0 where it has none): the int8-alone reference. */
    int[] denseAt(dev.blockterm.quantize.Precision p) {
        int[] ids = new int[fitted.size()];
        for (int i = 0; i < ids.length; i++) {
            LayerForms f = fitted.get(i);
            for (int k = 0; k < f.forms().size(); k++) {
                if (f.forms().get(k) instanceof BitsForm b && b.dense(p) >= 0) {
                    ids[i] = f.id(k, b.dense(p));
                }
            }
        }
        return ids;
    }

    /** The bytes of the selected layers' weights as the model stores them. */
    long selectedBytes() {
        long b = 0;
        for (LayerForms f : fitted) {
            b += f.layer().denseBytes();
        }
        return b;
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
        int[] ids = new int[fitted.size()];
        for (int i = 0; i < fitted.size(); i++) {
            LayerForms f = fitted.get(i);
            s[i] = 1;
            int probe = probePoint(f);
            if (probe == 0) {
                continue;
            }
            LayerForms.At at = f.at(probe);
            double own = at.form().error(at.point());
            ids[i] = probe;
            double model = feeds.worstError(weights(ids));
            ids[i] = 0;
            s[i] = Math.max(model / own, 1e-6);
            compressor.progress().accept(String.format(Locale.ROOT, "sensitivity of %s: output error %.4g at its error "
                    + "%.4g (%s)", f.job().name(), model, own, f.rankOf(probe) > 0 ? "rank " + f.rankOf(probe)
                    : at.form() instanceof BitsForm b ? "dense at " + b.stored().get(at.point()).precision().bits()
                    + " bits" : "its most lossy form"));
        }
        sensitivity = s;
    }

    /**
     * The point a layer's sensitivity is probed at: on its low-rank curve the first rank whose error is at
     * most {@link #PROBE_ERROR}; a layer without one (its bits only) at its most lossy point; 0 where no
     * point has an error.
     */
    private static int probePoint(LayerForms f) {
        if (f.maxRank() > 0) {
            LowRank curve = f.layer().curve();
            int probe = f.maxRank();
            for (int r = 1; r <= f.maxRank(); r++) {
                if (curve.relativeError(r) <= PROBE_ERROR) {
                    probe = r;
                    break;
                }
            }
            return curve.relativeError(probe) > 0 ? f.lowRankId(probe) : 0;
        }
        int worst = 0;
        double error = 0;
        for (int id = 1; id <= f.points(); id++) {
            LayerForms.At at = f.at(id);
            if (at.form().error(at.point()) > error) {
                error = at.form().error(at.point());
                worst = id;
            }
        }
        return worst;
    }

    /** The names of the selected layers' weights (the inputs of a weight-feeding probe). */
    java.util.Set<String> weightNames() {
        java.util.Set<String> names = new java.util.HashSet<>();
        for (LayerForms f : fitted) {
            names.add(f.job().weightName());
        }
        return names;
    }

    /**
     * The selected weights that these points change, as stored in the model (dims and layout of the
     * initializer): the dense weight each chosen point computes (id 0, the original, is left out).
     */
    Map<String, dev.blockterm.runtime.NpyArray> weights(int[] ids) {
        Map<String, dev.blockterm.runtime.NpyArray> out = new java.util.HashMap<>();
        for (int i = 0; i < fitted.size(); i++) {
            if (ids[i] == 0) {
                continue;
            }
            LayerForms f = fitted.get(i);
            LayerJob job = f.job();
            LayerForms.At at = f.at(ids[i]);
            Matrix m = at.form().approximation(at.point());
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
        for (LayerForms f : fitted) {
            p += f.job().parameters();
        }
        return p;
    }

    /**
     * Per layer: the smallest point (in parameters) of the forms the format allows whose relative error (in
     * the layer's metric) is at most {@code error}; 0: none.
     */
    int[] ranksWithin(double error) {
        int[] ids = new int[fitted.size()];
        for (int i = 0; i < ids.length; i++) {
            Allocation.Curve c = fitted.get(i).curve(1, false, format);
            long best = Long.MAX_VALUE;
            for (int k = 0; k < c.ranks().length; k++) {
                if (c.errors()[k] <= error * error && c.sizes()[k] < best) {
                    best = c.sizes()[k];
                    ids[i] = c.ranks()[k];
                }
            }
        }
        return ids;
    }

    /** The outcome of every layer at these points (0: dense), the skipped layers included. */
    List<Compressor.LayerOutcome> outcomes(int[] ids, String selection) {
        List<Compressor.LayerOutcome> out = new ArrayList<>(skippedOutcomes);
        String[] said = verdicts != null ? verdicts : verdicts(ids);
        for (int i = 0; i < fitted.size(); i++) {
            LayerForms f = fitted.get(i);
            String verdict = selection != null ? null : said[i];
            out.add(f.outcome(ids[i], selection != null ? selection : verdict == null ? null
                    : "the allocation; " + verdict, target, format));
        }
        return out;
    }

    /** Each layer's verdict at its point (null: dense, or no block-term point to compare). */
    private String[] verdicts(int[] ids) {
        String[] out = new String[fitted.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ids[i] == 0 ? null : fitted.get(i).verdict(ids[i], inBytes);
        }
        return out;
    }

    /** The outcomes that replace layers, without reports: for assembling a candidate model quickly. */
    List<Compressor.LayerOutcome> replacements(int[] ids) {
        List<Compressor.LayerOutcome> out = new ArrayList<>();
        for (int i = 0; i < fitted.size(); i++) {
            if (ids[i] > 0) {
                LayerForms f = fitted.get(i);
                LayerJob job = f.job();
                LayerForms.At at = f.at(ids[i]);
                out.add(new Compressor.LayerOutcome(job.nodeIndex(), job.weightName(), null, null,
                        at.form().rewrite(at.point()), null));
            }
        }
        return out;
    }

    /** How many layers each family won at these points, in words. */
    String chosenFamilies(int[] ids) {
        java.util.Map<Form.Family, Integer> counts = new java.util.EnumMap<>(Form.Family.class);
        for (int i = 0; i < fitted.size(); i++) {
            if (ids[i] != 0) {
                counts.merge(fitted.get(i).family(ids[i]), 1, Integer::sum);
            }
        }
        List<String> parts = new ArrayList<>();
        counts.forEach((f, n) -> parts.add(n + " " + switch (f) {
            case LOW_RANK -> "low-rank";
            case BLOCK_TERM -> "block-term";
            case SPATIAL -> "spatial SVD";
            case DENSE -> "dense at a lower precision";
        }));
        return parts.isEmpty() ? "no layer compressed" : "layers by form: " + String.join(", ", parts);
    }

    String describeCurves() {
        long whitened = fitted.stream().filter(f -> f.layer().whitened()).count();
        return String.format(Locale.ROOT, "%d layers' exact low-rank curves (%d in the metric of their outputs on the "
                + "calibration inputs, %d of their weights%s; %s)", fitted.size(), whitened, fitted.size() - whitened,
                sensitivity == null ? "" : "; each scaled by its measured effect on the model's outputs",
                blockTermsTried ? blockTerms.describe() : "no block terms tried");
    }
}
