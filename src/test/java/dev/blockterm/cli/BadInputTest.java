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
        byte[] before = Files.exists(input) ? Files.readAllBytes(input) : null;
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
}
