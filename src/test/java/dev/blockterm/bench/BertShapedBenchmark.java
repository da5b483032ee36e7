package dev.blockterm.bench;

import dev.blockterm.compress.Calibration;
import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Compressor;
import dev.blockterm.compress.Target;
import dev.blockterm.onnx.TinyModels;
import dev.blockterm.onnx.Weights;
import dev.blockterm.runtime.NpyArray;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import onnx.Onnx;

/**
 * Not a unit test: the time the whole-model targets take on a model of BERT-small's shape, 72
 * MatMuls (12 blocks of four 512x512 attention projections and a 512x2048 / 2048x512 feed-forward
 * pair, in residual form, random weights), at {@code --ratio 2} and at the default, weight-only and
 * with 256 rows of calibration inputs; layers not timed. Random weights have flat spectra, so the
 * accuracy says nothing here: the seconds are the point (issue 10 asks under 60 s at --ratio 2).
 * {@code mvn -B -Pbench test-compile exec:exec@bert}
 */
public final class BertShapedBenchmark {

    public static void main(String[] args) {
        int hidden = 512;
        int ffn = 2048;
        Random random = new Random(1);
        List<Onnx.NodeProto> nodes = new ArrayList<>();
        List<Onnx.TensorProto> inits = new ArrayList<>();
        String h = "x";
        int n = 0;
        for (int block = 0; block < 12; block++) {
            String attention = h;
            for (String p : new String[] {"query", "key", "value", "output"}) {
                attention = matmul(nodes, inits, "/block" + block + "/" + p, attention, hidden, hidden, random);
            }
            h = add(nodes, "/block" + block + "/attention_residual", h, attention);
            String up = matmul(nodes, inits, "/block" + block + "/intermediate", h, hidden, ffn, random);
            String relu = "/block" + block + "/relu";
            nodes.add(Onnx.NodeProto.newBuilder().setOpType("Relu").setName(relu).addInput(up).addOutput(relu).build());
            String down = matmul(nodes, inits, "/block" + block + "/ffn_output", relu, ffn, hidden, random);
            h = add(nodes, "/block" + block + "/ffn_residual", h, down);
            n += 6;
        }
        nodes.add(Onnx.NodeProto.newBuilder().setOpType("Identity").setName("out").addInput(h).addOutput("y").build());
        Onnx.ModelProto model = TinyModels.model(13, List.of(TinyModels.input("x", -1, hidden)),
                List.of(TinyModels.input("y", -1, hidden)), nodes, inits);
        NpyArray calibration = new NpyArray(new long[] {256, hidden}, TinyModels.gaussian(256 * hidden, 2), "<f4");
        System.out.printf(Locale.ROOT, "%d MatMuls, %d weights%n", n, Compressor.parameters(model));
        for (Target target : List.of(new Target.Ratio(2), new Target.Default())) {
            for (boolean calibrated : new boolean[] {false, true}) {
                CompressionOptions options = CompressionOptions.builder().target(target).latencyCheck(false).build();
                long started = System.nanoTime();
                Compressor.Result r = new Compressor(options, m -> { },
                        calibrated ? new Calibration(Map.of("x", calibration), 1) : null).compress(model, "bert-shaped");
                System.out.printf(Locale.ROOT, "%-10s %-11s %6.1f s  parameters %d -> %d  output error %.4f%n",
                        target instanceof Target.Ratio ? "--ratio 2" : "default", calibrated ? "calibrated" : "weight-only",
                        (System.nanoTime() - started) / 1e9, r.report().modelParamsBefore(), r.report().modelParamsAfter(),
                        r.report().quality().worstRelativeError());
            }
        }
    }

    private static String matmul(List<Onnx.NodeProto> nodes, List<Onnx.TensorProto> inits, String name, String x,
                                 int in, int out, Random random) {
        double[] w = new double[in * out];
        double scale = 1 / Math.sqrt(in);
        for (int i = 0; i < w.length; i++) {
            w[i] = scale * random.nextGaussian();
        }
        inits.add(Weights.tensor(name + ".weight", new long[] {in, out}, w, Weights.FLOAT));
        nodes.add(Onnx.NodeProto.newBuilder().setOpType("MatMul").setName(name).addInput(x).addInput(name + ".weight")
                .addOutput(name).build());
        return name;
    }

    private static String add(List<Onnx.NodeProto> nodes, String name, String a, String b) {
        nodes.add(Onnx.NodeProto.newBuilder().setOpType("Add").setName(name).addInput(a).addInput(b).addOutput(name)
                .build());
        return name;
    }

    private BertShapedBenchmark() {
    }
}
