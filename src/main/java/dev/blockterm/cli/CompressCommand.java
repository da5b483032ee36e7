package dev.blockterm.cli;

import dev.blockterm.compress.Calibration;
import dev.blockterm.handoff.FactorFiles;
import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Compressor;
import dev.blockterm.compress.FitRunner;
import dev.blockterm.onnx.ModelException;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.OutputPaths;
import dev.blockterm.onnx.TempFiles;
import dev.blockterm.runtime.InputShapes;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import dev.blockterm.report.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import onnx.Onnx;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "compress", mixinStandardHelpOptions = true,
        description = "Chooses a form, a size and a precision for every fully connected, convolutional, recurrent and "
                + "embedding weight (low rank, block terms, spatial SVD; float, int8, int4) for the whole model's target "
                + "and writes the smaller model.")
final class CompressCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "the dense ONNX model")
    Path model;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT", description = "where to write the compressed model")
    Path output;

    @Option(names = "--report", paramLabel = "FILE.json", description = "also write the report as JSON")
    Path report;

    @Option(names = {"-q", "--quiet"}, description = "no progress on stderr")
    boolean quiet;

    @Option(names = {"-v", "--verbose"}, description = "stack traces on errors")
    boolean verbose;

    @Option(names = "--calibration", paramLabel = "[NAME=]FILE.npy", split = ",",
            description = "calibration inputs: fit the fully connected layers to their outputs on these, not to the weights")
    List<String> calibration;

    @Option(names = "--factors", paramLabel = "FILE.safetensors", description = "also write every compressed layer's "
            + "factors and cores, with a JSON manifest in the metadata, for fine-tuning (see import-factors)")
    Path factors;

    @Option(names = "--spark", paramLabel = "MASTER", description = "fit the layers' curves as Apache Spark tasks "
            + "(local[N], spark://HOST:7077; needs the Spark build: README, Spark); whole-model targets")
    String spark;

    @Option(names = "--staging", paramLabel = "DIR", description = "where the fits stage their results (default: the "
            + "output's folder; with --spark on a cluster, a folder every executor and the driver share)")
    Path staging;

    @Mixin
    FitOptions fit;

    @Mixin
    InputOptions inputs;

    @Override
    public Integer call() throws IOException {
        CompressionOptions options = fit.build();
        if (factors != null) {
            // the handoff carries float factors: a factor stored at int8 or int4 would come back float
            if (fit.bits != null && options.bits().size() > 1) {
                throw new UsageError("--factors: the handoff writes "
                        + "float factors (they are fine-tuned in float), so it takes --bits 32 only, found --bits "
                        + fit.bits);
            }
            options = options.toBuilder().bits(java.util.EnumSet.of(dev.blockterm.quantize.Precision.FLOAT)).build();
        }
        if (options.sequential() && !inputs.given(calibration)) {
            throw new UsageError("--sequential: needs --calibration (or --calibration-text, "
                    + "--calibration-images)");
        }
        requireWritable(model, List.of(), output, report, factors);
        if (staging != null && Files.exists(staging) && !Files.isDirectory(staging)) {
            throw new IllegalArgumentException("--staging: " + staging + " is not a folder");
        }
        Onnx.ModelProto input = ModelFiles.read(model);
        InputShapes shapes = inputs.shapes(input);
        Map<String, NpyArray> feeds = inputs.feeds(model, input.getGraph(), shapes, calibration, "--calibration", 1);
        Calibration data = feeds == null ? null : new Calibration(feeds, 1);
        Compressor compressor = new Compressor(options, quiet ? m -> { } : m -> spec.commandLine().getErr().println(m),
                data, shapes, runner(options));
        Compressor.Result result = compressor.compress(input, model.toString());
        try (result) { // its staging folder (the fits, the new factors) goes once the model and factors are written
            write(result);
        }
        spec.commandLine().getOut().print(result.report().table());
        String peak = peakResidentMemory();
        if (peak != null) {
            spec.commandLine().getOut().println("peak memory: " + peak + " resident (the whole process, JVM included)");
        }
        spec.commandLine().getOut().flush();
        return 0;
    }

    private void write(Compressor.Result result) throws IOException {
        ModelFiles.write(result.model(), output, model, loadsInOnnxRuntime(result.model(), output));
        if (factors != null) {
            try {
                FactorFiles.export(output.getFileName().toString(), result.factored()).write(factors);
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(output); // both outputs or neither
                throw new ModelException(factors + ": cannot write (" + e.getMessage() + ")", e);
            }
        }
        if (report != null) {
            Path temp = TempFiles.beside(report);
            try {
                Files.writeString(temp, Json.of(result.report()), StandardCharsets.UTF_8);
                ModelFiles.publish(temp, report);
            } finally {
                TempFiles.delete(temp);
            }
        }
    }

    /**
     * Where the layers' curves are fitted, here or on Spark, staging under {@code --staging} or else
     * beside the output (where there is room for a model; the system's temporary folder may be memory).
     */
    private FitRunner runner(CompressionOptions options) {
        Path root = staging != null ? staging.toAbsolutePath() : output.toAbsolutePath().getParent();
        if (spark == null) {
            return FitRunner.local(root);
        }
        if (!options.target().resolve(true).usesCurves()) {
            throw new UsageError("--spark: runs the whole-model targets (the default, --ratio, --budget, --size, "
                    + "--max-error, --max-output-error); per-layer targets fit here");
        }
        String missing = "--spark: this build has no Spark runner; build it with 'mvn -Pspark -DskipTests package' "
                + "and run with BLOCKTERM_SPARK=1 (README, Spark)";
        FitRunner.Provider provider = FitRunner.provider("spark");
        if (provider == null) {
            throw new IllegalArgumentException(missing);
        }
        try {
            return provider.create(spark, model, root);
        } catch (LinkageError e) {
            throw new IllegalArgumentException(missing + " (" + e.getMessage() + " is missing)", e);
        }
    }

    /** The process's peak resident set (Linux: VmHWM in /proc/self/status), or null where it is not known. */
    static String peakResidentMemory() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    long kb = Long.parseLong(line.replaceAll("[^0-9]", ""));
                    return String.format(java.util.Locale.ROOT, "%.2f GB", kb / 1e6);
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return null;
    }

    /**
     * Checked before any fitting, so a bad path fails at once: no output (null ones are options not
     * given) may be the input model, one of its external data files or one of {@code otherInputs},
     * nor another output, nor an existing non-regular file; each output's folder must be writable.
     */
    static void requireWritable(Path input, List<Path> otherInputs, Path... outputs) {
        List<Path> inputs = new java.util.ArrayList<>(ModelFiles.dataFiles(input));
        inputs.addAll(otherInputs);
        OutputPaths.check(input, inputs, java.util.Arrays.asList(outputs));
    }

    /**
     * The last check on a written model: it loads in ONNX Runtime (skipped above 512 MB, where a session
     * would double the memory the run needs; the model's checks on read still hold there).
     */
    static ModelFiles.Check loadsInOnnxRuntime(Onnx.ModelProto model, Path output) {
        return ModelFiles.serializedBytes(model) > (512L << 20) ? null : written -> ModelRunner.requireLoads(written, output.toString());
    }
}
