package dev.blockterm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.TinyModels;
import dev.blockterm.onnx.Weights;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import onnx.Onnx;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's options, each exercised through the command line. */
class CliOptionsTest {

    static final String MLP = CompressEndToEndTest.MLP.toString();

    @TempDir
    Path dir;

    private CliRun compress(String out, String... options) {
        // without the latency check: what is compressed must not depend on this machine's timings
        String[] args = new String[options.length + 6];
        args[0] = "compress";
        args[1] = MLP;
        args[2] = "-o";
        args[3] = dir.resolve(out).toString();
        args[4] = "-q";
        args[5] = "--no-latency-check";
        System.arraycopy(options, 0, args, 6, options.length);
        CliRun run = CliRun.of(args);
        assertEquals(0, run.code(), run.err());
        return run;
    }

    private Map<String, String> initializers(String out) {
        Map<String, String> m = new TreeMap<>();
        for (Onnx.TensorProto t : ModelFiles.read(dir.resolve(out)).getGraph().getInitializerList()) {
            m.put(t.getName(), t.getRawData().toStringUtf8().hashCode() + "/" + t.getDimsList());
        }
        return m;
    }

    @Test
    void layersExcludeAndMinParamsSelectLayers() {
        CliRun only = compress("a.onnx", "--layers", "^/2/", "--max-sweeps", "5");
        assertTrue(only.out().contains("/0/Gemm") && only.out().contains("not selected by --layers ^/2/"), only.out());
        assertTrue(only.out().contains("compressed 1 of 3"), only.out());
        CliRun excluded = compress("b.onnx", "--exclude", "/2/", "--max-sweeps", "5");
        assertTrue(excluded.out().contains("excluded by --exclude /2/"), excluded.out());
        CliRun small = compress("c.onnx", "--min-params", "100000", "--max-sweeps", "5");
        assertTrue(small.out().contains("32768 weights, under --min-params 100000"), small.out());
        assertTrue(small.out().contains("compressed 1 of 3"), small.out());
    }

    @Test
    void sameSeedSameFactorsAndThreadsDoNotChangeThem() {
        compress("a.onnx", "--seed", "7", "--max-sweeps", "5", "--init", "random", "--bits", "32");
        compress("b.onnx", "--seed", "7", "--max-sweeps", "5", "--init", "random", "--threads", "2", "--bits", "32");
        compress("c.onnx", "--seed", "8", "--max-sweeps", "5", "--init", "random", "--bits", "32");
        assertEquals(initializers("a.onnx"), initializers("b.onnx"));
        assertTrue(!initializers("a.onnx").equals(initializers("c.onnx")), "another seed, other factors");
    }

    @Test
    void givenFactorSizesAndLayoutAreUsed() {
        CliRun run = compress("a.onnx", "--layers", "^/2/", "--shape", "^/2/=16x32:32x16", "--layout", "merged",
                "--rank", "8", "--force", "--max-sweeps", "3");
        assertTrue(run.out().contains("16*32 x 32*16"), run.out());
        Onnx.TensorProto factor = ModelFiles.read(dir.resolve("a.onnx")).getGraph().getInitializerList().stream()
                .filter(t -> t.getName().equals("/2/Gemm.bt.factor0")).findFirst().orElseThrow();
        assertEquals(List.of(4L, 16L, 32L, 8L), factor.getDimsList());
    }

