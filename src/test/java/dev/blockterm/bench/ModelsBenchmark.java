package dev.blockterm.bench;

import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Compressor;
import dev.blockterm.compress.FormatComparison;
import dev.blockterm.decompose.Format;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.runtime.NpyArray;
import dev.blockterm.runtime.Verification;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import onnx.Onnx;

/**
 * Not a unit test: every bundled model at {@code --ratio 4} and {@code --ratio 10} in every format,
 * each result run in ONNX Runtime on its test split (Markdown table), then {@code inspect --compare}
 * at {@code --ratio 10} for each model.
 */
public final class ModelsBenchmark {

    private record Bundled(String name, String input, String x, String y) {
    }

    public static void main(String[] args) throws IOException {
        List<Bundled> models = List.of(
                new Bundled("digits_mlp", "input", "testdata/digits_x.npy", "testdata/digits_y.npy"),
                new Bundled("digits_cnn", "image", "testdata/digits_img_x.npy", "testdata/digits_img_y.npy"),
                new Bundled("digits_lstm", "sequence", "testdata/digits_seq_x.npy", "testdata/digits_seq_y.npy"));
        Path out = Files.createTempFile("blockterm-bench", ".onnx");
        System.out.println("| model | --ratio | --format | layers compressed | weights (model) | file | accuracy "
                + "(dense) | seconds |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        for (Bundled b : models) {
            Path model = Path.of("models/" + b.name() + ".onnx");
            Onnx.ModelProto dense = ModelFiles.read(model);
            Map<String, NpyArray> feeds = Map.of(b.input(), NpyArray.read(Path.of(b.x())));
            NpyArray labels = NpyArray.read(Path.of(b.y()));
            for (double ratio : new double[] {4, 10}) {
                for (Format format : Format.values()) {
                    CompressionOptions options = CompressionOptions.defaults().withFormat(format).withTarget(ratio, 0);
                    Compressor.Result result = new Compressor(options, m -> { }).compress(dense, model.toString());
                    ModelFiles.write(result.model(), out, model);
                    Verification.OutputComparison c = Verification.compare(model, out, feeds, labels, 1).get(0);
                    var r = result.report();
                    System.out.printf(Locale.ROOT, "| %s | %.0f | %s | %d of %d | %d -> %d (%.2fx) | %.0f -> %.0f kB | "
                                    + "%.4f (%.4f) | %.1f |%n", b.name(), ratio, format.label(), r.compressedLayers(),
                            r.layers().size(), r.modelParamsBefore(), r.modelParamsAfter(),
                            (double) r.modelParamsBefore() / r.modelParamsAfter(), r.fileBytesBefore() / 1024.0,
                            r.fileBytesAfter() / 1024.0, c.accuracyCompressed(), c.accuracyOriginal(), r.seconds());
                }
            }
        }
        System.out.println();
        for (Bundled b : models) {
            Onnx.ModelProto dense = ModelFiles.read(Path.of("models/" + b.name() + ".onnx"));
            System.out.println(b.name() + ", --ratio 10:");
            System.out.print(FormatComparison.table(dense, CompressionOptions.defaults().withTarget(10, 0), m -> { }));
            System.out.println();
        }
        Files.deleteIfExists(out);
    }

    private ModelsBenchmark() {
    }
}
