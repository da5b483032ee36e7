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

/** Compresses every eligible fully connected layer of a model. */
public final class Compressor {

    public static final String VERSION = "0.1.0";
    /** The oldest default-domain opset whose models are rewritten. */
    public static final long MIN_OPSET = 7;
    public static final String META_VERSION = "blockterm.version";
    public static final String META_OPTIONS = "blockterm.options";
    public static final String META_REPORT = "blockterm.report";
    public static final String META_TABLE = "blockterm.table";

    /**
     * The compressed model and what was done.
     *
     * @param rewritten the compressed layers that run factored (fully connected and convolutions) and
     *                  what replaced them, to time them alone
     */
    public record Result(Onnx.ModelProto model, CompressionReport report, Map<String, LayerFit> fits,
                         List<FactoredLayer> factored, List<Rewritten> rewritten) {
    }

    /**
     * A layer (node {@code nodeIndex} of {@code model}, the input model as the compressor read it,
     * constants lifted), its input's shape (found when first asked: a convolution's takes a run of
     * the model), and the nodes that replaced it.
     */
    public record Rewritten(String name, Onnx.ModelProto model, int nodeIndex, Supplier<LatencyCheck.InputShape> input,
                            LinearRewriter.Replacement replacement) {

        /** The layer timed alone, dense against factored (see {@link LatencyCheck}); null where it cannot be. */
        public LayerLatency time(long batch, int threads) {
            LatencyCheck.InputShape shape = input.get();
            return shape == null ? null
                    : LatencyCheck.time(model, nodeIndex, replacement, shape.at(batch), batch, threads);
        }
    }

    /**
     * A layer's chosen fit; the tensorization is null for a Conv (its kernel is read as C_out x C_in x K);
     * the output error on the calibration inputs is NaN without them.
     */
    public record LayerFit(String layer, Tensorization tensorization, FitResult<?> fit, double outputError) {
    }

    private final CompressionOptions options;
    private final Consumer<String> progress;
    private final Calibration calibration;
    private Calibration fittingData; // the calibration rows the per-layer fits use (the held-out ones excluded)

    public Compressor(CompressionOptions options, Consumer<String> progress) {
        this(options, progress, null);
    }

    /** @param calibration calibration data for output-aware fitting of the fully connected layers, or null */
    public Compressor(CompressionOptions options, Consumer<String> progress, Calibration calibration) {
        this.options = options;
        this.progress = progress;
        this.calibration = calibration;
    }

    /**
     * What every layer gets, decided (and fitted) exactly as {@link #compress} decides, without
     * writing a model: the source of {@code inspect}'s plan, so that it shows what {@code compress} does.
     *
     * @param model      the input with constants lifted: the model the outcomes index
     * @param target     the target, the default resolved
     * @param searched   how the whole-model decision was reached, in words (null for per-layer targets)
     * @param probe      the inputs the written model is measured on, or null where it cannot be run
     */
    record Plan(Onnx.ModelProto model, List<LayerOutcome> outcomes, Target target, String searched, QualityProbe probe,
                Map<String, Onnx.TensorProto> inits, List<String> inSubgraphs) {
    }

    /** The layers' reports as {@link #compress} would give them (fitting included, no latency, no model written). */
    public List<LayerReport> plan(Onnx.ModelProto input, String modelName) {
        return decideAll(input, modelName).outcomes().stream().map(LayerOutcome::report).toList();
    }

