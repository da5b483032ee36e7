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

    private static double outputError(Matrix x, double[] w, double[] approx) {
        Matrix weights = new Matrix(x.cols(), w.length / x.cols(), w);
        Matrix diff = new Matrix(x.cols(), w.length / x.cols(), approx).scale(-1).plus(weights);
        return x.times(diff).frobeniusNorm() / x.times(weights).frobeniusNorm();
    }
}
