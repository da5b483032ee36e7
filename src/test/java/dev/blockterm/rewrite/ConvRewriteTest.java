package dev.blockterm.rewrite;

import dev.blockterm.compress.Target;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Compressor;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.TinyModels;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import onnx.Onnx;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Conv layers: the three-convolution chain computes the convolution with the reconstructed kernel. */
class ConvRewriteTest {

    @TempDir
    Path dir;

    record Case(String name, int cOut, int cIn, int[] kernel, int size, List<Onnx.AttributeProto> attributes) {
    }

    static List<Case> cases() {
        return List.of(
                new Case("2-D stride 2 pads 1", 12, 10, new int[] {3, 3}, 9,
                        List.of(TinyModels.intsAttr("strides", 2, 2), TinyModels.intsAttr("pads", 1, 1, 1, 1))),
                new Case("2-D dilation 2", 12, 10, new int[] {3, 3}, 9,
                        List.of(TinyModels.intsAttr("dilations", 2, 2), TinyModels.intsAttr("pads", 2, 2, 2, 2))),
                new Case("2-D stride 2 same-upper", 12, 10, new int[] {3, 3}, 9,
                        List.of(TinyModels.intsAttr("strides", 2, 2), TinyModels.stringAttr("auto_pad", "SAME_UPPER"))),
                new Case("2-D 5x3 asymmetric pads", 8, 6, new int[] {5, 3}, 8,
                        List.of(TinyModels.intsAttr("pads", 2, 0, 1, 1))),
                new Case("1-D stride 3", 9, 7, new int[] {5}, 20, List.of(TinyModels.intsAttr("strides", 3))),
                new Case("3-D", 6, 5, new int[] {3, 3, 3}, 5, List.of(TinyModels.intsAttr("pads", 1, 1, 1, 1, 1, 1))));
    }

    private static CompressionOptions options(int blocks, int rank) {
        return CompressionOptions.builder().target(new Target.Ranks()).blocks(blocks).ranks(rank).minParams(0).sweeps(30, 1e-9).force(true).build();
    }

    private static double[] run(Path model, Map<String, NpyArray> feeds) {
        try (ModelRunner r = new ModelRunner(model, 1)) {
            return r.run(feeds).values().iterator().next().values();
        }
    }

    private Map<String, NpyArray> feeds(Path model) {
        try (ModelRunner r = new ModelRunner(model, 1)) {
            return r.randomInputs(4, 2);
        }
    }

    @Test
    void fullRanksReproduceTheConvolution() {
        for (Case c : cases()) {
            Onnx.ModelProto model = TinyModels.conv(c.cOut(), c.cIn(), c.kernel(), c.size(), null, c.attributes());
            Path in = dir.resolve("in.onnx");
            Path out = dir.resolve("out.onnx");
            ModelFiles.write(model, in, null);
            Compressor.Result result = new Compressor(options(1, Math.max(c.cOut(), c.cIn())), m -> { })
                    .compress(model, c.name());
            assertTrue(result.report().layers().get(0).compressed(), c.name());
            ModelFiles.write(result.model(), out, in);
            Map<String, NpyArray> feeds = feeds(in);
            assertEquals(0, relative(run(in, feeds), run(out, feeds)), 1e-5, c.name());
        }
    }

