package dev.blockterm.bench;

import dev.blockterm.compress.Calibration;
import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Compressor;
import dev.blockterm.compress.CurveFormat;
import dev.blockterm.compress.Target;
import dev.blockterm.minilm.MiniLm;
import dev.blockterm.minilm.Sentences;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.quantize.Precision;
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
 * Not a unit test: block terms against low rank on equal footing. Each model, calibrated (the digits
 * models on their training rows, accuracy on the test split; all-MiniLM-L6-v2 on 256 generated
 * sentences, mean cosine on 200 others), at {@code --ratio} 2, 4 and 10 with {@code --format auto},
 * {@code bt} and {@code lowrank}: the metric, the file's size, how many compressed layers are block
 * terms, and the seconds. Float forms only by default ({@code --bits 32}), so that the comparison is
 * of forms, not precisions; BITS=32,16,8,4 offers the bits axis too.
 * Environment: MODELS (digits_mlp,digits_cnn,digits_lstm by default; all-MiniLM-L6-v2), RATIOS
 * (2,4,10), FORMATS (auto,bt,lowrank), BITS (32).
 * {@code mvn -B -Pbench test-compile exec:exec@blockterms}
 */
public final class BlockTermBenchmark {

    private record Case(String name, Path model, Map<String, NpyArray> eval, NpyArray labels,
                        Map<String, NpyArray> calibration) {
    }

    public static void main(String[] args) throws IOException {
        NpyArray calib = NpyArray.read(Path.of("testdata/digits_calib_x.npy")); // the training rows, [1347, 64]
        long n = calib.shape()[0];
        String models = System.getenv().getOrDefault("MODELS", "digits_mlp,digits_cnn,digits_lstm");
        List<Case> cases = new ArrayList<>();
        if (models.contains("digits_mlp")) {
            cases.add(new Case("digits_mlp", Path.of("models/digits_mlp.onnx"),
                    Map.of("input", NpyArray.read(Path.of("testdata/digits_x.npy"))),
                    NpyArray.read(Path.of("testdata/digits_y.npy")), Map.of("input", calib)));
        }
        if (models.contains("digits_cnn")) {
            cases.add(new Case("digits_cnn", Path.of("models/digits_cnn.onnx"),
                    Map.of("image", NpyArray.read(Path.of("testdata/digits_img_x.npy"))),
                    NpyArray.read(Path.of("testdata/digits_img_y.npy")),
                    Map.of("image", new NpyArray(new long[] {n, 1, 8, 8}, calib.values(), calib.descr()))));
        }
        if (models.contains("digits_lstm")) {
            cases.add(new Case("digits_lstm", Path.of("models/digits_lstm.onnx"),
                    Map.of("sequence", NpyArray.read(Path.of("testdata/digits_seq_x.npy"))),
                    NpyArray.read(Path.of("testdata/digits_seq_y.npy")),
                    Map.of("sequence", new NpyArray(new long[] {n, 8, 8}, calib.values(), calib.descr()))));
        }
        if (models.contains("MiniLM")) {
            List<String> eval = Sentences.generate(200, 1, List.of());
            cases.add(new Case("all-MiniLM-L6-v2", MiniLm.model(), MiniLm.tokenize(eval), null,
                    MiniLm.tokenize(Sentences.generate(256, 2, eval))));
        }
        List<Double> ratios = new ArrayList<>();
        for (String r : System.getenv().getOrDefault("RATIOS", "2,4,10").split(",")) {
            ratios.add(Double.parseDouble(r));
        }
        List<CurveFormat> formats = new ArrayList<>();
        for (String f : System.getenv().getOrDefault("FORMATS", "auto,bt,lowrank").split(",")) {
            formats.add(CurveFormat.parse(f));
        }
        java.util.Set<Precision> bits = Precision.parse(System.getenv().getOrDefault("BITS", "32"));
        Path out = Files.createTempFile("blockterm-bt", ".onnx");
        StringBuilder header = new StringBuilder("| model | ratio | metric (dense) |");
        StringBuilder rule = new StringBuilder("|---|---|---|");
        for (CurveFormat f : formats) {
            header.append(" --format ").append(f.label()).append(": metric, file, block-term layers, s |");
            rule.append("---|");
        }
        System.out.println(header);
        System.out.println(rule);
        for (Case c : cases) {
            Onnx.ModelProto dense = ModelFiles.read(c.model());
            for (double ratio : ratios) {
                StringBuilder row = new StringBuilder();
                double reference = Double.NaN;
                for (CurveFormat f : formats) {
                    CompressionOptions options = CompressionOptions.builder().target(new Target.Ratio(ratio))
                            .latencyCheck(false).curveFormat(f).bits(bits).build();
                    Compressor.Result r = new Compressor(options, m -> { }, new Calibration(c.calibration(), 1))
                            .compress(dense, c.model().toString());
                    ModelFiles.write(r.model(), out, c.model());
                    long blockTerms = r.report().layers().stream()
                            .filter(l -> l.compressed() && l.layout().startsWith("bt ")).count();
                    double metric;
                    if (c.labels() != null) {
                        var v = Verification.compare(c.model(), out, c.eval(), c.labels(), 2).get(0);
                        metric = v.accuracyCompressed();
                        reference = v.accuracyOriginal();
                    } else {
                        metric = Verification.compareEmbeddings(c.model(), out, c.eval(), "attention_mask", 2).get(0)
                                .meanCosine();
                        reference = 1;
                    }
                    row.append(String.format(Locale.ROOT, " %.4f, %.1f kB, %d of %d, %.1f |", metric,
                            Files.size(out) / 1e3, blockTerms, r.report().compressedLayers(), r.report().seconds()));
                }
                System.out.printf(Locale.ROOT, "| %s | %.0fx | %s %.4f |%s%n", c.name(), ratio,
                        c.labels() != null ? "accuracy" : "mean cosine", reference, row);
            }
        }
        Files.deleteIfExists(out);
    }

    private BlockTermBenchmark() {
    }
}
