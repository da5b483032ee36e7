package dev.blockterm.cli;

import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.ConvForm;
import dev.blockterm.compress.CurveFormat;
import dev.blockterm.decompose.BlockTermConfig;
import dev.blockterm.decompose.Format;
import dev.blockterm.decompose.Initialization;
import dev.blockterm.tensor.Layout;
import dev.blockterm.compress.LayerShape;
import dev.blockterm.compress.Target;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import picocli.CommandLine.Option;

/** The fitting options shared by {@code compress} and {@code inspect}; builds {@link CompressionOptions}. */
final class FitOptions {

    @Option(names = "--blocks", paramLabel = "N", description = "block terms per layer (explicit ranks; 4)")
    Integer blocks;

    @Option(names = "--rank", paramLabel = "R[,R...]", split = ",",
            description = "rank of every mode, or one per mode (explicit ranks; 8)")
    int[] ranks;

    @Option(names = "--order", paramLabel = "d", description = "tensor order of the merged layout (default: from the layer's sizes)")
    int order;

    @Option(names = "--layout", paramLabel = "LAYOUT",
            description = "auto, merged, split or input-whole (default: ${DEFAULT-VALUE}: fit all, keep the least error)")
    String layout = "auto";

    @Option(names = "--layers", paramLabel = "REGEX", description = "only layers whose name matches")
    String layers;

    @Option(names = "--exclude", paramLabel = "REGEX", description = "skip layers whose name matches")
    String exclude;

    @Option(names = "--min-params", paramLabel = "P", description = "smaller layers stay dense (default: ${DEFAULT-VALUE})")
    long minParams = CompressionOptions.DEFAULT_MIN_PARAMS;

    @Option(names = "--max-sweeps", paramLabel = "S", description = "ALS sweep limit (default: ${DEFAULT-VALUE})")
    int maxSweeps = BlockTermConfig.DEFAULT_MAX_SWEEPS;

    @Option(names = "--tol", paramLabel = "T", description = "ALS tolerance on the relative error change (default: ${DEFAULT-VALUE})")
    double tolerance = BlockTermConfig.DEFAULT_TOLERANCE;

    @Option(names = "--seed", description = "seed of every random choice (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--threads", description = "per-layer ALS fits (and the whole-model targets' block-term and "
            + "convolution forms) run in parallel (default: ${DEFAULT-VALUE}); the whole-model targets' low-rank curves "
            + "use every core, one BLAS thread each")
    int threads = 1;

    @Option(names = "--batch", description = "rows per call at which contraction orders are costed and layers timed (default: ${DEFAULT-VALUE})")
    long batch = CompressionOptions.DEFAULT_BATCH;

    @Option(names = "--init", description = "auto, algebraic, greedy or random (default: ${DEFAULT-VALUE})")
    String init = "auto";

    @Option(names = "--shape", paramLabel = "REGEX=I1xI2..:J1xJ2..",
            description = "factor sizes for the layers whose name matches (repeatable; e.g. fc1=8x8x8:8x8x8)")
    List<String> shapes = new ArrayList<>();

    @Option(names = "--format", description = "the forms chosen among: with --ratio, --size, --budget, --max-error "
            + "and --max-output-error, auto (every form), bt, tucker or cp (block terms alone: on the weight's "
            + "tensorizations, a convolution's chain) or lowrank (the low-rank curve alone); with --layer-ratio and "
            + "explicit ranks, the format fitted: bt (auto), tucker, cp or tt (default: ${DEFAULT-VALUE})")
    String format = "auto";

    @Option(names = "--ratio", paramLabel = "X",
            description = "the selected layers together X times smaller, spread by one allocation where it costs least")
    Double ratio;

    @Option(names = "--layer-ratio", paramLabel = "X",
            description = "every layer X times smaller (searches layout, N and ranks per layer)")
    Double layerRatio;

    @Option(names = "--max-error", paramLabel = "E",
            description = "per layer, the fewest parameters with relative error <= E (of the output with calibration)")
    Double maxError;

    @Option(names = "--max-output-error", paramLabel = "E",
            description = "the smallest model whose outputs are within relative error E of the original's, measured "
                    + "in ONNX Runtime on held-out calibration inputs (default: 0.02 with --calibration, 0.01 without)")
    Double maxOutputError;

    @Option(names = "--min-speedup", paramLabel = "S",
            description = "offer only factored forms that ONNX Runtime runs at least S times faster than dense")
    double minSpeedup;

    @Option(names = "--conv-form", paramLabel = "FORM[,FORM...]", split = ",",
            description = "the forms a convolution may take, ranked by output error: channel (k conv to r channels, "
                    + "then 1x1), spatial (k_h x 1 then 1 x k_w), chain (1x1, grouped k, 1x1) (default: all)")
    List<String> convForms;

    @Option(names = "--weights", paramLabel = "REGEX",
            description = "also store these initializers factored and rebuild them at load (e.g. an embedding table);"
                    + " LSTM/GRU/RNN W and R are always candidates")
    String weights;

