package dev.blockterm.compress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.TinyModels;
import dev.blockterm.report.LayerReport;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import onnx.Onnx;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LatencyCheckTest {

    @TempDir
    Path dir;

    /**
     * The one-layer models the check times are the layer: on a model that is one layer, the dense
     * cut-out computes what the model computes, the factored cut-out what the compressed model does.
     */
    @Test
    void oneLayerModelsComputeTheLayerDenseAndFactored() throws IOException {
        List<Onnx.ModelProto> models = List.of(TinyModels.gemm(128, 96, 0.5f, 2f, 13),
                TinyModels.conv(24, 16, new int[] {3, 3}, 10, null,
                        List.of(TinyModels.intsAttr("pads", 1, 1, 1, 1))));
        for (Onnx.ModelProto dense : models) {
            CompressionOptions options = CompressionOptions.builder().target(new Target.LayerRatio(4)).force(true).minParams(0).build();
            Compressor.Result result = new Compressor(options, m -> { }).compress(dense, "tiny");
            assertEquals(1, result.rewritten().size(), result.report().toString());
            Compressor.Rewritten r = result.rewritten().get(0);
            long[] shape = r.input().get().at(3);
            byte[][] pair = LatencyCheck.oneLayerModels(r.model(), r.nodeIndex(), r.replacement(), shape);
            assertNotNull(pair);
            NpyArray x = random(shape);
            String in = dense.getGraph().getNode(r.nodeIndex()).getInput(0);
            assertClose(run(dense.toByteArray(), in, x), run(pair[0], in, x));
            assertClose(run(result.model().toByteArray(), in, x), run(pair[1], in, x));
        }
    }

    /**
     * The timings are reported and never undo the choice; a minimum speed-up is a constraint before
     * it: one that no factored form can reach keeps every timed layer dense, saying why, whatever
     * this machine's timings are.
     */
    @Test
    void timingsAreReportedAndAMinimumSpeedupConstrainsTheChoice() throws IOException {
        Onnx.ModelProto mlp = ModelFiles.read(Path.of("models/digits_mlp.onnx"));
        for (long batch : new long[] {1, 32}) {
            CompressionOptions options = CompressionOptions.builder().target(new Target.Ratio(4)).bits(java.util.EnumSet.of(dev.blockterm.quantize.Precision.FLOAT)).expectedBatch(batch).build();
            Compressor.Result result = new Compressor(options, m -> { }).compress(mlp, "mlp");
            int timed = 0;
            for (LayerReport l : result.report().layers()) {
                if (l.latency() != null) {
                    timed++;
                    assertEquals(batch, l.latency().batch());
                    assertTrue(l.compressed());
                }
            }
            assertTrue(timed >= 2, "the MLP's compressed layers are timed: " + result.report().table());
        }
        CompressionOptions impossible = CompressionOptions.builder().target(new Target.Ratio(1.5)).bits(java.util.EnumSet.of(dev.blockterm.quantize.Precision.FLOAT)).minSpeedup(1e5).build();
        Compressor.Result slow = new Compressor(impossible, m -> { }).compress(mlp, "mlp");
        for (LayerReport l : slow.report().layers()) {
            assertFalse(l.compressed(), l.name() + "\n" + slow.report().table());
        }
        assertTrue(slow.report().table().contains("no rank runs fast enough factored"), slow.report().table());
        CompressionOptions off = CompressionOptions.builder().target(new Target.Ratio(4)).bits(java.util.EnumSet.of(dev.blockterm.quantize.Precision.FLOAT)).latencyCheck(false).build();
        Compressor.Result unchecked = new Compressor(off, m -> { }).compress(mlp, "mlp");
        assertTrue(unchecked.report().layers().stream().allMatch(l -> l.latency() == null));
    }

    private static NpyArray random(long[] shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        double[] v = new double[(int) n];
        Random random = new Random(5);
        for (int i = 0; i < v.length; i++) {
            v[i] = random.nextGaussian();
        }
        return new NpyArray(shape, v, "<f4");
    }

    private NpyArray run(byte[] model, String input, NpyArray x) throws IOException {
        Path path = Files.createTempFile(dir, "layer", ".onnx");
        Files.write(path, model);
        try (ModelRunner runner = new ModelRunner(path, 1)) {
            Map<String, NpyArray> out = runner.run(Map.of(input, x));
            assertEquals(1, out.size());
            return out.values().iterator().next();
        }
    }

    private static void assertClose(NpyArray expected, NpyArray actual) {
        assertArrayEquals(expected.shape(), actual.shape());
        double scale = 0;
        for (double v : expected.values()) {
            scale = Math.max(scale, Math.abs(v));
        }
        assertArrayEquals(expected.values(), actual.values(), 1e-5 * scale);
    }
}
