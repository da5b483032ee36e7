package dev.blockterm.bench;

import dev.blockterm.cnn.PpOcr;
import dev.blockterm.cnn.Readings;
import dev.blockterm.cnn.TextLines;
import dev.blockterm.compress.Calibration;
import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Compressor;
import dev.blockterm.compress.Target;
import dev.blockterm.minilm.MiniLm;
import dev.blockterm.minilm.Sentences;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.runtime.InputShapes;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import dev.blockterm.runtime.Verification;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import onnx.Onnx;

/**
 * Not a unit test: the file a user pays for, against what the user would do instead. For
 * all-MiniLM-L6-v2 (calibrated on 256 generated sentences; measured on 200 others: mean cosine of the
 * mean-pooled sentence embeddings and nearest-neighbour agreement) and PaddleOCR's PP-OCRv3 recognizer
 * (calibrated on 128 printed lines; measured on 200 others: lines read as the dense model reads them),
 * one row each for: the dense model; int8 alone (every selected weight at int8 with per-channel scales,
 * nothing factored: the reference the report measures); for MiniLM the int8 model published beside it
 * on Maven Central; the calibrated default; {@code --max-output-error} 0.01 / 0.02 / 0.05;
 * {@code --size} at 1/4, 1/6 and 1/8 of the original file, and the last two with {@code --sequential}. Each row: file bytes (and x smaller),
 * quality, seconds, and the process's peak resident memory during that row (reset before each row
 * through {@code /proc/self/clear_refs}). Markdown on stdout.
 * Environment: MODELS (minilm,ppocr), ROWS (";"-separated row names, as printed), BITS (e.g. 32,8).
 * {@code mvn -B -Pbench test-compile exec:exec@bytes}
 */
public final class BytesBenchmark {

    private static final int THREADS = 2;

    /** How a model is judged: the quality of a written file, in words. */
    private interface Judge {
        String quality(Path file) throws IOException;
    }

    public static void main(String[] args) throws IOException {
        String models = System.getenv().getOrDefault("MODELS", "minilm,ppocr");
        System.out.println("| model | row | file bytes | x smaller | quality | seconds | peak RSS |");
        System.out.println("|---|---|---|---|---|---|---|");
        if (models.contains("minilm")) {
            List<String> eval = Sentences.generate(200, 1, List.of());
            Map<String, NpyArray> evalFeeds = MiniLm.tokenize(eval);
            Map<String, NpyArray> calibration = MiniLm.tokenize(Sentences.generate(256, 2, eval));
            Path model = MiniLm.model();
            Judge judge = file -> {
                var c = Verification.compareEmbeddings(model, file, evalFeeds, "attention_mask", THREADS).get(0);
                return String.format(Locale.ROOT, "cosine %.4f (min %.4f), neighbours %.3f", c.meanCosine(),
                        c.minCosine(), c.neighbourAgreement());
            };
            rows("all-MiniLM-L6-v2", model, calibration, InputShapes.NONE, judge, MiniLm.quantized());
        }
        if (models.contains("ppocr")) {
            List<TextLines.Line> eval = TextLines.generate(200, 1, List.of());
            List<TextLines.Line> lines = TextLines.generate(128, 2, eval);
            Path model = PpOcr.model();
            List<String> classes = PpOcr.classes();
            NpyArray input = PpOcr.input(eval);
            Readings reference;
            try (ModelRunner runner = new ModelRunner(model, THREADS)) {
                reference = Readings.of(runner, input, classes);
            }
            Judge judge = file -> {
                try (ModelRunner runner = new ModelRunner(file, THREADS)) {
                    Readings read = Readings.of(runner, input, classes);
                    return String.format(Locale.ROOT, "%.1f%% of lines read as dense (%.1f%% as printed)",
                            100 * read.lineAgreement(reference), 100 * read.accuracy(eval));
                }
            };
            rows("PP-OCRv3 recognizer", model, Map.of("x", PpOcr.input(lines)),
                    InputShapes.parse(List.of("x=1x3x48x320")), judge, null);
        }
    }

