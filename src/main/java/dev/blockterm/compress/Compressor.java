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
import dev.blockterm.rewrite.ConvChain;
import dev.blockterm.rewrite.ConvRewriter;
import dev.blockterm.rewrite.FactoredLayer;
import dev.blockterm.rewrite.LinearRewriter;
import dev.blockterm.rewrite.RecurrentProjection;
import dev.blockterm.rewrite.WeightRebuilder;
import dev.blockterm.runtime.ActivationCapture;
import dev.blockterm.runtime.InputShapes;
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

    /** The oldest default-domain opset whose models are rewritten. */
    public static final long MIN_OPSET = 7;

    /**
     * The compressed model and what was done.
     *
     * @param rewritten the compressed layers that run factored (fully connected and convolutions) and
     *                  what replaced them, to time them alone
     * @param int8Alone the reference the report measures: the input with every selected layer's weight at
     *                  int8, nothing factored (null where the bits axis was not offered int8)
     */
    public record Result(Onnx.ModelProto model, CompressionReport report, Map<String, LayerFit> fits,
                         Supplier<List<FactoredLayer>> factoredLayers, List<Rewritten> rewritten, Staging staging,
                         Onnx.ModelProto int8Alone) implements AutoCloseable {
        /** The compressed layers' factors and how they contract (for {@code --factors}; made when asked for). */
        public List<FactoredLayer> factored() {
            return factoredLayers.get();
        }

        /**
         * Deletes the staging folder the fits and the new factors are read from: the model stays
         * usable (its tensors are mapped), the fits and {@link #factored} do not. Else it goes at exit.
         */
        @Override
        public void close() {
            staging.close();
        }
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
            if (shape == null) {
                return null;
            }
            // a layer's input at a large size is timed at a smaller batch (the report gives the batch timed)
            long b = QualityProbe.rowsWithin(QualityProbe.values(shape.at(1)), batch);
            return LatencyCheck.time(model, nodeIndex, replacement, shape.at(b), b, threads);
        }
    }

    /**
     * A layer's chosen fit; the tensorization is null for a Conv (its kernel is read as C_out x C_in x K);
     * the output error on the calibration inputs is NaN without them.
     */
    public record LayerFit(String layer, Tensorization tensorization, Supplier<? extends FitResult<?>> result,
                           double outputError) {
        public LayerFit(String layer, Tensorization tensorization, FitResult<?> fit, double outputError) {
            this(layer, tensorization, () -> fit, outputError);
        }

        /** The fit (a low-rank curve point's factors are computed when asked for, not held). */
        public FitResult<?> fit() {
            return result.get();
        }
    }

    private final CompressionOptions options;
    private final Consumer<String> progress;
    private final Calibration calibration;
    private final InputShapes inputShapes;
    private final FitRunner runner;

    public Compressor(CompressionOptions options, Consumer<String> progress) {
        this(options, progress, null);
    }

    /** @param calibration calibration data for output-aware fitting of the layers, or null */
    public Compressor(CompressionOptions options, Consumer<String> progress, Calibration calibration) {
        this(options, progress, calibration, InputShapes.NONE);
    }

    /**
     * @param calibration calibration data for output-aware fitting of the fully connected layers, or null
     * @param inputShapes the sizes of the model's dynamic input axes, for the inputs generated to measure
     *                    the model and to find the convolutions' input shapes
     */
    public Compressor(CompressionOptions options, Consumer<String> progress, Calibration calibration,
                      InputShapes inputShapes) {
        this(options, progress, calibration, inputShapes, FitRunner.local());
    }

    /** @param runner where the layers' curves are fitted (here, or a cluster) */
    public Compressor(CompressionOptions options, Consumer<String> progress, Calibration calibration,
                      InputShapes inputShapes, FitRunner runner) {
        this.options = options;
        this.progress = progress;
        this.calibration = calibration;
        this.inputShapes = inputShapes;
        this.runner = runner;
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
                Map<String, Onnx.TensorProto> inits, List<String> inSubgraphs, List<LayerOutcome> int8Alone) {
    }

    /** The layers' reports as {@link #compress} would give them (fitting included, no latency, no model written). */
    public List<LayerReport> plan(Onnx.ModelProto input, String modelName) {
        try (Staging staging = new Staging(runner.stagingRoot())) {
            return decideAll(input, modelName, staging.dir()).outcomes().stream().map(LayerOutcome::report).toList();
        }
    }

    Plan decideAll(Onnx.ModelProto input, String modelName, java.nio.file.Path staging) {
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
        if (options.int8Compute() && opset < dev.blockterm.rewrite.IntegerMatMuls.MIN_OPSET) {
            throw new ModelException(modelName + ": int8 compute needs DynamicQuantizeLinear (opset "
                    + dev.blockterm.rewrite.IntegerMatMuls.MIN_OPSET + "); the model has opset " + opset);
        }
        Map<String, Onnx.TensorProto> inits = Graphs.initializers(model.getGraph());
        Target target = options.target().resolve(calibration != null);
        Calibration fitting = calibration == null ? null : calibration.fitting();
        QualityProbe probe = probe(input, modelName, calibration);
        String searched = null;
        List<LayerOutcome> int8Alone = null;
        List<LayerOutcome> outcomes;
        if (target.usesCurves()) {

            List<LinearLayer> calibrated = layers.stream()
                    .filter(l -> skipReason(l.name(), l.parameters(), l.skipReason()) == null).toList();
            List<ConvLayer> calibratedConvs = convs.stream()
                    .filter(c -> skipReason(c.name(), c.parameters(), c.skipReason()) == null).toList();
            Set<String> taken = new HashSet<>();
            layers.forEach(l -> taken.add(l.weightName()));
            convs.forEach(c -> taken.add(c.weightName()));
            stored.forEach(w -> taken.add(w.name()));
            List<dev.blockterm.onnx.EmbeddingTable> tables = Graphs.embeddingTables(model.getGraph(), taken);
            List<dev.blockterm.onnx.EmbeddingTable> countedTables = tables.stream()
                    .filter(t -> skipReason(t.name(), t.parameters(), t.skipReason()) == null).toList();
            if (fitting != null) {
                progress.accept("accumulating the layers' input covariances on the calibration data");
                fitting.capture(model, calibrated, calibratedConvs, countedTables);
            }
            CurveCompression curves = new CurveCompression(this, target, layers, convs, stored, tables, inits, fitting,
                    staging);
            if (options.minSpeedup() > 0) {
                Map<String, long[]> shapes = new HashMap<>();
                curves.limitBySpeed(options.minSpeedup(), o -> new Rewritten("", model, o.nodeIndex(),
                        () -> inputShape(model, o.timed(), shapes), o.rewrite().apply(model))
                        .time(options.expectedBatch(), LatencyCheck.THREADS));
            }
            Decision decision = decide(curves, target, model, probe);
            if (options.sequential() && fitting != null) {
                curves.compensate(decision.ranks(), model, fitting);
            }
            // the decision is the model's, said once under the table, not on every row
            outcomes = curves.outcomes(decision.ranks(), target instanceof Target.MaxError ? decision.selection() : null);
            searched = decision.selection() + "; " + curves.chosenFamilies(decision.ranks());
            if (target.wholeModel() && curves.unit().equals("bytes")
                    && options.bits().contains(dev.blockterm.quantize.Precision.INT8)) {
                int8Alone = curves.replacements(curves.denseAt(dev.blockterm.quantize.Precision.INT8));
            }
        } else {
            outcomes = new PerLayerFits(this, fitting).fit(model, layers, convs, stored, inits);
        }
        outcomes.sort(java.util.Comparator.comparingInt(o -> o.nodeIndex() < 0 ? Integer.MAX_VALUE + o.nodeIndex()
                : o.nodeIndex()));
        outcomes = outcomes.stream().map(o -> o.withBytes(inits.get(o.weightName()))).toList();
        return new Plan(model, outcomes, target, searched, probe, inits, inSubgraphs, int8Alone);
    }

    public Result compress(Onnx.ModelProto input, String modelName) {
        Staging staging = new Staging(runner.stagingRoot());
        try (dev.blockterm.onnx.SpillFile spill = new dev.blockterm.onnx.SpillFile(staging.dir().resolve("factors.bin"))) {
            return compress(input, modelName, staging, spill);
        } catch (java.io.IOException e) {
            staging.close();
            throw new java.io.UncheckedIOException("cannot write the staging folder (" + e.getMessage() + ")", e);
        } catch (RuntimeException | Error e) {
            staging.close();
            throw e;
        }
    }

    /** {@link #compress}, the new factors moved to {@code spill} as they are made (a large model's never all in memory). */
    private Result compress(Onnx.ModelProto input, String modelName, Staging staging, dev.blockterm.onnx.SpillFile spill) {
        long started = System.nanoTime();
        Plan plan = decideAll(input, modelName, staging.dir());
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
        List<Supplier<FactoredLayer>> factored = new ArrayList<>();
        List<Rewritten> rewritten = new ArrayList<>();
        Map<String, long[]> convInputs = new HashMap<>(); // filled on first use: one run of the model
        Set<String> taken = Assembly.names(model);
        for (LayerOutcome o : outcomes) {
            if (!o.report().compressed()) {
                reports.add(o.report());
                continue;
            }
            LinearRewriter.Replacement made = Assembly.unique(o.rewrite().apply(model), taken, o.keptNames(model));
            LinearRewriter.Replacement replacement = new LinearRewriter.Replacement(made.nodes(),
                    spill.spill(made.initializers()), made.flopsPerSample(), made.plan());
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
            factored.add(() -> factoredLayer(model, o, inits.get(o.weightName()), replacement));
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
        if (options.int8Compute()) {
            dev.blockterm.rewrite.IntegerMatMuls.Result integer = dev.blockterm.rewrite.IntegerMatMuls.apply(out);
            out = integer.model();
            goal += "; " + integer.rewritten() + " MatMul(s) by int8 weights compute on integers (DynamicQuantizeLinear "
                    + "+ MatMulInteger; the activations' rounding is in the quality measured below, and in an output-"
                    + "error target's search, not in the allocation's estimates)";
        }
        if (target instanceof Target.MaxOutputError e && e.chosenByDefault()) {
            goal += calibration == null
                    ? ". To go further safely: give --calibration with real inputs (the layers are then fitted to their "
                      + "outputs and the model measured on held-out rows), then a target (--max-output-error or --ratio), "
                      + "and check the result with verify on your own data"
                    : ". To go further: a larger --max-output-error or a --ratio (and --sequential: each layer refitted to "
                      + "the original outputs, slower, better), checked with verify on your own data";
        }
        ModelQuality quality = new ModelQuality("nothing: the models could not be run here", false, List.of(), goal);
        if (probe != null) {
            progress.accept("running the original and the compressed model on " + probe.inputs());
            quality = new ModelQuality(probe.inputs(), probe.generated(), probe.measure(out), goal);
        }
        CompressionReport.Reference reference = null;
        Onnx.ModelProto int8 = plan.int8Alone() == null ? null : assemble(model, plan.int8Alone());
        if (probe != null && int8 != null) {
            progress.accept("running the reference (every selected layer's weight at int8, nothing factored) on "
                    + probe.inputs());
            reference = new CompressionReport.Reference("int8 alone (every selected layer's weight at int8 with "
                    + "per-channel scales, nothing factored)", ModelFiles.serializedBytes(int8),
                    new ModelQuality(probe.inputs(), probe.generated(), probe.measure(int8), "int8 alone"));
        }
        String recorded = options.describe() + inputShapes.describe().stream().map(d -> " --input-shape " + d)
                .collect(java.util.stream.Collectors.joining());
        CompressionReport draft = new CompressionReport(modelName, Provenance.version(), recorded, reports,
                parameters(model), weightsAfter(model, out, reports), ModelFiles.serializedBytes(input), 0, 0, quality);
        Onnx.ModelProto withMeta = Provenance.record(out, draft.withoutTimings());
        // the provenance is part of the file: measure the size with it (the file records no timings and no sizes,
        // so the same input, options and seed give the same bytes)
        CompressionReport report = new CompressionReport(modelName, Provenance.version(), recorded, reports,
                parameters(model), weightsAfter(model, out, reports), ModelFiles.serializedBytes(input),
                ModelFiles.serializedBytes(withMeta), (System.nanoTime() - started) / 1e9, quality, reference);
        return new Result(withMeta, report, fits, () -> factored.stream().map(Supplier::get).toList(), rewritten,
                staging, int8);
    }

    /**
     * The inputs the written model is measured on: held-out calibration rows, else generated ones.
     * A model ONNX Runtime cannot load is refused here (what it would write could not be loaded either);
     * one that loads but cannot run on generated inputs is compressed without the comparison, saying so.
     */
    private QualityProbe probe(Onnx.ModelProto input, String modelName, Calibration data) {
        if (ModelFiles.serializedBytes(input) > QualityProbe.MAX_BYTES) {
            progress.accept("the model is too large to run here, so its outputs are not compared");
            return null;
        }
        dev.blockterm.runtime.ModelRunner original;
        try {
            original = new dev.blockterm.runtime.ModelRunner(input, modelName, PROBE_THREADS, inputShapes);
        } catch (IllegalArgumentException e) {
            throw new ModelException(e.getMessage().replaceAll("\\s*\\R\\s*", " "), e);
        }
        try (original) {
            return data != null ? QualityProbe.on(original, data.heldOut(), data.heldOutText(), PROBE_THREADS)
                    : QualityProbe.generated(original, options.seed(), GENERATED_ROWS, PROBE_THREADS);
        } catch (InputShapes.Unresolved e) {
            throw e; // the user must give the sizes
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
            return new Decision(curves.ranksWithin(e.error()), String.format(Locale.ROOT, "per layer, the smallest point "
                    + "of its %s with relative error <= %.4g", options.curveFormat() == CurveFormat.AUTO ? "forms"
                    : options.curveFormat().label() + " forms", e.error()));
        }
        long selected = curves.selectedParameters();
        long outside = parameters(model) - selected;
        // one session with the selected weights as inputs: sensitivities and search probes feed reconstructed weights
        // the weight-fed session serves sensitivities (with calibration) and the quality search; a size target
        // without calibration needs neither
        boolean runs = probe != null && (target instanceof Target.MaxOutputError || !probe.generated());
        try (QualityProbe.WeightFeeds feeds = runs ? probe.withWeightsAsInputs(model, curves.weightNames()) : null) {
            if (feeds != null && calibration != null && !probe.generated()) {
                progress.accept("measuring each layer's effect on the model's outputs on " + probe.inputs());
                curves.measureSensitivity(feeds);
            }
            Allocation allocation = curves.allocation();
            if (target instanceof Target.Ratio r) {
                long want = (long) Math.floor(curves.selectedBytes() / r.ratio());
                return atSize(allocation, want, curves, String.format(Locale.ROOT, "%.4gx", r.ratio()));
            }
            if (target instanceof Target.Size z) {
                // the file: the selected weights' share is what the allocation spends; the rest of the file stays
                long rest = ModelFiles.serializedBytes(model) - curves.selectedBytes() + SIZE_OVERHEAD
                        + SIZE_OVERHEAD_PER_LAYER * allocation.curves().size();
                // (the first estimate of the rest of the file: the unselected weights, the graph, the report)
                long smallest = allocation.sizeAt(allocation.steps());
                if (z.bytes() < rest + smallest) {
                    throw new IllegalArgumentException("size: " + Target.Size.text(z.bytes()) + " is not reachable: the "
                            + "rest of the file holds " + Target.Size.text(rest) + ", and the selected layers at their "
                            + "smallest " + Target.Size.text(smallest));
                }
                // the node records and names the replacements add are measured on the assembled candidate, the
                // recorded report estimated: the allocation's target shrinks by any excess, at most a few times
                long want = z.bytes() - rest;
                Decision d = atSize(allocation, want, curves, Target.Size.text(z.bytes()) + " in the file");
                for (int tries = 0; tries < 4; tries++) {
                    long file = ModelFiles.serializedBytes(written(model, curves.replacements(d.ranks())))
                            + SIZE_OVERHEAD + SIZE_OVERHEAD_PER_LAYER * allocation.curves().size();
                    if (file <= z.bytes()) {
                        break;
                    }
                    want -= file - z.bytes();
                    d = atSize(allocation, want, curves, Target.Size.text(z.bytes()) + " in the file");
                }
                return d;
            }
            if (target instanceof Target.Budget b) {
                long smallest = allocation.sizeAt(allocation.steps());
                if (b.parameters() < outside + smallest) {
                    throw new IllegalArgumentException("budget: " + b.parameters() + " parameters is not reachable: the "
                            + "layers and weights that are not compressed hold " + outside + ", and the selected layers "
                            + "at their smallest " + smallest);
                }
                return atSize(allocation, b.parameters() - outside, curves, b.parameters() + " parameters in the model");
            }
            Target.MaxOutputError goal = (Target.MaxOutputError) target;
            if (probe == null) {
                throw new IllegalArgumentException("a target on the model's outputs needs the model to run in ONNX "
                        + "Runtime here, and it cannot; give a size target (a ratio or a budget) instead");
            }
            // with int8 compute the written graph is measured, its activations' rounding in the error
            java.util.function.ToDoubleFunction<int[]> errorOf = feeds != null && !options.int8Compute()
                    ? ranks -> feeds.worstError(curves.weights(ranks))
                    : ranks -> probe.worstError(written(model, curves.replacements(ranks)));
            Decision found = QualitySearch.search(allocation, curves, goal.error(), errorOf, probe.inputs(), progress);
            return noLargerThanInt8Alone(found, allocation, curves, goal.error(), errorOf, model);
        }
    }

    /**
     * The quality target's answer, or int8 alone (every selected weight at int8, nothing factored) where
     * that is smaller and meets the target too: the alternative every user has is a point of the same
     * space, so the search never returns a larger model than it at the same target (one more model run).
     */
    private Decision noLargerThanInt8Alone(Decision found, Allocation allocation, CurveCompression curves, double target,
                                           java.util.function.ToDoubleFunction<int[]> errorOf, Onnx.ModelProto model) {
        if (!curves.unit().equals("bytes") || !options.bits().contains(dev.blockterm.quantize.Precision.INT8)
                || options.curveFormat() != CurveFormat.AUTO) {
            return found; // a format asked for: int8 alone is not among its forms
        }
        int[] int8 = curves.denseAt(dev.blockterm.quantize.Precision.INT8);
        if (java.util.Arrays.stream(int8).anyMatch(id -> id == 0)) {
            return found;
        }
        // compared as files: a factored layer's extra nodes and names can outweigh a few bytes of weights
        long int8File = ModelFiles.serializedBytes(assemble(model, curves.replacements(int8)));
        if (int8File >= ModelFiles.serializedBytes(assemble(model, curves.replacements(found.ranks())))) {
            return found;
        }
        double e = errorOf.applyAsDouble(int8);
        progress.accept(String.format(Locale.ROOT, "  int8 alone, %d bytes: output error %.4g", allocation.sizeOf(int8), e));
        if (e > target) {
            return found;
        }
        return new Decision(int8, found.selection() + String.format(Locale.ROOT, "; int8 alone (%d bytes, output "
                + "error %.4g) is smaller and within the target too, so every selected layer is int8", allocation
                .sizeOf(int8), e));
    }

    /**
     * Bytes a layer's rows of the recorded report (JSON and table) may take in the file: what a size
     * target keeps aside per selected layer beyond the assembled candidate it measures, with
     * {@link #SIZE_OVERHEAD} for the report's own lines.
     */
    static final long SIZE_OVERHEAD_PER_LAYER = 3072;
    static final long SIZE_OVERHEAD = 8192;

    private static Decision atSize(Allocation allocation, long want, CurveCompression curves, String what) {
        int[] ranks = allocation.ranksFor(want);
        long got = allocation.sizeOf(ranks);
        String unit = curves.unit();
        String note = String.format(Locale.ROOT, "one allocation over %s by least added error per %s saved; "
                + "the selected layers come to %d %s (%.2fx)%s", curves.describeCurves(), unit.substring(0,
                unit.length() - 1), got, unit, (double) allocation.sizeAt(0) / Math.max(1, got), got > want ? " (" + what
                        + " is not reachable: every layer is at its smallest form)" : "");
        return new Decision(ranks, note);
    }

    /** The model as it will be written: assembled, and its int8 products on integers where asked. */
    private Onnx.ModelProto written(Onnx.ModelProto model, List<LayerOutcome> outcomes) {
        Onnx.ModelProto out = assemble(model, outcomes);
        return options.int8Compute() ? dev.blockterm.rewrite.IntegerMatMuls.apply(out).model() : out;
    }

    /** The model with these layers replaced (no report, no provenance): a candidate to measure. */

    static Onnx.ModelProto assemble(Onnx.ModelProto model, List<LayerOutcome> outcomes) {
        Map<Integer, LinearRewriter.Replacement> replacements = new HashMap<>();
        Set<String> replaced = new HashSet<>();
        Set<String> rebuilt = new HashSet<>();
        Set<String> taken = Assembly.names(model);
        for (LayerOutcome o : outcomes) {
            replacements.put(o.nodeIndex(), Assembly.unique(o.rewrite().apply(model), taken, o.keptNames(model)));
            (o.nodeIndex() < 0 ? rebuilt : replaced).add(o.weightName());
        }
        return Assembly.rebuild(model, replacements, replaced, rebuilt);
    }

    /** A compressed layer's factors and how they contract, for {@code --factors}. */
    private static FactoredLayer factoredLayer(Onnx.ModelProto model, LayerOutcome o, Onnx.TensorProto weight,
                                               LinearRewriter.Replacement replacement) {
        LayerReport r = o.report();
        if (o.fit() == null) {
            throw new IllegalStateException("layer " + r.name() + " is stored at " + r.precision() + ": the handoff "
                    + "carries float factors (compress with the bits axis at 32 only)");
        }
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
        if (tz == null) { // a Conv: its replacement, read back as the chain of convolutions it is
            Map<String, Onnx.TensorProto> stored = new HashMap<>(Graphs.initializers(model.getGraph()));
            replacement.initializers().forEach(t -> stored.put(t.getName(), t));
            boolean lowRank = d instanceof TensorTrain; // channel low rank and spatial SVD: two-factor trains
            String form = r.layout().startsWith("spatial") ? "spatial-svd-conv" : lowRank ? "lowrank-conv" : "tucker2-conv";
            return FactoredLayer.conv(r.name(), r.op(), o.weightName(), dims, lowRank ? "low-rank" : format, form,
                    blocks, ranks,
                    ConvChain.of(replacement.nodes(), stored), stored);
        }
        return new FactoredLayer(r.name(), r.op(), r.rebuilt() ? "rebuilt" : "linear", o.weightName(), dims, format,
                tz.layout().label(), blocks, ranks, tz.inputSize(), tz.outputSize(), tz.inputFactors(),
                tz.outputFactors(), replacement.plan(), null, tensors, bias, beta, transA);
    }

    /** A layer's report and, when it is compressed, its fit and how to rewrite it. */
    record LayerOutcome(int nodeIndex, String weightName, LayerReport report, LayerFit fit,
                                Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite, Timed timed) {
        /** The names its replacement keeps: the replaced node's outputs, or a rebuilt weight's own name. */
        Set<String> keptNames(Onnx.ModelProto model) {
            return nodeIndex >= 0 ? Set.copyOf(model.getGraph().getNode(nodeIndex).getOutputList()) : Set.of(weightName);
        }

        /**
         * This outcome with its report's bytes counted where they are not yet (a float form: its weights at
         * the weight's own width; a quantized form counts its own).
         */
        LayerOutcome withBytes(Onnx.TensorProto weight) {
            if (report == null || report.bytesAfter() >= 0 || weight == null) {
                return this;
            }
            long width = Weights.fitted(weight.getDataType()) ? Weights.width(weight.getDataType()) : 4;
            long after = report.compressed() ? report.paramsAfter() * width : report.paramsBefore() * width;
            return new LayerOutcome(nodeIndex, weightName, report.withBytes(report.paramsBefore() * width, after), fit,
                    rewrite, timed);
        }

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
     * (its spatial size) from one run of the model on random inputs (sized by the input shapes), for all
     * convolutions at once.
     * Null where a convolution's input could not be found that way.
     */
    private LatencyCheck.InputShape inputShape(Onnx.ModelProto model, Timed timed, Map<String, long[]> convInputs) {
        if (timed.linear() != null) {
            return LatencyCheck.linearInput(model.getGraph(), timed.linear());
        }
        synchronized (convInputs) {
            if (convInputs.isEmpty()) {
                List<String> inputs = model.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Conv"))
                        .map(n -> n.getInput(0)).distinct().toList();
                convInputs.putAll(ActivationCapture.shapes(model, inputs, inputShapes));
                convInputs.put("", new long[0]); // captured, whatever it found
            }
        }
        long[] shape = convInputs.get(model.getGraph().getNode(timed.conv().nodeIndex()).getInput(0));
        return shape == null ? null : new LatencyCheck.InputShape(shape, 0);
    }


    FitRunner runner() {
        return runner;
    }

    Consumer<String> progress() {
        return progress;
    }

    CompressionOptions options() {
        return options;
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
        if (parameters == 0) {
            return "no weights (a dimension of size 0): nothing to factor";
        }
        if (parameters < options.minParams()) {
            return parameters + " weights, under --min-params " + options.minParams();
        }
        return null;
    }

    static String ranksText(int[] ranks) {
        return Decomposition.text(ranks);
    }

    /**
     * The weights of the written model: its initializer elements where every weight is float; where some
     * are stored at lower precision (whose packed values and scales are not weights one for one), the
     * input's less what each compressed layer saved.
     */
    private static long weightsAfter(Onnx.ModelProto model, Onnx.ModelProto out, List<LayerReport> reports) {
        if (reports.stream().noneMatch(r -> r.precision() != null)) {
            return parameters(out);
        }
        long p = parameters(model);
        for (LayerReport r : reports) {
            if (r.compressed()) {
                p -= r.paramsBefore() - r.paramsAfter();
            }
        }
        return p;
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