    Plan decideAll(Onnx.ModelProto input, String modelName) {
        Onnx.ModelProto model = Graphs.liftConstants(input); // weights in Constant nodes become initializers
        List<LinearLayer> layers = Graphs.linearLayers(model.getGraph());
        List<ConvLayer> convs = Graphs.convLayers(model.getGraph());
        List<StoredWeight> stored = Graphs.storedWeights(model.getGraph(), options.weights());
        List<String> inSubgraphs = Graphs.subgraphLayers(model.getGraph());
        if (layers.isEmpty() && convs.isEmpty() && stored.isEmpty()) {
            throw new ModelException(modelName + ": nothing to compress (no Gemm or MatMul with a constant 2-D weight, "
                    + "no Conv with a constant kernel, no recurrent or --weights initializer"
                    + (inSubgraphs.isEmpty() ? "" : "; " + inSubgraphs.size() + " layer(s) inside subgraphs, not rewritten")
                    + ")");
        }
        if (options.layers() != null) {
            java.util.stream.Stream<String> names = java.util.stream.Stream.of(layers.stream().map(LinearLayer::name),
                    convs.stream().map(ConvLayer::name), stored.stream().map(StoredWeight::name)).flatMap(x -> x);
            if (names.noneMatch(n -> options.layers().matcher(n).find())) {
                throw new ModelException(modelName + ": --layers " + options.layers().pattern() + " matches none of its "
                        + (layers.size() + convs.size() + stored.size()) + " candidate layers (inspect lists them)");
            }
        }
        long opset = Graphs.opset(model);
        if (opset < MIN_OPSET) {
            throw new ModelException(modelName + ": opset " + opset + " is older than " + MIN_OPSET
                    + ", the oldest this tool writes (Reshape took its shape as an attribute before opset 5)");
        }
        Map<String, Onnx.TensorProto> inits = Graphs.initializers(model.getGraph());
        Target target = options.target().resolve(calibration != null);
        Calibration fitting = calibration == null ? null : calibration.fitting();
        QualityProbe probe = probe(input, calibration);
        String searched = null;
        List<LayerOutcome> outcomes;
        if (target.usesCurves()) {
            if (options.sequential()) {
                throw new IllegalArgumentException("sequential calibration applies to the per-layer targets (a layer "
                        + "ratio, explicit ranks), not to " + target.describe());
            }
            List<LinearLayer> calibrated = layers.stream()
                    .filter(l -> skipReason(l.name(), l.parameters(), l.skipReason()) == null).toList();
            if (fitting != null) {
                progress.accept("capturing the layers' inputs on the calibration data");
                fitting.capture(model, calibrated);
            }
            CurveCompression curves = new CurveCompression(this, target, layers, convs, stored, inits, fitting);
            if (options.minSpeedup() > 0) {
                Map<String, long[]> shapes = new HashMap<>();
                curves.limitBySpeed(options.minSpeedup(), o -> new Rewritten("", model, o.nodeIndex(),
                        () -> inputShape(model, o.timed(), shapes), o.rewrite().apply(model))
                        .time(options.expectedBatch(), LatencyCheck.THREADS));
            }
            Decision decision = decide(curves, target, model, probe);
            // the decision is the model's, said once under the table, not on every row
            outcomes = curves.outcomes(decision.ranks(), target instanceof Target.MaxError ? decision.selection() : null);
            searched = decision.selection();
        } else {
            outcomes = fitEachLayer(model, layers, convs, stored, inits, fitting);
        }
        outcomes.sort(java.util.Comparator.comparingInt(o -> o.nodeIndex() < 0 ? Integer.MAX_VALUE + o.nodeIndex()
                : o.nodeIndex()));
        return new Plan(model, outcomes, target, searched, probe, inits, inSubgraphs);
    }