    @Test
    void layerRatioAndMaxErrorChooseTheSettingPerLayer() {
        for (String format : new String[] {"bt", "tt"}) {
            CliRun ratio = compress("r-" + format + ".onnx", "--layer-ratio", "8", "--format", format, "--max-sweeps", "20",
                    "--report", dir.resolve("r.json").toString());
            for (dev.blockterm.report.LayerReport l : layers(ratio)) {
                assertTrue(!l.compressed() || l.ratio() >= 8, format + " " + l.name() + " at " + l.ratio() + "x");
            }
            assertTrue(ratio.out().contains("chosen by --layer-ratio 8"), ratio.out());
        }
        CliRun error = compress("e.onnx", "--max-error", "0.3", "--max-sweeps", "20");
        assertTrue(error.out().contains("relative error <= 0.3"), error.out());
        for (dev.blockterm.report.LayerReport l : layers(error)) {
            assertTrue(!l.compressed() || l.relativeError() <= 0.3, l.name() + " error " + l.relativeError());
        }
        CliRun both = CliRun.of("compress", MLP, "-o", dir.resolve("x.onnx").toString(), "--ratio", "4", "--max-error", "0.1");
        assertEquals(2, both.code(), "a usage error");
        assertTrue(both.err().contains("choose one"), both.err());
        for (String flag : new String[] {"--ratio", "--max-error", "--budget", "--max-output-error", "--layer-ratio"}) {
            CliRun zero = CliRun.of("compress", MLP, "-o", dir.resolve("x.onnx").toString(), flag, "0");
            assertEquals(1, zero.code(), flag + " 0 is refused, not read as absent");
            assertTrue(zero.err().contains(flag) || zero.err().contains(flag.substring(2).replace('-', ' ')), zero.err());
        }
        CliRun none = CliRun.of("compress", MLP, "-o", dir.resolve("x.onnx").toString(), "--layers", "no-such-layer");
        assertEquals(1, none.code());
        assertTrue(none.err().contains("matches none of its 3 candidate layers"), none.err());
        assertTrue(!java.nio.file.Files.exists(dir.resolve("x.onnx")));
        CliRun mixed = CliRun.of("compress", MLP, "-o", dir.resolve("x.onnx").toString(), "--ratio", "4", "--rank", "8");
        assertEquals(2, mixed.code());
        assertTrue(mixed.err().contains("apply to --layer-ratio and explicit ranks"), mixed.err());
        CliRun cp = CliRun.of("compress", MLP, "-o", dir.resolve("x.onnx").toString(), "--format", "cp", "--rank", "4,4");
        assertEquals(1, cp.code());
        assertTrue(cp.err().contains("the CP rank is one number"), cp.err());
        CliRun form = CliRun.of("compress", MLP, "-o", dir.resolve("x.onnx").toString(), "--conv-form", "diagonal");
        assertEquals(1, form.code());
        assertTrue(form.err().contains("--conv-form: expected channel, spatial or chain, found 'diagonal'"), form.err());
        CliRun perLayer = CliRun.of("compress", MLP, "-o", dir.resolve("x.onnx").toString(), "--conv-form", "spatial",
                "--layer-ratio", "4");
        assertEquals(2, perLayer.code());
        assertTrue(perLayer.err().contains("--conv-form: applies to the targets decided on curves"), perLayer.err());
        assertTrue(!java.nio.file.Files.exists(dir.resolve("x.onnx")));
    }

    /** The layer rows of a run's report, read back from the table (name, ratio, error). */
    private static List<dev.blockterm.report.LayerReport> layers(CliRun run) {
        List<dev.blockterm.report.LayerReport> out = new java.util.ArrayList<>();
        for (String line : run.out().lines().toList()) {
            String[] c = line.trim().split("\\s+");
            if (line.startsWith("/") && line.contains(" -> ") && !line.contains("dense:")) {
                int arrow = java.util.Arrays.asList(c).indexOf("->");
                long before = Long.parseLong(c[arrow - 1]);
                long after = Long.parseLong(c[arrow + 1]);
                double error = Double.parseDouble(c[arrow + 3]);
                out.add(new dev.blockterm.report.LayerReport(c[0], c[1], c[2], true, null, "", "", false, 0, "", before,
                        after, error, Double.NaN, 0, true, 0, 0, 0, List.of(), null, false, null));
            }
        }
        assertTrue(!out.isEmpty(), run.out());
        return out;
    }

