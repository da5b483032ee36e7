package dev.blockterm.cli;

import dev.blockterm.compress.Target;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Compressor;
import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.LinearLayer;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.TinyModels;
import dev.blockterm.onnx.Weights;
import dev.blockterm.report.LayerReport;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import dev.blockterm.tensor.Layout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import onnx.Onnx;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

public class CompressEndToEndTest {

    public static final Path MLP = Path.of("models/digits_mlp.onnx");
    public static final Path X = Path.of("testdata/digits_x.npy");

    @TempDir
    Path dir;

    @Test
    void compressesTheBundledMlpThroughTheCli() throws IOException {
        Path out = dir.resolve("mlp.bt.onnx");
        Path json = dir.resolve("report.json");
        CliRun run = CliRun.of("compress", MLP.toString(), "-o", out.toString(), "--report", json.toString(), "-q",
                "--no-latency-check", "--blocks", "4");
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().contains("compressed 2 of 3 layers"), run.out());
        assertTrue(Files.readString(json).contains("\"relativeError\""));
        assertChecked(out);

        // the report's parameter counts are the initializer sizes in the written file
        Onnx.ModelProto written = ModelFiles.read(out);
        Map<String, Long> sizes = new HashMap<>();
        for (Onnx.TensorProto t : written.getGraph().getInitializerList()) {
            sizes.put(t.getName(), Weights.elements(t));
        }
        String layer = "/2/Gemm";
        long stored = 0;
        for (Map.Entry<String, Long> e : sizes.entrySet()) {
            if (e.getKey().startsWith(layer + ".bt.factor") || e.getKey().equals(layer + ".bt.core")) {
                stored += e.getValue();
            }
        }
        assertTrue(run.out().contains("262144 -> " + stored), run.out());
        assertTrue(!sizes.containsKey("2.weight"), "the replaced weight is gone");
        // same input and output names, element types and (dynamic) dimensions
        Onnx.ModelProto original = ModelFiles.read(MLP);
        assertEquals(original.getGraph().getInputList(), written.getGraph().getInputList());
        assertEquals(original.getGraph().getOutputList(), written.getGraph().getOutputList());
        assertEquals(original.getOpsetImportList(), written.getOpsetImportList());

