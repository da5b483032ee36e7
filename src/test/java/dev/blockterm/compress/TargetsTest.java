package dev.blockterm.compress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.TinyModels;
import dev.blockterm.onnx.Weights;
import dev.blockterm.report.LayerReport;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import dev.blockterm.runtime.Verification;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import onnx.Onnx;
import org.junit.jupiter.api.Test;

/** Whole-model targets: the allocation, the quality target and the size targets, measured end to end. */
class TargetsTest {

    private static final Path MLP = Path.of("models/digits_mlp.onnx");

    /**
     * {@code y = (x W1) W2}: W1 (48x48) nearly rank 4, so it loses little at low rank; W2 (48x48) a
     * random full-rank matrix, so every rank it loses shows in the output.
     */
    private static Onnx.ModelProto oneSensitiveLayer() {
        Random random = new Random(21);
        int n = 48;
        double[] w1 = new double[n * n];
        double[][] u = new double[4][n];
        double[][] v = new double[4][n];
        for (int k = 0; k < 4; k++) {
            for (int i = 0; i < n; i++) {
                u[k][i] = random.nextGaussian();
                v[k][i] = random.nextGaussian();
            }
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0.01 * random.nextGaussian();
                for (int k = 0; k < 4; k++) {
                    s += u[k][i] * v[k][j] / 4;
                }
                w1[i * n + j] = s;
            }
        }
        double[] w2 = TinyModels.gaussian(n * n, 22);
        Onnx.NodeProto first = Onnx.NodeProto.newBuilder().setOpType("MatMul").setName("first").addInput("x")
                .addInput("w1").addOutput("h").build();
        Onnx.NodeProto second = Onnx.NodeProto.newBuilder().setOpType("MatMul").setName("second").addInput("h")
                .addInput("w2").addOutput("y").build();
        return TinyModels.model(13, List.of(TinyModels.input("x", -1, n)), List.of(TinyModels.input("y", -1, n)),
                List.of(first, second), List.of(Weights.tensor("w1", new long[] {n, n}, w1, Weights.FLOAT),
                        Weights.tensor("w2", new long[] {n, n}, w2, Weights.FLOAT)));
    }

    private static CompressionOptions options(Target target) {
        return CompressionOptions.builder().target(target).bits(java.util.EnumSet.of(dev.blockterm.quantize.Precision.FLOAT)).minParams(0).latencyCheck(false).build();
    }

    private static double outputError(Onnx.ModelProto original, Onnx.ModelProto compressed, Map<String, NpyArray> feeds) {
        try (ModelRunner a = new ModelRunner(original.toByteArray(), "original", 1);
             ModelRunner b = new ModelRunner(compressed.toByteArray(), "compressed", 1)) {
            double worst = 0;
            for (Verification.OutputQuality q : Verification.quality(a.run(feeds), b.run(feeds))) {
                worst = Math.max(worst, q.relativeError());
            }
            return worst;
        }
    }

    private static long compressedParams(Compressor.Result r) {
        return r.report().layers().stream().mapToLong(LayerReport::paramsAfter).sum();
    }

    private static long denseParams(Compressor.Result r) {
        return r.report().layers().stream().mapToLong(LayerReport::paramsBefore).sum();
    }

    @Test
    void allocationBeatsUniformOnAModelWithOneSensitiveLayer() {
        Onnx.ModelProto model = oneSensitiveLayer();
        Map<String, NpyArray> feeds = Map.of("x", new NpyArray(new long[] {200, 48}, TinyModels.gaussian(200 * 48, 23),
                "<f4"));
        Compressor.Result uniform = new Compressor(options(new Target.LayerRatio(2)), m -> { }).compress(model, "two");
        Compressor.Result allocated = new Compressor(options(new Target.Ratio(2)), m -> { }).compress(model, "two");
        assertTrue(compressedParams(allocated) * 2 <= denseParams(allocated), "2x honoured: "
                + compressedParams(allocated) + " of " + denseParams(allocated));
        assertTrue(compressedParams(uniform) * 2 <= denseParams(uniform), "uniform 2x too");
        double uniformError = outputError(model, uniform.model(), feeds);
        double allocatedError = outputError(model, allocated.model(), feeds);
        assertTrue(allocatedError < 0.75 * uniformError, "allocated " + allocatedError + ", uniform " + uniformError
                + "\n" + allocated.report().table());
        // the sensitive layer kept more of its rank than the insensitive one
        LayerReport first = allocated.report().layers().get(0);
        LayerReport second = allocated.report().layers().get(1);
        assertTrue(first.paramsAfter() < second.paramsAfter() || !second.compressed(), allocated.report().table());
    }

    @Test
    void qualityTargetIsMetOnHeldBackInputs() {
        Onnx.ModelProto model = ModelFiles.read(MLP);
        Map<String, NpyArray> calibration = Map.of("input", NpyArray.read(Path.of("testdata/digits_calib_x.npy")));
        double target = 0.05;
        Compressor.Result r = new Compressor(options(new Target.MaxOutputError(target, false)), m -> { },
                new Calibration(calibration, 1)).compress(model, "mlp");
        assertNotNull(r.report().quality());
        assertTrue(r.report().quality().worstRelativeError() <= target, r.report().table());
        assertTrue(r.report().quality().inputs().contains("held out"), r.report().quality().inputs());
        assertTrue(r.report().modelParamsAfter() * 2 < r.report().modelParamsBefore(), "it compressed: "
                + r.report().table());
        // the test split was never seen: neither by the fits nor by the search (statistical slack of 25%)
        Map<String, NpyArray> test = Map.of("input", NpyArray.read(Path.of("testdata/digits_x.npy")));
        double error = outputError(model, r.model(), test);
        assertTrue(error <= 1.25 * target, "test split: " + error);
    }

    @Test
    void sizeTargetsAreHonouredWithTheLatencyCheckOn() {
        Onnx.ModelProto model = ModelFiles.read(MLP);
        CompressionOptions timed = CompressionOptions.builder().target(new Target.Ratio(4)).bits(java.util.EnumSet.of(dev.blockterm.quantize.Precision.FLOAT)).build();
        Compressor.Result r = new Compressor(timed, m -> { }).compress(model, "mlp");
        assertTrue(compressedParams(r) * 4 <= denseParams(r), compressedParams(r) + " of " + denseParams(r) + "\n"
                + r.report().table());
        assertTrue(r.report().layers().stream().anyMatch(l -> l.latency() != null), "layers were timed");

        long budget = 60_000;
        Compressor.Result b = new Compressor(CompressionOptions.builder().target(new Target.Budget(budget)).build(),
                m -> { }).compress(model, "mlp");
        assertTrue(b.report().modelParamsAfter() <= budget, b.report().table());
    }

    @Test
    void everyRunReportsTheModelsOutputsAndWarnsOnGeneratedInputs() {
        Onnx.ModelProto model = ModelFiles.read(MLP);
        Compressor.Result r = new Compressor(options(new Target.Ratio(20)), m -> { }).compress(model, "mlp");
        var q = r.report().quality();
        assertTrue(q.generated());
        assertEquals(1, q.outputs().size());
        assertTrue(q.warnings().stream().anyMatch(w -> w.contains("generated inputs")), q.text());
        assertTrue(r.report().table().contains("model outputs, compressed against original"), r.report().table());
        assertTrue(dev.blockterm.report.Json.of(r.report()).contains("\"quality\""));
    }

    @Test
    void namesLikeOursInTheInputStayUnique() {
        Onnx.ModelProto mlp = ModelFiles.read(MLP);
        // a valid model that already holds initializers named as ours would be
        Onnx.ModelProto model = mlp.toBuilder().setGraph(mlp.getGraph().toBuilder()
                .addInitializer(Weights.tensor("/2/Gemm.tt.core0", new long[] {2}, new double[] {1, 2}, Weights.FLOAT))
                .addInitializer(Weights.tensor("/2/Gemm.tt.core1", new long[] {1}, new double[] {3}, Weights.FLOAT)))
                .build();
        Compressor.Result r = new Compressor(options(new Target.Ratio(3)), m -> { }).compress(model, "mlp");
        java.util.Set<String> names = new java.util.HashSet<>();
        for (Onnx.TensorProto t : r.model().getGraph().getInitializerList()) {
            assertTrue(names.add(t.getName()), "duplicate initializer " + t.getName());
        }
        assertTrue(names.contains("/2/Gemm.tt.core0") && names.contains("/2/Gemm.tt.core0_1"), names.toString());
        Map<String, NpyArray> test = Map.of("input", NpyArray.read(Path.of("testdata/digits_x.npy")));
        assertTrue(outputError(mlp, r.model(), test) < 0.5, "it loads and runs");
    }

    /** Initializers also listed as graph inputs (required before IR 4, and PyTorch's keep_initializers_as_inputs). */
    @Test
    void weightsListedAsGraphInputsAreCompressedAndMeasured() {
        Onnx.ModelProto mlp = ModelFiles.read(MLP);
        Onnx.GraphProto.Builder g = mlp.getGraph().toBuilder();
        for (Onnx.TensorProto t : mlp.getGraph().getInitializerList()) {
            Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
            t.getDimsList().forEach(d -> shape.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(d)));
            g.addInput(Onnx.ValueInfoProto.newBuilder().setName(t.getName()).setType(Onnx.TypeProto.newBuilder()
                    .setTensorType(Onnx.TypeProto.Tensor.newBuilder().setElemType(t.getDataType()).setShape(shape))));
        }
        Onnx.ModelProto model = mlp.toBuilder().setGraph(g).build();
        Map<String, NpyArray> calibration = Map.of("input", NpyArray.read(Path.of("testdata/digits_calib_x.npy")));
        Compressor.Result r = new Compressor(options(new Target.MaxOutputError(0.05, false)), m -> { },
                new Calibration(calibration, 1)).compress(model, "mlp");
        assertTrue(r.report().quality().worstRelativeError() <= 0.05, r.report().table());
        assertTrue(r.report().modelParamsAfter() * 2 < r.report().modelParamsBefore(), r.report().table());
    }

    @Test
    void sameSeedSameBytes() {
        Onnx.ModelProto model = ModelFiles.read(MLP);
        byte[] a = new Compressor(options(new Target.Ratio(3)), m -> { }).compress(model, "mlp").model().toByteArray();
        byte[] b = new Compressor(options(new Target.Ratio(3)), m -> { }).compress(model, "mlp").model().toByteArray();
        assertTrue(java.util.Arrays.equals(a, b), "two identical runs wrote different bytes");
    }
}
