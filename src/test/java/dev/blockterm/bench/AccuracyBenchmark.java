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
 * Not a unit test: what every target does to each bundled digits model (accuracy on the test split;
 * calibration on the training rows) and to all-MiniLM-L6-v2 (mean cosine similarity of the sentence
 * embeddings, original against compressed, on 200 generated sentences; calibration on 256 other
 * generated sentences): the default, {@code --ratio} 2/4/10 (one allocation over the model),
 * {@code --max-output-error} 0.01/0.05 and the old per-layer {@code --layer-ratio} 2/4/10, each
 * weight-only and calibrated, as a Markdown table. Every eligible layer is a candidate (none
 * excluded); layers are not timed (accuracy alone). Rows give the metric and the parameters of the
 * model's compressed layers against their dense size. MiniLM's layer-ratio rows run in the
 * input-whole layout (every layout at 2x costs minutes there).
 * Environment: MODELS, TARGETS (";"-separated, as printed), CALIBRATION_SENTENCES (256), SEQUENTIAL
 * (set: {@code --sequential} on the calibrated runs), FORMS (the conv forms offered).
 * {@code mvn -B -Pbench test-compile exec:exec@accuracy}
 */
public final class AccuracyBenchmark {

    private record Case(String name, Path model, Map<String, NpyArray> eval, NpyArray labels,
                        Map<String, NpyArray> calibration) {
    }

    public static void main(String[] args) throws IOException {
        NpyArray calib = NpyArray.read(Path.of("testdata/digits_calib_x.npy")); // the training rows, [1347, 64]
        long n = calib.shape()[0];
        List<String> eval = Sentences.generate(200, 1, List.of());
        List<String> calibrationSentences = Sentences.generate(Integer.parseInt(System.getenv().getOrDefault("CALIBRATION_SENTENCES", "256")), 2, eval);
        List<Case> cases = new java.util.ArrayList<>(List.of(
                new Case("digits_mlp", Path.of("models/digits_mlp.onnx"),
                        Map.of("input", NpyArray.read(Path.of("testdata/digits_x.npy"))),
                        NpyArray.read(Path.of("testdata/digits_y.npy")), Map.of("input", calib)),
                new Case("digits_cnn", Path.of("models/digits_cnn.onnx"),
                        Map.of("image", NpyArray.read(Path.of("testdata/digits_img_x.npy"))),
                        NpyArray.read(Path.of("testdata/digits_img_y.npy")),
                        Map.of("image", new NpyArray(new long[] {n, 1, 8, 8}, calib.values(), calib.descr()))),
                new Case("digits_lstm", Path.of("models/digits_lstm.onnx"),
                        Map.of("sequence", NpyArray.read(Path.of("testdata/digits_seq_x.npy"))),
                        NpyArray.read(Path.of("testdata/digits_seq_y.npy")),
                        Map.of("sequence", new NpyArray(new long[] {n, 8, 8}, calib.values(), calib.descr()))),
                new Case("all-MiniLM-L6-v2", MiniLm.model(), MiniLm.tokenize(eval), null,
                        MiniLm.tokenize(calibrationSentences))));
        String only = System.getenv("MODELS");
        if (only != null) {
            cases.removeIf(c -> !only.contains(c.name()));
        }
        List<Target> targets = List.of(new Target.Default(), new Target.Ratio(1.5), new Target.Ratio(2), new Target.Ratio(4),
                new Target.Ratio(10), new Target.MaxOutputError(0.01, false), new Target.MaxOutputError(0.02, false),
                new Target.MaxOutputError(0.03, false), new Target.MaxOutputError(0.05, false),
                new Target.LayerRatio(2), new Target.LayerRatio(4), new Target.LayerRatio(10));
        String wanted = System.getenv("TARGETS"); // e.g. "default;--ratio 2"
        if (wanted != null) {
            List<String> names = List.of(wanted.split(";"));
            targets = targets.stream().filter(t -> names.contains(describe(t))).toList();
        }
        Path out = Files.createTempFile("blockterm-accuracy", ".onnx");
        System.out.println("| model | target | metric | dense | weight-only: metric, compressed layers | calibrated: "
                + "metric, compressed layers | seconds (weight-only / calibrated) |");
        System.out.println("|---|---|---|---|---|---|---|");
        for (Case c : cases) {
            Onnx.ModelProto dense = ModelFiles.read(c.model());
            for (Target target : targets) {
                String[] cells = new String[2];
                double[] seconds = new double[2];
                double reference = 1;
                for (int calibrated = 0; calibrated < 2; calibrated++) {
                    Calibration data = calibrated == 1 ? new Calibration(c.calibration(), 1) : null;
                    CompressionOptions options = CompressionOptions.builder().target(target).latencyCheck(false)
                            .sequential(calibrated == 1 && System.getenv("SEQUENTIAL") != null)
                            .convForms(forms())
                            .layout(c.labels() == null && target instanceof Target.LayerRatio ? Layout.INPUT_WHOLE : null)
                            .build();
                    Compressor.Result r = new Compressor(options, m -> { }, data).compress(dense, c.model().toString());
                    ModelFiles.write(r.model(), out, c.model());
                    seconds[calibrated] = r.report().seconds();
                    long before = 0;
                    long after = 0;
                    for (var l : r.report().layers()) {
                        before += l.paramsBefore();
                        after += l.paramsAfter();
                    }
                    String size = String.format(Locale.ROOT, "%d of %d, %.2fx", r.report().compressedLayers(),
                            r.report().layers().size(), (double) before / after);
                    if (c.labels() != null) {
                        var v = Verification.compare(c.model(), out, c.eval(), c.labels(), 2).get(0);
                        cells[calibrated] = String.format(Locale.ROOT, "%.4f (%s)", v.accuracyCompressed(), size);
                        reference = v.accuracyOriginal();
                    } else {
                        cells[calibrated] = String.format(Locale.ROOT, "%.4f (%s)", Verification.compareEmbeddings(
                                c.model(), out, c.eval(), "attention_mask", 2).get(0).meanCosine(), size);
                    }
                }
                System.out.printf(Locale.ROOT, "| %s | %s | %s | %.4f | %s | %s | %.1f / %.1f |%n", c.name(),
                        describe(target), c.labels() != null ? "accuracy" : "mean cosine", reference, cells[0], cells[1],
                        seconds[0], seconds[1]);
            }
        }
        Files.deleteIfExists(out);
    }

    /** The conv forms offered: FORMS=channel,spatial (default: all). */
    private static java.util.Set<dev.blockterm.compress.ConvForm> forms() {
        java.util.Set<dev.blockterm.compress.ConvForm> forms = java.util.EnumSet.noneOf(dev.blockterm.compress.ConvForm.class);
        for (String f : System.getenv().getOrDefault("FORMS", "channel,spatial,chain").split(",")) {
            forms.add(dev.blockterm.compress.ConvForm.of(f));
        }
        return forms;
    }

    private static String describe(Target t) {
        if (t instanceof Target.Ratio r) {
            return "--ratio " + (r.ratio() == Math.rint(r.ratio()) ? String.format(Locale.ROOT, "%.0f", r.ratio())
                    : Double.toString(r.ratio()));
        } else if (t instanceof Target.LayerRatio r) {
            return String.format(Locale.ROOT, "--layer-ratio %.0f", r.ratio());
        } else if (t instanceof Target.MaxOutputError e) {
            return "--max-output-error " + e.error();
        }
        return "default";
    }

    private AccuracyBenchmark() {
    }
}