    private static void rows(String name, Path model, Map<String, NpyArray> calibration, InputShapes shapes, Judge judge,
                             Path published) throws IOException {
        Onnx.ModelProto dense = ModelFiles.read(model);
        long bytes = Files.size(model);
        Path out = Files.createTempFile("blockterm-bytes", ".onnx");
        String only = System.getenv("ROWS");
        print(name, "dense", bytes, bytes, judge.quality(model), 0, "-");
        if (published != null && (only == null || only.contains("published int8"))) {
            print(name, "published int8 (" + published.getFileName() + ")", Files.size(published), bytes,
                    judge.quality(published), 0, "-");
        }
        List<Target> targets = new ArrayList<>(List.of(new Target.Default(), new Target.MaxOutputError(0.01, false),
                new Target.MaxOutputError(0.02, false), new Target.MaxOutputError(0.05, false),
                new Target.Size(bytes / 4), new Target.Size(bytes / 6), new Target.Size(bytes / 8)));
        // the aggressive sizes again with --sequential: each layer refitted to the inputs the model compressed up to it gives
        int plain = targets.size();
        targets.add(new Target.Size(bytes / 6));
        targets.add(new Target.Size(bytes / 8));
        boolean int8Printed = false;
        for (int t = 0; t < targets.size(); t++) {
            Target target = targets.get(t);
            boolean sequential = t >= plain;
            String row = (target instanceof Target.Default ? "default (calibrated)" : target.describe())
                    + (sequential ? " --sequential" : "");
            if (only != null && !List.of(only.split(";")).contains(row) && !(only.contains("int8 alone")
                    && target instanceof Target.Default)) {
                continue;
            }
            resetPeak();
            long started = System.nanoTime();
            CompressionOptions options = CompressionOptions.builder().target(target).latencyCheck(false)
                    .threads(THREADS).sequential(sequential).bits(dev.blockterm.quantize.Precision.parse(System.getenv()
                            .getOrDefault("BITS", "32,16,8,4"))).build();
            Compressor.Result r;
            try {
                r = new Compressor(options, m -> { }, new Calibration(calibration, THREADS), shapes)
                        .compress(dense, model.toString());
            } catch (IllegalArgumentException e) {
                print(name, row, 0, bytes, "refused: " + e.getMessage(), 0, "-");
                continue;
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            String peak = peak();
            try (r) {
                if (!int8Printed && r.int8Alone() != null) {
                    ModelFiles.write(r.int8Alone(), out, model);
                    print(name, "int8 alone", Files.size(out), bytes, judge.quality(out), 0, "-");
                    int8Printed = true;
                }
                ModelFiles.write(r.model(), out, model);
                if (System.getenv("REPORT") != null) {
                    System.err.print(r.report().table());
                }
            }
            print(name, row, Files.size(out), bytes, judge.quality(out), seconds, peak);
        }
        Files.deleteIfExists(out);
    }

    private static void print(String model, String row, long size, long dense, String quality, double seconds,
                              String peak) {
        System.out.printf(Locale.ROOT, "| %s | %s | %d | %s | %s | %s | %s |%n", model, row, size,
                size == 0 ? "-" : String.format(Locale.ROOT, "%.2fx", (double) dense / size), quality,
                seconds == 0 ? "-" : String.format(Locale.ROOT, "%.0f", seconds), peak);
    }

    /** Resets the process's peak resident size (Linux: writing 5 to clear_refs). */
    private static void resetPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | RuntimeException e) {
            // not Linux, or not allowed: the peak is then the process's since it started
        }
    }

    /** The peak resident size since the last reset, from /proc/self/status. */
    private static String peak() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    long kb = Long.parseLong(line.replaceAll("[^0-9]", ""));
                    return String.format(Locale.ROOT, "%.2f GB", kb / 1e6);
                }
            }
        } catch (IOException | RuntimeException e) {
            return "-";
        }
        return "-";
    }

    private BytesBenchmark() {
    }
}
