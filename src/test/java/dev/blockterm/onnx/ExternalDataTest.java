package dev.blockterm.onnx;

import dev.blockterm.compress.Target;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.cli.CompressEndToEndTest;
import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Compressor;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import onnx.Onnx;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Models whose weights live in ONNX external data files are read and written. */
class ExternalDataTest {

    @TempDir
    Path dir;

    private static double[] run(Path model, NpyArray x) {
        try (ModelRunner r = new ModelRunner(model, 1)) {
            return r.run(Map.of("input", x)).values().iterator().next().values();
        }
    }

    @Test
    void externalWeightsAreReadCompressedAndWritten() throws Exception {
        Onnx.ModelProto inline = ModelFiles.read(CompressEndToEndTest.MLP);
        Path external = dir.resolve("mlp-external.onnx");
        ModelFiles.write(inline, external, null, 0); // everything of 1 kB or more goes external
        assertTrue(Files.size(dir.resolve("mlp-external.onnx.data")) > 1_000_000, "the weights are in the data file");
        assertTrue(Files.size(external) < 20_000, "the model file holds no weights");
        Onnx.TensorProto stored = Onnx.ModelProto.parseFrom(Files.readAllBytes(external)).getGraph().getInitializerList()
                .stream().filter(t -> t.getName().equals("2.weight")).findFirst().orElseThrow();
        assertEquals(Onnx.TensorProto.DataLocation.EXTERNAL, stored.getDataLocation());

        NpyArray x = NpyArray.read(CompressEndToEndTest.X);
        assertEquals(0, CompressEndToEndTest.relative(run(CompressEndToEndTest.MLP, x), run(external, x)), 1e-7,
                "ONNX Runtime reads the external file as written");

        // read back: the same weights as the inline model, so compressing either gives the same factors
        Onnx.ModelProto loaded = ModelFiles.read(external);
        assertEquals(Graphs.initializers(inline.getGraph()).get("2.weight").getRawData(),
                Graphs.initializers(loaded.getGraph()).get("2.weight").getRawData());
        CompressionOptions options = CompressionOptions.builder().target(new Target.Ranks()).sweeps(5, 1e-5).latencyCheck(false).build();
        Compressor.Result a = new Compressor(options, m -> { }).compress(inline, "inline");
        Compressor.Result b = new Compressor(options, m -> { }).compress(loaded, "external");
        assertEquals(Graphs.initializers(a.model().getGraph()).get("/2/Gemm.bt.core").getRawData(),
                Graphs.initializers(b.model().getGraph()).get("/2/Gemm.bt.core").getRawData());

        // a compressed model written with external data runs the same as inline
        Path inlineOut = dir.resolve("out-inline.onnx");
        Path externalOut = dir.resolve("out-external.onnx");
        ModelFiles.write(b.model(), inlineOut, external);
        ModelFiles.write(b.model(), externalOut, external, 0);
        assertTrue(Files.exists(dir.resolve("out-external.onnx.data")));
        assertEquals(0, CompressEndToEndTest.relative(run(inlineOut, x), run(externalOut, x)), 1e-7);
        CompressEndToEndTest.assertChecked(externalOut);
    }

    @Test
    void aMissingDataFileIsOneClearError() throws Exception {
        Path external = dir.resolve("m.onnx");
        ModelFiles.write(ModelFiles.read(CompressEndToEndTest.MLP), external, null, 0);
        Files.delete(dir.resolve("m.onnx.data"));
        ModelException e = org.junit.jupiter.api.Assertions.assertThrows(ModelException.class, () -> ModelFiles.read(external));
        assertTrue(e.getMessage().contains("cannot read external data"), e.getMessage());
    }

    /** The MLP with its weights in m.onnx.data, the entries of every external tensor changed by {@code change}. */
    private Path external(java.util.function.BiFunction<String, String, String> change) throws Exception {
        Path model = dir.resolve("m.onnx");
        ModelFiles.write(ModelFiles.read(CompressEndToEndTest.MLP), model, null, 0);
        Onnx.ModelProto m = Onnx.ModelProto.parseFrom(Files.readAllBytes(model));
        Onnx.GraphProto.Builder g = m.getGraph().toBuilder();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            Onnx.TensorProto.Builder t = g.getInitializer(i).toBuilder();
            java.util.List<Onnx.StringStringEntryProto> entries = new java.util.ArrayList<>(t.getExternalDataList());
            t.clearExternalData();
            for (Onnx.StringStringEntryProto e : entries) {
                String v = change.apply(e.getKey(), e.getValue());
                if (v != null) {
                    t.addExternalData(e.toBuilder().setValue(v));
                }
            }
            g.setInitializer(i, t);
        }
        Files.write(model, m.toBuilder().setGraph(g).build().toByteArray());
        return model;
    }

    private static void assertRefused(Path model, String expected) {
        ModelException e = org.junit.jupiter.api.Assertions.assertThrows(ModelException.class, () -> ModelFiles.read(model));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    }

    @Test
    void locationsOutsideTheModelsFolderAreRefused() throws Exception {
        Path secret = Files.writeString(dir.getParent().resolve("blockterm-secret-" + System.nanoTime()), "x".repeat(300_000));
        try {
            assertRefused(external((k, v) -> k.equals("location") ? "../" + secret.getFileName() : v), "outside the model's folder");
            assertRefused(external((k, v) -> k.equals("location") ? "../../../../../../etc/passwd" : v), "outside the model's folder");
            assertRefused(external((k, v) -> k.equals("location") ? secret.toString() : v), "absolute path");
            Files.createSymbolicLink(dir.resolve("link.data"), secret);
            assertRefused(external((k, v) -> k.equals("location") ? "link.data" : v), "(a symbolic link)");
        } finally {
            Files.delete(secret);
        }
    }

    @Test
    void aFifoAsDataIsRefusedWithoutOpeningIt() throws Exception {
        Path fifo = dir.resolve("pipe.data");
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).start();
        org.junit.jupiter.api.Assumptions.assumeTrue(mk.waitFor() == 0, "no mkfifo");
        Path model = external((k, v) -> k.equals("location") ? "pipe.data" : v);
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(20),
                () -> assertRefused(model, "is not a regular file"));
    }

    @Test
    void withoutLengthTheTensorsOwnSizeIsRead() throws Exception {
        Path model = external((k, v) -> k.equals("length") ? null : v); // valid ONNX: every tensor ends where its size says
        Onnx.ModelProto inline = ModelFiles.read(CompressEndToEndTest.MLP);
        Onnx.ModelProto loaded = ModelFiles.read(model);
        for (Onnx.TensorProto t : inline.getGraph().getInitializerList()) {
            assertEquals(t.getRawData(), Graphs.initializers(loaded.getGraph()).get(t.getName()).getRawData(), t.getName());
        }
    }

    @Test
    void badOffsetsAndLengths() throws Exception {
        assertRefused(external((k, v) -> k.equals("offset") ? "abc" : v), "offset 'abc' is not a whole number");
        assertRefused(external((k, v) -> k.equals("length") ? "12x" : v), "length '12x' is not a whole number");
        assertRefused(external((k, v) -> k.equals("offset") ? "-4" : v), "offset -4 is negative");
        assertRefused(external((k, v) -> k.equals("offset") ? "9223372036854775000" : v), "holds");
        assertRefused(external((k, v) -> k.equals("length") ? "7" : v), "external data length 7 bytes");
        assertRefused(external((k, v) -> k.equals("location") ? "absent.data" : v), "cannot read external data");
    }
}
