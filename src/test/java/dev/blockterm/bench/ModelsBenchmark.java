package dev.blockterm.bench;

import dev.blockterm.compress.Target;
import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Compressor;
import dev.blockterm.compress.FormatComparison;
import dev.blockterm.decompose.Format;
import dev.blockterm.minilm.MiniLm;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.runtime.NpyArray;
import dev.blockterm.runtime.Verification;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import onnx.Onnx;

/**
 * Not a unit test. For the bundled models and all-MiniLM-L6-v2:
 * <ol>
 *   <li>{@code blockterm compress} at the defaults, each in its own process through the launcher:
 *       wall time, the compressor's own time and the process's peak resident memory;</li>
 *   <li>every factored layer timed alone in ONNX Runtime, dense against factored, at 1 and 32 rows
 *       and 1 and 2 threads, with the FLOP ratio beside it (compressed without the latency check, so
 *       that the layers it would keep dense are shown too);</li>
 *   <li>every bundled model at {@code --ratio 4} and {@code --ratio 10} in every format, each result
 *       run in ONNX Runtime on its test split, then {@code inspect --compare} at {@code --ratio 10}.</li>
 * </ol>
 * The environment variable {@code PARTS} (say {@code 13}) runs some of them.
 */
public final class ModelsBenchmark {

    private record Bundled(String name, String input, String x, String y) {
    }

    public static void main(String[] args) throws Exception {
        // PARTS=13 runs parts 1 and 3 only
        String parts = System.getenv().getOrDefault("PARTS", "123");
        List<Path> all = List.of(Path.of("models/digits_mlp.onnx"), Path.of("models/digits_cnn.onnx"),
                Path.of("models/digits_lstm.onnx"), MiniLm.model());
        if (parts.contains("1")) {
            System.out.println("`blockterm compress MODEL -o OUT` at the defaults, one process each:");
            System.out.println();
            System.out.println("| model | file | layers compressed | parameters | file after | compress s | wall s | peak RSS |");
            System.out.println("|---|---|---|---|---|---|---|---|");
            for (Path model : all) {
                processRow(model);
            }
            System.out.println();
        }
        if (parts.contains("2")) {
            System.out.println("Each factored layer alone in ONNX Runtime (median ms of 31 runs; speed-up = dense / factored):");
            System.out.println();
            System.out.println("| model | layer | shape | format | FLOPs ratio | 1 row, 1 thr | 1 row, 2 thr | 32 rows, 1 thr "
                    + "| 32 rows, 2 thr | dense ms (32 rows, 1 thr) |");
            System.out.println("|---|---|---|---|---|---|---|---|---|---|");
            for (Path model : all) {
                latencyRows(model);
            }
            System.out.println();
        }
        if (parts.contains("3")) {
            formats();
        }
    }