    public Result compress(Onnx.ModelProto input, String modelName) {
        long started = System.nanoTime();
        Plan plan = decideAll(input, modelName);
        Onnx.ModelProto model = plan.model();
        Map<String, Onnx.TensorProto> inits = plan.inits();
        Target target = plan.target();
        String searched = plan.searched();
        QualityProbe probe = plan.probe();
        List<String> inSubgraphs = plan.inSubgraphs();
        List<LayerOutcome> outcomes = plan.outcomes();

        Map<Integer, LinearRewriter.Replacement> replacements = new HashMap<>();
        Set<String> replacedWeights = new HashSet<>();
        Set<String> rebuiltWeights = new HashSet<>();
        List<LayerReport> reports = new ArrayList<>();
        Map<String, LayerFit> fits = new HashMap<>();
        List<FactoredLayer> factored = new ArrayList<>();
        List<Rewritten> rewritten = new ArrayList<>();
        Map<String, long[]> convInputs = new HashMap<>(); // filled on first use: one run of the model
        Set<String> taken = Assembly.names(model);
        for (LayerOutcome o : outcomes) {
            if (!o.report().compressed()) {
                reports.add(o.report());
                continue;
            }
            Set<String> kept = o.nodeIndex() >= 0 ? Set.copyOf(model.getGraph().getNode(o.nodeIndex()).getOutputList())
                    : Set.of(o.weightName());
            LinearRewriter.Replacement replacement = Assembly.unique(o.rewrite().apply(model), taken, kept);
            LayerReport report = o.report();
            // timed here, one layer at a time, not while other layers are being fitted; reported, never undone:
            // speed is a constraint before the choice (minSpeedup), not a veto after it
            Rewritten rewrite = o.timed() == null ? null : new Rewritten(report.name(), model, o.nodeIndex(),
                    () -> inputShape(model, o.timed(), convInputs), replacement);
            LayerLatency latency = options.latencyCheck() && rewrite != null
                    ? rewrite.time(options.expectedBatch(), LatencyCheck.THREADS) : null;
            reports.add(latency == null ? report : report.withLatency(latency));
            replacements.put(o.nodeIndex(), replacement);
            (report.rebuilt() ? rebuiltWeights : replacedWeights).add(o.weightName());
            fits.put(report.name(), o.fit());
            factored.add(factoredLayer(model, o, inits.get(o.weightName()), replacement));
            if (rewrite != null) {
                rewritten.add(rewrite);
            }
        }
        for (String where : inSubgraphs) {
            reports.add(LayerReport.dense(where.substring(where.indexOf('\'') + 1, where.indexOf('\'', where.indexOf('\'') + 1)),
                    where.substring(0, where.indexOf(' ')), "-", 0, 0, "inside a subgraph, not rewritten: " + where,
                    List.of(), 0));
        }
        Onnx.ModelProto out = Assembly.rebuild(model, replacements, replacedWeights, rebuiltWeights);
        String goal = target.describe() + (searched == null ? "" : "; " + searched);
        if (target instanceof Target.MaxOutputError e && e.chosenByDefault()) {
            goal += calibration == null
                    ? ". To go further safely: give --calibration with real inputs (the layers are then fitted to their "
                      + "outputs and the model measured on held-out rows), then a target (--max-output-error or --ratio), "
                      + "and check the result with verify on your own data"
                    : ". To go further: a larger --max-output-error or a --ratio, checked with verify on your own data";
        }
        ModelQuality quality = new ModelQuality("nothing: the models could not be run here", false, List.of(), goal);
        if (probe != null) {
            progress.accept("running the original and the compressed model on " + probe.inputs());
            quality = new ModelQuality(probe.inputs(), probe.generated(), probe.measure(out), goal);
        }
        CompressionReport draft = new CompressionReport(modelName, VERSION, options.describe(), reports,
                parameters(model), parameters(out), ModelFiles.serializedBytes(input), 0, 0, quality);
        Onnx.ModelProto withMeta = Assembly.withProvenance(out, draft.withoutTimings());
        // the provenance is part of the file: measure the size with it (the file records no timings and no sizes,
        // so the same input, options and seed give the same bytes)
        CompressionReport report = new CompressionReport(modelName, VERSION, options.describe(), reports,
                parameters(model), parameters(out), ModelFiles.serializedBytes(input),
                ModelFiles.serializedBytes(withMeta), (System.nanoTime() - started) / 1e9, quality);
        return new Result(withMeta, report, fits, factored, rewritten);
    }

    /** The inputs the written model is measured on: held-out calibration rows, else generated ones. */
    private QualityProbe probe(Onnx.ModelProto input, Calibration data) {
        try {
            if (data != null) {
                return QualityProbe.on(input, data.heldOut(), data.heldOutText(), PROBE_THREADS);
            }
            return QualityProbe.generated(input, options.seed(), GENERATED_ROWS, PROBE_THREADS);
        } catch (IllegalArgumentException | IllegalStateException e) {
            progress.accept("the model cannot be run on " + (data != null ? "the calibration inputs" : "generated inputs")
                    + ", so its outputs are not compared (" + e.getMessage() + ")");
            return null;
        }
    }

    /** Intra-op threads of the model runs that measure quality (their results do not depend on it). */
    static final int PROBE_THREADS = Math.max(1, Runtime.getRuntime().availableProcessors());

    /** Rows of generated inputs the model is measured on without calibration inputs. */
    static final int GENERATED_ROWS = 64;

