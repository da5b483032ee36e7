package dev.blockterm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.minilm.MiniLm;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.runtime.StridedModels;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --input-shape}, {@code --calibration-text} and {@code --calibration-images} through the
 * command line: a CNN with dynamic spatial axes run without and with sizes, text and images as
 * calibration and as verify's inputs, and every bad input refused in one line with no output written.
 */
class InputOptionsTest {

    @TempDir
    Path dir;

    private Path cnn(int side) {
        Path p = dir.resolve("cnn" + side + ".onnx");
        ModelFiles.write(StridedModels.cnn(side), p, null);
        return p;
    }

    private Path images(int count, int side) throws IOException {
        Path folder = Files.createDirectories(dir.resolve("images"));
        Random random = new Random(1);
        for (int i = 0; i < count; i++) {
            BufferedImage image = new BufferedImage(side, side, BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < side; y++) {
                for (int x = 0; x < side; x++) {
                    image.setRGB(x, y, random.nextInt(1 << 24));
                }
            }
            ImageIO.write(image, "png", folder.resolve("img" + i + ".png").toFile());
        }
        return folder;
    }

    private static void assertOneLine(CliRun run, String expected) {
        assertNotEquals(0, run.code(), run.out());
        assertEquals(1, run.err().lines().count(), "one line on stderr: " + run.err());
        assertTrue(run.err().contains(expected), run.err());
    }

    /** A usage error: the message, then where help is; exit 2. */
    private static void assertUsage(CliRun run, String expected) {
        assertEquals(2, run.code(), run.err());
        List<String> lines = run.err().lines().toList();
        assertEquals(2, lines.size(), run.err());
        assertTrue(lines.get(0).contains(expected), run.err());
        assertTrue(lines.get(1).startsWith("Try 'blockterm "), run.err());
    }

    /** compress refuses options that do not go together, as a usage error, and writes nothing. */
    private void assertUsageRefused(Path model, String expected, String... extra) {
        Path out = dir.resolve("out.onnx");
        List<String> args = new ArrayList<>(List.of("compress", model.toString(), "-o", out.toString(), "-q"));
        args.addAll(List.of(extra));
        assertUsage(CliRun.of(args.toArray(String[]::new)), expected);
        assertFalse(Files.exists(out), "no output file left behind");
    }

    /** compress refuses, in one line, and writes nothing. */
    private void assertRefused(Path model, String expected, String... extra) {
        Path out = dir.resolve("out.onnx");
        List<String> args = new ArrayList<>(List.of("compress", model.toString(), "-o", out.toString(), "-q"));
        args.addAll(List.of(extra));
        assertOneLine(CliRun.of(args.toArray(String[]::new)), expected);
        assertFalse(Files.exists(out), "no output file left behind");
    }

