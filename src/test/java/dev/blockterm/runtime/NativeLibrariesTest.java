package dev.blockterm.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.TinyModels;
import dev.blockterm.onnx.Weights;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import onnx.Onnx;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A run that loads ONNX Runtime leaves nothing in the temporary directory; its libraries live in the user's cache. */
class NativeLibrariesTest {

    @TempDir
    Path dir;

    @Test
    void nothingLeftInTheTemporaryDirectory() throws Exception {
        Path tmp = Files.createDirectory(dir.resolve("tmp"));
        Path cache = dir.resolve("cache");
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        for (int run = 0; run < 2; run++) { // the first copies the libraries, the second reuses them
            ProcessBuilder pb = new ProcessBuilder(javaBin.toString(), "-Djava.io.tmpdir=" + tmp, "-cp",
                    System.getProperty("java.class.path"), "dev.blockterm.cli.Main", "verify", "models/digits_mlp.onnx",
                    "models/digits_mlp.onnx").redirectOutput(ProcessBuilder.Redirect.DISCARD);
            pb.environment().put("XDG_CACHE_HOME", cache.toString());
            Process p = pb.start();
            String err = new String(p.getErrorStream().readAllBytes());
            assertTrue(p.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), err);
            try (Stream<Path> left = Files.list(tmp)) {
                List<String> names = left.map(x -> x.getFileName().toString()).filter(n -> n.startsWith("onnxruntime")
                        || n.startsWith("blockterm")).toList();
                assertEquals(List.of(), names, "left in java.io.tmpdir after run " + run);
            }
        }
        try (Stream<Path> libs = Files.walk(cache.resolve("blockterm"))) {
            assertEquals(2, libs.filter(p -> p.getFileName().toString().endsWith(".so")).count());
        }
    }

    /**
     * A model that loads but fails to run (an index past its table): ONNX Runtime's own coloured
     * ERROR line went to the process's stderr before ours; it is our one line alone now. In a child
     * process, as ONNX Runtime writes to file descriptor 2, not to the command's writer.
     */
    @Test
    void aKernelThatFailsPrintsOurLineAlone() throws Exception {
        Onnx.ValueInfoProto ids = Onnx.ValueInfoProto.newBuilder().setName("ids").setType(Onnx.TypeProto.newBuilder()
                .setTensorType(Onnx.TypeProto.Tensor.newBuilder().setElemType(Weights.INT64).setShape(
                        Onnx.TensorShapeProto.newBuilder().addDim(Onnx.TensorShapeProto.Dimension.newBuilder()
                                .setDimParam("n"))))).build();
        Onnx.ModelProto gather = TinyModels.model(13, List.of(ids), List.of(TinyModels.input("y", -1, 8)),
                List.of(Onnx.NodeProto.newBuilder().setOpType("Gather").setName("g").addInput("table").addInput("ids")
                        .addOutput("y").build()),
                List.of(Weights.tensor("table", new long[] {4, 8}, TinyModels.gaussian(32, 1), Weights.FLOAT)));
        Path model = dir.resolve("gather.onnx");
        ModelFiles.write(gather, model, null);
        Path indices = dir.resolve("ids.npy");
        new NpyArray(new long[] {3}, new double[] {0, 1, 100}, "<i8").write(indices);
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(javaBin.toString(), "-cp", System.getProperty("java.class.path"),
                "dev.blockterm.cli.Main", "verify", model.toString(), model.toString(), "--inputs", indices.toString())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        String err = new String(p.getErrorStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(1, p.exitValue(), err);
        assertEquals(1, err.lines().count(), err);
        assertTrue(err.startsWith("blockterm: " + model + ": ONNX Runtime failed") && err.contains("idx=100"), err);
    }
}
