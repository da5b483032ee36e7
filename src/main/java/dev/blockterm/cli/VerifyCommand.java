package dev.blockterm.cli;

import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.runtime.InputShapes;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import dev.blockterm.runtime.Verification;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import onnx.Onnx;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "verify", mixinStandardHelpOptions = true,
        description = "Runs the original and the compressed model in ONNX Runtime and compares their outputs.")
final class VerifyCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "ORIGINAL")
    Path original;

    @Parameters(index = "1", paramLabel = "COMPRESSED")
    Path compressed;

    @Option(names = "--inputs", paramLabel = "[NAME=]FILE.npy", split = ",",
            description = "input arrays (NAME= may be left out for a single-input model); default: seeded random inputs")
    List<String> inputs;

    @Option(names = "--labels", paramLabel = "FILE.npy", description = "class labels: also print both accuracies")
    Path labels;

    @Option(names = "--embedding", description = "compare outputs as embeddings: mean and least cosine similarity "
            + "per row, token-level outputs (rows x positions x features) mean-pooled over --mask first")
    boolean embedding;

    @Option(names = "--mask", paramLabel = "NAME", description = "the input that masks padding positions for "
            + "--embedding (default: attention_mask where the model has it)")
    String mask;

    @Option(names = "--seed", description = "seed of the random inputs (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--random-batch", description = "batch size of the random inputs (default: ${DEFAULT-VALUE})")
    int randomBatch = 16;

    @Option(names = "--threads", description = "ONNX Runtime intra-op threads (default: ${DEFAULT-VALUE})")
    int threads = 1;

    @Option(names = {"-v", "--verbose"}, description = "stack traces on errors")
    boolean verbose;

    @Mixin
    InputOptions given;

    @Override
    public Integer call() {
        if (embedding && labels != null) {
            throw new UsageError("--labels and --embedding: choose one");
        }
        if (randomBatch < 1) {
            throw new IllegalArgumentException("--random-batch: expected a row count >= 1, found " + randomBatch);
        }
        NpyArray y = labels == null ? null : labels(labels);
        Onnx.ModelProto originalModel = ModelFiles.read(original);
        InputShapes shapes = given.shapes(originalModel);
        ModelFiles.read(compressed);
        Map<String, NpyArray> feeds = given.feeds(original, originalModel.getGraph(), shapes, inputs, "--inputs", threads);
        String generated = null;
        if (feeds == null) {
            try (ModelRunner runner = new ModelRunner(original, threads, shapes)) {
                feeds = runner.randomInputs(seed, randomBatch);
                generated = runner.chosenSizes(feeds);
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        if (generated != null) {
            // printed first, so that no reader of the figures below misses it
            out.println("note: " + randomBatch + " rows of generated inputs (seed " + seed + ")" + generated + ": weak "
                    + "evidence, since random inputs can hide damage that real inputs show (a recognizer that read 0% "
                    + "of text lines agreed 100% on random inputs); give --inputs, --calibration-text or "
                    + "--calibration-images with your own data");
        }
        if (embedding) {
            String m = mask != null ? mask : feeds.containsKey("attention_mask") ? "attention_mask" : null;
            out.printf(Locale.ROOT, "%-20s %6s %12s %12s %20s%n", "output", "rows", "mean cosine", "min cosine",
                    "nearest-neighbour");
            for (Verification.EmbeddingComparison c : Verification.compareEmbeddings(original, compressed, feeds, m,
                    threads)) {
                out.printf(Locale.ROOT, "%-20s %6d %12.6f %12.6f %20.4f%n", c.name(), c.rows(), c.meanCosine(),
                        c.minCosine(), c.neighbourAgreement());
            }
            out.flush();
            return 0;
        }
        List<Verification.OutputComparison> results = Verification.compare(original, compressed, feeds, y, threads);
        out.printf(Locale.ROOT, "%-16s %12s %12s %10s%s%n", "output", "max |diff|", "rel. error", "top-1 agr.",
                y == null ? "" : "   acc. original  acc. compressed");
        for (Verification.OutputComparison c : results) {
            out.printf(Locale.ROOT, "%-16s %12.4g %12.4g %10.4f%s%n", c.name(), c.maxAbsError(), c.relativeError(),
                    c.top1Agreement(), y == null ? "" : String.format(Locale.ROOT, "   %14.4f  %15.4f",
                            c.accuracyOriginal(), c.accuracyCompressed()));
        }
        out.flush();
        return 0;
    }

    /** The class labels in {@code file}: each a whole number >= 0 (an accuracy from any other would be made up). */
    private static NpyArray labels(Path file) {
        NpyArray y = NpyArray.read(file);
        double[] v = y.values();
        if (v.length == 0) {
            throw new IllegalArgumentException("--labels: " + file + " holds no labels");
        }
        for (int i = 0; i < v.length; i++) {
            if (!(v[i] >= 0 && v[i] == Math.rint(v[i]) && v[i] < Integer.MAX_VALUE)) {
                throw new IllegalArgumentException("--labels: " + file + " holds " + v[i] + " at index " + i
                        + "; expected class indices (whole numbers >= 0)");
            }
        }
        return y;
    }
}
