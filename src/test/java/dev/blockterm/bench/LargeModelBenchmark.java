package dev.blockterm.bench;

import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.TinyModels;
import dev.blockterm.onnx.Weights;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import onnx.Onnx;

/**
 * Not a unit test: a generated model over 2 GB, its weights in an ONNX external data file,
 * compressed by {@code blockterm compress} in its own process (wall time, peak resident memory),
 * and the result loaded and run in ONNX Runtime. The model is a chain of {@code LAYERS} fully
 * connected 4096 x 4096 layers with ReLUs; its weights are random (time and memory do not depend
 * on their values), so the fit errors say nothing. The number of layers is 34 (2.28 GB of weights)
 * unless the environment variable {@code LAYERS} says otherwise; {@code COMPRESS_OPTIONS} adds
 * options to {@code compress}.
 */
public final class LargeModelBenchmark {

    private static final int WIDTH = 4096;

    public static void main(String[] args) throws Exception {
        int layers = Integer.parseInt(System.getenv().getOrDefault("LAYERS", "34"));
        Path dir = Path.of("target", "large");
        Files.createDirectories(dir);
        Path model = dir.resolve("chain.onnx");
        long started = System.nanoTime();
        write(layers, model);
        long dataBytes = Files.size(dir.resolve("chain.onnx.data"));
        System.out.printf(Locale.ROOT, "generated %s: %d layers %dx%d, %.2f GB of weights in %s (%.0f s)%n", model,
                layers, WIDTH, WIDTH, dataBytes / 1e9, "chain.onnx.data", (System.nanoTime() - started) / 1e9);

        Path out = dir.resolve("chain.bt.onnx");
        List<String> command = new ArrayList<>(List.of("./blockterm", "compress", model.toString(), "-o", out.toString(),
                "-q"));
        String extra = System.getenv().getOrDefault("COMPRESS_OPTIONS", "").strip();
        if (!extra.isEmpty()) {
            command.addAll(List.of(extra.split("\\s+")));
        }
        System.out.println(String.join(" ", command));
        started = System.nanoTime();
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().remove("BLOCKTERM_EXEC_JAVA"); // the tool itself, not this benchmark's class
        Process p = builder.start();
        String output = new String(p.getInputStream().readAllBytes());
        int code = p.waitFor();
        double wall = (System.nanoTime() - started) / 1e9;
        String[] lines = output.strip().split("\n");
        for (int i = Math.max(0, lines.length - 4); i < lines.length; i++) {
            System.out.println(lines[i]);
        }
        if (code != 0) {
            throw new IllegalStateException("compress failed (exit " + code + "):\n" + output);
        }
        Path data = dir.resolve("chain.bt.onnx.data");
        System.out.printf(Locale.ROOT, "wall %.1f s; output %s %.1f MB%s%n", wall, out, Files.size(out) / 1e6,
                Files.exists(data) ? String.format(Locale.ROOT, " + %s %.1f MB", data.getFileName(), Files.size(data) / 1e6)
                        : " (inline)");

        try (ModelRunner runner = new ModelRunner(out, 2)) {
            Map<String, NpyArray> y = runner.run(runner.randomInputs(7, 4));
            NpyArray a = y.values().iterator().next();
            System.out.printf(Locale.ROOT, "the compressed model runs in ONNX Runtime: output %s%n",
                    java.util.Arrays.toString(a.shape()));
        }
    }

    /** The chain, written with its weights in {@code chain.onnx.data}. */
    private static void write(int layers, Path path) {
        List<Onnx.NodeProto> nodes = new ArrayList<>();
        List<Onnx.TensorProto> weights = new ArrayList<>();
        Random random = new Random(1);
        double scale = 1 / Math.sqrt(WIDTH);
        String x = "x";
        for (int l = 0; l < layers; l++) {
            double[] w = new double[WIDTH * WIDTH];
            for (int i = 0; i < w.length; i++) {
                w[i] = random.nextGaussian() * scale;
            }
            weights.add(Weights.tensor("w" + l, new long[] {WIDTH, WIDTH}, w, Weights.FLOAT));
            nodes.add(Onnx.NodeProto.newBuilder().setOpType("MatMul").setName("fc" + l).addInput(x).addInput("w" + l)
                    .addOutput("h" + l).build());
            String next = l == layers - 1 ? "y" : "a" + l;
            nodes.add(Onnx.NodeProto.newBuilder().setOpType("Relu").setName("relu" + l).addInput("h" + l)
                    .addOutput(next).build());
            x = next;
        }
        Onnx.ModelProto m = TinyModels.model(13, List.of(TinyModels.input("x", -1, WIDTH)),
                List.of(TinyModels.input("y", -1, WIDTH)), nodes, weights);
        ModelFiles.write(m, path, null, 0); // every large weight external, as a model over 2 GB must be
    }

    private LargeModelBenchmark() {
    }
}