    /** One {@code blockterm compress} process: its summary and peak-memory lines, and the wall time. */
    private static void processRow(Path model) throws Exception {
        Path out = Files.createTempFile("blockterm-bench", ".onnx");
        long started = System.nanoTime();
        ProcessBuilder builder = new ProcessBuilder("./blockterm", "compress", model.toString(), "-o", out.toString(), "-q")
                .redirectErrorStream(true);
        builder.environment().remove("BLOCKTERM_EXEC_JAVA"); // the tool itself, not this benchmark's class
        Process p = builder.start();
        String output = new String(p.getInputStream().readAllBytes());
        int code = p.waitFor();
        double wall = (System.nanoTime() - started) / 1e9;
        Files.deleteIfExists(out);
        if (code != 0) {
            throw new IllegalStateException(model + ": compress failed:\n" + output);
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("compressed (\\d+ of \\d+) layers; parameters "
                + "(\\d+ -> \\d+ \\([0-9.]+x\\)); file (.+) -> (.+); ([0-9.]+) s").matcher(output);
        java.util.regex.Matcher rss = java.util.regex.Pattern.compile("peak memory: ([0-9.]+ GB)").matcher(output);
        if (!m.find() || !rss.find()) {
            throw new IllegalStateException(model + ": no summary in:\n" + output);
        }
        System.out.printf(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %.1f | %s |%n", model.getFileName(), m.group(3),
                m.group(1), m.group(2), m.group(4), m.group(5), wall, rss.group(1));
    }

    private static void latencyRows(Path path) {
        Onnx.ModelProto dense = ModelFiles.read(path);
        CompressionOptions options = CompressionOptions.defaults().withLatencyCheck(false);
        Compressor.Result result = new Compressor(options, m -> { }).compress(dense, path.toString());
        Map<String, dev.blockterm.report.LayerReport> reports = new java.util.HashMap<>();
        result.report().layers().forEach(l -> reports.put(l.name(), l));
        for (Compressor.Rewritten r : result.rewritten()) {
            dev.blockterm.report.LayerReport l = reports.get(r.name());
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "| %s | %s | %s | %s | %.1fx |",
                    path.getFileName(), r.name(), l.weightShape(), l.layout(), l.flopsBefore() / l.flopsAfter()));
            double denseMs = Double.NaN;
            for (long batch : new long[] {1, 32}) {
                for (int threads : new int[] {1, 2}) {
                    dev.blockterm.report.LayerLatency t = r.time(batch, threads);
                    row.append(t == null ? " - |" : String.format(Locale.ROOT, " %.2fx |", t.speedup()));
                    if (t != null && batch == 32 && threads == 1) {
                        denseMs = t.denseMillis();
                    }
                }
            }
            System.out.println(row.append(String.format(Locale.ROOT, " %.3f |", denseMs)));
        }
    }

    private static void formats() throws IOException {
        List<Bundled> models = List.of(
                new Bundled("digits_mlp", "input", "testdata/digits_x.npy", "testdata/digits_y.npy"),
                new Bundled("digits_cnn", "image", "testdata/digits_img_x.npy", "testdata/digits_img_y.npy"),
                new Bundled("digits_lstm", "sequence", "testdata/digits_seq_x.npy", "testdata/digits_seq_y.npy"));
        Path out = Files.createTempFile("blockterm-bench", ".onnx");
        System.out.println("| model | --ratio | --format | layers compressed | weights (model) | file | accuracy "
                + "(dense) | seconds |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        for (Bundled b : models) {
            Path model = Path.of("models/" + b.name() + ".onnx");
            Onnx.ModelProto dense = ModelFiles.read(model);
            Map<String, NpyArray> feeds = Map.of(b.input(), NpyArray.read(Path.of(b.x())));
            NpyArray labels = NpyArray.read(Path.of(b.y()));
            for (double ratio : new double[] {4, 10}) {
                for (Format format : Format.values()) {
                    // formats compared on error alone: no layer kept dense for this machine's timings
                    CompressionOptions options = CompressionOptions.defaults().withFormat(format).withTarget(new Target.LayerRatio(ratio))
                            .withLatencyCheck(false);
                    Compressor.Result result = new Compressor(options, m -> { }).compress(dense, model.toString());
                    ModelFiles.write(result.model(), out, model);
                    Verification.OutputComparison c = Verification.compare(model, out, feeds, labels, 1).get(0);
                    var r = result.report();
                    System.out.printf(Locale.ROOT, "| %s | %.0f | %s | %d of %d | %d -> %d (%.2fx) | %.0f -> %.0f kB | "
                                    + "%.4f (%.4f) | %.1f |%n", b.name(), ratio, format.label(), r.compressedLayers(),
                            r.layers().size(), r.modelParamsBefore(), r.modelParamsAfter(),
                            (double) r.modelParamsBefore() / r.modelParamsAfter(), r.fileBytesBefore() / 1024.0,
                            r.fileBytesAfter() / 1024.0, c.accuracyCompressed(), c.accuracyOriginal(), r.seconds());
                }
            }
        }
        System.out.println();
        for (Bundled b : models) {
            Onnx.ModelProto dense = ModelFiles.read(Path.of("models/" + b.name() + ".onnx"));
            System.out.println(b.name() + ", --ratio 10:");
            System.out.print(FormatComparison.table(dense, CompressionOptions.defaults().withTarget(new Target.LayerRatio(10))
                    .withLatencyCheck(false), m -> { }));
            System.out.println();
        }
        Files.deleteIfExists(out);
    }

    private ModelsBenchmark() {
    }
}
