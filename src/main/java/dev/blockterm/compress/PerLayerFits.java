package dev.blockterm.compress;

import dev.blockterm.decompose.BlockTerm;
import dev.blockterm.decompose.Decomposition;
import dev.blockterm.decompose.FitResult;
import dev.blockterm.decompose.TensorTrain;
import dev.blockterm.decompose.Format;
import dev.blockterm.onnx.ConvLayer;
import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.LinearLayer;
import dev.blockterm.onnx.ModelException;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.StoredWeight;
import dev.blockterm.onnx.Weights;
import dev.blockterm.report.Alternative;
import dev.blockterm.report.CompressionReport;
import dev.blockterm.report.LayerLatency;
import dev.blockterm.report.LayerReport;
import dev.blockterm.report.ModelQuality;
import dev.blockterm.rewrite.ConvRewriter;
import dev.blockterm.rewrite.FactoredLayer;
import dev.blockterm.rewrite.LinearRewriter;
import dev.blockterm.rewrite.RecurrentProjection;
import dev.blockterm.rewrite.WeightRebuilder;
import dev.blockterm.runtime.ActivationCapture;
import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Tensor;
import dev.blockterm.tensor.Tensorization;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import onnx.Onnx;

/**
 * The per-layer targets (explicit ranks, a layer ratio): every layer fitted alone by ALS, every
 * layout and format candidate tried and the least error kept (ranked by the layer's output error
 * with calibration inputs), with sequential calibration where asked; a convolution as the
 * 1x1 -> grouped -> 1x1 chain; a one-direction recurrent input weight moved out of its op where that
 * pays. The whole-model targets decide from exact curves instead ({@link CurveCompression}).
 */
final class PerLayerFits {

    private final Compressor compressor;
    private final CompressionOptions options;
    private final Consumer<String> progress;
    private final Calibration fitting; // the calibration rows the fits use (the held-out ones excluded), or null

    PerLayerFits(Compressor compressor, Calibration fitting) {
        this.compressor = compressor;
        this.options = compressor.options();
        this.progress = compressor.progress();
        this.fitting = fitting;
    }

    /** Per-layer targets: every layer fitted alone, every layout tried (and sequential calibration where asked). */
    List<Compressor.LayerOutcome> fit(Onnx.ModelProto model, List<LinearLayer> layers, List<ConvLayer> convs,
                           List<StoredWeight> stored, Map<String, Onnx.TensorProto> inits) {
        List<LinearLayer> calibrated = layers.stream()
                .filter(l -> compressor.skipReason(l.name(), l.parameters(), l.skipReason()) == null).toList();
        if (fitting != null) {
            // with --sequential the fully connected layers are captured one at a time below; convolutions (whose
            // per-layer fits refit only their last factor) from the original model, here, either way
            progress.accept("accumulating the layers' input covariances on the calibration data");
            fitting.capture(model, options.sequential() ? List.of() : calibrated, convs.stream()
                    .filter(c -> compressor.skipReason(c.name(), c.parameters(), c.skipReason()) == null).toList());
        }
        List<Callable<Compressor.LayerOutcome>> tasks = new ArrayList<>();
        List<Compressor.LayerOutcome> sequential = new ArrayList<>();
        if (fitting != null && options.sequential()) {
            // each layer's inputs come from the model with the layers before it already compressed
            Map<Integer, LinearRewriter.Replacement> done = new HashMap<>();
            Set<String> doneWeights = new HashSet<>();
            for (LinearLayer layer : layers) {
                if (calibrated.contains(layer)) {
                    progress.accept("capturing the inputs of " + layer.name() + " from the model compressed so far");
                    fitting.capture(model, Assembly.rebuild(model, done, doneWeights, Set.of()), List.of(layer), List.of());
                }
                Compressor.LayerOutcome o = fitLayer(layer, inits.get(layer.weightName()));
                if (o.report().compressed()) {
                    done.put(o.nodeIndex(), o.rewrite().apply(model));
                    doneWeights.add(o.weightName());
                }
                sequential.add(o);
            }
        } else {
            for (LinearLayer layer : layers) {
                tasks.add(() -> fitLayer(layer, inits.get(layer.weightName())));
            }
        }
        for (ConvLayer layer : convs) {
            tasks.add(() -> fitConv(layer, inits.get(layer.weightName())));
        }
        for (int i = 0; i < stored.size(); i++) {
            StoredWeight weight = stored.get(i);
            int index = -1 - i; // rebuilt weights are computed before every node
            tasks.add(() -> fitStored(weight, inits.get(weight.name()), index));
        }
        List<Compressor.LayerOutcome> outcomes = new ArrayList<>(Parallel.run(tasks, options.threads()));
        outcomes.addAll(sequential);
        return outcomes;
    }

