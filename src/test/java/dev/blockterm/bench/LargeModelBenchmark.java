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
 * options to {@code compress}; {@code NAME} names the generated model ({@code target/large/NAME.onnx}),
 * {@code OUT} the compressed one ({@code NAME.bt}), {@code REUSE} keeps a model generated before,
 * {@code BLOCKTERM} is the launcher to run (a copy, so that a build here cannot change the jar a long
 * run uses). The compressing process's memory is sampled as it runs: peak resident, anonymous and
 * file-backed. Its progress goes to {@code target/large/OUT.onnx.log}.
 *
 * <p>{@code SHAPE=llama} instead generates a Llama-7B-shaped model in float16: {@code BLOCKS} (32)
 * blocks of four 4096 x 4096 weights (q, k, v, o) and three 4096 x 11008 / 11008 x 4096 ones (gate,
 * up, down: {@code (o W_gate) * (o W_up)} then {@code W_down}), chained, 13.5 GB at 32 blocks; it is
 * written a tensor at a time straight into the external data file, never held whole.
 */
public final class LargeModelBenchmark {

    private static final int WIDTH = 4096;

    public static void main(String[] args) throws Exception {
        int layers = Integer.parseInt(System.getenv().getOrDefault("LAYERS", "34"));
        Path dir = Path.of("target", "large");
        Files.createDirectories(dir);
        boolean llama = "llama".equals(System.getenv("SHAPE"));
        // NAME: the generated model's file name (llama, chain); OUT: the compressed model's (NAME.bt)
        String name = System.getenv().getOrDefault("NAME", llama ? "llama" : "chain");
        Path model = dir.resolve(name + ".onnx");
        long started = System.nanoTime();
        if (llama) {
            int blocks = Integer.parseInt(System.getenv().getOrDefault("BLOCKS", "32"));
            if (System.getenv("REUSE") == null || !Files.exists(model)) { // REUSE: the model generated before
                writeLlama(blocks, model);
            }
            System.out.printf(Locale.ROOT, "generated %s: %d Llama-7B-shaped blocks (%d weights), float16, %.2f GB in "
                    + "%s (%.0f s)%n", model, blocks, 7 * blocks, Files.size(dir.resolve(name + ".onnx.data")) / 1e9,
                    name + ".onnx.data", (System.nanoTime() - started) / 1e9);
        } else {
            write(layers, model);
            long dataBytes = Files.size(dir.resolve(name + ".onnx.data"));
            System.out.printf(Locale.ROOT, "generated %s: %d layers %dx%d, %.2f GB of weights in %s (%.0f s)%n", model,
                    layers, WIDTH, WIDTH, dataBytes / 1e9, name + ".onnx.data", (System.nanoTime() - started) / 1e9);
        }

        Path out = dir.resolve(System.getenv().getOrDefault("OUT", name + ".bt") + ".onnx");
        String launcher = System.getenv().getOrDefault("BLOCKTERM", "./blockterm");
        List<String> command = new ArrayList<>(List.of(launcher, "compress", model.toString(), "-o", out.toString()));
        String extra = System.getenv().getOrDefault("COMPRESS_OPTIONS", "").strip();
        if (!extra.isEmpty()) {
            command.addAll(List.of(extra.split("\\s+")));
        }
        System.out.println(String.join(" ", command));
        started = System.nanoTime();
        Path log = dir.resolve(out.getFileName() + ".log");
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().remove("BLOCKTERM_EXEC_JAVA"); // the tool itself, not this benchmark's class
        Process p = builder.start();
        Memory memory = new Memory(p.pid()); // the launcher execs java: the same process
        Thread sampler = new Thread(memory);
        sampler.setDaemon(true);
        sampler.start();
        int code = p.waitFor();
        double wall = (System.nanoTime() - started) / 1e9;
        String output = Files.readString(log);
        String[] lines = output.strip().split("\n");
        for (int i = Math.max(0, lines.length - 4); i < lines.length; i++) {
            System.out.println(lines[i]);
        }
        if (code != 0) {
            throw new IllegalStateException("compress failed (exit " + code + "):\n" + output);
        }
        System.out.println(memory.summary());
        Path data = dir.resolve(out.getFileName() + ".data");
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

    /**
     * The compressing process's memory, sampled from {@code /proc/PID/status} twice a second: the peak
     * resident set, and the peaks of its two parts, anonymous (heap, native buffers) and file-backed
     * (the mapped model and staging files, pages the kernel can drop).
     */
    private static final class Memory implements Runnable {
        private final long pid;
        private volatile long rss;
        private volatile long anon;
        private volatile long file;

        Memory(long pid) {
            this.pid = pid;
        }

        @Override
        public void run() {
            Path status = Path.of("/proc", Long.toString(pid), "status");
            while (true) {
                try {
                    for (String line : Files.readAllLines(status)) {
                        if (line.startsWith("VmRSS:")) {
                            rss = Math.max(rss, kb(line));
                        } else if (line.startsWith("RssAnon:")) {
                            anon = Math.max(anon, kb(line));
                        } else if (line.startsWith("RssFile:")) {
                            file = Math.max(file, kb(line));
                        }
                    }
                    Thread.sleep(500);
                } catch (java.io.IOException | RuntimeException e) {
                    return; // the process ended
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        private static long kb(String line) {
            return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }

        String summary() {
            return String.format(Locale.ROOT, "peak resident %.2f GB (sampled every 0.5 s): anonymous at most %.2f GB, "
                    + "file-backed (mapped model and staging) at most %.2f GB", rss / 1e6, anon / 1e6, file / 1e6);
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

    private static final int FFN = 11008;

    /**
     * The Llama-shaped chain: each weight's random float16 values (N(0, 1/fan_in)) appended to
     * {@code llama.onnx.data} (4 kB aligned) as they are made, the graph naming them as external data.
     */
    private static void writeLlama(int blocks, Path path) throws java.io.IOException {
        Path dataFile = path.resolveSibling(path.getFileName() + ".data");
        List<Onnx.NodeProto> nodes = new ArrayList<>();
        List<Onnx.TensorProto> weights = new ArrayList<>();
        Random random = new Random(1);
        try (java.nio.channels.FileChannel data = java.nio.channels.FileChannel.open(dataFile,
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE,
                java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
            String x = "x";
            for (int b = 0; b < blocks; b++) {
                String h = x;
                for (String name : List.of("q", "k", "v", "o")) {
                    String w = "b" + b + "." + name;
                    weights.add(external(w, WIDTH, WIDTH, data, dataFile.getFileName().toString(), random));
                    nodes.add(matmul(h, w, w + ".out"));
                    h = w + ".out";
                }
                String gate = "b" + b + ".gate";
                String up = "b" + b + ".up";
                String down = "b" + b + ".down";
                weights.add(external(gate, WIDTH, FFN, data, dataFile.getFileName().toString(), random));
                weights.add(external(up, WIDTH, FFN, data, dataFile.getFileName().toString(), random));
                weights.add(external(down, FFN, WIDTH, data, dataFile.getFileName().toString(), random));
                nodes.add(matmul(h, gate, gate + ".out"));
                nodes.add(matmul(h, up, up + ".out"));
                nodes.add(Onnx.NodeProto.newBuilder().setOpType("Mul").setName("b" + b + ".mul").addInput(gate + ".out")
                        .addInput(up + ".out").addOutput("b" + b + ".m").build());
                x = b == blocks - 1 ? "y" : down + ".out";
                nodes.add(matmul("b" + b + ".m", down, x));
            }
        }
        Onnx.ValueInfoProto in = TinyModels.input("x", -1, WIDTH);
        Onnx.ValueInfoProto outInfo = TinyModels.input("y", -1, WIDTH);
        in = in.toBuilder().setType(in.getType().toBuilder().setTensorType(in.getType().getTensorType().toBuilder()
                .setElemType(Weights.FLOAT16))).build();
        outInfo = outInfo.toBuilder().setType(outInfo.getType().toBuilder().setTensorType(outInfo.getType()
                .getTensorType().toBuilder().setElemType(Weights.FLOAT16))).build();
        Onnx.ModelProto m = TinyModels.model(13, List.of(in), List.of(outInfo), nodes, weights);
        Files.write(path, m.toByteArray());
    }

    private static Onnx.NodeProto matmul(String x, String w, String y) {
        return Onnx.NodeProto.newBuilder().setOpType("MatMul").setName(w).addInput(x).addInput(w).addOutput(y).build();
    }

    /** A {@code rows x cols} float16 weight appended to {@code data} at a 4 kB boundary, as an external tensor. */
    private static Onnx.TensorProto external(String name, int rows, int cols, java.nio.channels.FileChannel data,
                                             String location, Random random) throws java.io.IOException {
        long offset = (data.size() + 4095) / 4096 * 4096;
        long length = 2L * rows * cols;
        java.nio.ByteBuffer row = java.nio.ByteBuffer.allocate(2 * cols).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        double scale = 1 / Math.sqrt(rows);
        long at = offset;
        for (int r = 0; r < rows; r++) {
            row.clear();
            for (int c = 0; c < cols; c++) {
                row.putShort(ai.onnxruntime.platform.Fp16Conversions.floatToFp16((float) (random.nextGaussian() * scale)));
            }
            row.flip();
            while (row.hasRemaining()) {
                at += data.write(row, at);
            }
        }
        return Onnx.TensorProto.newBuilder().setName(name).setDataType(Weights.FLOAT16).addDims(rows).addDims(cols)
                .setDataLocation(Onnx.TensorProto.DataLocation.EXTERNAL)
                .addExternalData(entry("location", location)).addExternalData(entry("offset", Long.toString(offset)))
                .addExternalData(entry("length", Long.toString(length))).build();
    }

    private static Onnx.StringStringEntryProto entry(String key, String value) {
        return Onnx.StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    private LargeModelBenchmark() {
    }
}