    /** The ranks chosen for the curves, and how, in words. */
    record Decision(int[] ranks, String selection) {
    }

    private Decision decide(CurveCompression curves, Target target, Onnx.ModelProto model, QualityProbe probe) {
        if (target instanceof Target.MaxError e) {
            return new Decision(curves.ranksWithin(e.error()), String.format(Locale.ROOT, "per layer, the smallest rank "
                    + "of its exact low-rank curve with relative error <= %.4g", e.error()));
        }
        long selected = curves.selectedParameters();
        long outside = parameters(model) - selected;
        // one session with the selected weights as inputs: sensitivities and search probes feed reconstructed weights
        try (QualityProbe.WeightFeeds feeds = probe == null ? null
                : probe.withWeightsAsInputs(model, curves.weightNames())) {
            if (feeds != null && calibration != null && !probe.generated()) {
                progress.accept("measuring each layer's effect on the model's outputs on " + probe.inputs());
                curves.measureSensitivity(feeds);
            }
            Allocation allocation = curves.allocation();
            if (target instanceof Target.Ratio r) {
                long want = (long) Math.floor(selected / r.ratio());
                return atSize(allocation, want, curves, String.format(Locale.ROOT, "%.4gx", r.ratio()));
            }
            if (target instanceof Target.Budget b) {
                if (b.parameters() <= outside) {
                    throw new IllegalArgumentException("budget: " + b.parameters() + " parameters is not reachable: the "
                            + "layers and weights that are not compressed hold " + outside + " already");
                }
                return atSize(allocation, b.parameters() - outside, curves, b.parameters() + " parameters in the model");
            }
            Target.MaxOutputError goal = (Target.MaxOutputError) target;
            if (probe == null) {
                throw new IllegalArgumentException("a target on the model's outputs needs the model to run in ONNX "
                        + "Runtime here, and it cannot; give a size target (a ratio or a budget) instead");
            }
            java.util.function.ToDoubleFunction<int[]> errorOf = feeds != null
                    ? ranks -> feeds.worstError(curves.weights(ranks))
                    : ranks -> probe.worstError(assemble(model, curves.replacements(ranks)));
            return QualitySearch.search(allocation, curves, goal.error(), errorOf, probe.inputs(), progress);
        }
    }

    private static Decision atSize(Allocation allocation, long want, CurveCompression curves, String what) {
        int[] ranks = allocation.ranksFor(want);
        long got = allocation.parametersOf(ranks);
        String note = String.format(Locale.ROOT, "one allocation over %s by least added error per parameter saved; "
                + "the selected layers come to %d parameters (%.2fx)%s", curves.describeCurves(), got,
                (double) curves.selectedParameters() / Math.max(1, got), got > want ? " (" + what
                        + " is not reachable: every layer is at its smallest factored form)" : "");
        return new Decision(ranks, note);
    }

    /** The model with these layers replaced (no report, no provenance): a candidate to measure. */
    static Onnx.ModelProto assemble(Onnx.ModelProto model, List<LayerOutcome> outcomes) {
        Map<Integer, LinearRewriter.Replacement> replacements = new HashMap<>();
        Set<String> replaced = new HashSet<>();
        Set<String> rebuilt = new HashSet<>();
        for (LayerOutcome o : outcomes) {
            replacements.put(o.nodeIndex(), o.rewrite().apply(model));
            (o.nodeIndex() < 0 ? rebuilt : replaced).add(o.weightName());
        }
        return Assembly.rebuild(model, replacements, replaced, rebuilt);
    }