    private Compressor.LayerOutcome fitLayer(LinearLayer layer, Onnx.TensorProto weight) {
        double flopsBefore = 2.0 * layer.parameters();
        String skip = compressor.skipReason(layer.name(), layer.parameters(), layer.skipReason());
        if (skip != null) {
            return Compressor.LayerOutcome.dense(layer.nodeIndex(), layer.weightName(), LayerReport.dense(layer.name(), layer.op(),
                    layer.weightShape(), layer.parameters(), flopsBefore, skip, List.of(), 0));
        }
        Choice choice = choose(layer, Graphs.weightMatrix(layer, weight), false);
        if (choice.attempt().best() == null) {
            return Compressor.LayerOutcome.dense(layer.nodeIndex(), layer.weightName(), LayerReport.dense(layer.name(), layer.op(),
                    layer.weightShape(), layer.parameters(), flopsBefore, choice.denseReason(), choice.tried(),
                    choice.seconds()));
        }
        Compressor.LayerFit chosen = choice.attempt().best();
        LayerReport report = choice.report(layer.name(), layer.op(), layer.weightShape(), layer.parameters(), flopsBefore,
                choice.attempt().plan().flopsPerSample(), false);
        return new Compressor.LayerOutcome(layer.nodeIndex(), layer.weightName(), report, chosen,
                m -> LinearRewriter.rewrite(m, layer, chosen.tensorization(), chosen.fit().model(), options.expectedBatch()),
                new Compressor.Timed(layer, null));
    }

    /**
     * A weight stored factored and rebuilt at load: fitted as the matrix {@code rows x cols}; only
     * the parameter count decides.
     */
    private Compressor.LayerOutcome fitStored(StoredWeight weight, Onnx.TensorProto tensor, int index) {
        String op = weight.label();
        String skip = compressor.skipReason(weight.name(), weight.parameters(), weight.skipReason());
        if (skip != null) {
            return Compressor.LayerOutcome.dense(index, weight.name(), LayerReport.dense(weight.name(), op, weight.shape(),
                    weight.parameters(), 0, skip, List.of(), 0));
        }
        if (weight.inputWeight() && weight.dims()[0] == 1) {
            Compressor.LayerOutcome projected = fitProjection(weight, tensor, op);
            if (projected != null) {
                return projected;
            }
        }
        Choice choice = choose(matrix(weight, index), Weights.values(tensor), true);
        if (choice.attempt().best() == null) {
            return Compressor.LayerOutcome.dense(index, weight.name(), LayerReport.dense(weight.name(), op, weight.shape(),
                    weight.parameters(), 0, choice.denseReason(), choice.tried(), choice.seconds()));
        }
        Compressor.LayerFit chosen = choice.attempt().best();
        LayerReport report = choice.report(weight.name(), op, weight.shape(), weight.parameters(), 0, 0, true);
        return new Compressor.LayerOutcome(index, weight.name(), report, chosen, m -> WeightRebuilder.rewrite(m, weight,
                chosen.tensorization(), chosen.fit().model(), tensor.getDataType()));
    }

