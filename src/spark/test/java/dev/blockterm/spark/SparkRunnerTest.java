package dev.blockterm.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.cli.CliRun;
import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Compressor;
import dev.blockterm.compress.CurveFit;
import dev.blockterm.compress.CurveTask;
import dev.blockterm.compress.FitRunner;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.WeightSource;
import dev.blockterm.runtime.InputShapes;
import java.io.ByteArrayOutputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Spark runner in local mode: the model it writes is byte for byte the one the local runner
 * writes (weight-only and calibrated, fully connected and convolutional), its tasks carry references
 * to the weights rather than the weights, and a bad master fails in one line with nothing written.
 */
class SparkRunnerTest {

    @TempDir
    Path dir;

    /** A bundled model rewritten with every initializer of 1 kB or more in an external data file. */
    private Path external(String name) {
        Path model = dir.resolve("in").resolve(name + ".onnx");
        try {
            Files.createDirectories(model.getParent());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        ModelFiles.write(ModelFiles.read(Path.of("models", name + ".onnx")), model, null, 0);
        return model;
    }

    private byte[] compress(Path model, String where, String... extra) throws Exception {
        Path out = dir.resolve(where).resolve("out.onnx");
        Files.createDirectories(out.getParent());
        List<String> args = new ArrayList<>(List.of("compress", model.toString(), "-o", out.toString(), "-q",
                "--no-latency-check", "--seed", "7", "--staging", dir.resolve("staging-" + where).toString()));
        args.addAll(List.of(extra));
        CliRun run = CliRun.of(args.toArray(String[]::new));
        assertEquals(0, run.code(), run.err());
        assertFalse(Files.exists(out.resolveSibling("out.onnx.data")), "a small output is written inline");
        return Files.readAllBytes(out);
    }

    /**
     * The same command here and with {@code --spark local[2]}: the same bytes (each fit's BLAS on one
     * thread in both: a Spark task's cpus, by default one).
     */
    private void sameBytes(String name, String... target) throws Exception {
        Path model = external(name);
        byte[] local = compress(model, name + "-local", target);
        List<String> spark = new ArrayList<>(List.of(target));
        spark.addAll(List.of("--spark", "local[2]"));
        byte[] onSpark = compress(model, name + "-spark", spark.toArray(String[]::new));
        assertArrayEquals(local, onSpark, name + " " + String.join(" ", target) + ": Spark wrote other bytes");
        assertNotEquals(Files.size(model), (long) local.length);
    }

    @Test
    void theMlpOnSparkIsTheSameBytesAsHere() throws Exception {
        sameBytes("digits_mlp", "--ratio", "3");
    }

    @Test
    void theCalibratedMlpOnSparkIsTheSameBytesAsHere() throws Exception {
        sameBytes("digits_mlp", "--ratio", "4", "--calibration", "testdata/digits_calib_x.npy");
    }

    @Test
    void theCalibratedCnnOnSparkIsTheSameBytesAsHere() throws Exception {
        sameBytes("digits_cnn", "--ratio", "4", "--calibration", "testdata/digits_img_x.npy");
    }

    /** A runner here that keeps the tasks it was given. */
    private static final class Recording implements FitRunner {
        final List<CurveTask> tasks = new ArrayList<>();
        final FitRunner local;

        Recording(Path staging) {
            local = FitRunner.local(staging);
        }

        @Override
        public List<CurveFit> run(List<CurveTask> given, Consumer<String> progress) {
            tasks.addAll(given);
            return local.run(given, progress);
        }

        @Override
        public Path stagingRoot() {
            return local.stagingRoot();
        }
    }

    @Test
    void tasksCarryReferencesToExternalWeightsNotTheWeights() throws Exception {
        Path model = external("digits_mlp");
        Recording recording = new Recording(dir.resolve("staging"));
        CompressionOptions options = CompressionOptions.builder().target(new dev.blockterm.compress.Target.Ratio(3)).latencyCheck(false).build();
        new Compressor(options, m -> { }, null, InputShapes.NONE, recording).compress(ModelFiles.read(model), "mlp");
        assertFalse(recording.tasks.isEmpty());
        List<CurveTask> shipped = new SparkFitRunner("local[1]", model, dir.resolve("staging")).shipped(recording.tasks);
        for (CurveTask t : shipped) {
            WeightSource.Mapped ref = assertInstanceOf(WeightSource.Mapped.class, t.weight());
            assertTrue(ref.file().endsWith(".onnx.data"), ref.file());
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (ObjectOutputStream o = new ObjectOutputStream(bytes)) {
                o.writeObject(t);
            }
            assertTrue(bytes.size() < 4096, "a task of " + bytes.size() + " bytes: the weight travelled with it");
            assertNotNull(ref.read().getRawData());
        }
    }

    @Test
    void aBadMasterFailsInOneLineAndWritesNothing() {
        Path out = dir.resolve("bad.onnx");
        java.io.PrintStream stderr = System.err;
        ByteArrayOutputStream spark = new ByteArrayOutputStream(); // Spark's own logging goes here, not to the command's
        CliRun run;
        try {
            System.setErr(new java.io.PrintStream(spark, true));
            run = CliRun.of("compress", "models/digits_mlp.onnx", "-o", out.toString(), "--ratio", "2", "-q",
                    "--spark", "nonsense://nowhere");
        } finally {
            System.setErr(stderr);
        }
        assertNotEquals(0, run.code());
        assertEquals(1, run.err().strip().lines().count(), run.err());
        assertTrue(run.err().contains("nonsense://nowhere"), run.err());
        assertEquals("", spark.toString().strip(), "Spark logged to stderr");
        assertFalse(Files.exists(out));
    }

    @Test
    void oneExecutorThreadGivesTheSameBytesToo() throws Exception {
        Path model = external("digits_mlp");
        byte[] local = compress(model, "one-local", "--ratio", "3");
        byte[] onSpark = compress(model, "one-spark", "--ratio", "3", "--spark", "local[1]");
        assertArrayEquals(local, onSpark);
    }
}
