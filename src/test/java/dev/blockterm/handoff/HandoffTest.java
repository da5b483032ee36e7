package dev.blockterm.handoff;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.blockterm.cli.CliRun;
import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.runtime.ActivationCapture;
import dev.blockterm.runtime.NpyArray;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import onnx.Onnx;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** compress --factors and import-factors: the round trip, a change that stays in its layer, refusals, PyTorch. */
class HandoffTest {

    static final Path MLP = Path.of("models/digits_mlp.onnx");
    static final Path X = Path.of("testdata/digits_x.npy");

    @TempDir
    static Path shared;
    static Path compressed;
    static Path factors;

    @TempDir
    Path dir;

    @BeforeAll
    static void compress() {
        compressed = shared.resolve("mlp.bt.onnx");
        factors = shared.resolve("mlp.safetensors");
        // merged layout at 30x, as in the fine-tuning experiment: two layers factored, the classifier dense
        CliRun run = CliRun.of("compress", MLP.toString(), "-o", compressed.toString(), "--no-latency-check", "--layout", "merged", "--layer-ratio", "30",
                "--force", "--factors", factors.toString(), "-q");
        assertEquals(0, run.code(), run.err());
    }

    @Test
    void theManifestDescribesEveryCompressedLayer() {
        SafeTensors st = SafeTensors.read(factors);
        JsonObject manifest = JsonParser.parseString(st.metadata().get(FactorFiles.MANIFEST)).getAsJsonObject();
        var layers = manifest.getAsJsonArray("layers");
        assertEquals(2, layers.size());
        JsonObject hidden = layers.get(1).getAsJsonObject();
        assertEquals("/2/Gemm", hidden.get("name").getAsString());
        assertEquals("2.weight", hidden.get("weight").getAsString());
        assertEquals("abcd,ebfg,echi,edjk,egik->afhj", hidden.get("einsum").getAsString());
        assertEquals("2.bias", hidden.get("bias").getAsString());
        Set<String> names = new TreeSet<>();
        st.tensors().forEach(t -> names.add(t.name()));
        assertTrue(names.containsAll(List.of("/2/Gemm.bt.factor0", "/2/Gemm.bt.core", "2.bias", "0.bias")), names.toString());
        // the stored factors are the model's initializers, value for value
        Map<String, Onnx.TensorProto> inits = Graphs.initializers(ModelFiles.read(compressed).getGraph());
        for (SafeTensors.Tensor t : st.tensors()) {
            assertArrayEquals(dev.blockterm.onnx.Weights.values(inits.get(t.name())), t.values(), 0, t.name());
        }
    }

    @Test
    void exportThenImportUnchangedGivesIdenticalOutputs() throws IOException {
        Path back = dir.resolve("back.onnx");
        CliRun run = CliRun.of("import-factors", compressed.toString(), factors.toString(), "-o", back.toString());
        assertEquals(0, run.code(), run.err());
        Map<String, NpyArray> feeds = Map.of("input", NpyArray.read(X));
        assertArrayEquals(outputs(compressed, feeds, "logits"), outputs(back, feeds, "logits"), 0.0);
    }

    @Test
    void changedFactorsChangeExactlyTheLayersTheyBelongTo() throws IOException {
        SafeTensors st = SafeTensors.read(factors);
        List<SafeTensors.Tensor> changed = new ArrayList<>();
        for (SafeTensors.Tensor t : st.tensors()) {
            double[] v = t.values().clone();
            if (t.name().equals("/2/Gemm.bt.factor0")) {
                for (int i = 0; i < v.length; i++) {
                    v[i] *= 1.5;
                }
            }
            changed.add(new SafeTensors.Tensor(t.name(), t.dtype(), t.shape(), v));
        }
        Path tuned = dir.resolve("tuned.safetensors");
        new SafeTensors(st.metadata(), changed).write(tuned);
        Path out = dir.resolve("tuned.onnx");
        assertEquals(0, CliRun.of("import-factors", compressed.toString(), tuned.toString(), "-o", out.toString()).code());

        Map<String, Onnx.TensorProto> before = Graphs.initializers(ModelFiles.read(compressed).getGraph());
        Map<String, Onnx.TensorProto> after = Graphs.initializers(ModelFiles.read(out).getGraph());
        assertEquals(before.keySet(), after.keySet());
        Set<String> differing = new TreeSet<>();
        before.forEach((name, t) -> {
            if (!t.equals(after.get(name))) {
                differing.add(name);
            }
        });
        assertEquals(Set.of("/2/Gemm.bt.factor0"), differing);
        // the first layer computes the same, the second one does not
        Map<String, NpyArray> feeds = Map.of("input", NpyArray.read(X));
        String first = output(MLP, "/0/Gemm");
        String second = output(MLP, "/2/Gemm");
        assertArrayEquals(outputs(compressed, feeds, first), outputs(out, feeds, first), 0.0);
        double[] a = outputs(compressed, feeds, second);
        double[] b = outputs(out, feeds, second);
        double[] bias = dev.blockterm.onnx.Weights.values(before.get("2.bias"));
        for (int i = 0; i < a.length; i++) { // x W + c becomes 1.5 x W + c
            assertEquals(1.5 * a[i] - 0.5 * bias[i % bias.length], b[i], 1e-4 * (1 + Math.abs(b[i])));
        }
    }