    /**
     * A one-direction recurrent input weight {@code W} ({@code GH x I}) whose projection
     * {@code X W^T} is cheaper factored than dense, identity weight counted: moved out of the op and
     * run factored (see {@link dev.blockterm.rewrite.RecurrentProjection}); null where that does not pay.
     */
    private Compressor.LayerOutcome fitProjection(StoredWeight weight, Onnx.TensorProto tensor, String op) {
        int gh = (int) weight.dims()[1];
        int in = (int) weight.dims()[2];
        double[] w = Weights.values(tensor); // GH x I
        double[] transposed = new double[w.length];
        for (int r = 0; r < gh; r++) {
            for (int c = 0; c < in; c++) {
                transposed[c * gh + r] = w[r * in + c];
            }
        }
        LinearLayer projection = new LinearLayer(weight.node(), weight.name(), op, weight.name(), in, gh, false, null);
        long identityParams = (long) gh * gh;
        double identityFlops = 2.0 * gh * gh;
        Choice choice = choose(projection, transposed, false, identityParams, identityFlops);
        if (choice.attempt().best() == null) {
            return null;
        }
        Compressor.LayerFit chosen = choice.attempt().best();
        String note = "input projection X W^T moved out of the op and run factored; the op reads it with an identity W ("
                + gh + "x" + gh + ", counted)" + (choice.selection() == null ? "" : "; " + choice.selection());
        Choice noted = new Choice(choice.attempt(), note, choice.tried(), choice.seconds());
        LayerReport base = noted.report(weight.name(), op, weight.shape(), weight.parameters(), 2.0 * gh * in,
                choice.attempt().plan().flopsPerSample() + identityFlops, false);
        LayerReport report = new LayerReport(base.name(), base.op(), base.weightShape(), true, null, base.layout(),
                base.tensorization(), base.padded(), base.blocks(), base.ranks(), base.paramsBefore(),
                base.paramsAfter() + identityParams, base.relativeError(), base.outputError(), base.sweeps(),
                base.converged(), base.seconds(), base.flopsBefore(), base.flopsAfter(), base.alternatives(),
                base.selection(), false, null);
        return new Compressor.LayerOutcome(weight.node(), weight.name(), report, chosen, m -> RecurrentProjection.rewrite(m,
                projection, chosen.tensorization(), chosen.fit().model(), tensor.getDataType(), options.expectedBatch()));
    }

    /** A stored weight as the matrix it is fitted as. */
    static LinearLayer matrix(StoredWeight weight, int index) {
        return new LinearLayer(index, weight.name(), weight.label(), weight.name(), weight.rows(), weight.cols(), false,
                null);
    }

    /** The chosen candidate for a weight matrix, or why none was. */
    record Choice(LinearFitter.Attempt attempt, String selection, List<Alternative> tried, double seconds) {

        String denseReason() {
            String refusal = attempt.refusal();
            if (refusal == null) {
                return "no candidate";
            }
            if (refusal.startsWith("no ")) {
                return refusal;
            }
            return tried.size() <= 1 ? "factored form is " + refusal
                    : "no candidate is both smaller and cheaper to run (the first is " + refusal + ")";
        }

        LayerReport report(String name, String op, String shape, long params, double flopsBefore, double flopsAfter,
                           boolean rebuilt) {
            Compressor.LayerFit chosen = attempt.best();
            Tensorization tz = chosen.tensorization();
            FitResult<?> fit = chosen.fit();
            return new LayerReport(name, op, shape, true, null,
                    attempt.chosen().format().label() + " " + tz.layout().label(), tz.describe(), tz.padded(),
                    attempt.chosen().blocks(), fit.model().ranksText(), params, fit.model().parameters(),
                    fit.relativeError(), chosen.outputError(), fit.sweeps(), fit.converged(), seconds, flopsBefore, flopsAfter, tried,
                    selection, rebuilt, null);
        }
    }