    @Option(names = "--budget", paramLabel = "P",
            description = "at most P parameters in the model, spread over the layers where it costs the least error")
    Long budget;

    @Option(names = "--size", paramLabel = "BYTES",
            description = "at most this many bytes in the written file (a count, or with a unit: 20MB, 1.5GiB), "
                    + "spread over the layers' forms, ranks and bits where it costs the least error")
    String size;

    @Option(names = "--bits", paramLabel = "B[,B...]",
            description = "the precisions a weight or its factors may be stored at, for the targets decided on "
                    + "curves: 32 (the weight's own float type), 16, 8 (int8, per-channel scales), 4 (int4, groups of "
                    + "64); 32 must be among them; --bits 32 keeps every weight float (default: 32,16,8,4)")
    String bits;

    @Option(names = "--sequential",
            description = "with --calibration: each layer's inputs from the model compressed up to that layer")
    boolean sequential;

    @Option(names = "--int8-compute",
            description = "every MatMul whose weight (or factor) is stored at int8 multiplies on integers "
                    + "(DynamicQuantizeLinear + MatMulInteger, as ONNX Runtime's dynamic quantizer writes; opset 11 or "
                    + "later): faster on CPUs, with the activations rounded to 8 bits too (in the measured quality "
                    + "and an output-error target's search, not in the allocation's estimates)")
    boolean int8Compute;

    @Option(names = "--force", description = "replace layers even where the factored form is no smaller or no cheaper")
    boolean force;

    @Option(names = "--no-latency-check", description = "do not time each compressed layer dense and factored in "
            + "ONNX Runtime at --batch (the timings are reported, and decide nothing unless --min-speedup is given)")
    boolean noLatencyCheck;

