package dev.blockterm.bench;

import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Compressor;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.runtime.NpyArray;
import dev.blockterm.runtime.Verification;
import dev.blockterm.tensor.Layout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import onnx.Onnx;

/**
 * Not a unit test: the bundled digits MLP compressed at several ranks and layouts, each result run
 * in ONNX Runtime on the test split. Prints a Markdown table. Explicit layouts run with
 * {@code --force}, so that a layout whose factored form costs more FLOPs than dense (the merged and
 * split layouts at these ranks) still shows what it does to accuracy; {@code auto} runs as a user
 * would, keeping such layers dense.
 */
public final class MlpBenchmark {

    public static void main(String[] args) throws IOException {
        Path model = Path.of("models/digits_mlp.onnx");
        NpyArray x = NpyArray.read(Path.of("testdata/digits_x.npy"));
        NpyArray y = NpyArray.read(Path.of("testdata/digits_y.npy"));
        Onnx.ModelProto dense = ModelFiles.read(model);
        Path out = Files.createTempFile("blockterm-bench", ".onnx");
        System.out.println("| --blocks/--rank | --layout | layers compressed | weights (model) | ratio | file | accuracy | "
                + "top-1 agreement | seconds |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        for (int rank : new int[] {8, 4, 16}) {
            for (Layout layout : new Layout[] {null, Layout.MERGED, Layout.SPLIT, Layout.INPUT_WHOLE}) {
                CompressionOptions options = CompressionOptions.defaults().withLatencyCheck(false).withRanks(4, rank).withLayout(layout)
                        .withForce(layout != null);
                Compressor.Result result = new Compressor(options, m -> { }).compress(dense, model.toString());
                ModelFiles.write(result.model(), out, model);
                Verification.OutputComparison c = Verification.compare(model, out,
                        Map.of("input", x), y, 1).get(0);
                var r = result.report();
                System.out.printf(Locale.ROOT, "| 4 / %d | %s%s | %d of %d | %d -> %d | %.1fx | %.0f kB | %.4f (dense %.4f) | %.4f | %.1f |%n",
                        rank, layout == null ? "auto" : layout.label(), layout == null ? "" : " (forced)",
                        r.compressedLayers(), r.layers().size(), r.modelParamsBefore(), r.modelParamsAfter(),
                        (double) r.modelParamsBefore() / r.modelParamsAfter(), r.fileBytesAfter() / 1024.0,
                        c.accuracyCompressed(), c.accuracyOriginal(), c.top1Agreement(), r.seconds());
            }
        }
        Files.deleteIfExists(out);
    }

    private MlpBenchmark() {
    }
}