    /** The layer's calibration input covariance, or null (stored weights are always fitted to the weights). */
    private dev.blockterm.tensor.Matrix calibrationOf(LinearLayer layer, boolean rebuilt) {
        return fitting == null || rebuilt ? null : fitting.gram(layer.name());
    }

    /** Fits the candidates that the options ask for: explicit ranks, --ratio, or --max-error. */
    private Choice choose(LinearLayer layer, double[] w, boolean rebuilt) {
        return choose(layer, w, rebuilt, 0, 0);
    }

    private Choice choose(LinearLayer layer, double[] w, boolean rebuilt, long overheadParams, double overheadFlops) {
        long started = System.nanoTime();
        LinearFitter fitter = new LinearFitter(layer, w, options, progress, rebuilt, calibrationOf(layer, rebuilt))
                .withOverhead(overheadParams, overheadFlops);
        LinearFitter.Attempt attempt;
        String selection = null;
        List<Alternative> tried = new ArrayList<>();
        try {
            if (options.target() instanceof Target.LayerRatio layerRatio) {
                long budget = (long) Math.floor(layer.parameters() / layerRatio.ratio());
                attempt = fitter.fit(Candidates.forBudget(layer.name(), layer.inputSize(), layer.outputSize(), options,
                        budget));
                tried.addAll(attempt.tried());
                selection = String.format(Locale.ROOT, "--layer-ratio %.4g: the least error of %d candidates with at most "
                        + "%d parameters", layerRatio.ratio(), attempt.tried().size(), budget);
                if (attempt.tried().isEmpty()) {
                    attempt = new LinearFitter.Attempt(null, null, null, List.of(), "no factored form fits "
                            + budget + " parameters (--layer-ratio " + layerRatio.ratio() + ")");
                }
            } else {
                attempt = fitter.fit(Candidates.of(layer.name(), layer.inputSize(), layer.outputSize(), options));
                tried.addAll(attempt.tried());
            }
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("layer " + layer.name() + ": " + e.getMessage(), e);
        }
        return new Choice(attempt, selection, tried, (System.nanoTime() - started) / 1e9);
    }