    /** Per-layer targets: every layer fitted alone, every layout tried (and sequential calibration where asked). */
    private List<LayerOutcome> fitEachLayer(Onnx.ModelProto model, List<LinearLayer> layers, List<ConvLayer> convs,
                                            List<StoredWeight> stored, Map<String, Onnx.TensorProto> inits,
                                            Calibration fitting) {
        List<LinearLayer> calibrated = layers.stream()
                .filter(l -> skipReason(l.name(), l.parameters(), l.skipReason()) == null).toList();
        if (fitting != null && !options.sequential()) {
            progress.accept("capturing the layers' inputs on the calibration data");
            fitting.capture(model, calibrated);
        }
        this.fittingData = fitting;
        List<Callable<LayerOutcome>> tasks = new ArrayList<>();
        List<LayerOutcome> sequential = new ArrayList<>();
        if (fitting != null && options.sequential()) {
            // each layer's inputs come from the model with the layers before it already compressed
            Map<Integer, LinearRewriter.Replacement> done = new HashMap<>();
            Set<String> doneWeights = new HashSet<>();
            for (LinearLayer layer : layers) {
                if (calibrated.contains(layer)) {
                    progress.accept("capturing the inputs of " + layer.name() + " from the model compressed so far");
                    fitting.capture(model, Assembly.rebuild(model, done, doneWeights, Set.of()), List.of(layer));
                }
                LayerOutcome o = fitLayer(layer, inits.get(layer.weightName()));
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
        List<LayerOutcome> outcomes = new ArrayList<>(Parallel.run(tasks, options.threads()));
        outcomes.addAll(sequential);
        return outcomes;
    }

    /** A compressed layer's factors and how they contract, for {@code --factors}. */
    private static FactoredLayer factoredLayer(Onnx.ModelProto model, LayerOutcome o, Onnx.TensorProto weight,
                                               LinearRewriter.Replacement replacement) {
        LayerReport r = o.report();
        long[] dims = weight.getDimsList().stream().mapToLong(Long::longValue).toArray();
        List<Onnx.TensorProto> tensors = new ArrayList<>(replacement.initializers().stream()
                .filter(t -> FactoredLayer.isFactor(r.name(), t.getName())).toList());
        Decomposition d = o.fit().fit().model();
        String format = d instanceof TensorTrain ? "tt" : "bt";
        int blocks = d instanceof BlockTerm bt ? bt.blocks() : 1;
        int[] ranks = d instanceof BlockTerm bt ? bt.ranks() : ((TensorTrain) d).ranks();
        Tensorization tz = o.fit().tensorization();
        String bias = null;
        double beta = 1;
        boolean transA = false;
        if (o.nodeIndex() >= 0 && !r.rebuilt()) {
            Onnx.NodeProto node = model.getGraph().getNode(o.nodeIndex());
            if (node.getOpType().equals("Gemm")) {
                transA = Graphs.intAttribute(node, "transA", 0) != 0;
                beta = Graphs.floatAttribute(node, "beta", 1f);
                bias = node.getInputCount() > 2 && !node.getInput(2).isEmpty() && beta != 0 ? node.getInput(2) : null;
                // a bias stored as a weight goes with the factors (already scaled by beta where it was rewritten)
                for (Onnx.TensorProto t : replacement.initializers()) {
                    if (t.getName().equals(r.name() + ".bt.bias")) {
                        bias = t.getName();
                        beta = 1;
                        tensors.add(t);
                    }
                }
                Onnx.TensorProto stored = Graphs.initializers(model.getGraph()).get(bias);
                if (bias != null && beta == 1 && stored != null && !bias.endsWith(".bt.bias")) {
                    tensors.add(stored);
                }
            }
        }
        if (tz == null) { // a Conv: C_out x C_in x kernel, fitted as C_out x C_in x K
            return new FactoredLayer(r.name(), r.op(), "conv", o.weightName(), dims, format, "tucker2-conv", blocks,
                    ranks, (int) (Weights.elements(weight) / dims[0]), (int) dims[0],
                    new int[0], new int[0], null, tensors, null, 1, false);
        }
        return new FactoredLayer(r.name(), r.op(), r.rebuilt() ? "rebuilt" : "linear", o.weightName(), dims, format,
                tz.layout().label(), blocks, ranks, tz.inputSize(), tz.outputSize(), tz.inputFactors(),
                tz.outputFactors(), replacement.plan(), tensors, bias, beta, transA);
    }

    /** A layer's report and, when it is compressed, its fit and how to rewrite it. */
    record LayerOutcome(int nodeIndex, String weightName, LayerReport report, LayerFit fit,
                                Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite, Timed timed) {
        static LayerOutcome dense(int nodeIndex, String weightName, LayerReport report) {
            return new LayerOutcome(nodeIndex, weightName, report, null, null, null);
        }

        LayerOutcome(int nodeIndex, String weightName, LayerReport report, LayerFit fit,
                     Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite) {
            this(nodeIndex, weightName, report, fit, rewrite, null);
        }
    }

    /** The layer a compressed outcome replaces, to time it: a fully connected layer or a convolution. */
    record Timed(LinearLayer linear, ConvLayer conv) {
    }

    /**
     * The input shape a layer is timed at: a fully connected layer's from the graph; a convolution's
     * (its spatial size) from one run of the model on random inputs, for all convolutions at once.
     * Null where a convolution's input could not be found that way.
     */
    private static LatencyCheck.InputShape inputShape(Onnx.ModelProto model, Timed timed,
                                                      Map<String, long[]> convInputs) {
        if (timed.linear() != null) {
            return LatencyCheck.linearInput(model.getGraph(), timed.linear());
        }
        synchronized (convInputs) {
            if (convInputs.isEmpty()) {
                List<String> inputs = model.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Conv"))
                        .map(n -> n.getInput(0)).distinct().toList();
                convInputs.putAll(ActivationCapture.shapes(model, inputs));
                convInputs.put("", new long[0]); // captured, whatever it found
            }
        }
        long[] shape = convInputs.get(model.getGraph().getNode(timed.conv().nodeIndex()).getInput(0));
        return shape == null ? null : new LatencyCheck.InputShape(shape, 0);
    }


    private LayerOutcome fitLayer(LinearLayer layer, Onnx.TensorProto weight) {
        double flopsBefore = 2.0 * layer.parameters();
        String skip = skipReason(layer.name(), layer.parameters(), layer.skipReason());
        if (skip != null) {
            return LayerOutcome.dense(layer.nodeIndex(), layer.weightName(), LayerReport.dense(layer.name(), layer.op(),
                    layer.weightShape(), layer.parameters(), flopsBefore, skip, List.of(), 0));
        }
        Choice choice = choose(layer, Graphs.weightMatrix(layer, weight), false);
        if (choice.attempt().best() == null) {
            return LayerOutcome.dense(layer.nodeIndex(), layer.weightName(), LayerReport.dense(layer.name(), layer.op(),
                    layer.weightShape(), layer.parameters(), flopsBefore, choice.denseReason(), choice.tried(),
                    choice.seconds()));
        }
        LayerFit chosen = choice.attempt().best();
        LayerReport report = choice.report(layer.name(), layer.op(), layer.weightShape(), layer.parameters(), flopsBefore,
                choice.attempt().plan().flopsPerSample(), false);
        return new LayerOutcome(layer.nodeIndex(), layer.weightName(), report, chosen,
                m -> LinearRewriter.rewrite(m, layer, chosen.tensorization(), chosen.fit().model(), options.expectedBatch()),
                new Timed(layer, null));
    }

    /**
     * A weight stored factored and rebuilt at load: fitted as the matrix {@code rows x cols}; only
     * the parameter count decides.
     */
    private LayerOutcome fitStored(StoredWeight weight, Onnx.TensorProto tensor, int index) {
        String op = weight.label();
        String skip = skipReason(weight.name(), weight.parameters(), weight.skipReason());
        if (skip != null) {
            return LayerOutcome.dense(index, weight.name(), LayerReport.dense(weight.name(), op, weight.shape(),
                    weight.parameters(), 0, skip, List.of(), 0));
        }
        if (weight.inputWeight() && weight.dims()[0] == 1) {
            LayerOutcome projected = fitProjection(weight, tensor, op);
            if (projected != null) {
                return projected;
            }
        }
        Choice choice = choose(matrix(weight, index), Weights.values(tensor), true);
        if (choice.attempt().best() == null) {
            return LayerOutcome.dense(index, weight.name(), LayerReport.dense(weight.name(), op, weight.shape(),
                    weight.parameters(), 0, choice.denseReason(), choice.tried(), choice.seconds()));
        }
        LayerFit chosen = choice.attempt().best();
        LayerReport report = choice.report(weight.name(), op, weight.shape(), weight.parameters(), 0, 0, true);
        return new LayerOutcome(index, weight.name(), report, chosen, m -> WeightRebuilder.rewrite(m, weight,
                chosen.tensorization(), chosen.fit().model(), tensor.getDataType()));
    }

    /**
     * A one-direction recurrent input weight {@code W} ({@code GH x I}) whose projection
     * {@code X W^T} is cheaper factored than dense, identity weight counted: moved out of the op and
     * run factored (see {@link dev.blockterm.rewrite.RecurrentProjection}); null where that does not pay.
     */
    private LayerOutcome fitProjection(StoredWeight weight, Onnx.TensorProto tensor, String op) {
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
        LayerFit chosen = choice.attempt().best();
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
        return new LayerOutcome(weight.node(), weight.name(), report, chosen, m -> RecurrentProjection.rewrite(m,
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
            LayerFit chosen = attempt.best();
            Tensorization tz = chosen.tensorization();
            FitResult<?> fit = chosen.fit();
            return new LayerReport(name, op, shape, true, null,
                    attempt.chosen().format().label() + " " + tz.layout().label(), tz.describe(), tz.padded(),
                    attempt.chosen().blocks(), fit.model().ranksText(), params, fit.model().parameters(),
                    fit.relativeError(), chosen.outputError(), fit.sweeps(), fit.converged(), seconds, flopsBefore, flopsAfter, tried,
                    selection, rebuilt, null);
        }
    }

    /** The layer's calibration inputs, or null (stored weights are always fitted to the weights). */
    private dev.blockterm.tensor.Matrix calibrationOf(LinearLayer layer, boolean rebuilt) {
        return fittingData == null || rebuilt ? null : fittingData.inputs(layer.name());
    }

    Consumer<String> progress() {
        return progress;
    }

    CompressionOptions options() {
        return options;
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
    private LayerOutcome fitConv(ConvLayer layer, Onnx.TensorProto weight) {
        double flopsBefore = layer.flopsPerPosition();
        String skip = skipReason(layer.name(), layer.parameters(), layer.skipReason());
        if (skip != null) {
            return LayerOutcome.dense(layer.nodeIndex(), layer.weightName(), LayerReport.dense(layer.name(), "Conv",
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
            tried.add(new Alternative(format + " conv", tensorization, s.blocks(), s.ranksText(), params, flopsAfter,
                    fit.relativeError(), Double.NaN, ""));
            if (options.target() instanceof Target.LayerRatio layerRatio) {
                selection = String.format(Locale.ROOT, "--layer-ratio %.4g: the most parameters within the budget",
                        layerRatio.ratio());
            }
            LayerReport report = new LayerReport(layer.name(), "Conv", layer.weightShape(), true, null, format + " conv",
                    tensorization, false, s.blocks(), s.ranksText(), layer.parameters(), params, fit.relativeError(),
                    Double.NaN, fit.sweeps(), fit.converged(), (System.nanoTime() - started) / 1e9, flopsBefore, flopsAfter, tried,
                    selection, false, null);
            return new LayerOutcome(layer.nodeIndex(), layer.weightName(), report, new LayerFit(layer.name(), null, fit, Double.NaN),
                    m -> ConvRewriter.rewrite(m, layer, fit.model()), new Timed(null, layer));
        }
        return LayerOutcome.dense(layer.nodeIndex(), layer.weightName(), LayerReport.dense(layer.name(), "Conv",
                layer.weightShape(), layer.parameters(), flopsBefore, refusal, tried, (System.nanoTime() - started) / 1e9));
    }

    String skipReason(String name, long parameters, String unsupported) {
        if (unsupported != null) {
            return unsupported;
        }
        if (options.layers() != null && !options.layers().matcher(name).find()) {
            return "not selected by --layers " + options.layers().pattern();
        }
        if (options.exclude() != null && options.exclude().matcher(name).find()) {
            return "excluded by --exclude " + options.exclude().pattern();
        }
        if (parameters < options.minParams()) {
            return parameters + " weights, under --min-params " + options.minParams();
        }
        return null;
    }

    static String ranksText(int[] ranks) {
        return Decomposition.text(ranks);
    }

    /** All initializer elements of a model. */
    public static long parameters(Onnx.ModelProto model) {
        long p = 0;
        for (Onnx.TensorProto t : model.getGraph().getInitializerList()) {
            if (t.getDataType() != Weights.INT64) {
                p += Weights.elements(t);
            }
        }
        return p;
    }
}
