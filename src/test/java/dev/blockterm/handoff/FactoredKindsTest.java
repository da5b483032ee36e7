package dev.blockterm.handoff;

import static dev.blockterm.TestArrays.relativeError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Compressor;
import dev.blockterm.compress.Target;
import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.TinyModels;
import dev.blockterm.onnx.Weights;
import dev.blockterm.rewrite.ConvChain;
import dev.blockterm.rewrite.FactoredLayer;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import onnx.Onnx;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every factored kind through the handoff: a convolution in each form the compressor writes (channel
 * low rank, the block-term chain) over 1-, 2- and 3-D geometries, a hand-made two-convolution chain
 * with asymmetric kernels ({@code k_h x 1}, then {@code 1 x k_w}, as spatial SVD writes it) exported
 * through the same code, and a weight rebuilt at load. The PyTorch modules compute what ONNX Runtime
 * computes on the compressed model, and factors changed in PyTorch, imported by name, compute in ONNX
 * Runtime what they computed in PyTorch.
 */
class FactoredKindsTest {

    @TempDir
    static Path dir;
    static final List<Job> JOBS = new ArrayList<>();

    /**
     * One layer to check: the compressed model, its factors file, the layer's name, how PyTorch applies
     * the module ({@code module}: called on the input; {@code embedding}: a rebuilt table read at the ids),
     * the model's one input, ONNX Runtime's output, and the form's expected chain length (0 if not a conv).
     */
    record Job(String name, Path model, Path factors, String layer, String apply, Map<String, NpyArray> feeds,
               double[] expected, int convs) {
    }

    record Geometry(String name, int cOut, int cIn, int[] kernel, int size, List<Onnx.AttributeProto> attributes) {
    }

    static List<Geometry> geometries() {
        return List.of(
                new Geometry("2-D stride 2 pads 1", 12, 10, new int[] {3, 3}, 9,
                        List.of(TinyModels.intsAttr("strides", 2, 2), TinyModels.intsAttr("pads", 1, 1, 1, 1))),
                new Geometry("2-D dilation 2", 12, 10, new int[] {3, 3}, 9,
                        List.of(TinyModels.intsAttr("dilations", 2, 2), TinyModels.intsAttr("pads", 2, 2, 2, 2))),
                new Geometry("2-D stride 2 same-lower", 12, 10, new int[] {3, 2}, 9,
                        List.of(TinyModels.intsAttr("strides", 2, 2), TinyModels.stringAttr("auto_pad", "SAME_LOWER"))),
                new Geometry("2-D 5x3 asymmetric pads", 8, 6, new int[] {5, 3}, 8,
                        List.of(TinyModels.intsAttr("pads", 2, 0, 1, 1))),
                new Geometry("1-D stride 3", 9, 7, new int[] {5}, 20, List.of(TinyModels.intsAttr("strides", 3))),
                new Geometry("3-D", 6, 5, new int[] {3, 3, 3}, 5, List.of(TinyModels.intsAttr("pads", 1, 1, 1, 1, 1, 1))));
    }

    @BeforeAll
    static void compressEveryKind() throws IOException {
        CompressionOptions lowRank = CompressionOptions.builder().target(new Target.Ratio(2)).bits(java.util.EnumSet.of(dev.blockterm.quantize.Precision.FLOAT)).minParams(0)
                .latencyCheck(false).convForms(java.util.EnumSet.of(dev.blockterm.compress.ConvForm.CHANNEL)).build();
        CompressionOptions spatial = lowRank.toBuilder()
                .convForms(java.util.EnumSet.of(dev.blockterm.compress.ConvForm.SPATIAL)).build();
        CompressionOptions chain = CompressionOptions.builder().target(new Target.Ranks()).blocks(2).ranks(3)
                .minParams(0).sweeps(30, 1e-9).force(true).latencyCheck(false).build();
        for (Geometry g : geometries()) {
            Onnx.ModelProto model = TinyModels.conv(g.cOut(), g.cIn(), g.kernel(), g.size(), null, g.attributes());
            JOBS.add(compressed("low rank, " + g.name(), model, lowRank, "conv", "module", randomFeeds(model), 2));
            JOBS.add(compressed("block-term chain, " + g.name(), model, chain, "conv", "module", randomFeeds(model), 3));
        }
        JOBS.add(spatialSvd());
        JOBS.add(compressed("rebuilt embedding table", embedding(), CompressionOptions.defaults()
                .withTarget(new Target.Ranks()).withWeights(Pattern.compile("^table$")).withMinParams(0)
                .withLatencyCheck(false), "table", "embedding",
                Map.of("ids", new NpyArray(new long[] {5}, new double[] {0, 7, 95, 7, 31}, "<i8")), 0));
        for (Geometry g : geometries()) { // the compressor's own spatial SVD, on the 2-D kernels
            if (g.kernel().length == 2) {
                Onnx.ModelProto model = TinyModels.conv(g.cOut(), g.cIn(), g.kernel(), g.size(), null, g.attributes());
                JOBS.add(compressed("spatial SVD, " + g.name(), model, spatial, "conv", "module", randomFeeds(model), 2));
            }
        }
    }

