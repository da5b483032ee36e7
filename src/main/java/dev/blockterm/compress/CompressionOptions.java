package dev.blockterm.compress;

import dev.blockterm.decompose.BlockTermConfig;
import dev.blockterm.decompose.Format;
import dev.blockterm.decompose.Initialization;
import dev.blockterm.tensor.Layout;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What {@code compress} does.
 *
 * @param blocks        N
 * @param ranks         one rank for every mode, or one per mode of the layout they apply to
 * @param order         d for the merged layout (0: chosen from the layer's sizes)
 * @param layout        the layout, or null to fit the candidates and keep the least error
 * @param layers        only layers whose name matches (null: all)
 * @param exclude       skip layers whose name matches (null: none)
 * @param minParams     layers with fewer weights stay dense
 * @param maxSweeps     ALS sweep limit
 * @param tolerance     ALS tolerance on the relative change of the error
 * @param seed          seed of every random choice
 * @param threads       layers fitted in parallel
 * @param expectedBatch batch size at which contraction orders are costed
 * @param init          ALS initialization
 * @param force         replace layers even where the factored form is no smaller or no cheaper
 * @param shapes        factor sizes given per layer (the first match wins)
 * @param format        bt, tucker, cp or tt
 * @param target        what the compressed model must meet
 * @param weights       other constant weights to store factored and rebuild at load (null: none)
 * @param sequential    with calibration data: each layer's inputs from the model compressed up to it
 * @param latencyCheck  time each compressed layer dense and factored in ONNX Runtime at
 *                      {@code expectedBatch} and report it
 * @param minSpeedup    offer only factored forms at least this many times faster than dense in ONNX
 *                      Runtime (0: speed is no constraint)
 * @param convForms     the forms a convolution may take where the targets decide on curves
 * @param bits          the precisions a weight or its factors may be stored at where the targets decide on curves
 *                      (the float type of the weight always among them)
 * @param curveFormat   the forms the targets decided on curves choose among
 * @param int8Compute   products by int8 weights computed on integers ({@code DynamicQuantizeLinear} and
 *                      {@code MatMulInteger}) rather than read back to float at load
 */
public record CompressionOptions(int blocks, int[] ranks, int order, Layout layout, Pattern layers, Pattern exclude,
                                 long minParams, int maxSweeps, double tolerance, long seed, int threads,
                                 long expectedBatch, Initialization init, boolean force,
                                 List<LayerShape> shapes, Format format, Target target,
                                 Pattern weights, boolean sequential, boolean latencyCheck, double minSpeedup,
                                 java.util.Set<ConvForm> convForms,
                                 java.util.Set<dev.blockterm.quantize.Precision> bits, CurveFormat curveFormat,
                                 boolean int8Compute) {

    public static final int DEFAULT_BLOCKS = 4;
    public static final int DEFAULT_RANK = 8;
    public static final long DEFAULT_MIN_PARAMS = 4096;
    /** The least speed-up asked for is below this (a factored form a million times faster than dense is none). */
    public static final double MAX_MIN_SPEEDUP = 1e6;
    public static final long DEFAULT_BATCH = 32;

    public CompressionOptions {
        if (blocks < 1) {
            throw new IllegalArgumentException("--blocks: expected >= 1, found " + blocks);
        }
        if (ranks == null || ranks.length == 0) {
            throw new IllegalArgumentException("--rank: expected one rank or one per mode");
        }
        for (int r : ranks) {
            if (r < 1) {
                throw new IllegalArgumentException("--rank: expected ranks >= 1, found " + Arrays.toString(ranks));
            }
        }
        if (order != 0 && (order < 2 || order > 8)) {
            throw new IllegalArgumentException("--order: expected 2..8 (or 0 for automatic), found " + order);
        }
        if (minParams < 0) {
            throw new IllegalArgumentException("--min-params: expected >= 0, found " + minParams);
        }
        if (threads < 1) {
            throw new IllegalArgumentException("--threads: expected >= 1, found " + threads);
        }
        if (expectedBatch < 1) {
            throw new IllegalArgumentException("--batch: expected >= 1, found " + expectedBatch);
        }
        // the ALS stopping rule is validated where it lives
        new BlockTermConfig(blocks, new int[] {1, 1}, maxSweeps, tolerance, seed, init, 1);
        if (curveFormat == null) {
            throw new IllegalArgumentException("format: expected auto, bt, tucker, cp or lowrank");
        }
        if (format == null) {
            throw new IllegalArgumentException("--format: expected bt, tucker, cp or tt");
        }
        if (target == null) {
            throw new IllegalArgumentException("target: expected one, found none");
        }
        if (minSpeedup != 0 && !(minSpeedup > 0 && minSpeedup < MAX_MIN_SPEEDUP)) {
            throw new IllegalArgumentException("min speed-up: expected a factor above 0 and below 1e6, found " + minSpeedup);
        }
        if (minSpeedup != 0 && (target instanceof Target.Ranks || target instanceof Target.LayerRatio)) {
            throw new IllegalArgumentException("min speed-up: applies to the targets decided on curves (the default, a "
                    + "ratio, a budget, a max error, a max output error), not to " + target.describe());
        }
        if (convForms == null || convForms.isEmpty()) {
            throw new IllegalArgumentException("conv forms: expected at least one of channel, spatial, chain");
        }
        ranks = ranks.clone();
        shapes = List.copyOf(shapes);
        convForms = java.util.Collections.unmodifiableSet(java.util.EnumSet.copyOf(convForms));
        if (bits == null || !bits.contains(dev.blockterm.quantize.Precision.FLOAT)) {
            throw new IllegalArgumentException("bits: expected a list that holds 32 (the weights' own float type), found "
                    + (bits == null ? "none" : dev.blockterm.quantize.Precision.text(bits)));
        }
        bits = java.util.Collections.unmodifiableSet(java.util.EnumSet.copyOf(bits));
    }

    public static CompressionOptions defaults() {
        return builder().build();
    }

    /** A builder holding the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these options. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.blocks = blocks;
        b.ranks = ranks.clone();
        b.order = order;
        b.layout = layout;
        b.layers = layers;
        b.exclude = exclude;
        b.minParams = minParams;
        b.maxSweeps = maxSweeps;
        b.tolerance = tolerance;
        b.seed = seed;
        b.threads = threads;
        b.expectedBatch = expectedBatch;
        b.init = init;
        b.force = force;
        b.shapes = shapes;
        b.format = format;
        b.curveFormat = curveFormat;
        b.target = target;
        b.weights = weights;
        b.sequential = sequential;
        b.latencyCheck = latencyCheck;
        b.minSpeedup = minSpeedup;
        b.convForms = convForms;
        b.bits = bits;
        b.int8Compute = int8Compute;
        return b;
    }

    /** These blocks and ranks on every layer: explicit ranks become the target unless another was set. */
    public CompressionOptions withRanks(int blocksN, int... newRanks) {
        return toBuilder().blocks(blocksN).ranks(newRanks).target(explicitUnlessSet()).build();
    }

    /** Explicit ranks in this layout where no target was set (as the command line reads --layout alone). */
    public CompressionOptions withLayout(Layout newLayout) {
        return toBuilder().layout(newLayout).target(explicitUnlessSet()).build();
    }

    private Target explicitUnlessSet() {
        return target instanceof Target.Default ? new Target.Ranks() : target;
    }

    public CompressionOptions withMinParams(long newMinParams) {
        return toBuilder().minParams(newMinParams).build();
    }

    public CompressionOptions withLatencyCheck(boolean check) {
        return toBuilder().latencyCheck(check).build();
    }

    public CompressionOptions withForce(boolean newForce) {
        return toBuilder().force(newForce).build();
    }

    /** Explicit ranks in this format where no target was set (as the command line reads --format alone). */
    public CompressionOptions withFormat(Format newFormat) {
        return toBuilder().format(newFormat).target(explicitUnlessSet()).build();
    }

    public CompressionOptions withTarget(Target newTarget) {
        return toBuilder().target(newTarget).build();
    }

    public CompressionOptions withWeights(Pattern newWeights) {
        return toBuilder().weights(newWeights).build();
    }

    public CompressionOptions withSequential(boolean newSequential) {
        return toBuilder().sequential(newSequential).build();
    }

    /** Options one at a time; {@link #build()} validates them. */
    public static final class Builder {
        private int blocks = DEFAULT_BLOCKS;
        private int[] ranks = {DEFAULT_RANK};
        private int order;
        private Layout layout;
        private Pattern layers;
        private Pattern exclude;
        private long minParams = DEFAULT_MIN_PARAMS;
        private int maxSweeps = BlockTermConfig.DEFAULT_MAX_SWEEPS;
        private double tolerance = BlockTermConfig.DEFAULT_TOLERANCE;
        private long seed;
        private int threads = 1;
        private long expectedBatch = DEFAULT_BATCH;
        private Initialization init = Initialization.AUTO;
        private boolean force;
        private List<LayerShape> shapes = List.of();
        private Format format = Format.BT;
        private CurveFormat curveFormat = CurveFormat.AUTO;
        private Target target = new Target.Default();
        private Pattern weights;
        private boolean sequential;
        private boolean int8Compute;
        private boolean latencyCheck = true;
        private double minSpeedup;
        private java.util.Set<ConvForm> convForms = java.util.EnumSet.allOf(ConvForm.class);
        private java.util.Set<dev.blockterm.quantize.Precision> bits =
                java.util.EnumSet.allOf(dev.blockterm.quantize.Precision.class);

        private Builder() {
        }

        public Builder blocks(int v) {
            blocks = v;
            return this;
        }

        public Builder ranks(int... v) {
            ranks = v.clone();
            return this;
        }

        public Builder order(int v) {
            order = v;
            return this;
        }

        public Builder layout(Layout v) {
            layout = v;
            return this;
        }

        public Builder layers(Pattern v) {
            layers = v;
            return this;
        }

        public Builder exclude(Pattern v) {
            exclude = v;
            return this;
        }

        public Builder minParams(long v) {
            minParams = v;
            return this;
        }

        public Builder sweeps(int max, double tol) {
            maxSweeps = max;
            tolerance = tol;
            return this;
        }

        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public Builder threads(int v) {
            threads = v;
            return this;
        }

        public Builder expectedBatch(long v) {
            expectedBatch = v;
            return this;
        }

        public Builder init(Initialization v) {
            init = v;
            return this;
        }

        public Builder force(boolean v) {
            force = v;
            return this;
        }

        public Builder shapes(List<LayerShape> v) {
            shapes = v;
            return this;
        }

        public Builder curveFormat(CurveFormat v) {
            curveFormat = v;
            return this;
        }

        public Builder format(Format v) {
            format = v;
            return this;
        }

        public Builder target(Target v) {
            target = v;
            return this;
        }

        public Builder minSpeedup(double v) {
            minSpeedup = v;
            return this;
        }

        public Builder bits(java.util.Set<dev.blockterm.quantize.Precision> v) {
            bits = v;
            return this;
        }

        public Builder convForms(java.util.Set<ConvForm> v) {
            convForms = v;
            return this;
        }

        public Builder weights(Pattern v) {
            weights = v;
            return this;
        }

        public Builder sequential(boolean v) {
            sequential = v;
            return this;
        }

        public Builder int8Compute(boolean v) {
            int8Compute = v;
            return this;
        }

        public Builder latencyCheck(boolean v) {
            latencyCheck = v;
            return this;
        }

        public CompressionOptions build() {
            return new CompressionOptions(blocks, ranks, order, layout, layers, exclude, minParams, maxSweeps, tolerance,
                    seed, threads, expectedBatch, init, force, shapes, format, target, weights, sequential,
                    latencyCheck, minSpeedup, convForms, bits, curveFormat, int8Compute);
        }
    }

    /** The factor sizes given for this layer, or null. */
    public LayerShape shapeFor(String layerName) {
        for (LayerShape s : shapes) {
            if (s.layers().matcher(layerName).find()) {
                return s;
            }
        }
        return null;
    }

    @Override
    public int[] ranks() {
        return ranks.clone();
    }

    /** A target as the flag that asks for it ("" for the default and explicit ranks). */
    static String flag(Target target) {
        if (target instanceof Target.LayerRatio r) {
            return " --layer-ratio " + r.ratio();
        } else if (target instanceof Target.MaxError e) {
            return " --max-error " + e.error();
        } else if (target instanceof Target.Ratio r) {
            return " --ratio " + r.ratio();
        } else if (target instanceof Target.Budget b) {
            return " --budget " + b.parameters();
        } else if (target instanceof Target.Size z) {
            return " --size " + z.bytes();
        } else if (target instanceof Target.MaxOutputError e && !e.chosenByDefault()) {
            return " --max-output-error " + e.error();
        }
        return "";
    }

    /** The options as command-line flags (recorded in the output model). */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        sb.append("--blocks ").append(blocks).append(" --rank ");
        for (int i = 0; i < ranks.length; i++) {
            sb.append(i == 0 ? "" : ",").append(ranks[i]);
        }
        sb.append(" --order ").append(order == 0 ? "auto" : Integer.toString(order));
        sb.append(" --layout ").append(layout == null ? "auto" : layout.label());
        if (layers != null) {
            sb.append(" --layers ").append(layers.pattern());
        }
        if (exclude != null) {
            sb.append(" --exclude ").append(exclude.pattern());
        }
        sb.append(" --min-params ").append(minParams).append(" --max-sweeps ").append(maxSweeps).append(" --tol ")
                .append(tolerance).append(" --seed ").append(seed).append(" --threads ").append(threads)
                .append(" --batch ").append(expectedBatch).append(" --init ").append(init.name().toLowerCase());
        sb.append(" --format ").append(target.resolve(true).usesCurves() ? curveFormat.label() : format.label());
        sb.append(flag(target));
        if (minSpeedup != 0) {
            sb.append(" --min-speedup ").append(minSpeedup);
        }
        if (convForms.size() < ConvForm.values().length) {
            sb.append(" --conv-form ").append(String.join(",", convForms.stream().map(ConvForm::label).toList()));
        }
        if (bits.size() < dev.blockterm.quantize.Precision.values().length) {
            sb.append(" --bits ").append(dev.blockterm.quantize.Precision.text(bits));
        }
        if (weights != null) {
            sb.append(" --weights ").append(weights.pattern());
        }
        if (sequential) {
            sb.append(" --sequential");
        }
        if (int8Compute) {
            sb.append(" --int8-compute");
        }
        if (force) {
            sb.append(" --force");
        }
        if (!latencyCheck) {
            sb.append(" --no-latency-check");
        }
        for (LayerShape s : shapes) {
            sb.append(" --shape ").append(s.describe());
        }
        return sb.toString();
    }
}