    /** Channel low rank (k conv C_in -> r, then 1x1 r -> C_out) computes the kernel its factors give. */
    @Test
    void channelLowRankComputesItsReconstructedKernel() {
        for (Case c : cases()) {
            Onnx.ModelProto model = TinyModels.conv(c.cOut(), c.cIn(), c.kernel(), c.size(), null, c.attributes());
            Path in = dir.resolve("in.onnx");
            Path out = dir.resolve("out.onnx");
            ModelFiles.write(model, in, null);
            CompressionOptions ratio = CompressionOptions.builder().target(new Target.Ratio(2)).bits(java.util.EnumSet.of(dev.blockterm.quantize.Precision.FLOAT)).minParams(0)
                    .latencyCheck(false).convForms(java.util.EnumSet.of(dev.blockterm.compress.ConvForm.CHANNEL)).build();
            Compressor.Result result = new Compressor(ratio, m -> { }).compress(model, c.name());
            assertTrue(result.report().layers().get(0).compressed(), c.name() + "\n" + result.report().table());
            ModelFiles.write(result.model(), out, in);
            // M = (C_in K) x C_out from the factors; the kernel is its transpose, C_out x (C_in K)
            double[] m = result.fits().get("conv").fit().model().reconstruct().data();
            int rows = m.length / c.cOut();
            double[] kernel = new double[m.length];
            for (int i = 0; i < rows; i++) {
                for (int o = 0; o < c.cOut(); o++) {
                    kernel[o * rows + i] = m[i * c.cOut() + o];
                }
            }
            Path reference = dir.resolve("reference.onnx");
            ModelFiles.write(TinyModels.conv(c.cOut(), c.cIn(), c.kernel(), c.size(), kernel, c.attributes()), reference, null);
            Map<String, NpyArray> feeds = feeds(in);
            assertEquals(0, relative(run(reference, feeds), run(out, feeds)), 1e-5, c.name());
            Onnx.ModelProto written = ModelFiles.read(out);
            assertEquals(2, written.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Conv")).count());
            assertTrue(result.report().layers().get(0).paramsAfter() * 2 <= result.report().layers().get(0).paramsBefore());
        }
    }

    @Test
    void reducedRanksComputeTheReconstructedKernel() {
        for (Case c : cases()) {
            Onnx.ModelProto model = TinyModels.conv(c.cOut(), c.cIn(), c.kernel(), c.size(), null, c.attributes());
            Path in = dir.resolve("in.onnx");
            Path out = dir.resolve("out.onnx");
            ModelFiles.write(model, in, null);
            Compressor.Result result = new Compressor(options(2, 3), m -> { }).compress(model, c.name());
            ModelFiles.write(result.model(), out, in);
            // an independent dense Conv (ONNX Runtime's own kernel) with W^ = the reconstructed factors
            double[] kernel = result.fits().get("conv").fit().model().reconstruct().data();
            Path reference = dir.resolve("reference.onnx");
            ModelFiles.write(TinyModels.conv(c.cOut(), c.cIn(), c.kernel(), c.size(), kernel, c.attributes()), reference, null);
            Map<String, NpyArray> feeds = feeds(in);
            assertEquals(0, relative(run(reference, feeds), run(out, feeds)), 1e-5, c.name());
            assertTrue(relative(run(in, feeds), run(out, feeds)) > 1e-3, c.name() + ": reduced ranks change the output");
            Onnx.ModelProto written = ModelFiles.read(out);
            assertEquals(3, written.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Conv")).count());
        }
    }

    @Test
    void everyFormatAtARatioComputesItsReconstructedKernel() {
        Case c = cases().get(0);
        Onnx.ModelProto model = TinyModels.conv(c.cOut(), c.cIn(), c.kernel(), c.size(), null, c.attributes());
        Path in = dir.resolve("in.onnx");
        ModelFiles.write(model, in, null);
        for (dev.blockterm.decompose.Format format : dev.blockterm.decompose.Format.values()) {
            CompressionOptions o = options(2, 3).withFormat(format).withTarget(new Target.LayerRatio(3));
            Compressor.Result result = new Compressor(o, m -> { }).compress(model, c.name());
            var row = result.report().layers().get(0);
            assertTrue(row.compressed() && row.ratio() >= 3, format + "\n" + result.report().table());
            Path out = dir.resolve("out-" + format + ".onnx");
            ModelFiles.write(result.model(), out, in);
            double[] kernel = result.fits().get("conv").fit().model().reconstruct().data();
            Path reference = dir.resolve("reference.onnx");
            ModelFiles.write(TinyModels.conv(c.cOut(), c.cIn(), c.kernel(), c.size(), kernel, c.attributes()), reference, null);
            Map<String, NpyArray> feeds = feeds(in);
            assertEquals(0, relative(run(reference, feeds), run(out, feeds)), 1e-5, format.label());
        }
    }

    private static CompressionOptions onlyForm(dev.blockterm.compress.ConvForm form, double ratio) {
        return CompressionOptions.builder().target(new Target.Ratio(ratio)).bits(java.util.EnumSet.of(dev.blockterm.quantize.Precision.FLOAT)).minParams(0).latencyCheck(false)
                .convForms(java.util.EnumSet.of(form)).build();
    }

    /** Spatial SVD (k_h x 1 conv C_in -> r, then 1 x k_w conv r -> C_out) computes the kernel its factors give. */
    @Test
    void spatialSvdComputesItsReconstructedKernel() {
        for (Case c : cases().subList(0, 4)) {
            Onnx.ModelProto model = TinyModels.conv(c.cOut(), c.cIn(), c.kernel(), c.size(), null, c.attributes());
            Path in = dir.resolve("in.onnx");
            Path out = dir.resolve("out.onnx");
            ModelFiles.write(model, in, null);
            Compressor.Result result = new Compressor(onlyForm(dev.blockterm.compress.ConvForm.SPATIAL, 2), m -> { })
                    .compress(model, c.name());
            var row = result.report().layers().get(0);
            assertTrue(row.compressed() && row.layout().startsWith("spatial svd"), c.name() + "\n" + result.report().table());
            ModelFiles.write(result.model(), out, in);
            // S = P Q is (C_in k_h) x (k_w C_out); the kernel is W[o, c, i, j] = S[(c, i), (j, o)]
            double[] s = result.fits().get("conv").fit().model().reconstruct().data();
            int kh = c.kernel()[0];
            int kw = c.kernel()[1];
            double[] kernel = new double[c.cOut() * c.cIn() * kh * kw];
            for (int o = 0; o < c.cOut(); o++) {
                for (int ch = 0; ch < c.cIn(); ch++) {
                    for (int i = 0; i < kh; i++) {
                        for (int j = 0; j < kw; j++) {
                            kernel[((o * c.cIn() + ch) * kh + i) * kw + j] = s[(ch * kh + i) * kw * c.cOut() + j * c.cOut() + o];
                        }
                    }
                }
            }
            Path reference = dir.resolve("reference.onnx");
            ModelFiles.write(TinyModels.conv(c.cOut(), c.cIn(), c.kernel(), c.size(), kernel, c.attributes()), reference, null);
            Map<String, NpyArray> feeds = feeds(in);
            assertEquals(0, relative(run(reference, feeds), run(out, feeds)), 1e-5, c.name());
            List<Onnx.NodeProto> convs = ModelFiles.read(out).getGraph().getNodeList().stream()
                    .filter(n -> n.getOpType().equals("Conv")).toList();
            assertEquals(2, convs.size());
            assertEquals(List.of((long) kh, 1L), convs.get(0).getAttributeList().stream()
                    .filter(a -> a.getName().equals("kernel_shape")).findFirst().orElseThrow().getIntsList());
            assertTrue(row.paramsAfter() * 2 <= row.paramsBefore(), c.name());
        }
    }

    /** The block-term chain chosen on the curves computes the kernel its factors give. */
    @Test
    void chainFormComputesItsReconstructedKernel() {
        for (Case c : cases().subList(0, 2)) {
            Onnx.ModelProto model = TinyModels.conv(c.cOut(), c.cIn(), c.kernel(), c.size(), null, c.attributes());
            Path in = dir.resolve("in.onnx");
            Path out = dir.resolve("out.onnx");
            ModelFiles.write(model, in, null);
            Compressor.Result result = new Compressor(onlyForm(dev.blockterm.compress.ConvForm.CHAIN, 2), m -> { })
                    .compress(model, c.name());
            var row = result.report().layers().get(0);
            assertTrue(row.compressed() && row.layout().startsWith("bt conv chain"), c.name() + "\n" + result.report().table());
            ModelFiles.write(result.model(), out, in);
            double[] kernel = result.fits().get("conv").fit().model().reconstruct().data();
            Path reference = dir.resolve("reference.onnx");
            ModelFiles.write(TinyModels.conv(c.cOut(), c.cIn(), c.kernel(), c.size(), kernel, c.attributes()), reference, null);
            Map<String, NpyArray> feeds = feeds(in);
            assertEquals(0, relative(run(reference, feeds), run(out, feeds)), 1e-5, c.name());
        }
    }

    @Test
    void groupedConvolutionStaysDense() {
        Onnx.ModelProto model = TinyModels.conv(8, 4, new int[] {3, 3}, 6, null, List.of(TinyModels.intAttr("group", 2)));
        // kernel [8, 4, 3, 3] with group 2: 8 input channels
        model = model.toBuilder().setGraph(model.getGraph().toBuilder().setInput(0, TinyModels.input("x", -1, 8, 6, 6)))
                .build();
        Compressor.Result result = new Compressor(options(1, 2), m -> { }).compress(model, "grouped");
        assertFalse(result.report().layers().get(0).compressed());
        assertTrue(result.report().layers().get(0).reason().contains("grouped convolution (group = 2)"));
    }

    static double relative(double[] expected, double[] actual) {
        return dev.blockterm.TestArrays.relativeError(expected, actual);
    }
}