    private static Job compressed(String name, Onnx.ModelProto model, CompressionOptions options, String layer,
                                  String apply, Map<String, NpyArray> feeds, int convs) throws IOException {
        Compressor.Result result = new Compressor(options, m -> { }).compress(model, name);
        assertTrue(result.report().layers().get(0).compressed(), name + "\n" + result.report().table());
        return job(name, result.model(), FactorFiles.export(name, result.factored()), layer, apply, feeds, convs);
    }

    /**
     * A Conv 6 x 5 x 3 x 3 as spatial SVD writes it, by hand: a 3x1 conv 5 -> 3 (stride 2, pads 1/1
     * along h only), then a 1x3 conv 3 -> 6 with the bias (stride 2, dilation 2, pads 2/1 along w only).
     */
    private static Job spatialSvd() throws IOException {
        Onnx.NodeProto vertical = Onnx.NodeProto.newBuilder().setOpType("Conv").setName("spatial/v").addInput("x")
                .addInput("spatial.bt.factor0").addOutput("h").addAttribute(TinyModels.intsAttr("kernel_shape", 3, 1))
                .addAttribute(TinyModels.intsAttr("strides", 2, 1)).addAttribute(TinyModels.intsAttr("pads", 1, 0, 1, 0))
                .build();
        Onnx.NodeProto horizontal = Onnx.NodeProto.newBuilder().setOpType("Conv").setName("spatial/h").addInput("h")
                .addInput("spatial.bt.factor1").addInput("b").addOutput("y")
                .addAttribute(TinyModels.intsAttr("kernel_shape", 1, 3)).addAttribute(TinyModels.intsAttr("strides", 1, 2))
                .addAttribute(TinyModels.intsAttr("dilations", 1, 2)).addAttribute(TinyModels.intsAttr("pads", 0, 2, 0, 1))
                .build();
        Onnx.ModelProto model = TinyModels.model(13, List.of(TinyModels.input("x", -1, 5, 9, 8)),
                List.of(TinyModels.input("y", -1, -2, -3, -4)), List.of(vertical, horizontal), List.of(
                        Weights.tensor("spatial.bt.factor0", new long[] {3, 5, 3, 1}, TinyModels.gaussian(45, 21), Weights.FLOAT),
                        Weights.tensor("spatial.bt.factor1", new long[] {6, 3, 1, 3}, TinyModels.gaussian(54, 22), Weights.FLOAT),
                        Weights.tensor("b", new long[] {6}, TinyModels.gaussian(6, 23), Weights.FLOAT)));
        Map<String, Onnx.TensorProto> stored = Graphs.initializers(model.getGraph());
        FactoredLayer layer = FactoredLayer.conv("spatial", "Conv", "w", new long[] {6, 5, 3, 3}, "low-rank",
                "spatial-svd", 1, new int[] {3}, ConvChain.of(model.getGraph().getNodeList(), stored), stored);
        return job("spatial SVD by hand", model, FactorFiles.export("spatial", List.of(layer)), "spatial", "module",
                randomFeeds(model), 2);
    }

