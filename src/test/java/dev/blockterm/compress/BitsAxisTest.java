package dev.blockterm.compress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.decompose.LowRank;
import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.TinyModels;
import dev.blockterm.onnx.Weights;
import dev.blockterm.quantize.Precision;
import dev.blockterm.report.LayerReport;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import dev.blockterm.tensor.Matrix;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import onnx.Onnx;
import org.junit.jupiter.api.Test;

/**
 * The bits axis: every (form, rank, bits) point computes in ONNX Runtime what its dequantized factors
 * say, embedding tables are fitted in the metric of their lookups, and the targets count bytes.
 */
class BitsAxisTest {

    @org.junit.jupiter.api.io.TempDir
    Path dir;

    /** A table looked up by ids (skewed: low ids often), then a linear layer: {@code y = table[ids] W}. */
    static Onnx.ModelProto embedding(int vocabulary, int width) {
        Onnx.NodeProto gather = Onnx.NodeProto.newBuilder().setOpType("Gather").setName("embed").addInput("table")
                .addInput("ids").addOutput("h").build();
        Onnx.NodeProto mm = Onnx.NodeProto.newBuilder().setOpType("MatMul").setName("proj").addInput("h").addInput("w")
                .addOutput("y").build();
        Onnx.ValueInfoProto ids = Onnx.ValueInfoProto.newBuilder().setName("ids").setType(Onnx.TypeProto.newBuilder()
                .setTensorType(Onnx.TypeProto.Tensor.newBuilder().setElemType(Weights.INT64)
                        .setShape(Onnx.TensorShapeProto.newBuilder()
                                .addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimParam("batch"))
                                .addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(6))))).build();
        return TinyModels.model(13, List.of(ids), List.of(TinyModels.input("y", -1, 6, 40)), List.of(gather, mm),
                List.of(Weights.tensor("table", new long[] {vocabulary, width}, TinyModels.gaussian(vocabulary * width, 3),
                        Weights.FLOAT), Weights.tensor("w", new long[] {width, 40}, TinyModels.gaussian(width * 40, 4),
                        Weights.FLOAT)));
    }

    /**
     * A depthwise 5x5 convolution (group = channels, padded), a Relu, then a 1x1 convolution:
     * {@code x [N, 64, 8, 8] -> y [N, 128, 8, 8]}.
     */
    static Onnx.ModelProto depthwise() {
        Onnx.NodeProto dw = Onnx.NodeProto.newBuilder().setOpType("Conv").setName("depthwise").addInput("x")
                .addInput("dw").addInput("dwb").addOutput("h").addAttribute(TinyModels.intAttr("group", 64))
                .addAttribute(TinyModels.intsAttr("pads", 2, 2, 2, 2)).build();
        Onnx.NodeProto relu = Onnx.NodeProto.newBuilder().setOpType("Relu").addInput("h").addOutput("r").build();
        Onnx.NodeProto pw = Onnx.NodeProto.newBuilder().setOpType("Conv").setName("pointwise").addInput("r")
                .addInput("pw").addOutput("y").build();
        double[] k = TinyModels.gaussian(64 * 25, 7);
        for (int c = 0; c < 64; c++) {
            for (int j = 0; j < 25; j++) {
                k[c * 25 + j] *= 1 + c; // channels of unlike scales: one scale for all would not do
            }
        }
        return TinyModels.model(13, List.of(TinyModels.input("x", -1, 64, 8, 8)),
                List.of(TinyModels.input("y", -1, 128, 8, 8)), List.of(dw, relu, pw),
                List.of(Weights.tensor("dw", new long[] {64, 1, 5, 5}, k, Weights.FLOAT),
                        Weights.tensor("dwb", new long[] {64}, TinyModels.gaussian(64, 8), Weights.FLOAT),
                        Weights.tensor("pw", new long[] {128, 64, 1, 1}, TinyModels.gaussian(128 * 64, 9),
                                Weights.FLOAT)));
    }

    static NpyArray images(int rows, long seed) {
        return new NpyArray(new long[] {rows, 64, 8, 8}, TinyModels.gaussian(rows * 4096, seed), "<f4");
    }

    static NpyArray skewedIds(int rows, int vocabulary, long seed) {
        Random random = new Random(seed);
        double[] v = new double[rows * 6];
        for (int i = 0; i < v.length; i++) {
            v[i] = Math.min(vocabulary - 1, (int) Math.floor(Math.abs(random.nextGaussian()) * vocabulary / 6));
        }
        return new NpyArray(new long[] {rows, 6}, v, "<i8");
    }

    /**
     * For every quantized point of every layer (and a few float ones), the model with that point alone
     * run in ONNX Runtime from the written graph (int8 and int4 storage, factored lookups) gives the
     * outputs of the model fed the point's dequantized weight computed here.
     */
    @Test
    void everyPointComputesWhatItsDequantizedFactorsSay() {
        check(ModelFiles.read(Path.of("models/digits_mlp.onnx")),
                Map.of("input", NpyArray.read(Path.of("testdata/digits_calib_x.npy"))));
        check(ModelFiles.read(Path.of("models/digits_cnn.onnx")),
                Map.of("image", NpyArray.read(Path.of("testdata/digits_img_x.npy"))));
        check(embedding(300, 64), Map.of("ids", skewedIds(120, 300, 5)));
        check(depthwise(), Map.of("x", images(40, 6)));
    }

    private void check(Onnx.ModelProto input, Map<String, NpyArray> feeds) {
        CompressionOptions options = CompressionOptions.builder().target(new Target.Ratio(4)).minParams(0)
                .latencyCheck(false).build();
        Calibration data = new Calibration(feeds, 1);
        Compressor compressor = new Compressor(options, m -> { }, data);
        Onnx.ModelProto model = Graphs.liftConstants(input);
        Map<String, Onnx.TensorProto> inits = Graphs.initializers(model.getGraph());
        List<dev.blockterm.onnx.LinearLayer> layers = Graphs.linearLayers(model.getGraph());
        List<dev.blockterm.onnx.ConvLayer> convs = Graphs.convLayers(model.getGraph());
        List<dev.blockterm.onnx.EmbeddingTable> tables = Graphs.embeddingTables(model.getGraph(), java.util.Set.of());
        Calibration fitting = data.fitting();
        fitting.capture(model, layers, convs.stream().filter(c -> c.skipReason() == null).toList(), tables);
        try (Staging staging = new Staging(dir);
             ModelRunner original = new ModelRunner(model.toByteArray(), "original", 1)) {
            CurveCompression curves = new CurveCompression(compressor, options.target(), layers, convs, List.of(), tables,
                    inits, fitting, staging.dir());
            QualityProbe probe = QualityProbe.on(original, data.heldOut(), "held-out rows", 1);
            try (QualityProbe.WeightFeeds weightFed = probe.withWeightsAsInputs(model, curves.weightNames())) {
                compare(model, curves, probe, weightFed);
            }
        }
    }

    private static void compare(Onnx.ModelProto model, CurveCompression curves, QualityProbe probe,
                                QualityProbe.WeightFeeds weightFed) {
        {
            Allocation allocation = curves.allocation();
            int compared = 0;
            for (int c = 0; c < allocation.curves().size(); c++) {
                int[] ids = allocation.curves().get(c).ranks();
                List<Integer> sample = new ArrayList<>();
                for (int k = 0; k < ids.length; k++) {
                    if (k < 2 || k >= ids.length - 39) { // the bits axis is the end of each curve
                        sample.add(ids[k]);
                    }
                }
                for (int id : sample) {
                    int[] point = new int[allocation.curves().size()];
                    point[c] = id;
                    // the bytes the allocation counts are the bytes the replacement stores (shapes and biases aside)
                    long stored = curves.replacements(point).get(0).rewrite().apply(model).initializers().stream()
                            .filter(t -> t.getDataType() != Weights.INT64 && t.getDimsCount() > 0)
                            .mapToLong(t -> t.getRawData().size()).sum();
                    assertEquals(allocation.curves().get(c).sizes()[java.util.Arrays.stream(ids).boxed().toList()
                            .indexOf(id)], stored, allocation.curves().get(c).name() + " point " + id + " bytes");
                    double fed = weightFed.worstError(curves.weights(point));
                    double written = probe.worstError(Compressor.assemble(model, curves.replacements(point)));
                    assertEquals(fed, written, 1e-4 * (1 + fed), allocation.curves().get(c).name() + " point " + id);
                    compared++;
                }
            }
            assertTrue(compared > 40, "points compared: " + compared);
        }
    }

    /**
     * A table's curve in the metric of its lookups is the weighted optimum: its error at each rank is
     * what the factors give in that metric, and no more than a plain truncation's in the same metric.
     */
    @Test
    void anEmbeddingCurveIsTheOptimumOfItsLookupMetric() {
        Random random = new Random(11);
        Matrix w = Matrix.gaussian(80, 12, random);
        double[] counts = new double[80];
        for (int i = 0; i < 20; i++) {
            counts[i] = 50 + random.nextInt(50); // a few rows looked up often, most never
        }
        CurveTask.Diagonal d = new CurveTask.Diagonal(counts);
        LowRank weighted = d.curve(w, 12);
        LowRank plain = LowRank.of(w);
        LayerMetric metric = new LayerMetric.Rows(counts, d.delta());
        for (int r = 1; r < 12; r++) {
            Matrix[] f = LowRank.restored(80, 12, weighted.side(), weighted.tails(), weighted.bases(), () -> w).factors(r);
            double e = metric.squared(w.plus(f[0].times(f[1]).scale(-1)));
            assertEquals(weighted.tail(r), e, 1e-9 * weighted.total(), "rank " + r);
            Matrix[] p = plain.factors(r);
            assertTrue(e <= metric.squared(w.plus(p[0].times(p[1]).scale(-1))) + 1e-9, "rank " + r);
        }
        assertEquals(0, weighted.tail(12), 1e-9 * weighted.total());
    }

    /** Lookups are counted per row, padding positions (attention_mask zeros) left out. */
    @Test
    void lookupsAreCountedPerRow() {
        Onnx.ModelProto model = embedding(30, 16);
        NpyArray ids = new NpyArray(new long[] {2, 6}, new double[] {1, 1, 2, 29, 0, 1, 5, 5, 5, 5, 7, 1}, "<i8");
        Calibration data = new Calibration(Map.of("ids", ids), 1);
        List<dev.blockterm.onnx.EmbeddingTable> tables = Graphs.embeddingTables(model.getGraph(), java.util.Set.of());
        assertEquals(1, tables.size());
        data.capture(model, List.of(), List.of(), tables);
        double[] counts = data.counts("embed");
        assertEquals(1, counts[0]);
        assertEquals(4, counts[1]);
        assertEquals(4, counts[5]);
        assertEquals(1, counts[29]);
        assertEquals(12, java.util.Arrays.stream(counts).sum());
    }

    /**
     * A grouped convolution has no factored form, but where bytes are counted its kernel is a candidate
     * at every precision: under a size target the depthwise kernel is stored at int8 or int4, with one
     * scale per channel; where parameters are counted it stays dense, saying why.
     */
    @Test
    void aGroupedConvolutionIsStoredAtItsBits() {
        Onnx.ModelProto model = depthwise();
        Map<String, NpyArray> feeds = Map.of("x", images(60, 21));
        // the weights to a quarter, with what the written file adds (the report, the readers' nodes)
        long size = ModelFiles.serializedBytes(model) - 3 * 4 * (64 * 25 + 128 * 64) / 4 + Compressor.SIZE_OVERHEAD
                + 2 * Compressor.SIZE_OVERHEAD_PER_LAYER;
        CompressionOptions options = CompressionOptions.builder().target(new Target.Size(size)).minParams(0)
                .latencyCheck(false).build();
        Compressor.Result r = new Compressor(options, m -> { }, new Calibration(feeds, 1)).compress(model, "dw");
        LayerReport dw = r.report().layers().stream().filter(l -> l.name().equals("depthwise")).findFirst().orElseThrow();
        assertTrue(dw.precision() != null && dw.bytesAfter() < dw.bytesBefore() / 3, r.report().table());
        assertTrue(r.report().fileBytesAfter() <= size, r.report().table());
        Compressor.Result params = new Compressor(options.toBuilder().target(new Target.Budget(7000)).build(), m -> { },
                new Calibration(feeds, 1)).compress(model, "dw");
        LayerReport kept = params.report().layers().stream().filter(l -> l.name().equals("depthwise")).findFirst()
                .orElseThrow();
        assertTrue(kept.precision() == null && kept.reason().contains("grouped"), params.report().table());
    }

    /** A size target in bytes is met by the written file, with some layers at a lower precision. */
    @Test
    void aFileSizeTargetIsMetWithLowerPrecisions() {
        Onnx.ModelProto model = ModelFiles.read(Path.of("models/digits_mlp.onnx"));
        long size = ModelFiles.serializedBytes(model) / 8;
        CompressionOptions options = CompressionOptions.builder().target(new Target.Size(size)).latencyCheck(false)
                .build();
        Compressor.Result r = new Compressor(options, m -> { }, new Calibration(Map.of("input",
                NpyArray.read(Path.of("testdata/digits_calib_x.npy"))), 1)).compress(model, "mlp");
        assertTrue(r.report().fileBytesAfter() <= size, r.report().fileBytesAfter() + " > " + size);
        assertTrue(r.report().layers().stream().anyMatch(l -> l.precision() != null), r.report().table());
        for (LayerReport l : r.report().layers()) {
            assertTrue(l.bytesAfter() <= l.bytesBefore(), l.name());
        }
        assertTrue(r.report().reference() != null && r.report().reference().fileBytes() < ModelFiles.serializedBytes(model),
                r.report().table());
        assertTrue(r.report().quality().outputs().get(0).top1Agreement() > 0.95, r.report().table());
        // --bits 32: today's float forms only
        Compressor.Result floats = new Compressor(options.toBuilder().target(new Target.Ratio(4))
                .bits(java.util.EnumSet.of(Precision.FLOAT)).build(), m -> { }).compress(model, "mlp");
        assertTrue(floats.report().layers().stream().allMatch(l -> l.precision() == null), floats.report().table());
    }
}