    @Test
    void malformedOrMismatchedFilesAreRefused() throws IOException {
        byte[] good = Files.readAllBytes(factors);
        Path truncated = dir.resolve("truncated.safetensors");
        Files.write(truncated, java.util.Arrays.copyOf(good, good.length - 100));
        Path garbage = dir.resolve("garbage.safetensors");
        Files.write(garbage, "this is not a safetensors file at all".getBytes(StandardCharsets.UTF_8));
        SafeTensors st = SafeTensors.read(factors);
        Path renamed = dir.resolve("renamed.safetensors");
        Path reshaped = dir.resolve("reshaped.safetensors");
        SafeTensors.Tensor t0 = st.tensors().get(0);
        List<SafeTensors.Tensor> rest = st.tensors().subList(1, st.tensors().size());
        List<SafeTensors.Tensor> r1 = new ArrayList<>(rest);
        r1.add(new SafeTensors.Tensor("no.such.weight", t0.dtype(), t0.shape(), t0.values()));
        new SafeTensors(st.metadata(), r1).write(renamed);
        List<SafeTensors.Tensor> r2 = new ArrayList<>(rest);
        r2.add(new SafeTensors.Tensor(t0.name(), t0.dtype(), new long[] {t0.values().length}, t0.values()));
        new SafeTensors(st.metadata(), r2).write(reshaped);
        Path badHeader = dir.resolve("badheader.safetensors");
        ByteBuffer b = ByteBuffer.allocate(8 + 16).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(16).put("{\"a\": {\"dtype\":1".getBytes(StandardCharsets.UTF_8));
        Files.write(badHeader, b.array());

        Map<Path, String> expected = Map.of(truncated, "data_offsets", garbage, "header length", renamed,
                "'no.such.weight' is not a weight of the model", reshaped, "has shape", badHeader, "not JSON");
        byte[] model = Files.readAllBytes(compressed);
        for (Map.Entry<Path, String> e : expected.entrySet()) {
            Path out = dir.resolve("out.onnx");
            CliRun run = CliRun.of("import-factors", compressed.toString(), e.getKey().toString(), "-o", out.toString());
            assertEquals(1, run.code(), e.getKey() + ": " + run.out());
            assertEquals(1, run.err().lines().count(), run.err());
            assertTrue(run.err().contains(e.getValue()) && run.err().contains(e.getKey().getFileName().toString()),
                    run.err());
            assertFalse(Files.exists(out), "no output for " + e.getKey());
            assertArrayEquals(model, Files.readAllBytes(compressed));
        }
    }

