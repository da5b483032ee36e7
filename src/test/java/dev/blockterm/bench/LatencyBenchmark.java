package dev.blockterm.bench;

import dev.blockterm.compress.Target;
import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Compressor;
import dev.blockterm.decompose.Format;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.TinyModels;
import dev.blockterm.onnx.Weights;
import dev.blockterm.report.LayerReport;
import dev.blockterm.runtime.Latency;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import onnx.Onnx;

/**
 * Not a unit test: ONNX Runtime latency of a 4096 x 4096 fully connected layer, dense against
 * compressed at several ratios, at batch 1 and 32 and 1 and 2 threads, with the FLOP ratio beside it.
 * The weight is random (latency does not depend on the values; the fit runs one sweep).
 */
public final class LatencyBenchmark {

    public static void main(String[] args) throws Exception {
        int n = 4096;
        Onnx.NodeProto mm = Onnx.NodeProto.newBuilder().setOpType("MatMul").setName("fc").addInput("x").addInput("w")
                .addOutput("y").build();
        Onnx.ModelProto dense = TinyModels.model(13, List.of(TinyModels.input("x", -1, n)),
                List.of(TinyModels.input("y", -1, n)), List.of(mm),
                List.of(Weights.tensor("w", new long[] {n, n}, TinyModels.gaussian(n * n, 1), Weights.FLOAT)));
        Path dir = Files.createTempDirectory("blockterm-latency");
        Path densePath = dir.resolve("dense.onnx");
        ModelFiles.write(dense, densePath, null);
        System.out.println("| model | layout | params | FLOPs ratio | batch | threads | dense ms | compressed ms | speed-up |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        for (double ratio : new double[] {10, 50, 200}) {
            CompressionOptions options = CompressionOptions.builder().target(new Target.LayerRatio(ratio)).format(Format.TT).minParams(0).latencyCheck(false)
                    .sweeps(1, 0).build();
            Compressor.Result r = new Compressor(options, m -> { }).compress(dense, "fc");
            LayerReport row = r.report().layers().get(0);
            Path out = dir.resolve("fc-" + (int) ratio + ".onnx");
            ModelFiles.write(r.model(), out, densePath);
            for (int batch : new int[] {1, 32}) {
                for (int threads : new int[] {1, 2}) {
                    double d = median(densePath, batch, threads, n);
                    double c = median(out, batch, threads, n);
                    System.out.printf(Locale.ROOT, "| %.0fx | %s %s | %d | %.1fx | %d | %d | %.3f | %.3f | %.1fx |%n",
                            row.ratio(), row.layout(), row.tensorization(), row.paramsAfter(),
                            row.flopsBefore() / row.flopsAfter(), batch, threads, d, c, d / c);
                }
            }
        }
    }

    /** Median milliseconds of one run of 60, after 20 warm-up runs. */
    static double median(Path model, int batch, int threads, int width) throws Exception {
        return Latency.medianMillis(Files.readAllBytes(model), "x", new long[] {batch, width}, threads, 20, 60);
    }

    private LatencyBenchmark() {
    }
}
