package dev.blockterm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.runtime.NpyArray;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Option values that used to run on to a message that said nothing (or to a made-up figure): each
 * refused in one line naming the option and why, before any work; options that do not go together are
 * a usage error (exit 2, then where help is).
 */
class OptionValuesTest {

    static final String MLP = "models/digits_mlp.onnx";

    @TempDir
    Path dir;

    private void assertOneLine(String expected, String... args) throws IOException {
        CliRun run = CliRun.of(args);
        assertEquals(1, run.code(), run.err());
        assertEquals(1, run.err().lines().count(), "one line on stderr: " + run.err());
        assertTrue(run.err().contains(expected), run.err());
        try (Stream<Path> files = Files.list(dir)) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().startsWith("out")), "no output left");
        }
    }

    private static void assertUsage(String expected, String... args) {
        CliRun run = CliRun.of(args);
        assertEquals(2, run.code(), run.err());
        List<String> lines = run.err().lines().toList();
        assertEquals(2, lines.size(), run.err());
        assertTrue(lines.get(0).contains(expected), run.err());
        assertTrue(lines.get(1).startsWith("Try 'blockterm " + args[0] + " --help'"), run.err());
    }

    @Test
    void aRandomBatchBelowOneIsRefused() throws IOException {
        for (String rows : new String[] {"-3", "0"}) {
            assertOneLine("--random-batch: expected a row count >= 1, found " + rows, "verify", MLP, MLP,
                    "--random-batch", rows);
        }
    }

    @Test
    void labelsThatAreNotClassIndicesAreRefused() throws IOException {
        int rows = (int) NpyArray.read(Path.of("testdata/digits_x.npy")).shape()[0];
        for (double bad : new double[] {Double.NaN, 2.5, -1}) {
            double[] v = new double[rows];
            v[3] = bad;
            Path labels = dir.resolve("labels.npy");
            new NpyArray(new long[] {rows}, v, "<f8").write(labels);
            assertOneLine("--labels: " + labels + " holds " + bad + " at index 3; expected class indices (whole numbers "
                    + ">= 0)", "verify", MLP, MLP, "--inputs", "testdata/digits_x.npy", "--labels", labels.toString());
        }
    }

    @Test
    void aMinSpeedupOutOfRangeSaysItsRange() throws IOException {
        String out = dir.resolve("out.onnx").toString();
        assertOneLine("--min-speedup: expected a factor above 0 and below 1000000 (1.5: at least 1.5 times as fast as "
                + "dense), found 1.0E9", "compress", MLP, "-o", out, "--min-speedup", "1e9");
        assertOneLine("--min-speedup: expected a factor above 0", "compress", MLP, "-o", out, "--min-speedup", "-2");
        assertOneLine("--min-speedup: expected a factor above 0", "compress", MLP, "-o", out, "--min-speedup", "NaN");
    }

    @Test
    void imageNormalizationBeyondFloat32IsRefused() throws IOException {
        Path images = Files.createDirectory(dir.resolve("images"));
        ImageIO.write(new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB), "png", images.resolve("a.png").toFile());
        Path model = dir.resolve("cnn.onnx");
        dev.blockterm.onnx.ModelFiles.write(dev.blockterm.runtime.StridedModels.cnn(8), model, null);
        String out = dir.resolve("out.onnx").toString();
        assertOneLine("--mean: the normalized values (v - mean) / std reach 1.00e+39 in magnitude, beyond float32's",
                "compress", model.toString(), "-o", out, "--calibration-images", images.toString(), "--mean", "1e39");
        assertOneLine("--std: the normalized values (v - mean) / std reach Infinity in magnitude, beyond float32's",
                "compress", model.toString(), "-o", out, "--calibration-images", images.toString(), "--std", "1e-320");
        assertOneLine("--std: the normalized values (v - mean) / std reach 5.00e+299 in magnitude, beyond float32's 3.40e+38",
                "verify", model.toString(), model.toString(), "--calibration-images", images.toString(), "--mean", "0",
                "--std", "2e-300");
        assertOneLine("--mean: expected finite values, found [NaN]", "compress", model.toString(), "-o", out,
                "--calibration-images", images.toString(), "--mean", "NaN");
    }

    @Test
    void optionsThatDoNotGoTogetherAreAUsageError() {
        String out = dir.resolve("out.onnx").toString();
        assertUsage("--labels and --embedding: choose one", "verify", MLP, MLP, "--labels", "testdata/digits_y.npy",
                "--embedding");
        assertUsage("choose one", "compress", MLP, "-o", out, "--ratio", "2", "--size", "1MB");
        assertUsage("--min-speedup: applies to the targets decided on curves", "compress", MLP, "-o", out,
                "--min-speedup", "1.5", "--layer-ratio", "2");
        assertUsage("--conv-form: applies to", "compress", MLP, "-o", out, "--conv-form", "spatial", "--rank", "4");
        assertUsage("--sequential: needs --calibration", "compress", MLP, "-o", out, "--sequential");
        assertUsage("--tokenizer: applies to --calibration-text", "verify", MLP, MLP, "--tokenizer", "t.json");
        assertUsage("--spark: runs the whole-model targets (the default, --ratio, --budget, --size, --max-error, "
                + "--max-output-error)", "compress", MLP, "-o", out, "--spark", "local[1]", "--layer-ratio", "2");
        assertUsage("--ratio, --layer-ratio, --budget, --size, --max-error and --max-output-error: choose one",
                "inspect", MLP, "--ratio", "2", "--budget", "1000");
    }
}
