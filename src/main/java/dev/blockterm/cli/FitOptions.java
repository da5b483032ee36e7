package dev.blockterm.cli;

import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.decompose.BlockTermConfig;
import dev.blockterm.decompose.Format;
import dev.blockterm.decompose.Initialization;
import dev.blockterm.tensor.Layout;
import dev.blockterm.compress.LayerShape;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import picocli.CommandLine.Option;

/** The fitting options shared by {@code compress} and {@code inspect}; builds {@link CompressionOptions}. */
final class FitOptions {

    @Option(names = "--blocks", paramLabel = "N", description = "block terms per layer (default: ${DEFAULT-VALUE})")
    int blocks = CompressionOptions.DEFAULT_BLOCKS;

    @Option(names = "--rank", paramLabel = "R[,R...]", split = ",",
            description = "rank of every mode, or one per mode (default: ${DEFAULT-VALUE})")
    int[] ranks = {CompressionOptions.DEFAULT_RANK};

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

    @Option(names = "--threads", description = "layers fitted in parallel (default: ${DEFAULT-VALUE})")
    int threads = 1;

    @Option(names = "--batch", description = "rows per call at which contraction orders are costed and layers timed (default: ${DEFAULT-VALUE})")
    long batch = CompressionOptions.DEFAULT_BATCH;

    @Option(names = "--init", description = "auto, algebraic, greedy or random (default: ${DEFAULT-VALUE})")
    String init = "auto";

    @Option(names = "--shape", paramLabel = "REGEX=I1xI2..:J1xJ2..",
            description = "factor sizes for the layers whose name matches (repeatable; e.g. fc1=8x8x8:8x8x8)")
    List<String> shapes = new ArrayList<>();

    @Option(names = "--format", description = "bt, tucker, cp or tt (default: ${DEFAULT-VALUE})")
    String format = "bt";

    @Option(names = "--ratio", paramLabel = "X",
            description = "per layer, the least error with compression >= X (searches layout, N and ranks)")
    double ratio;

    @Option(names = "--max-error", paramLabel = "E",
            description = "per layer, the fewest parameters with relative weight error <= E")
    double maxError;

    @Option(names = "--weights", paramLabel = "REGEX",
            description = "also store these initializers factored and rebuild them at load (e.g. an embedding table);"
                    + " LSTM/GRU/RNN W and R are always candidates")
    String weights;

    @Option(names = "--budget", paramLabel = "P",
            description = "a whole-model parameter target, spread over the layers where it costs the least error")
    long budget;

    @Option(names = "--sequential",
            description = "with --calibration: each layer's inputs from the model compressed up to that layer")
    boolean sequential;

    @Option(names = "--force", description = "replace layers even where the factored form is no smaller or no cheaper")
    boolean force;

    @Option(names = "--no-latency-check", description = "keep layers dense by the FLOP model only, "
            + "without timing each compressed fully connected layer dense and factored in ONNX Runtime at --batch")
    boolean noLatencyCheck;

    CompressionOptions build() {
        Initialization initialization;
        try {
            initialization = Initialization.valueOf(init.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--init: expected auto, algebraic, greedy or random, found '" + init + "'");
        }
        return CompressionOptions.builder().blocks(blocks).ranks(ranks).order(order)
                .layout(layout.equals("auto") ? null : Layout.parse(layout))
                .layers(layers == null ? null : Pattern.compile(layers))
                .exclude(exclude == null ? null : Pattern.compile(exclude)).minParams(minParams)
                .sweeps(maxSweeps, tolerance).seed(seed).threads(threads).expectedBatch(batch).init(initialization)
                .force(force).shapes(shapes.stream().map(LayerShape::parse).toList()).format(Format.parse(format))
                .ratio(ratio).maxError(maxError).weights(weights == null ? null : Pattern.compile(weights))
                .budget(budget).sequential(sequential).latencyCheck(!noLatencyCheck).build();
    }
}
