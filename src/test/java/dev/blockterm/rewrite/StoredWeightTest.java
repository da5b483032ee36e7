package dev.blockterm.rewrite;

import dev.blockterm.compress.Target;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Compressor;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.TinyModels;
import dev.blockterm.onnx.Weights;
import dev.blockterm.report.LayerReport;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import onnx.Onnx;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Weights stored factored and rebuilt at load, weights in Constant nodes, and layers inside subgraphs. */
class StoredWeightTest {

    @TempDir
    Path dir;

    private static double[] run(Path model, Map<String, NpyArray> feeds) {
        try (ModelRunner r = new ModelRunner(model, 1)) {
            return r.run(feeds).values().iterator().next().values();
        }
    }

    /** The model with one initializer's values replaced (same name, shape and type). */
    static Onnx.ModelProto withInitializer(Onnx.ModelProto model, String name, double[] values) {
        Onnx.GraphProto.Builder g = model.getGraph().toBuilder();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            Onnx.TensorProto t = g.getInitializer(i);
            if (t.getName().equals(name)) {
                long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
                g.setInitializer(i, Weights.tensor(name, dims, values, t.getDataType()));
            }
        }
        return model.toBuilder().setGraph(g).build();
    }

    @Test
    void anEmbeddingTableIsRebuiltAtLoad() {
        int vocabulary = 96;
        int width = 48;
        Onnx.NodeProto gather = Onnx.NodeProto.newBuilder().setOpType("Gather").setName("embed").addInput("table")
                .addInput("ids").addOutput("y").build();
        Onnx.ValueInfoProto ids = Onnx.ValueInfoProto.newBuilder().setName("ids").setType(Onnx.TypeProto.newBuilder()
                .setTensorType(Onnx.TypeProto.Tensor.newBuilder().setElemType(Weights.INT64)
                        .setShape(Onnx.TensorShapeProto.newBuilder().addDim(Onnx.TensorShapeProto.Dimension.newBuilder()
                                .setDimValue(5))))).build();
        Onnx.ModelProto model = TinyModels.model(13, List.of(ids), List.of(TinyModels.input("y", 5, width)),
                List.of(gather), List.of(Weights.tensor("table", new long[] {vocabulary, width},
                        TinyModels.gaussian(vocabulary * width, 3), Weights.FLOAT)));
        Path in = dir.resolve("embed.onnx");
        Path out = dir.resolve("embed.bt.onnx");
        ModelFiles.write(model, in, null);
        CompressionOptions options = CompressionOptions.defaults().withTarget(new Target.Ranks()).withWeights(Pattern.compile("^table$")).withMinParams(0)
                .withLatencyCheck(false);
        Compressor.Result result = new Compressor(options, m -> { }).compress(model, "embed");
        LayerReport row = result.report().layers().get(0);
        assertTrue(row.compressed() && row.rebuilt(), result.report().table());
        ModelFiles.write(result.model(), out, in);
        Map<String, NpyArray> feeds = Map.of("ids", new NpyArray(new long[] {5}, new double[] {0, 7, 95, 7, 31}, "<i8"));
        Compressor.LayerFit fit = result.fits().get("table");
        double[] rebuilt = fit.tensorization().matricize(fit.fit().model().reconstruct());
        Path reference = dir.resolve("reference.onnx");
        ModelFiles.write(withInitializer(model, "table", rebuilt), reference, null);
        assertEquals(0, ConvRewriteTest.relative(run(reference, feeds), run(out, feeds)), 1e-6);
        assertTrue(Compressor.parameters(ModelFiles.read(out)) < Compressor.parameters(model), "the stored weights shrink");
    }

    @Test
    void theLstmRecurrentWeightIsRebuiltAtLoadAndComputesTheReconstruction() {
        Path lstm = Path.of("models/digits_lstm.onnx");
        Onnx.ModelProto model = ModelFiles.read(lstm);
        Compressor.Result result = new Compressor(CompressionOptions.defaults().withTarget(new Target.Ranks()).withLatencyCheck(false), m -> { })
                .compress(model, "lstm");
        Path out = dir.resolve("lstm.bt.onnx");
        ModelFiles.write(result.model(), out, lstm);
        LayerReport r = result.report().layers().stream().filter(l -> l.op().equals("LSTM:R")).findFirst().orElseThrow();
        assertTrue(r.compressed() && r.rebuilt(), result.report().table());
        Compressor.LayerFit fit = result.fits().get(r.name());
        double[] rebuilt = fit.tensorization().matricize(fit.fit().model().reconstruct());
        Path reference = dir.resolve("reference.onnx");
        ModelFiles.write(withInitializer(model, r.name(), rebuilt), reference, null);
        Map<String, NpyArray> feeds = Map.of("sequence", NpyArray.read(Path.of("testdata/digits_seq_x.npy")));
        assertEquals(0, ConvRewriteTest.relative(run(reference, feeds), run(out, feeds)), 1e-5);
    }

    @Test
    void aWideLstmInputProjectionRunsFactored() {
        int in = 256;
        int hidden = 8;
        int gates = 4 * hidden;
        Onnx.NodeProto lstm = Onnx.NodeProto.newBuilder().setOpType("LSTM").setName("rnn").addInput("x").addInput("w")
                .addInput("r").addInput("b").addOutput("y").addAttribute(TinyModels.intAttr("hidden_size", hidden)).build();
        Onnx.ValueInfoProto y = TinyModels.input("y", 5, 1, -1, hidden);
        Onnx.ModelProto model = TinyModels.model(13, List.of(TinyModels.input("x", 5, -1, in)), List.of(y), List.of(lstm),
                List.of(Weights.tensor("w", new long[] {1, gates, in}, scaled(TinyModels.gaussian(gates * in, 7), 0.1),
                                Weights.FLOAT),
                        Weights.tensor("r", new long[] {1, gates, hidden}, scaled(TinyModels.gaussian(gates * hidden, 8), 0.3),
                                Weights.FLOAT),
                        Weights.tensor("b", new long[] {1, 2 * gates}, TinyModels.gaussian(2 * gates, 9), Weights.FLOAT)));
        Path in0 = dir.resolve("wide.onnx");
        Path out = dir.resolve("wide.bt.onnx");
        ModelFiles.write(model, in0, null);
        // R (256 weights) stays dense: only the projection differs from the reference below
        CompressionOptions options = CompressionOptions.builder().target(new Target.LayerRatio(4)).minParams(1000).latencyCheck(false).build();
        Compressor.Result result = new Compressor(options, m -> { }).compress(model, "wide");
        LayerReport row = result.report().layers().stream().filter(l -> l.name().equals("w")).findFirst().orElseThrow();
        assertTrue(row.compressed() && !row.rebuilt() && row.selection().contains("moved out of the op"),
                result.report().table());
        assertTrue(row.paramsAfter() < gates * in && row.flopsAfter() < row.flopsBefore(), result.report().table());
        ModelFiles.write(result.model(), out, in0);
        dev.blockterm.cli.CompressEndToEndTest.assertChecked(out);
        // the same LSTM with W^ = the reconstructed projection, transposed back
        Compressor.LayerFit fit = result.fits().get("w");
        double[] projection = fit.tensorization().matricize(fit.fit().model().reconstruct()); // I x GH
        double[] w = new double[gates * in];
        for (int c = 0; c < in; c++) {
            for (int g = 0; g < gates; g++) {
                w[g * in + c] = projection[c * gates + g];
            }
        }
        Path reference = dir.resolve("reference.onnx");
        Onnx.ModelProto ref = withInitializer(model, "w", w);
        ModelFiles.write(ref, reference, null);
        Map<String, NpyArray> feeds = Map.of("x", new NpyArray(new long[] {5, 3, in}, TinyModels.gaussian(5 * 3 * in, 10), "<f4"));
        assertEquals(0, ConvRewriteTest.relative(run(reference, feeds), run(out, feeds)), 1e-5);
    }

    private static double[] scaled(double[] v, double s) {
        for (int i = 0; i < v.length; i++) {
            v[i] *= s;
        }
        return v;
    }

    @Test
    void weightsInConstantNodesAreFoundAndLayersInSubgraphsReported() {
        // y = MatMul(x, Constant w); z = If(cond, then: MatMul(y, v), else: y) with v from the outer scope
        Onnx.TensorProto w = Weights.tensor("unused", new long[] {64, 64}, TinyModels.gaussian(4096, 4), Weights.FLOAT);
        Onnx.NodeProto constant = Onnx.NodeProto.newBuilder().setOpType("Constant").setName("const").addOutput("w")
                .addAttribute(Onnx.AttributeProto.newBuilder().setName("value")
                        .setType(Onnx.AttributeProto.AttributeType.TENSOR).setT(w)).build();
        Onnx.NodeProto mm = Onnx.NodeProto.newBuilder().setOpType("MatMul").setName("mm").addInput("x").addInput("w")
                .addOutput("y").build();
        Onnx.GraphProto thenBranch = Onnx.GraphProto.newBuilder().setName("then")
                .addNode(Onnx.NodeProto.newBuilder().setOpType("MatMul").setName("inner").addInput("y").addInput("v")
                        .addOutput("t"))
                .addOutput(TinyModels.input("t", -1, 64)).build();
        Onnx.GraphProto elseBranch = Onnx.GraphProto.newBuilder().setName("else")
                .addNode(Onnx.NodeProto.newBuilder().setOpType("Identity").addInput("y").addOutput("e"))
                .addOutput(TinyModels.input("e", -1, 64)).build();
        Onnx.NodeProto branch = Onnx.NodeProto.newBuilder().setOpType("If").setName("branch").addInput("cond").addOutput("z")
                .addAttribute(Onnx.AttributeProto.newBuilder().setName("then_branch")
                        .setType(Onnx.AttributeProto.AttributeType.GRAPH).setG(thenBranch))
                .addAttribute(Onnx.AttributeProto.newBuilder().setName("else_branch")
                        .setType(Onnx.AttributeProto.AttributeType.GRAPH).setG(elseBranch)).build();
        Onnx.ValueInfoProto cond = Onnx.ValueInfoProto.newBuilder().setName("cond").setType(Onnx.TypeProto.newBuilder()
                .setTensorType(Onnx.TypeProto.Tensor.newBuilder().setElemType(Onnx.TensorProto.DataType.BOOL_VALUE)
                        .setShape(Onnx.TensorShapeProto.newBuilder()))).build();
        Onnx.ModelProto model = TinyModels.model(13, List.of(TinyModels.input("x", -1, 64), cond),
                List.of(TinyModels.input("z", -1, 64)), List.of(constant, mm, branch),
                List.of(Weights.tensor("v", new long[] {64, 64}, TinyModels.gaussian(4096, 5), Weights.FLOAT)));
        Path in = dir.resolve("branch.onnx");
        Path out = dir.resolve("branch.bt.onnx");
        ModelFiles.write(model, in, null);
        CompressionOptions options = CompressionOptions.defaults().withTarget(new Target.Ranks()).withMinParams(0).withForce(true);
        Compressor.Result result = new Compressor(options, m -> { }).compress(model, "branch");
        String table = result.report().table();
        assertTrue(result.report().layers().stream().anyMatch(l -> l.name().equals("mm") && l.compressed()), table);
        assertTrue(table.contains("inside a subgraph, not rewritten: MatMul 'inner' inside the then_branch subgraph of If"),
                table);
        ModelFiles.write(result.model(), out, in);
        for (boolean c : new boolean[] {true, false}) {
            Map<String, NpyArray> feeds = Map.of("x", new NpyArray(new long[] {2, 64}, TinyModels.gaussian(128, 6), "<f4"),
                    "cond", new NpyArray(new long[0], new double[] {c ? 1 : 0}, "<i8"));
            double[] a = run(in, feeds);
            double[] b = run(out, feeds);
            assertEquals(a.length, b.length);
            assertTrue(ConvRewriteTest.relative(a, b) < 1, "the factored MatMul feeds both branches");
        }
    }
}