    @Test
    void aCnnWithDynamicSpatialAxesRunsAtASizeItTakes() {
        Path model = cnn(64);
        CliRun run = CliRun.of("verify", model.toString(), model.toString());
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().contains("x=16x1x64x64"), "the size chosen is said: " + run.out());
        CliRun given = CliRun.of("verify", model.toString(), model.toString(), "--input-shape", "x=1x1x64x64",
                "--random-batch", "3");
        assertEquals(0, given.code(), given.err());
        assertFalse(given.out().contains("dynamic sizes"), given.out());
    }

    @Test
    void withoutASizeItRunsAtTheUserIsAskedForOne() {
        Path model = cnn(50); // runs at 50 and 51 only
        String ask = "input 'x' has dynamic dimensions [?, 1, ?, ?] and the model runs at none of the sizes tried";
        assertOneLine(CliRun.of("verify", model.toString(), model.toString()), ask);
        assertTrue(CliRun.of("verify", model.toString(), model.toString()).err()
                .endsWith("give its size with --input-shape x=1x1x224x224" + System.lineSeparator()));
        assertRefused(model, ask, "--ratio", "2");
        Path out = dir.resolve("out.onnx");
        CliRun run = CliRun.of("compress", model.toString(), "-o", out.toString(), "-q", "--ratio", "2",
                "--input-shape", "1x1x50x50");
        assertEquals(0, run.code(), run.err());
        assertTrue(Files.exists(out));
        // the sizes are part of what was run: recorded with the options in the written model
        String recorded = dev.blockterm.onnx.ModelFiles.read(out).getMetadataPropsList().stream()
                .filter(p -> p.getKey().equals(dev.blockterm.compress.Provenance.OPTIONS_KEY)).findFirst().orElseThrow()
                .getValue();
        assertTrue(recorded.endsWith(" --input-shape 1x1x50x50"), recorded);
        assertEquals(0, CliRun.of("verify", model.toString(), out.toString(), "--input-shape", "x=1x1x50x50").code());
    }

    @Test
    void badInputShapesAreRefused() {
        Path model = cnn(64);
        assertRefused(model, "input shape 'y=1x1x8x8': the model has no input named 'y' (its inputs: x)",
                "--input-shape", "y=1x1x8x8");
        assertRefused(model, "input 'x' has size 1 in dimension 1 [?, 1, ?, ?], found 3", "--input-shape", "x=1x3x8x8");
        assertRefused(model, "input 'x' has 4 dimensions [?, 1, ?, ?], found 3", "--input-shape", "x=1x8x8");
        assertRefused(model, "sizes must be positive, found 0", "--input-shape", "x=1x1x0x8");
        assertOneLine(CliRun.of("verify", model.toString(), model.toString(), "--input-shape", "x=1x1x8x-8"),
                "sizes must be positive");
        assertRefused(model, "input shape 'x=1x1x100000x100000': 1.00e+10 values in one row of input 'x', more than the "
                + "2147483639 a tensor holds here", "--input-shape", "x=1x1x100000x100000");
        assertRefused(model, "input shape 'x=1x1x9223372036854775807x9223372036854775807': 8.51e+37 values",
                "--input-shape", "x=1x1x9223372036854775807x9223372036854775807");
        assertOneLine(CliRun.of("verify", model.toString(), model.toString(), "--input-shape", "x=1x1x30000x30000"),
                "generated input 'x' [16, 1, 30000, 30000]: 1.44e+10 values, more than the 2147483639 a tensor holds "
                        + "here; give smaller sizes with --input-shape");
    }

    @Test
    void imagesCalibrateAndVerify() throws IOException {
        Path model = cnn(64);
        Path images = images(12, 80);
        Path out = dir.resolve("out.onnx");
        CliRun run = CliRun.of("compress", model.toString(), "-o", out.toString(), "--ratio", "2",
                "--calibration-images", images.toString(), "--input-shape", "x=1x1x64x64", "--mean", "0.5", "--std", "0.25");
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().contains("calibration rows held out"), run.out());
        CliRun verify = CliRun.of("verify", model.toString(), out.toString(), "--calibration-images", images.toString(),
                "--input-shape", "x=1x1x64x64");
        assertEquals(0, verify.code(), verify.err());
        assertFalse(verify.out().contains("generated inputs"), verify.out());
    }

    @Test
    void textFeedsAreWhatTheirNpyFilesGive() throws IOException {
        List<String> sentences = List.of("The night train.", "A stray dog found the old map.", "Why?");
        Path text = Files.write(dir.resolve("texts.txt"), sentences);
        List<String> npy = MiniLm.write(MiniLm.tokenize(sentences), dir, "t");
        String model = MiniLm.model().toString();
        CliRun fromText = CliRun.of("verify", model, model, "--embedding", "--calibration-text", text.toString(),
                "--tokenizer", MiniLm.tokenizer().toString());
        CliRun fromNpy = CliRun.of("verify", model, model, "--embedding", "--inputs", String.join(",", npy));
        assertEquals(0, fromText.code(), fromText.err());
        assertEquals(fromNpy.out(), fromText.out());
        assertTrue(fromText.out().contains(" 3 "), "three rows: " + fromText.out());
    }

    /** The tokenizers library aborts the JVM on a WordPiece vocabulary without its unknown token: one line instead. */
    @Test
    void aTokenizerWithoutItsUnknownTokenIsRefusedInOneLine() throws IOException {
        Path text = Files.writeString(dir.resolve("texts.txt"), "The night train.\n");
        Path tokenizer = Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"WordPiece\", "
                + "\"unk_token\": \"[UNK]\", \"vocab\": {\"the\": 0}}}");
        String model = MiniLm.model().toString();
        assertOneLine(CliRun.of("verify", model, model, "--embedding", "--calibration-text", text.toString(),
                "--tokenizer", tokenizer.toString()), "tokenizer.json: the WordPiece model's unknown token '[UNK]' is not "
                + "in its vocabulary (1 token)");
        assertRefused(MiniLm.model(), "tokenizer.json: the WordPiece model's unknown token", "--calibration-text",
                text.toString(), "--tokenizer", tokenizer.toString());
    }

    /** Ids past the model's table: ONNX Runtime refused them mid-run naming an internal temporary file; now the tokenizer. */
    @Test
    void tokenIdsOutsideTheModelsVocabularyAreRefusedNamingTheTokenizer() throws IOException {
        Path text = Files.writeString(dir.resolve("texts.txt"), "the night train\n");
        Path tokenizer = Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"WordPiece\", "
                + "\"unk_token\": \"[UNK]\", \"continuing_subword_prefix\": \"##\", \"max_input_chars_per_word\": 100, "
                + "\"vocab\": {\"[UNK]\": 40000, \"the\": 1, \"night\": 2}}}");
        String expected = "--calibration-text: token id 40000 (text 1) from " + tokenizer + " is outside input_ids' "
                + "vocabulary (30522 rows in 'embeddings.word_embeddings.weight')";
        String model = MiniLm.model().toString();
        assertOneLine(CliRun.of("verify", model, model, "--embedding", "--calibration-text", text.toString(),
                "--tokenizer", tokenizer.toString()), expected);
        assertRefused(MiniLm.model(), expected, "--calibration-text", text.toString(), "--tokenizer", tokenizer.toString());
    }

    @Test
    void badCalibrationInputsAreRefused() throws IOException {
        Path mlp = CompressEndToEndTest.MLP;
        Path cnn = cnn(64);
        Path text = Files.writeString(dir.resolve("texts.txt"), "The night train.\n");
        Path images = images(2, 8);
        String shape = "x=1x1x64x64";
        assertRefused(cnn, "absent: no such directory", "--calibration-images", dir.resolve("absent").toString(),
                "--input-shape", shape);
        Path empty = Files.createDirectory(dir.resolve("empty"));
        assertRefused(cnn, "empty: holds no images", "--calibration-images", empty.toString(), "--input-shape", shape);
        Path broken = Files.createDirectory(dir.resolve("broken"));
        Files.writeString(broken.resolve("bad.jpg"), "not a jpeg");
        assertRefused(cnn, "bad.jpg: not a", "--calibration-images", broken.toString(), "--input-shape", shape);
        assertRefused(cnn, "give its size with --input-shape x=1x1x224x224", "--calibration-images", images.toString());
        assertRefused(mlp, "absent.json: no such file", "--calibration-text", text.toString(), "--tokenizer",
                dir.resolve("absent.json").toString());
        assertUsageRefused(mlp, "--calibration-text: needs --tokenizer", "--calibration-text", text.toString());
        assertUsageRefused(mlp, "--tokenizer: applies to --calibration-text", "--tokenizer", text.toString());
        assertUsageRefused(mlp, "--mean: applies to --calibration-images", "--mean", "0.5");
        assertUsageRefused(mlp, "--calibration, --calibration-text and --calibration-images: give one",
                "--calibration", "testdata/digits_calib_x.npy", "--calibration-images", images.toString());
        assertRefused(mlp, "--calibration-text: the model takes 'input'", "--calibration-text", text.toString(),
                "--tokenizer", MiniLm.tokenizer().toString());
        assertRefused(cnn, "--channel-order: expected rgb or bgr", "--calibration-images", images.toString(),
                "--input-shape", shape, "--channel-order", "rbg");
        assertUsage(CliRun.of("verify", mlp.toString(), mlp.toString(), "--inputs", "testdata/digits_x.npy",
                "--calibration-text", text.toString(), "--tokenizer", MiniLm.tokenizer().toString()),
                "--inputs, --calibration-text and --calibration-images: give one");
        try (Stream<Path> files = Files.list(dir)) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().endsWith(".part")), "no temporary file left");
        }
    }
}