    /** y = table[ids], a 96 x 48 table: compressed, it is rebuilt at load. */
    private static Onnx.ModelProto embedding() {
        Onnx.NodeProto gather = Onnx.NodeProto.newBuilder().setOpType("Gather").setName("embed").addInput("table")
                .addInput("ids").addOutput("y").build();
        Onnx.ValueInfoProto ids = Onnx.ValueInfoProto.newBuilder().setName("ids").setType(Onnx.TypeProto.newBuilder()
                .setTensorType(Onnx.TypeProto.Tensor.newBuilder().setElemType(Weights.INT64)
                        .setShape(Onnx.TensorShapeProto.newBuilder().addDim(Onnx.TensorShapeProto.Dimension.newBuilder()
                                .setDimValue(5))))).build();
        return TinyModels.model(13, List.of(ids), List.of(TinyModels.input("y", 5, 48)), List.of(gather),
                List.of(Weights.tensor("table", new long[] {96, 48}, TinyModels.gaussian(96 * 48, 3), Weights.FLOAT)));
    }

    private static Job job(String name, Onnx.ModelProto compressed, SafeTensors factors, String layer, String apply,
                           Map<String, NpyArray> feeds, int convs) throws IOException {
        int i = JOBS.size();
        Path model = dir.resolve(i + ".bt.onnx");
        Path file = dir.resolve(i + ".safetensors");
        ModelFiles.write(compressed, model, null);
        factors.write(file);
        return new Job(name, model, file, layer, apply, feeds, run(model, feeds), convs);
    }

    private static Map<String, NpyArray> randomFeeds(Onnx.ModelProto model) {
        try (ModelRunner r = new ModelRunner(model.toByteArray(), "input", 1)) {
            return r.randomInputs(2, 3);
        }
    }

    private static double[] run(Path model, Map<String, NpyArray> feeds) {
        try (ModelRunner r = new ModelRunner(model, 1)) {
            return r.run(feeds).values().iterator().next().values();
        }
    }

    private static JsonObject entry(Job job) {
        JsonObject manifest = JsonParser.parseString(SafeTensors.read(job.factors()).metadata().get(FactorFiles.MANIFEST))
                .getAsJsonObject();
        assertEquals(FactorFiles.MANIFEST_VERSION, manifest.get("version").getAsInt());
        JsonArray layers = manifest.getAsJsonArray("layers");
        assertEquals(1, layers.size(), job.name());
        return layers.get(0).getAsJsonObject();
    }

    @Test
    void everyConvFormIsAChainOfConvolutionsReadFromItsReplacement() {
        for (Job job : JOBS) {
            JsonObject e = entry(job);
            if (job.convs() == 0) {
                assertEquals("rebuilt", e.get("kind").getAsString(), job.name());
                assertFalse(e.has("convs"), job.name());
                continue;
            }
            assertEquals("conv", e.get("kind").getAsString(), job.name());
            JsonArray convs = e.getAsJsonArray("convs");
            assertEquals(job.convs(), convs.size(), job.name() + ": " + convs);
            JsonObject last = convs.get(convs.size() - 1).getAsJsonObject();
            assertEquals("b", last.get("bias").getAsString(), job.name());
            List<String> tensors = new ArrayList<>();
            e.getAsJsonArray("tensors").forEach(t -> tensors.add(t.getAsString()));
            for (int i = 0; i < convs.size(); i++) {
                JsonObject step = convs.get(i).getAsJsonObject();
                assertTrue(tensors.contains(step.get("weight").getAsString()), job.name() + ": " + tensors);
                assertEquals(i == convs.size() - 1, step.has("bias"), job.name() + ": only the last step adds the bias");
                for (String attribute : List.of("kernel_shape", "strides", "pads", "dilations", "group", "auto_pad")) {
                    assertTrue(step.has(attribute), job.name() + ": step " + i + " lacks " + attribute);
                }
            }
            assertTrue(tensors.contains("b"), job.name() + ": the bias goes with the factors");
            if (job.convs() == 3) { // 1x1, grouped k (group = blocks), 1x1
                assertEquals(2, convs.get(1).getAsJsonObject().get("group").getAsInt(), job.name());
            }
        }
        JsonArray spatial = entry(JOBS.get(2 * geometries().size())).getAsJsonArray("convs");
        assertEquals("[3,1]", spatial.get(0).getAsJsonObject().get("kernel_shape").toString());
        assertEquals("[1,0,1,0]", spatial.get(0).getAsJsonObject().get("pads").toString());
        assertEquals("[1,3]", spatial.get(1).getAsJsonObject().get("kernel_shape").toString());
        assertEquals("[1,2]", spatial.get(1).getAsJsonObject().get("dilations").toString());
        JsonObject sameLower = entry(JOBS.get(4)).getAsJsonArray("convs").get(0).getAsJsonObject();
        assertEquals("SAME_LOWER", sameLower.get("auto_pad").getAsString());
        assertEquals("[2,2]", sameLower.get("strides").toString());
    }