    @Test
    void aValueBeyondTheModelsFloat32IsRefused() throws Exception {
        SafeTensors st = SafeTensors.read(factors);
        SafeTensors.Tensor first = st.tensors().get(0);
        double[] v = first.values();
        v[0] = 1e300; // a float64 value that would become Inf in float32
        Path huge = dir.resolve("huge.safetensors");
        new SafeTensors(st.metadata(), List.of(new SafeTensors.Tensor(first.name(), "F64", first.shape(), v))).write(huge);
        Path out = dir.resolve("out.onnx");
        CliRun run = CliRun.of("import-factors", compressed.toString(), huge.toString(), "-o", out.toString());
        assertEquals(1, run.code(), run.out());
        assertEquals(1, run.err().lines().count(), run.err());
        assertTrue(run.err().contains("'" + first.name() + "' holds 1.0E300, beyond the range of the model's float32"), run.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void importFactorsNeverOverwritesItsInputs() {
        Path out = dir.resolve("out.onnx");
        CliRun onFactors = CliRun.of("import-factors", compressed.toString(), factors.toString(), "-o", factors.toString());
        assertEquals(1, onFactors.code());
        assertTrue(onFactors.err().contains("is an input file (" + factors), onFactors.err());
        assertEquals(1, onFactors.err().lines().count(), onFactors.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void thePyTorchLayerComputesWhatOnnxRuntimeComputes() throws Exception {
        Map<String, NpyArray> feeds = Map.of("input", NpyArray.read(X));
        String in = MLP.toString();
        Onnx.ModelProto model = ModelFiles.read(compressed);
        String x = ModelFiles.read(MLP).getGraph().getNodeList().stream().filter(n -> n.getName().equals("/2/Gemm"))
                .findFirst().orElseThrow().getInput(0);
        String y = output(MLP, "/2/Gemm");
        Map<String, NpyArray> captured = ActivationCapture.capture(model, List.of(x, y), feeds, 1);
        List<String> missing = missingPythonModules("numpy", "torch");
        Assumptions.assumeTrue(missing.isEmpty(), "/usr/bin/python3 lacks the module(s) " + missing
                + " (Debian's python3-numpy, python3-torch): the PyTorch handoff is not checked");
        Path xFile = dir.resolve("x.npy");
        Path yFile = dir.resolve("y.npy");
        new NpyArray(captured.get(x).shape(), captured.get(x).values(), "<f4").write(xFile);
        String script = String.join("\n",
                "import sys, numpy as np, torch",
                "sys.path.insert(0, 'handoff')",
                "import blockterm_torch as bt",
                "manifest, tensors = bt.read_safetensors(sys.argv[1])",
                "layer = bt.build(manifest, tensors)['/2/Gemm']",
                "with torch.no_grad():",
                "    y = layer(torch.from_numpy(np.load(sys.argv[2])))",
                "np.save(sys.argv[3], y.numpy().astype(np.float32))");
        Process p = new ProcessBuilder("/usr/bin/python3", "-c", script, factors.toString(), xFile.toString(),
                yFile.toString()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        Assumptions.assumeFalse(log.contains("No module named 'torch'"), "Debian's python3-torch is not installed");
        assertEquals(0, p.exitValue(), log);
        double[] expected = captured.get(y).values();
        double[] actual = NpyArray.read(yFile).values();
        assertEquals(expected.length, actual.length);
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < expected.length; i++) {
            diff += (expected[i] - actual[i]) * (expected[i] - actual[i]);
            norm += expected[i] * expected[i];
        }
        assertTrue(Math.sqrt(diff / norm) < 1e-5, "relative difference " + Math.sqrt(diff / norm) + " (" + in + ")");
    }

    /** The modules {@code /usr/bin/python3} cannot import (all of them when there is no such python). */
    static List<String> missingPythonModules(String... modules) throws InterruptedException {
        // imported, not only found: a module that is there but does not import (a broken install) is missing too
        String probe = "import importlib, sys\n"
                + "def bad(m):\n"
                + "    try:\n"
                + "        importlib.import_module(m)\n"
                + "        return False\n"
                + "    except Exception:\n"
                + "        return True\n"
                + "print(' '.join(m for m in sys.argv[1:] if bad(m)))";
        List<String> command = new java.util.ArrayList<>(List.of("/usr/bin/python3", "-c", probe));
        command.addAll(List.of(modules));
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                return List.of(modules);
            }
            return out.isEmpty() ? List.of() : List.of(out.split(" "));
        } catch (java.io.IOException e) {
            return List.of(modules); // no /usr/bin/python3
        }
    }

    private static String output(Path model, String node) {
        return ModelFiles.read(model).getGraph().getNodeList().stream().filter(n -> n.getName().equals(node))
                .findFirst().orElseThrow().getOutput(0);
    }

    private static double[] outputs(Path model, Map<String, NpyArray> feeds, String value) {
        return ActivationCapture.capture(ModelFiles.read(model), List.of(value), feeds, 1).get(value).values();
    }
}
