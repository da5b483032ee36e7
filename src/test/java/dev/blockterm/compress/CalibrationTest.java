package dev.blockterm.compress;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.LinearLayer;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.runtime.ActivationCapture;
import dev.blockterm.runtime.NpyArray;
import dev.blockterm.tensor.Layout;
import dev.blockterm.tensor.Matrix;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import onnx.Onnx;
import org.junit.jupiter.api.Test;

/** Calibration-aware fitting lowers every layer's output error on the calibration inputs. */
class CalibrationTest {

    @Test
    void whitenedFitsHaveLowerOutputErrorThanWeightFits() {
        Onnx.ModelProto model = ModelFiles.read(Path.of("models/digits_mlp.onnx"));
        Map<String, NpyArray> feeds = Map.of("input", NpyArray.read(Path.of("testdata/digits_calib_x.npy")));
        CompressionOptions options = CompressionOptions.defaults().withLayout(Layout.INPUT_WHOLE).withTarget(new Target.LayerRatio(6))
                .withLatencyCheck(false);
        Compressor.Result plain = new Compressor(options, m -> { }).compress(model, "mlp");
        Compressor.Result calibrated = new Compressor(options, m -> { }, new Calibration(feeds, 1)).compress(model, "mlp");
        int compared = 0;
        for (LinearLayer layer : Graphs.linearLayers(model.getGraph())) {
            Compressor.LayerFit a = plain.fits().get(layer.name());
            Compressor.LayerFit b = calibrated.fits().get(layer.name());
            if (a == null || b == null) {
                continue;
            }
            String input = model.getGraph().getNode(layer.nodeIndex()).getInput(0);
            NpyArray captured = ActivationCapture.capture(model, List.of(input), feeds, 1).get(input);
            Matrix x = new Matrix(captured.values().length / layer.inputSize(), layer.inputSize(), captured.values());
            double[] w = Graphs.weightMatrix(layer, Graphs.initializers(model.getGraph()).get(layer.weightName()));
            double plainError = outputError(x, w, a.tensorization().matricize(a.fit().model().reconstruct()));
            double calibratedError = outputError(x, w, b.tensorization().matricize(b.fit().model().reconstruct()));
            assertTrue(calibratedError < plainError, layer.name() + ": " + calibratedError + " vs " + plainError);
            // the report's figure is this one (up to the damping)
            assertTrue(Math.abs(b.outputError() - calibratedError) < 0.05 * calibratedError + 1e-3,
                    layer.name() + ": reported " + b.outputError() + ", measured " + calibratedError);
            compared++;
        }
        assertTrue(compared >= 2, "layers compared: " + compared);
    }

    /** Calibration inputs {@code [n, C, size, size]} with unequal, correlated channels. */
    private static NpyArray images(int n, int channels, int size, long seed) {
        java.util.Random random = new java.util.Random(seed);
        double[] v = new double[n * channels * size * size];
        int area = size * size;
        for (int b = 0; b < n; b++) {
            for (int p = 0; p < area; p++) {
                double common = random.nextGaussian();
                for (int c = 0; c < channels; c++) {
                    v[(b * channels + c) * area + p] = Math.pow(0.5, c) * (common + 0.3 * random.nextGaussian());
                }
            }
        }
        return new NpyArray(new long[] {n, channels, size, size}, v, "<f4");
    }

