package dev.blockterm.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.TinyModels;
import dev.blockterm.onnx.Weights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import onnx.Onnx;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every bad input: one line on stderr, a non-zero exit, no output file, the input untouched. */
class BadInputTest {

    @TempDir
    Path dir;

    private void assertRefused(Path input, Path output, String expected, String... extra) throws IOException {
        byte[] before = Files.isRegularFile(input) ? Files.readAllBytes(input) : null;
        String[] args = Stream.concat(Stream.of("compress", input.toString(), "-o", output.toString(), "-q"),
                Arrays.stream(extra)).toArray(String[]::new);
        CliRun run = CliRun.of(args);
        assertNotEquals(0, run.code());
        assertEquals(1, run.err().lines().count(), "one line on stderr: " + run.err());
        assertTrue(run.err().contains(expected), run.err());
        if (!output.toAbsolutePath().normalize().equals(input.toAbsolutePath().normalize())) {
            assertFalse(Files.exists(output), "no output file left behind");
        }
        if (before != null) {
            assertArrayEquals(before, Files.readAllBytes(input), "input untouched");
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().endsWith(".part")), "no temporary file left");
        }
    }

    private Path copyOfMlp() throws IOException {
        Path p = dir.resolve("mlp.onnx");
        Files.copy(CompressEndToEndTest.MLP, p);
        return p;
    }

    @Test
    void missingFile() throws IOException {
        assertRefused(dir.resolve("absent.onnx"), dir.resolve("out.onnx"), "no such file");
    }

    @Test
    void notAnOnnxFile() throws IOException {
        Path p = dir.resolve("notes.onnx");
        Files.writeString(p, "this is not a model\n");
        assertRefused(p, dir.resolve("out.onnx"), "not");
    }

    @Test
    void truncatedModel() throws IOException {
        byte[] all = Files.readAllBytes(CompressEndToEndTest.MLP);
        Path p = dir.resolve("truncated.onnx");
        Files.write(p, Arrays.copyOf(all, all.length / 2));
        assertRefused(p, dir.resolve("out.onnx"), "not a valid ONNX model");
    }

    @Test
    void nothingToCompress() throws IOException {
        Path p = dir.resolve("relu.onnx");
        ModelFiles.write(TinyModels.reluOnly(), p, null);
        assertRefused(p, dir.resolve("out.onnx"), "nothing to compress");
    }

    @Test
    void impossibleRankOrBlocks() throws IOException {
        Path mlp = copyOfMlp();
        assertRefused(mlp, dir.resolve("out.onnx"), "exceeds mode", "--layout", "merged", "--order", "2", "--rank", "1000,1000");
        assertRefused(mlp, dir.resolve("out.onnx"), "--rank: expected", "--layout", "merged", "--rank", "4,4,4,4,4");
        assertRefused(mlp, dir.resolve("out.onnx"), "--blocks: expected >= 1", "--blocks", "0");
        assertRefused(mlp, dir.resolve("out.onnx"), "--rank: expected ranks >= 1", "--rank", "0");
    }

    @Test
    void nonFiniteWeight() throws IOException {
        Onnx.ModelProto model = ModelFiles.read(CompressEndToEndTest.MLP);
        Onnx.GraphProto.Builder g = model.getGraph().toBuilder();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            Onnx.TensorProto t = g.getInitializer(i);
            if (t.getName().equals("2.weight")) {
                double[] v = Weights.values(t);
                v[7] = Double.NaN;
                g.setInitializer(i, Weights.tensor(t.getName(), new long[] {t.getDims(0), t.getDims(1)}, v, Weights.FLOAT));
            }
        }
        Path p = dir.resolve("nan.onnx");
        ModelFiles.write(model.toBuilder().setGraph(g).build(), p, null);
        assertRefused(p, dir.resolve("out.onnx"), "non-finite value");
    }

    /** A layer with a dimension of size 0 has nothing to factor: it stays dense, saying why (it crashed the fit). */
    @Test
    void aWeightWithAZeroDimensionStaysDenseSayingWhy() throws IOException {
        List<Onnx.ModelProto> models = new java.util.ArrayList<>();
        for (long[] dims : new long[][] {{64, 0}, {0, 64}}) {
            models.add(TinyModels.model(13, List.of(TinyModels.input("x", -1, dims[0])),
                    List.of(TinyModels.input("y", -1, dims[1])),
                    List.of(Onnx.NodeProto.newBuilder().setOpType("MatMul").setName("fc").addInput("x").addInput("w")
                            .addOutput("y").build()),
                    List.of(Weights.tensor("w", dims, new double[0], Weights.FLOAT))));
        }
        models.add(TinyModels.conv(0, 4, new int[] {3, 3}, 8, new double[0], List.of()));
        for (Onnx.ModelProto model : models) {
            Path p = dir.resolve("empty.onnx");
            ModelFiles.write(model, p, null);
            Path out = dir.resolve("out.onnx");
            for (String[] target : new String[][] {{}, {"--layer-ratio", "2"}, {"--rank", "2"}}) {
                String[] args = Stream.concat(Stream.of("compress", p.toString(), "-o", out.toString(), "-q",
                        "--min-params", "0", "--no-latency-check"), Arrays.stream(target)).toArray(String[]::new);
                CliRun run = CliRun.of(args);
                if (run.code() != 0 && model != models.get(0)) {
                    // an input of size 0 (ONNX Runtime does not run it, so a target on its outputs is refused), or a
                    // kernel with an empty dimension (refused by the model check)
                    assertEquals(1, run.err().lines().count(), run.err());
                    assertTrue(run.err().contains("cannot; give a size target") || run.err().contains("has an empty "
                            + "dimension, shape [0, 4, 3, 3]"), run.err());
                    assertFalse(Files.exists(out));
                    continue;
                }
                assertEquals(0, run.code(), run.err());
                assertTrue(run.out().contains("dense: no weights (a dimension of size 0): nothing to factor"), run.out());
                assertTrue(Files.isRegularFile(out));
                Files.delete(out);
            }
        }
    }

    @Test
    void opsetTooOld() throws IOException {
        Onnx.ModelProto old = TinyModels.model(6, List.of(TinyModels.input("x", -1, 64)), List.of(TinyModels.input("y", -1, 64)),
                List.of(Onnx.NodeProto.newBuilder().setOpType("MatMul").addInput("x").addInput("w").addOutput("y").build()),
                List.of(Weights.tensor("w", new long[] {64, 64}, TinyModels.gaussian(4096, 1), Weights.FLOAT)));
        Path p = dir.resolve("old.onnx");
        ModelFiles.write(old, p, null);
        assertRefused(p, dir.resolve("out.onnx"), "opset 6 is older than 7");
    }

    @Test
    void outputPathEqualToInput() throws IOException {
        Path mlp = copyOfMlp();
        assertRefused(mlp, mlp, "output path is the input model");
        assertRefused(mlp, dir.resolve(".").resolve("mlp.onnx"), "output path is the input model");
    }

    @Test
    void unwritableOrMissingOutputDirectory() throws IOException {
        Path mlp = copyOfMlp();
        assertRefused(mlp, dir.resolve("no/such/dir/out.onnx"), "output directory does not exist");
        Path locked = Files.createDirectory(dir.resolve("locked"));
        Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            if (!Files.isWritable(locked)) {
                assertRefused(mlp, locked.resolve("out.onnx"), "not writable");
            } else {
                // root writes through permission bits; sysfs refuses file creation even to root
                Path sys = Path.of("/sys/blockterm-test-out.onnx");
                Assumptions.assumeTrue(Files.isDirectory(sys.getParent()), "no /sys to test an unwritable directory");
                assertRefused(mlp, sys, "cannot write", "--max-sweeps", "2");
            }
        } finally {
            Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    @Test
    void usageErrorsExitWithTwo() {
        CliRun run = CliRun.of("compress");
        assertEquals(2, run.code());
        CliRun unknown = CliRun.of("compress", "x.onnx", "-o", "y.onnx", "--no-such-option");
        assertEquals(2, unknown.code());
    }

    @Test
    void usageErrorsPrintTheErrorAndAHintNotTheWholeUsage() {
        CliRun run = CliRun.of("compress", "x.onnx", "-o", "y.onnx", "--no-such-option");
        assertEquals(2, run.code());
        List<String> lines = run.err().lines().toList();
        assertEquals(2, lines.size(), run.err());
        assertTrue(lines.get(0).contains("--no-such-option"), run.err());
        assertEquals("Try 'blockterm compress --help' for more information.", lines.get(1));
        CliRun missing = CliRun.of("verify");
        assertEquals(2, missing.code());
        assertEquals("Try 'blockterm verify --help' for more information.", missing.err().lines().reduce((a, b) -> b).orElseThrow());
    }

    @Test
    void aFifoAsTheModelIsRefusedWithoutOpeningIt() throws Exception {
        Path fifo = dir.resolve("pipe.onnx");
        Assumptions.assumeTrue(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor() == 0, "no mkfifo");
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(30),
                () -> assertRefused(fifo, dir.resolve("out.onnx"), "not a regular file"));
    }

    @Test
    void aConvWithStrideZeroIsRefusedBeforeOnnxRuntimeRunsIt() throws IOException {
        Onnx.ModelProto conv = TinyModels.conv(32, 16, new int[] {3, 3}, 12, null,
                List.of(TinyModels.intsAttr("strides", 0, 1)));
        Path p = dir.resolve("conv.onnx");
        ModelFiles.write(conv, p, null);
        assertRefused(p, dir.resolve("out.onnx"), "node 'conv' (Conv): attribute strides = [0, 1]", "--min-params", "16");
        CliRun verify = CliRun.of("verify", p.toString(), p.toString());
        assertEquals(1, verify.code());
        assertEquals(1, verify.err().lines().count(), verify.err());
    }

    @Test
    void aNanBiasOrAlphaIsRefused() throws IOException {
        Path p = dir.resolve("gemm.onnx");
        ModelFiles.write(TinyModels.gemm(64, 64, Float.NaN, 1, 13), p, null);
        assertRefused(p, dir.resolve("out.onnx"), "alpha = NaN");
        Onnx.ModelProto dense = TinyModels.gemm(64, 64, 1, 1, 13);
        Onnx.GraphProto.Builder g = dense.getGraph().toBuilder();
        double[] bias = new double[64];
        bias[3] = Double.NEGATIVE_INFINITY;
        g.setInitializer(1, Weights.tensor("c", new long[] {1, 64}, bias, Weights.FLOAT));
        ModelFiles.write(dense.toBuilder().setGraph(g).build(), p, null);
        assertRefused(p, dir.resolve("out.onnx"), "initializer 'c': non-finite value -Infinity at index 3");
    }

    @Test
    void outputsThatWouldDestroyTheInputOrEachOther() throws IOException {
        Path model = dir.resolve("m.onnx");
        ModelFiles.write(ModelFiles.read(CompressEndToEndTest.MLP), model, null, 0);
        Path data = dir.resolve("m.onnx.data");
        byte[] dataBefore = Files.readAllBytes(data);
        CliRun onData = CliRun.of("compress", model.toString(), "-o", data.toString(), "-q");
        assertEquals(1, onData.code());
        assertTrue(onData.err().contains("is an input file") && onData.err().lines().count() == 1, onData.err());
        assertRefused(model, dir.resolve("out.onnx"), "is an input file", "--report", data.toString());
        assertRefused(model, dir.resolve("out.onnx"), "is an input file", "--factors", data.toString());
        assertArrayEquals(dataBefore, Files.readAllBytes(data));
        Path out = dir.resolve("out.onnx");
        assertRefused(model, out, "named twice", "--report", out.toString());
        assertRefused(model, out, "named twice", "--factors", dir.resolve("./out.onnx").toString());
        assertRefused(model, out, "is a directory", "--report", Files.createDirectory(dir.resolve("r.json")).toString());
        assertRefused(model, out, "not a regular file", "--report", "/dev/null");
    }

    @Test
    void calibrationWithoutRows() throws IOException {
        Path empty = dir.resolve("empty.npy");
        new dev.blockterm.runtime.NpyArray(new long[] {0, 64}, new double[0], "<f4").write(empty);
        assertRefused(copyOfMlp(), dir.resolve("out.onnx"), "--calibration: " + empty + " holds no rows",
                "--calibration", empty.toString());
    }

    @Test
    void outOfMemoryIsOneLineSayingWhatToDo() throws Exception {
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(javaBin.toString(), "-Xmx16m", "-cp", System.getProperty("java.class.path"),
                "dev.blockterm.cli.Main", "compress", CompressEndToEndTest.MLP.toString(), "-o", dir.resolve("o.onnx").toString(),
                "-q", "--no-latency-check").redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        String err = new String(p.getErrorStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS));
        assertEquals(1, p.exitValue(), err);
        assertEquals(1, err.lines().count(), err);
        assertTrue(err.contains("out of memory") && err.contains("BLOCKTERM_JAVA_OPTS"), err);
    }
}