    @Test
    void inspectListsWhatCompressWouldDo() {
        CliRun run = CliRun.of("inspect", MLP, "--blocks", "4");
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().contains("3 candidate layer(s); opset 13"), run.out());
        assertTrue(run.out().matches("(?s).*bt merged\\s+8\\*8 x 8\\*8 x 8\\*8.*"), run.out());
        assertTrue(run.out().matches("(?s).*bt input-whole\\s+512 x 512 .*"), run.out());
    }

    /** inspect's plan is compress's decision: the same rank and parameter count for every layer. */
    @Test
    void inspectShowsWhatCompressDoes() {
        for (List<String> target : List.of(List.<String>of(), List.of("--ratio", "4"), List.of("--max-output-error", "0.05",
                "--calibration", "testdata/digits_calib_x.npy"))) {
            List<String> inspectArgs = new java.util.ArrayList<>(List.of("inspect", MLP, "-q"));
            inspectArgs.addAll(target);
            CliRun inspect = CliRun.of(inspectArgs.toArray(String[]::new));
            assertEquals(0, inspect.code(), inspect.err());
            CliRun run = compress("i.onnx", target.toArray(String[]::new));
            int compared = 0;
            for (String name : List.of("/0/Gemm", "/2/Gemm", "/4/Gemm")) {
                String planned = inspect.out().lines().filter(l -> l.startsWith(name + " ")).findFirst().orElseThrow();
                String done = run.out().lines().filter(l -> l.startsWith(name + " ")).findFirst().orElseThrow();
                // every column but the seconds
                String[] p = planned.trim().split("\\s+");
                String[] d = done.trim().split("\\s+");
                assertEquals(p.length, d.length, planned + "\n" + done);
                for (int i = 0; i < p.length; i++) {
                    if (!p[i].matches("\\d+\\.\\d\\d") || i < p.length - 4) {
                        assertEquals(p[i], d[i], target + ": column " + i + "\n" + planned + "\n" + done);
                    }
                }
                compared++;
            }
            assertEquals(3, compared);
        }
    }

    @Test
    void budgetSpreadsAWholeModelTargetOverTheLayers() {
        CliRun run = compress("b.onnx", "--budget", "60000", "--report", dir.resolve("b.json").toString());
        assertTrue(run.out().contains("at most 60000 parameters in the model; one allocation over"), run.out());
        long total = dev.blockterm.compress.Compressor.parameters(ModelFiles.read(dir.resolve("b.onnx")));
        assertTrue(total <= 60000, "model parameters " + total);
        assertTrue(run.out().contains("-> " + total + " ("), run.out());
        CliRun tiny = CliRun.of("compress", MLP, "-o", dir.resolve("t.onnx").toString(), "--budget", "100");
        assertEquals(1, tiny.code());
        assertTrue(tiny.err().contains("is not reachable"), tiny.err());
    }

    @Test
    void calibrationReportsOutputErrorsAndSequentialNeedsIt() {
        CliRun run = compress("c.onnx", "--calibration", "testdata/digits_calib_x.npy", "--layer-ratio", "4", "--sequential",
                "--max-sweeps", "5");
        String row = run.out().lines().filter(l -> l.startsWith("/2/Gemm")).findFirst().orElseThrow();
        String[] cells = row.trim().split("\\s+");
        int arrow = java.util.Arrays.asList(cells).indexOf("->");
        double weightError = Double.parseDouble(cells[arrow + 3]);
        double outputError = Double.parseDouble(cells[arrow + 4]);
        assertTrue(outputError < weightError, row);
        assertTrue(run.out().contains("whitened"), run.out());
        CliRun alone = CliRun.of("compress", MLP, "-o", dir.resolve("x.onnx").toString(), "--sequential");
        assertEquals(2, alone.code());
        assertTrue(alone.err().contains("--sequential: needs --calibration"), alone.err());
    }

    @Test
    void inspectCompareFitsEveryFormatAtOneBudget() {
        CliRun run = CliRun.of("inspect", MLP, "--compare", "-q", "--max-sweeps", "10");
        assertEquals(0, run.code(), run.err());
        String row = run.out().lines().filter(l -> l.startsWith("/2/Gemm") && l.contains(" 8192  ")).findFirst().orElseThrow();
        // four formats, each an error, a parameter count within the budget and a layout
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d\\.\\d{4}), (\\d+), ").matcher(row);
        int found = 0;
        while (m.find()) {
            found++;
            assertTrue(Long.parseLong(m.group(2)) <= 8192, row);
            assertTrue(Double.parseDouble(m.group(1)) < 1, row);
        }
        assertEquals(4, found, row);
    }

    @Test
    void verifyWithSeededRandomInputs() {
        compress("a.onnx", "--max-sweeps", "5");
        CliRun run = CliRun.of("verify", MLP, dir.resolve("a.onnx").toString(), "--seed", "3", "--random-batch", "8");
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().lines().anyMatch(l -> l.startsWith("logits")), run.out());
        assertTrue(run.out().startsWith("note: 8 rows of generated inputs (seed 3): weak evidence"), run.out());
        CliRun same = CliRun.of("verify", MLP, MLP);
        assertTrue(same.out().contains(" 0.000 ") || same.out().matches("(?s).*logits\\s+0\\s.*"), same.out());
    }

    @Test
    void sharedWeightsStayDenseAndSaySo() {
        Onnx.NodeProto first = Onnx.NodeProto.newBuilder().setOpType("MatMul").setName("a").addInput("x").addInput("w")
                .addOutput("h").build();
        Onnx.NodeProto second = Onnx.NodeProto.newBuilder().setOpType("MatMul").setName("b").addInput("h").addInput("w")
                .addOutput("y").build();
        Onnx.ModelProto model = TinyModels.model(13, List.of(TinyModels.input("x", -1, 64)),
                List.of(TinyModels.input("y", -1, 64)), List.of(first, second),
                List.of(Weights.tensor("w", new long[] {64, 64}, TinyModels.gaussian(64 * 64, 5), Weights.FLOAT)));
        Path in = dir.resolve("shared.onnx");
        ModelFiles.write(model, in, null);
        CliRun run = CliRun.of("compress", in.toString(), "-o", dir.resolve("out.onnx").toString(), "-q", "--min-params", "0",
                "--rank", "8");
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().contains("weight 'w' is shared by 2 uses; left dense"), run.out());
    }
}