        // verify runs both models and prints agreement; inspect reads the provenance back
        CliRun verify = CliRun.of("verify", MLP.toString(), out.toString(), "--inputs", X.toString(), "--labels",
                "testdata/digits_y.npy");
        assertEquals(0, verify.code(), verify.err());
        assertTrue(verify.out().contains("logits"), verify.out());
        CliRun inspect = CliRun.of("inspect", out.toString());
        assertEquals(0, inspect.code(), inspect.err());
        assertTrue(inspect.out().contains("compressed by blockterm") && inspect.out().contains("/2/Gemm"), inspect.out());
        // the recorded report cannot know the size of the file that holds it: it says so rather than "0.0 kB"
        assertTrue(inspect.out().contains("-> this file") && !inspect.out().contains("-> 0.0 kB"), inspect.out());
    }

    @Test
    void compressesTheBundledCnnThroughTheCli() {
        Path out = dir.resolve("cnn.bt.onnx");
        CliRun run = CliRun.of("compress", "models/digits_cnn.onnx", "-o", out.toString(), "-q", "--no-latency-check",
                "--blocks", "4");
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().contains("/2/Conv") && run.out().contains("conv        64 x 32 x 3*3"), run.out());
        assertChecked(out);
        CliRun verify = CliRun.of("verify", "models/digits_cnn.onnx", out.toString(), "--inputs",
                "testdata/digits_img_x.npy", "--labels", "testdata/digits_img_y.npy");
        assertEquals(0, verify.code(), verify.err());
        String row = verify.out().lines().filter(l -> l.startsWith("logits")).findFirst().orElseThrow();
        String[] cells = row.trim().split("\\s+");
        double original = Double.parseDouble(cells[cells.length - 2]);
        double compressed = Double.parseDouble(cells[cells.length - 1]);
        assertTrue(original > 0.95 && compressed > original - 0.05, row);
        CliRun inspect = CliRun.of("inspect", "models/digits_cnn.onnx", "--blocks", "4");
        assertTrue(inspect.out().contains("1x1 -> grouped -> 1x1"), inspect.out());
    }

    @Test
    void compressesTheBundledLstmThroughTheCli() {
        Path out = dir.resolve("lstm.bt.onnx");
        // the 512x8 input weight W is 4096 parameters: at 4x its error (0.70) costs most of the accuracy,
        // so it stays dense here (--min-params) and only the recurrent weight R is compressed
        CliRun run = CliRun.of("compress", "models/digits_lstm.onnx", "-o", out.toString(), "-q", "--no-latency-check", "--ratio", "4",
                "--min-params", "5000");
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().contains("LSTM:R") && run.out().contains("rebuilt at load"), run.out());
        assertChecked(out);
        CliRun verify = CliRun.of("verify", "models/digits_lstm.onnx", out.toString(), "--inputs",
                "testdata/digits_seq_x.npy", "--labels", "testdata/digits_seq_y.npy");
        assertEquals(0, verify.code(), verify.err());
        String row = verify.out().lines().filter(l -> l.startsWith("logits")).findFirst().orElseThrow();
        String[] cells = row.trim().split("\\s+");
        double original = Double.parseDouble(cells[cells.length - 2]);
        double compressed = Double.parseDouble(cells[cells.length - 1]);
        assertTrue(original > 0.95 && compressed > original - 0.03, row);
        assertTrue(ModelFiles.read(out).getSerializedSize() < ModelFiles.read(Path.of("models/digits_lstm.onnx"))
                .getSerializedSize(), "the file shrinks");
    }

    @Test
    void theGraphComputesWhatTheFactorsSay() {
        Onnx.ModelProto model = ModelFiles.read(MLP);
        List<CompressionOptions> settings = new java.util.ArrayList<>();
        for (Layout layout : new Layout[] {null, Layout.MERGED, Layout.SPLIT, Layout.INPUT_WHOLE}) {
            settings.add(CompressionOptions.defaults().withLayout(layout).withMinParams(0).withForce(true));
        }
        for (dev.blockterm.decompose.Format format : dev.blockterm.decompose.Format.values()) {
            settings.add(CompressionOptions.defaults().withFormat(format).withTarget(new Target.LayerRatio(6)).withMinParams(0)
                    .withLatencyCheck(false));
        }
        int index = 0;
        for (CompressionOptions options : settings) {
            String layout = options.describe() + " #" + index++;
            Compressor.Result result = new Compressor(options, m -> { }).compress(model, "mlp");
            Path out = dir.resolve("mlp-" + index + ".onnx");
            ModelFiles.write(result.model(), out, MLP);
            NpyArray x = NpyArray.read(X);
            double[] ort = runOrt(out, x);
            // independent forward pass in Java with W^ = the reconstructed factors
            Map<String, double[]> weights = new HashMap<>();
            for (LinearLayer layer : Graphs.linearLayers(model.getGraph())) {
                Compressor.LayerFit fit = result.fits().get(layer.name());
                weights.put(layer.name(), fit == null ? Graphs.weightMatrix(layer, Graphs.initializers(model.getGraph())
                        .get(layer.weightName())) : fit.tensorization().matricize(fit.fit().model().reconstruct()));
            }
            double[] java = forward(model, weights, x);
            assertEquals(0, relative(java, ort), 1e-4, layout);
            assertTrue(result.report().compressedLayers() >= 2, layout + "\n" + result.report().table());
        }
    }

    @Test
    void fullRanksReproduceTheOriginalOutputs() {
        Onnx.ModelProto model = ModelFiles.read(MLP);
        // one block at full matrix rank 64 of the 64x512 layer: the plain-matrix layout (input-whole, one output mode)
        CompressionOptions options = CompressionOptions.builder().target(new Target.Ranks()).blocks(1).ranks(64).order(2).layout(Layout.INPUT_WHOLE)
                .layers(java.util.regex.Pattern.compile("^/0/Gemm$")).minParams(0).sweeps(5, 1e-9).force(true).build();
        Path out = dir.resolve("full.onnx");
        Compressor.Result result = new Compressor(options, m -> { }).compress(model, "mlp");
        assertTrue(result.report().layers().stream().filter(LayerReport::compressed).count() >= 1);
        ModelFiles.write(result.model(), out, MLP);
        NpyArray x = NpyArray.read(X);
        assertEquals(0, relative(runOrt(MLP, x), runOrt(out, x)), 1e-4);
    }

    @Test
    void gemmAttributesAndLeadingDimensionsKeepTheirMeaning() {
        // full-rank factors: the rewritten graph must equal the original in ONNX Runtime
        // 13 x 7 cannot be balanced: padded to 15 x 8, the graph pads the input and slices the output
        List<Onnx.ModelProto> models = List.of(TinyModels.gemm(12, 10, 0.5f, 2f, 13), TinyModels.matmul3d(12, 10, 11),
                TinyModels.matmul3d(12, 10, 13), TinyModels.matmul3d(13, 7, 13), TinyModels.gemm(13, 7, 1f, 1f, 11));
        for (Onnx.ModelProto model : models) {
            for (Layout layout : Layout.values()) {
                int order = 2;
                Path in = dir.resolve("tiny.onnx");
                Path out = dir.resolve("tiny-" + layout + ".onnx");
                ModelFiles.write(model, in, null);
                // the rank is capped per mode to the full size by choosing it from the tensorization
                int[] full = fullRanks(model, layout, order);
                CompressionOptions options = CompressionOptions.builder().target(new Target.Ranks()).blocks(1).ranks(full).order(order).layout(layout)
                        .minParams(0).sweeps(3, 1e-9).force(true).build();
                Compressor.Result result = new Compressor(options, m -> { }).compress(model, "tiny");
                ModelFiles.write(result.model(), out, in);
                assertChecked(out);
                java.util.Set<String> read = Graphs.referenced(result.model().getGraph().getNodeList());
                for (Onnx.TensorProto t : result.model().getGraph().getInitializerList()) {
                    assertTrue(read.contains(t.getName()), "initializer '" + t.getName() + "' is read by no node");
                }
                try (ModelRunner a = new ModelRunner(in, 1); ModelRunner b = new ModelRunner(out, 1)) {
                    Map<String, NpyArray> feeds = a.randomInputs(9, 3);
                    double[] ya = a.run(feeds).values().iterator().next().values();
                    NpyArray yb = b.run(feeds).values().iterator().next();
                    assertEquals(0, relative(ya, yb.values()), 1e-5, layout + " on " + model.getGraph().getNode(0).getOpType());
                    assertEquals(a.run(feeds).values().iterator().next().shape().length, yb.shape().length);
                }
            }
        }
    }

    private static int[] fullRanks(Onnx.ModelProto model, Layout layout, int order) {
        LinearLayer layer = Graphs.linearLayers(model.getGraph()).get(0);
        dev.blockterm.tensor.Tensorization tz = switch (layout) {
            case MERGED -> dev.blockterm.tensor.Tensorization.merged(layer.inputSize(), layer.outputSize(), order);
            case SPLIT -> dev.blockterm.tensor.Tensorization.split(layer.inputSize(), layer.outputSize(), order, order);
            case INPUT_WHOLE -> dev.blockterm.tensor.Tensorization.inputWhole(layer.inputSize(), layer.outputSize(), order - 1);
        };
        int[] sizes = tz.modeSizes();
        long all = 1;
        for (int s : sizes) {
            all *= s;
        }
        int[] ranks = new int[sizes.length];
        for (int k = 0; k < sizes.length; k++) {
            ranks[k] = (int) Math.min(sizes[k], all / sizes[k]);
        }
        return ranks;
    }

    static double[] runOrt(Path model, NpyArray x) {
        try (ModelRunner r = new ModelRunner(model, 1)) {
            return r.run(Map.of(r.inputs().get(0).name(), x)).values().iterator().next().values();
        }
    }

    /** Gemm (transB as stored) / Relu chain in double precision. */
    static double[] forward(Onnx.ModelProto model, Map<String, double[]> weights, NpyArray x) {
        Map<String, Onnx.TensorProto> inits = Graphs.initializers(model.getGraph());
        int rows = (int) x.shape()[0];
        double[] h = x.values();
        int width = (int) x.shape()[1];
        List<LinearLayer> layers = Graphs.linearLayers(model.getGraph());
        int next = 0;
        for (Onnx.NodeProto node : model.getGraph().getNodeList()) {
            if (node.getOpType().equals("Relu")) {
                for (int i = 0; i < h.length; i++) {
                    h[i] = Math.max(0, h[i]);
                }
                continue;
            }
            LinearLayer layer = layers.get(next++);
            double[] w = weights.get(layer.name());
            double[] bias = Weights.values(inits.get(node.getInput(2)));
            int j = layer.outputSize();
            double[] y = new double[rows * j];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < j; c++) {
                    double s = bias[c];
                    for (int i = 0; i < width; i++) {
                        s += h[r * width + i] * w[i * j + c];
                    }
                    y[r * j + c] = s;
                }
            }
            h = y;
            width = j;
        }
        return h;
    }

    public static double relative(double[] expected, double[] actual) {
        return dev.blockterm.TestArrays.relativeError(expected, actual);
    }

    /** The ONNX checker (full check with shape inference), where Debian's python3-onnx is installed. */
    public static void assertChecked(Path model) {
        Path python = Path.of("/usr/bin/python3");
        Assumptions.assumeTrue(Files.isExecutable(python), "no /usr/bin/python3");
        try {
            // onnx found but not importable (numpy missing, say) is a broken install: skipped, saying why
            Process probe = new ProcessBuilder(python.toString(), "-c", "import onnx").redirectErrorStream(true).start();
            String why = new String(probe.getInputStream().readAllBytes()).strip();
            assertTrue(probe.waitFor(120, TimeUnit.SECONDS));
            Assumptions.assumeTrue(probe.exitValue() == 0, "python3-onnx does not import: "
                    + why.substring(why.lastIndexOf('\n') + 1));
            Process p = new ProcessBuilder(python.toString(), "-c",
                    "import sys, onnx; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)", model.toString())
                    .redirectErrorStream(true).start();
            String output = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), "ONNX checker: " + output);
        } catch (IOException e) {
            throw new AssertionError(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
