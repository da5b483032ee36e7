package dev.blockterm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.onnx.ModelFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --bits and --size through the command line: what they write, and one line for what they refuse. */
class BitsOptionsTest {

    static final String MLP = "models/digits_mlp.onnx";

    @TempDir
    Path dir;

    /**
     * Refused with exit code {@code code} (0: a bad value, which exits 1 or 2 as the option's own checks do): one
     * line, and after a usage error (exit 2) where help is.
     */
    private void refused(int code, String expected, String... args) throws Exception {
        CliRun run = CliRun.of(args);
        if (code == 0) {
            assertTrue(run.code() == 1 || run.code() == 2, run.code() + ": " + run.err());
        } else {
            assertEquals(code, run.code(), run.err());
        }
        assertEquals(run.code() == 2 ? 2 : 1, run.err().strip().lines().count(), run.err());
        assertTrue(run.err().contains(expected), run.err());
        try (var files = Files.list(dir)) {
            assertFalse(files.findAny().isPresent(), "nothing is left behind");
        }
    }

    @Test
    void badBitsAndSizesAreRefusedInOneLineLeavingNothing() throws Exception {
        String out = dir.resolve("o.onnx").toString();
        refused(0, "--bits: expected 32, 16, 8 or 4, found 3", "compress", MLP, "-o", out, "--bits", "3");
        refused(0, "--bits: expected a list that holds 32", "compress", MLP, "-o", out, "--bits", "8,4");
        refused(0, "--size: expected a byte count or a number with a unit", "compress", MLP, "-o", out, "--size", "big");
        refused(0, "--size: unknown unit 'XB'", "compress", MLP, "-o", out, "--size", "3XB");
        refused(2, "choose one", "compress", MLP, "-o", out, "--size", "1MB", "--ratio", "2");
        refused(2, "--bits: applies to the targets decided on curves", "compress", MLP, "-o", out, "--layer-ratio", "2",
                "--bits", "32,8");
        refused(2, "--factors: the handoff writes float factors", "compress", MLP, "-o", out, "--bits", "32,8",
                "--factors", dir.resolve("f.safetensors").toString());
        refused(1, "size: 1.0 kB (1000 bytes) is not reachable", "compress", MLP, "-o", out, "--size", "1kB", "-q");
        refused(2, "--int8-compute: computes the products by int8 weights, so it needs 8 among --bits", "compress", MLP,
                "-o", out, "--int8-compute", "--bits", "32,4");
        refused(2, "--int8-compute", "compress", MLP, "-o", out, "--int8-compute", "--layer-ratio", "2");
    }

    /**
     * {@code --int8-compute}: the MatMuls whose weights the size target stores at int8 multiply on integers
     * (MatMulInteger in the written file, the count in the report), and the model still agrees with the
     * original on the held-out rows.
     */
    @Test
    void int8ComputeWritesIntegerProducts() {
        Path out = dir.resolve("integer.onnx");
        CliRun run = CliRun.of("compress", MLP, "-o", out.toString(), "--size", "200kB", "--bits", "32,8",
                "--int8-compute", "--calibration", "testdata/digits_calib_x.npy", "-q", "--no-latency-check");
        assertEquals(0, run.code(), run.err());
        onnx.Onnx.ModelProto written = ModelFiles.read(out);
        long integer = written.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("MatMulInteger"))
                .count();
        assertTrue(integer > 0, run.out());
        assertTrue(run.out().contains(integer + " MatMul(s) by int8 weights compute on integers"), run.out());
        assertTrue(written.getSerializedSize() <= 200_000, run.out());
        java.util.regex.Matcher top1 = java.util.regex.Pattern.compile("top-1 agreement ([0-9.]+)").matcher(run.out());
        assertTrue(top1.find() && Double.parseDouble(top1.group(1)) > 0.95, run.out());
    }

    @Test
    void aSizeTargetWritesAFileOfAtMostThatSize() {
        Path out = dir.resolve("small.onnx");
        CliRun run = CliRun.of("compress", MLP, "-o", out.toString(), "--size", "150kB", "--calibration",
                "testdata/digits_calib_x.npy", "-q", "--no-latency-check");
        assertEquals(0, run.code(), run.err());
        assertTrue(ModelFiles.read(out).getSerializedSize() <= 150_000, run.out());
        assertTrue(run.out().contains("reference, measured in this run: int8 alone"), run.out());
        assertTrue(run.out().contains("at most 150.0 kB (150000 bytes) in the file"), run.out());
        CliRun floats = CliRun.of("compress", MLP, "-o", dir.resolve("f.onnx").toString(), "--ratio", "4", "--bits", "32",
                "-q", "--no-latency-check");
        assertEquals(0, floats.code(), floats.err());
        assertTrue(floats.out().lines().filter(l -> l.startsWith("/")).noneMatch(l -> l.contains(" int8 ")
                || l.contains(" int4 ") || l.contains(" fp16 ")), floats.out());
    }
}
