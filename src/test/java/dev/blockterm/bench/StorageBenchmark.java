package dev.blockterm.bench;

import dev.blockterm.compress.Calibration;
import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Compressor;
import dev.blockterm.compress.Target;
import dev.blockterm.minilm.MiniLm;
import dev.blockterm.minilm.Sentences;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import onnx.Onnx;

/**
 * Not a unit test: what the stored precisions cost when the model runs. all-MiniLM-L6-v2 as it is, with
 * every selected weight at int8 (Cast + Mul), the mix {@code --size} 1/6 chooses (calibrated: int4
 * packed and read back by Cast/Div/Floor/Concat/Mul, int8, low rank), and the int8 model published
 * beside it (ORT's dynamic quantizer: DynamicQuantizeLinear + MatMulInteger, int8 compute): the file,
 * the session's load time and
 * the resident memory it adds, and the latency of one call at batch 1 and 32 (sentences of the
 * evaluation set, padded), 2 threads, median of 20 calls after 3 warm-up calls; the int8 model and the mix
 * again with {@code --int8-compute} (their MatMuls on integers); the mean cosine of each against fp32
 * on the 200 evaluation sentences.
 * {@code mvn -B -Pbench test-compile exec:exec@storage}
 */
public final class StorageBenchmark {

    public static void main(String[] args) throws IOException {
        Path dir = Files.createTempDirectory("blockterm-storage");
        Path model = MiniLm.model();
        Onnx.ModelProto dense = ModelFiles.read(model);
        List<String> eval = Sentences.generate(200, 1, List.of());
        Map<String, NpyArray> calibration = MiniLm.tokenize(Sentences.generate(256, 2, eval));
        Map<String, Path> files = new LinkedHashMap<>();
        files.put("fp32 (the input)", model);
        files.put("published int8 (MatMulInteger)", MiniLm.quantized());
        CompressionOptions int8 = CompressionOptions.builder().target(new Target.Ratio(1.001)).latencyCheck(false)
                .bits(dev.blockterm.quantize.Precision.parse("32,8")).build();
        try (Compressor.Result r = new Compressor(int8, m -> { }).compress(dense, model.toString())) {
            Path out = dir.resolve("int8.onnx");
            ModelFiles.write(r.int8Alone(), out, model);
            files.put("int8 alone (Cast + Mul)", out);
            Path integer = dir.resolve("int8-compute.onnx");
            ModelFiles.write(dev.blockterm.rewrite.IntegerMatMuls.apply(r.int8Alone()).model(), integer, model);
            files.put("int8 alone, --int8-compute (MatMulInteger)", integer);
        }
        CompressionOptions mix = CompressionOptions.builder().target(new Target.Size(Files.size(model) / 6))
                .latencyCheck(false).threads(2).build();
        try (Compressor.Result r = new Compressor(mix, m -> { }, new Calibration(calibration, 2)).compress(dense,
                model.toString())) {
            Path out = dir.resolve("mix.onnx");
            ModelFiles.write(r.model(), out, model);
            files.put("--size 1/6 (int4, int8, low rank)", out);
        }
        try (Compressor.Result r = new Compressor(mix.toBuilder().int8Compute(true).build(), m -> { },
                new Calibration(calibration, 2)).compress(dense, model.toString())) {
            Path out = dir.resolve("mix-int8-compute.onnx");
            ModelFiles.write(r.model(), out, model);
            files.put("--size 1/6 --int8-compute", out);
        }
        Map<String, NpyArray> evalFeeds = MiniLm.tokenize(eval);
        Map<String, NpyArray> one = MiniLm.tokenize(eval.subList(0, 1));
        Map<String, NpyArray> batch = MiniLm.tokenize(eval.subList(0, 32));
        System.out.println("| model | file bytes | load s | resident MB added | batch 1 ms | batch 32 ms | mean cosine |");
        System.out.println("|---|---|---|---|---|---|---|");
        for (Map.Entry<String, Path> e : files.entrySet()) {
            System.gc();
            long before = resident();
            long started = System.nanoTime();
            try (ModelRunner runner = new ModelRunner(e.getValue(), 2)) {
                double load = (System.nanoTime() - started) / 1e9;
                long after = resident();
                double cosine = dev.blockterm.runtime.Verification.compareEmbeddings(model, e.getValue(), evalFeeds,
                        "attention_mask", 2).get(0).meanCosine();
                System.out.printf(Locale.ROOT, "| %s | %d | %.2f | %d | %.2f | %.2f | %.4f |%n", e.getKey(),
                        Files.size(e.getValue()), load, (after - before) / 1024, median(runner, one),
                        median(runner, batch), cosine);
            }
        }
    }

    private static double median(ModelRunner runner, Map<String, NpyArray> feeds) {
        try (ModelRunner.Prepared fixed = runner.prepare(feeds)) {
            for (int i = 0; i < 3; i++) {
                runner.run(Map.of(), fixed);
            }
            double[] ms = new double[20];
            for (int i = 0; i < ms.length; i++) {
                long t = System.nanoTime();
                runner.run(Map.of(), fixed);
                ms[i] = (System.nanoTime() - t) / 1e6;
            }
            java.util.Arrays.sort(ms);
            return ms[ms.length / 2];
        }
    }

    /** The process's resident size in kB (Linux /proc). */
    private static long resident() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException e) {
            return 0;
        }
        return 0;
    }

    private StorageBenchmark() {
    }
}
