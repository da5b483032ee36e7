package dev.blockterm.bench;

import dev.blockterm.compress.Target;
import dev.blockterm.compress.Calibration;
import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Compressor;
import dev.blockterm.minilm.MiniLm;
import dev.blockterm.minilm.Sentences;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.runtime.NpyArray;
import dev.blockterm.runtime.Verification;
import dev.blockterm.tensor.Layout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import onnx.Onnx;

/**
 * Not a unit test: weight-only against calibration-aware fitting at {@code --ratio} 2, 4 and 10 for
 * the bundled digits models (accuracy on the test split; calibration on the training rows) and for
 * all-MiniLM-L6-v2 (mean cosine similarity of the sentence embeddings, original against compressed,
 * on 200 generated sentences; calibration on 256 other generated sentences), as a Markdown table.
 * The MLP's 512 x 10 classifier (2% of its weights) is kept dense: at rank 2 or 3 no fit of it keeps
 * ten classes apart. Digits rows give the accuracy and, in parentheses, the logits' relative error.
 * {@code mvn -B -Pbench test-compile exec:exec@accuracy}
 */
public final class AccuracyBenchmark {

    private record Case(String name, Path model, Map<String, NpyArray> eval, NpyArray labels,
                        Map<String, NpyArray> calibration, CompressionOptions options) {
    }

    public static void main(String[] args) throws IOException {
        NpyArray calib = NpyArray.read(Path.of("testdata/digits_calib_x.npy")); // the training rows, [1347, 64]
        long n = calib.shape()[0];
        List<String> eval = Sentences.generate(200, 1, List.of());
        List<String> calibrationSentences = Sentences.generate(256, 2, eval);
        // accuracy alone: no layer kept dense for this machine's timings
        CompressionOptions defaults = CompressionOptions.defaults().withLatencyCheck(false);
        List<Case> cases = List.of(
                new Case("digits_mlp", Path.of("models/digits_mlp.onnx"),
                        Map.of("input", NpyArray.read(Path.of("testdata/digits_x.npy"))),
                        NpyArray.read(Path.of("testdata/digits_y.npy")), Map.of("input", calib),
                        defaults.toBuilder().exclude(java.util.regex.Pattern.compile("/4/Gemm")).build()),
                new Case("digits_cnn", Path.of("models/digits_cnn.onnx"),
                        Map.of("image", NpyArray.read(Path.of("testdata/digits_img_x.npy"))),
                        NpyArray.read(Path.of("testdata/digits_img_y.npy")),
                        Map.of("image", new NpyArray(new long[] {n, 1, 8, 8}, calib.values(), calib.descr())), defaults),
                new Case("digits_lstm", Path.of("models/digits_lstm.onnx"),
                        Map.of("sequence", NpyArray.read(Path.of("testdata/digits_seq_x.npy"))),
                        NpyArray.read(Path.of("testdata/digits_seq_y.npy")),
                        Map.of("sequence", new NpyArray(new long[] {n, 8, 8}, calib.values(), calib.descr())), defaults),
                new Case("all-MiniLM-L6-v2", MiniLm.model(), MiniLm.tokenize(eval), null,
                        MiniLm.tokenize(calibrationSentences), defaults.withLayout(Layout.INPUT_WHOLE)));
        Path out = Files.createTempFile("blockterm-accuracy", ".onnx");
        System.out.println("| model | --ratio | layers compressed | weights of the compressed layers | metric | dense "
                + "| weight-only | calibration-aware | seconds (weight-only / calibrated) |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        for (Case c : cases) {
            Onnx.ModelProto dense = ModelFiles.read(c.model());
            for (double ratio : new double[] {2, 4, 10}) {
                double[] metric = new double[2];
                double[] logitsError = new double[2];
                double[] seconds = new double[2];
                String layers = "";
                String weights = "";
                double reference = 1;
                for (int calibrated = 0; calibrated < 2; calibrated++) {
                    Calibration data = calibrated == 1 ? new Calibration(c.calibration(), 1) : null;
                    Compressor.Result r = new Compressor(c.options().withTarget(new Target.LayerRatio(ratio)), m -> { }, data)
                            .compress(dense, c.model().toString());
                    ModelFiles.write(r.model(), out, c.model());
                    seconds[calibrated] = r.report().seconds();
                    long before = 0;
                    long after = 0;
                    for (var l : r.report().layers()) {
                        if (l.compressed()) {
                            before += l.paramsBefore();
                            after += l.paramsAfter();
                        }
                    }
                    layers = r.report().compressedLayers() + " of " + r.report().layers().size();
                    weights = String.format(Locale.ROOT, "%d -> %d (%.1fx)", before, after, (double) before / after);
                    if (c.labels() != null) {
                        var v = Verification.compare(c.model(), out, c.eval(), c.labels(), 2).get(0);
                        metric[calibrated] = v.accuracyCompressed();
                        logitsError[calibrated] = v.relativeError();
                        reference = v.accuracyOriginal();
                    } else {
                        metric[calibrated] = Verification.compareEmbeddings(c.model(), out, c.eval(), "attention_mask", 2)
                                .get(0).meanCosine();
                    }
                }
                boolean labelled = c.labels() != null;
                System.out.printf(Locale.ROOT, "| %s | %.0f | %s | %s | %s | %.4f | %s | %s | %.1f / %.1f |%n", c.name(),
                        ratio, layers, weights, labelled ? "accuracy (logits rel. error)" : "mean cosine", reference,
                        cell(metric[0], logitsError[0], labelled), cell(metric[1], logitsError[1], labelled), seconds[0],
                        seconds[1]);
            }
        }
        Files.deleteIfExists(out);
    }

    private static String cell(double metric, double error, boolean labelled) {
        return labelled ? String.format(Locale.ROOT, "%.4f (%.3f)", metric, error) : String.format(Locale.ROOT, "%.4f", metric);
    }

    private AccuracyBenchmark() {
    }
}