    /** The one target the flags ask for; explicit ranks when only --blocks/--rank/--layout/... are given. */
    Target target() {
        List<Target> asked = new ArrayList<>();
        if (ratio != null) {
            asked.add(new Target.Ratio(positive("--ratio", ratio)));
        }
        if (layerRatio != null) {
            asked.add(new Target.LayerRatio(positive("--layer-ratio", layerRatio)));
        }
        if (maxError != null) {
            asked.add(new Target.MaxError(positive("--max-error", maxError)));
        }
        if (maxOutputError != null) {
            asked.add(new Target.MaxOutputError(positive("--max-output-error", maxOutputError), false));
        }
        if (budget != null) {
            if (budget < 1) {
                throw new IllegalArgumentException("--budget: expected a positive parameter count, found " + budget);
            }
            asked.add(new Target.Budget(budget));
        }
        if (size != null) {
            try {
                asked.add(new Target.Size(Target.Size.parse(size)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--" + e.getMessage());
            }
        }
        if (asked.size() > 1) {
            throw new UsageError("--ratio, --layer-ratio, --budget, --size, --max-error and "
                    + "--max-output-error: choose one");
        }
        if (!asked.isEmpty()) {
            // the curves are the input-whole layout with one output mode: --layout input-whole says the same
            boolean lowRank = layout.equals("auto") || layout.equals("input-whole");
            if (asked.get(0).usesCurves() && (blocks != null || ranks != null || !lowRank || order != 0
                    || !shapes.isEmpty())) {
                throw new UsageError("--blocks, --rank, --layout, --order and --shape apply to --layer-ratio and "
                        + "explicit ranks; " + flag(asked.get(0)) + " chooses each layer's form and size on its curves");
            }
            if (!asked.get(0).usesCurves() && format.equals("lowrank")) {
                throw new UsageError("--format lowrank applies to --ratio, --size, --budget, --max-error, "
                        + "--max-output-error and the default (the low-rank curve); " + "--layer-ratio fits bt, "
                        + "tucker, cp or tt");
            }
            if (asked.get(0).usesCurves() && format.equals("tt")) {
                throw new UsageError("--format tt applies to --layer-ratio and explicit ranks; " + flag(asked.get(0))
                        + " chooses among auto, bt, tucker, cp and lowrank");
            }
            return asked.get(0);
        }
        // no target: --format bt or lowrank restricts the default's forms; tucker, cp and tt fit explicit ranks
        boolean explicit = blocks != null || ranks != null || !layout.equals("auto")
                || !List.of("auto", "bt", "lowrank").contains(format) || order != 0 || !shapes.isEmpty();
        if (explicit && format.equals("lowrank")) {
            throw new UsageError("--format lowrank applies to --ratio, --size, --budget, --max-error, "
                    + "--max-output-error and the default (the low-rank curve); --layer-ratio and explicit ranks fit "
                    + "bt, tucker, cp or tt");
        }
        return explicit ? new Target.Ranks() : new Target.Default();
    }

    private static String flag(Target t) {
        if (t instanceof Target.Ratio) {
            return "--ratio";
        } else if (t instanceof Target.Budget) {
            return "--budget";
        } else if (t instanceof Target.Size) {
            return "--size";
        } else if (t instanceof Target.MaxError) {
            return "--max-error";
        }
        return "--max-output-error";
    }

    /** Zero or a negative value is refused here, not read as "absent". */
    private static double positive(String flag, double v) {
        if (!(v > 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException(flag + ": expected a positive number, found " + v);
        }
        return v;
    }

    CompressionOptions build() {
        if (minSpeedup != 0 && !(minSpeedup > 0 && minSpeedup < CompressionOptions.MAX_MIN_SPEEDUP)) {
            throw new IllegalArgumentException("--min-speedup: expected a factor above 0 and below "
                    + (long) CompressionOptions.MAX_MIN_SPEEDUP + " (1.5: at least 1.5 "
                    + "times as fast as dense), found " + minSpeedup);
        }
        boolean curves = target().resolve(false).usesCurves();
        CurveFormat curveFormat;
        try {
            curveFormat = curves ? CurveFormat.parse(format) : CurveFormat.AUTO;
        } catch (IllegalArgumentException e) {
            throw new UsageError("--" + e.getMessage());
        }
        if (curveFormat.blockTermsAlone() && minSpeedup != 0) {
            throw new UsageError("--min-speedup times the low-rank curve alone; with --format " + format
                    + " nothing would be offered");
        }
        if (curveFormat.blockTermsAlone() && sequential) {
            throw new UsageError("--sequential refits low-rank and integer points; --format " + format
                    + " offers neither");
        }
        if (int8Compute && (!curves || !bits().contains(dev.blockterm.quantize.Precision.INT8)
                || target() instanceof Target.Budget)) {
            throw new UsageError("--int8-compute: computes the products by int8 weights, so it needs 8 among --bits "
                    + "and a target that counts bytes (the default, --ratio, --size, --max-error, --max-output-error)");
        }
        if (minSpeedup != 0 && !target().resolve(false).usesCurves()) {
            throw new UsageError("--min-speedup: applies to the targets decided on curves (the default, --ratio, "
                    + "--budget, --size, --max-error, --max-output-error), not to --layer-ratio or explicit ranks");
        }
        Initialization initialization;
        try {
            initialization = Initialization.valueOf(init.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--init: expected auto, algebraic, greedy or random, found '" + init + "'");
        }
        Target target = target();
        return CompressionOptions.builder().blocks(blocks == null ? CompressionOptions.DEFAULT_BLOCKS : blocks)
                .ranks(ranks == null ? new int[] {CompressionOptions.DEFAULT_RANK} : ranks).order(order)
                .layout(layout.equals("auto") ? null : Layout.parse(layout))
                .layers(layers == null ? null : Pattern.compile(layers))
                .exclude(exclude == null ? null : Pattern.compile(exclude)).minParams(minParams)
                .sweeps(maxSweeps, tolerance).seed(seed).threads(threads).expectedBatch(batch).init(initialization)
                .force(force).shapes(shapes.stream().map(LayerShape::parse).toList()).format(Format.parse(curves ? "bt" : perLayerFormat()))
                .curveFormat(curveFormat)
                .target(target).weights(weights == null ? null : Pattern.compile(weights))
                .sequential(sequential).int8Compute(int8Compute).latencyCheck(!noLatencyCheck).minSpeedup(minSpeedup)
                .convForms(convForms()).bits(bits()).build();
    }

    /** The format fitted where layers are fitted one by one: auto is bt. */
    private String perLayerFormat() {
        return format.equals("auto") ? "bt" : format;
    }

    private java.util.Set<dev.blockterm.quantize.Precision> bits() {
        if (bits == null) {
            return java.util.EnumSet.allOf(dev.blockterm.quantize.Precision.class);
        }
        java.util.Set<dev.blockterm.quantize.Precision> set;
        try {
            set = dev.blockterm.quantize.Precision.parse(bits);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--" + e.getMessage());
        }
        if (!set.contains(dev.blockterm.quantize.Precision.FLOAT)) {
            throw new IllegalArgumentException("--bits: expected a list that holds 32 (the weights' own float type), "
                    + "found " + bits);
        }
        if (set.size() > 1 && !target().resolve(false).usesCurves()) {
            throw new UsageError("--bits: applies to the targets decided on curves (the default, --ratio, "
                    + "--size, --max-error, --max-output-error), not to per-layer ranks or ratios");
        }
        if (set.size() > 1 && budget != null) {
            throw new UsageError("--bits: --budget counts parameters, so it keeps every weight float; "
                    + "give --size for a byte target");
        }
        return set;
    }

    private java.util.Set<ConvForm> convForms() {
        if (convForms == null) {
            return java.util.EnumSet.allOf(ConvForm.class);
        }
        java.util.Set<ConvForm> forms = java.util.EnumSet.noneOf(ConvForm.class);
        for (String f : convForms) {
            try {
                forms.add(ConvForm.of(f.trim()));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--conv-form: expected channel, spatial or chain, found '" + f + "'");
            }
        }
        if (!target().usesCurves()) {
            throw new UsageError("--conv-form: applies to the targets decided on curves (the default, "
                    + "--ratio, --budget, --max-error, --max-output-error), not to per-layer ranks or ratios");
        }
        return forms;
    }
}