    /**
     * A Conv: one block term of the kernel read as {@code C_out x C_in x K}, ranks
     * {@code (R_out, R_in, min(K, R_out R_in))}, the spatial factor folded into the core.
     */
    private Compressor.LayerOutcome fitConv(ConvLayer layer, Onnx.TensorProto weight) {
        double flopsBefore = layer.flopsPerPosition();
        String skip = compressor.skipReason(layer.name(), layer.parameters(), layer.skipReason());
        if (skip != null) {
            return Compressor.LayerOutcome.dense(layer.nodeIndex(), layer.weightName(), LayerReport.dense(layer.name(), "Conv",
                    layer.weightShape(), layer.parameters(), flopsBefore, skip, List.of(), 0));
        }
        long started = System.nanoTime();
        ConvFitter fitter = new ConvFitter(layer, options);
        Tensor kernel = ConvRewriter.tensorize(layer, Weights.values(weight));
        String tensorization = layer.outChannels() + " x " + layer.inChannels() + " x "
                + java.util.Arrays.stream(layer.kernel()).mapToObj(Integer::toString)
                        .collect(java.util.stream.Collectors.joining("*"));
        String format = options.format() == Format.TT ? "bt" : options.format().label();
        List<ConvFitter.Setting> settings = new ArrayList<>();
        String selection = options.format() == Format.TT ? "TT has no three-convolution form: fitted as bt" : null;
        try {
            if (options.target() instanceof Target.LayerRatio layerRatio) {
                ConvFitter.Setting s = fitter.largestUnder((long) Math.floor(layer.parameters() / layerRatio.ratio()));
                if (s != null) {
                    settings.add(s);
                }
            } else {
                settings.add(fitter.explicit());
            }
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("layer " + layer.name() + ": " + e.getMessage(), e);
        }
        List<Alternative> tried = new ArrayList<>();
        String refusal = settings.isEmpty() ? "no setting fits the target (" + options.target().describe() + ")" : null;
        for (ConvFitter.Setting s : settings) {
            long params = s.parameters(layer);
            double flopsAfter = s.flops(layer);
            String why = null;
            if (params >= layer.parameters()) {
                why = "not smaller (" + params + " >= " + layer.parameters() + " parameters)";
            } else if (flopsAfter >= flopsBefore) {
                why = String.format(Locale.ROOT, "not cheaper to run (%.0f >= %.0f FLOPs/position)", flopsAfter,
                        flopsBefore);
            }
            if (why != null && !options.force()) {
                tried.add(new Alternative(format + " conv", tensorization, s.blocks(), s.ranksText(), params, flopsAfter,
                        Double.NaN, Double.NaN, "not fitted: " + why));
                refusal = refusal == null ? "factored form is " + why : refusal;
                continue;
            }
            progress.accept("fitting " + layer.name() + " (" + layer.weightShape() + ") as 1x1 -> grouped -> 1x1 "
                    + "convolutions, N=" + s.blocks() + ", ranks " + java.util.Arrays.toString(s.ranks()));
            FitResult<BlockTerm> fit = fitter.fit(kernel, s);
            Matrix gram = fitting == null ? null : fitting.gram(layer.name());
            double outputError = Double.NaN;
            String layout = format + " conv";
            if (gram != null) {
                // the last 1x1 convolution refitted exactly to the outputs on the calibration inputs
                Matrix w = ConvRewriter.lowRankMatrix(layer, kernel.data());
                BlockTerm refitted = ConvForms.refitLast(fit.model(), w,
                        dev.blockterm.decompose.Whitening.damped(gram, dev.blockterm.decompose.Whitening.DEFAULT_DAMPING),
                        layer);
                Matrix approx = ConvRewriter.lowRankMatrix(layer, refitted.reconstruct().data());
                Matrix diff = w.plus(approx.scale(-1));
                double weightError = diff.frobeniusNorm() / w.frobeniusNorm();
                double total = dev.blockterm.decompose.Whitening.outputNorm(gram, w);
                outputError = total == 0 ? 0 : dev.blockterm.decompose.Whitening.outputNorm(gram, diff) / total;
                fit = new FitResult<>(refitted, fit.errors(), fit.sweeps(), fit.converged(), weightError, fit.init(),
                        fit.seconds(), fit.sweepSeconds());
                layout = format + " conv refitted";
            }
            tried.add(new Alternative(layout, tensorization, s.blocks(), s.ranksText(), params, flopsAfter,
                    fit.relativeError(), outputError, ""));
            if (options.target() instanceof Target.LayerRatio layerRatio) {
                selection = String.format(Locale.ROOT, "--layer-ratio %.4g: the most parameters within the budget",
                        layerRatio.ratio());
            }
            LayerReport report = new LayerReport(layer.name(), "Conv", layer.weightShape(), true, null, layout,
                    tensorization, false, s.blocks(), s.ranksText(), layer.parameters(), params, fit.relativeError(),
                    outputError, fit.sweeps(), fit.converged(), (System.nanoTime() - started) / 1e9, flopsBefore, flopsAfter, tried,
                    selection, false, null);
            FitResult<BlockTerm> chosen = fit;
            return new Compressor.LayerOutcome(layer.nodeIndex(), layer.weightName(), report,
                    new Compressor.LayerFit(layer.name(), null, chosen, outputError),
                    m -> ConvRewriter.rewrite(m, layer, chosen.model()), new Compressor.Timed(null, layer));
        }
        return Compressor.LayerOutcome.dense(layer.nodeIndex(), layer.weightName(), LayerReport.dense(layer.name(), "Conv",
                layer.weightShape(), layer.parameters(), flopsBefore, refusal, tried, (System.nanoTime() - started) / 1e9));
    }
}