    @Test
    void aConvolutionsCovarianceIsTheSumOfItsPatchOuterProductsOverEveryChunk() {
        Onnx.ModelProto model = dev.blockterm.onnx.TinyModels.conv(6, 3, new int[] {3, 3}, 7, null,
                List.of(dev.blockterm.onnx.TinyModels.intsAttr("strides", 2, 2),
                        dev.blockterm.onnx.TinyModels.intsAttr("pads", 1, 0, 1, 1)));
        NpyArray x = images(Calibration.CHUNK_ROWS + 5, 3, 7, 1); // two chunks
        Calibration calibration = new Calibration(Map.of("x", x), 1);
        dev.blockterm.onnx.ConvLayer conv = Graphs.convLayers(model.getGraph()).get(0);
        calibration.capture(model, List.of(), List.of(conv));
        dev.blockterm.tensor.Patches patches = Calibration.patches(model.getGraph().getNode(0), conv);
        int w = patches.width();
        double[] expected = new double[w * w];
        int per = 3 * 7 * 7;
        for (int b = 0; b < x.shape()[0]; b++) {
            double[] rows = patches.sample(x.values(), b * per, new int[] {7, 7}, Integer.MAX_VALUE);
            for (int r = 0; r < rows.length / w; r++) {
                for (int i = 0; i < w; i++) {
                    for (int j = 0; j < w; j++) {
                        expected[i * w + j] += rows[r * w + i] * rows[r * w + j];
                    }
                }
            }
        }
        double[] gram = calibration.gram(conv.name()).data();
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < gram.length; i++) {
            diff += (gram[i] - expected[i]) * (gram[i] - expected[i]);
            norm += expected[i] * expected[i];
        }
        assertTrue(Math.sqrt(diff / norm) < 1e-6, "relative difference " + Math.sqrt(diff / norm));
    }

    @Test
    void paddingPositionsAreMaskedOutOfTheCovariance() {
        Onnx.ModelProto model = dev.blockterm.onnx.TinyModels.matmul3d(5, 4, 13);
        model = model.toBuilder().setGraph(model.getGraph().toBuilder()
                .addInput(dev.blockterm.onnx.TinyModels.input(Calibration.MASK_INPUT, -1, -2))).build();
        int n = 3;
        int t = 4;
        double[] x = dev.blockterm.onnx.TinyModels.gaussian(n * t * 5, 4);
        double[] mask = {1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1};
        Calibration calibration = new Calibration(Map.of("x", new NpyArray(new long[] {n, t, 5}, x, "<f4"),
                Calibration.MASK_INPUT, new NpyArray(new long[] {n, t}, mask, "<i8")), 1);
        LinearLayer layer = Graphs.linearLayers(model.getGraph()).get(0);
        calibration.capture(model, List.of(layer), List.of());
        double[] expected = new double[25];
        for (int row = 0; row < n * t; row++) {
            if (mask[row] == 0) {
                continue;
            }
            for (int i = 0; i < 5; i++) {
                for (int j = 0; j < 5; j++) {
                    expected[i * 5 + j] += (float) x[row * 5 + i] * (double) (float) x[row * 5 + j];
                }
            }
        }
        double[] gram = calibration.gram(layer.name()).data();
        for (int i = 0; i < 25; i++) {
            assertTrue(Math.abs(gram[i] - expected[i]) < 1e-5 * (1 + Math.abs(expected[i])), "entry " + i);
        }
    }

    /** Channel low rank fitted in the patch covariance beats the weight fit on the layer's outputs. */
    @Test
    void aCalibratedConvolutionHasLowerOutputErrorThanAWeightFit() {
        Onnx.ModelProto model = dev.blockterm.onnx.TinyModels.conv(16, 6, new int[] {3, 3}, 8, null,
                List.of(dev.blockterm.onnx.TinyModels.intsAttr("pads", 1, 1, 1, 1)));
        NpyArray calib = images(40, 6, 8, 2);
        Map<String, NpyArray> heldOut = Map.of("x", images(10, 6, 8, 3));
        for (ConvForm form : ConvForm.values()) {
            CompressionOptions options = CompressionOptions.builder().target(new Target.Ratio(3)).bits(java.util.EnumSet.of(dev.blockterm.quantize.Precision.FLOAT)).minParams(0)
                    .latencyCheck(false).convForms(java.util.EnumSet.of(form)).build();
            Compressor.Result plain = new Compressor(options, m -> { }).compress(model, "conv");
            Compressor.Result calibrated = new Compressor(options, m -> { }, new Calibration(Map.of("x", calib), 1))
                    .compress(model, "conv");
            double plainError = modelError(model, plain.model(), heldOut);
            double calibratedError = modelError(model, calibrated.model(), heldOut);
            // the chain's kernel fit is the same ALS fit; only its last factor is refitted to the outputs
            double factor = form == ConvForm.CHAIN ? 1 : 0.8;
            assertTrue(calibratedError < factor * plainError, form + ": " + calibratedError + " vs " + plainError
                    + "\n" + calibrated.report().table());
        }
    }

    private static double modelError(Onnx.ModelProto dense, Onnx.ModelProto compressed, Map<String, NpyArray> feeds) {
        try (dev.blockterm.runtime.ModelRunner a = new dev.blockterm.runtime.ModelRunner(dense.toByteArray(), "dense", 1);
             dev.blockterm.runtime.ModelRunner b = new dev.blockterm.runtime.ModelRunner(compressed.toByteArray(), "c", 1)) {
            double[] y = a.run(feeds).values().iterator().next().values();
            double[] z = b.run(feeds).values().iterator().next().values();
            return dev.blockterm.TestArrays.relativeError(y, z);
        }
    }

    private static double outputError(Matrix x, double[] w, double[] approx) {
        Matrix weights = new Matrix(x.cols(), w.length / x.cols(), w);
        Matrix diff = new Matrix(x.cols(), w.length / x.cols(), approx).scale(-1).plus(weights);
        return x.times(diff).frobeniusNorm() / x.times(weights).frobeniusNorm();
    }
}