    @Test
    void importingTheExportedFactorsUnchangedGivesIdenticalOutputs() {
        for (Job job : JOBS) {
            Onnx.ModelProto back = FactorFiles.importInto(ModelFiles.read(job.model()), SafeTensors.read(job.factors()),
                    job.factors().toString());
            Path out = dir.resolve("back.onnx");
            ModelFiles.write(back, out, null);
            assertArrayEquals(job.expected(), run(out, job.feeds()), 0.0, job.name());
        }
    }

    @Test
    void thePyTorchModulesComputeWhatOnnxRuntimeComputesAndTunedFactorsGoBackByName() throws Exception {
        List<String> missing = HandoffTest.missingPythonModules("numpy", "torch");
        Assumptions.assumeTrue(missing.isEmpty(), "/usr/bin/python3 lacks the module(s) " + missing
                + " (Debian's python3-numpy, python3-torch): the PyTorch modules are not checked");
        JsonArray list = new JsonArray();
        for (int i = 0; i < JOBS.size(); i++) {
            Job job = JOBS.get(i);
            Path input = dir.resolve(i + ".in.npy");
            job.feeds().values().iterator().next().write(input);
            JsonObject o = new JsonObject();
            o.addProperty("factors", job.factors().toString());
            o.addProperty("layer", job.layer());
            o.addProperty("apply", job.apply());
            o.addProperty("input", input.toString());
            o.addProperty("output", dir.resolve(i + ".torch.npy").toString());
            o.addProperty("tuned", dir.resolve(i + ".tuned.safetensors").toString());
            o.addProperty("tuned_output", dir.resolve(i + ".tuned.npy").toString());
            list.add(o);
        }
        Path jobs = dir.resolve("jobs.json");
        Files.writeString(jobs, list.toString());
        Process p = new ProcessBuilder("/usr/bin/python3", "src/test/python/handoff_kinds.py", jobs.toString())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), log);
        assertEquals(0, p.exitValue(), log);
        for (int i = 0; i < JOBS.size(); i++) {
            Job job = JOBS.get(i);
            double[] torch = NpyArray.read(dir.resolve(i + ".torch.npy")).values();
            double e = relativeError(job.expected(), torch);
            assertTrue(e < 1e-4, job.name() + ": PyTorch differs from ONNX Runtime by " + e);
            // tuned in PyTorch, imported by name: ONNX Runtime computes what PyTorch computed
            Path tuned = dir.resolve(i + ".tuned.onnx");
            ModelFiles.write(FactorFiles.importInto(ModelFiles.read(job.model()),
                    SafeTensors.read(dir.resolve(i + ".tuned.safetensors")), "tuned"), tuned, null);
            double[] tunedTorch = NpyArray.read(dir.resolve(i + ".tuned.npy")).values();
            double[] tunedOrt = run(tuned, job.feeds());
            assertTrue(relativeError(job.expected(), tunedOrt) > 1e-3, job.name() + ": the tuned factors change the output");
            double t = relativeError(tunedTorch, tunedOrt);
            assertTrue(t < 1e-4, job.name() + ": tuned, ONNX Runtime differs from PyTorch by " + t);
        }
    }
}
