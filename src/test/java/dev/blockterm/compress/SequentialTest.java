package dev.blockterm.compress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.decompose.LowRank;
import dev.blockterm.decompose.Whitening;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.runtime.NpyArray;
import dev.blockterm.tensor.Matrix;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import onnx.Onnx;
import org.junit.jupiter.api.Test;

/** Sequential compensation: each layer refitted to the original outputs from the compressed model's inputs. */
class SequentialTest {

    /** Inputs changed upstream by an invertible map M (X' = X M): at full rank the refit undoes it exactly. */
    @Test
    void aKnownUpstreamChangeIsUndoneAtFullRank() {
        Random random = new Random(3);
        Matrix x = Matrix.gaussian(200, 6, random);
        Matrix m = Matrix.identity(6).plus(Matrix.gaussian(6, 6, random).scale(0.3));
        Matrix xPrime = x.times(m);
        Matrix w = Matrix.gaussian(6, 4, random);
        Matrix g = x.transposeTimes(x);
        Matrix gPrime = xPrime.transposeTimes(xPrime);
        Matrix cross = xPrime.transposeTimes(x);
        LowRank curve = LowRank.compensated(w, gPrime, cross, 1e-12);
        Matrix[] ab = curve.factors(4);
        Matrix approx = ab[0].times(ab[1]);
        assertEquals(0, LowRank.compensatedError(w, approx, g, gPrime, cross), 1e-5);
        // the error figure is the measured one: ||X W - X' W^|| / ||X W||
        Matrix[] low = curve.factors(2);
        Matrix w2 = low[0].times(low[1]);
        double measured = x.times(w).plus(xPrime.times(w2).scale(-1)).frobeniusNorm() / x.times(w).frobeniusNorm();
        assertEquals(measured, LowRank.compensatedError(w, w2, g, gPrime, cross), 1e-9);
        // unchanged inputs: the refit is the whitened truncation itself
        LowRank same = LowRank.compensated(w, g, g, Whitening.DEFAULT_DAMPING);
        LowRank whitened = LowRank.whitened(w, g, Whitening.DEFAULT_DAMPING);
        assertEquals(whitened.relativeError(2), same.relativeError(2), 1e-3);
    }

    /** On the digits MLP at 10x, the refit lowers the measured output error on the held-out rows. */
    @Test
    void theRefitLowersTheModelsOutputError() {
        Onnx.ModelProto model = ModelFiles.read(Path.of("models/digits_mlp.onnx"));
        Map<String, NpyArray> feeds = Map.of("input", NpyArray.read(Path.of("testdata/digits_calib_x.npy")));
        double[] errors = new double[2];
        for (int sequential = 0; sequential < 2; sequential++) {
            CompressionOptions options = CompressionOptions.builder().target(new Target.Ratio(10)).bits(java.util.EnumSet.of(dev.blockterm.quantize.Precision.FLOAT)).latencyCheck(false)
                    .sequential(sequential == 1).build();
            Compressor.Result r = new Compressor(options, m -> { }, new Calibration(feeds, 1)).compress(model, "mlp");
            errors[sequential] = r.report().quality().outputs().get(0).relativeError();
            if (sequential == 1) {
                assertTrue(r.report().layers().stream().anyMatch(l -> "low-rank sequential".equals(l.layout())),
                        r.report().table());
            }
        }
        assertTrue(errors[1] < errors[0], "sequential " + errors[1] + " vs " + errors[0]);
    }
    /**
     * A dense weight stored at int8 or int4 for a layer whose inputs changed upstream by an invertible
     * map (X' = X M, so nothing is lost upstream for good): GPTQ of the
     * compensated weight W* in the metric of X' has a lower error against the original outputs than the
     * point quantized for the original inputs, and its error figure is the measured one.
     */
    @Test
    void aQuantizedDenseWeightIsRefittedToTheChangedInputs() {
        Random random = new Random(5);
        Matrix x = Matrix.gaussian(400, 64, random);
        Matrix xPrime = x.times(Matrix.identity(64).plus(Matrix.gaussian(64, 64, random).scale(0.05)));
        Matrix w = Matrix.gaussian(64, 16, random);
        Matrix g = x.transposeTimes(x);
        Matrix gPrime = xPrime.transposeTimes(xPrime);
        Matrix cross = xPrime.transposeTimes(x);
        LowRank curve = LowRank.whitened(w, g, Whitening.DEFAULT_DAMPING);
        for (dev.blockterm.quantize.Precision p : java.util.List.of(dev.blockterm.quantize.Precision.INT8,
                dev.blockterm.quantize.Precision.INT4)) {
            QuantizedPoints.Point b = QuantizedPoints.of(w, onnx.Onnx.TensorProto.DataType.FLOAT_VALUE, curve, 1,
                    new LayerMetric.Gram(g, Whitening.DEFAULT_DAMPING), java.util.List.of(p), false).get(0);
            assertEquals(0, b.rank());
            Matrix before = QuantizedPoints.approximation(w, curve, b, onnx.Onnx.TensorProto.DataType.FLOAT_VALUE, false);
            QuantizedPoints.Point refitted = QuantizedPoints.compensated(w, b, curve,
                    onnx.Onnx.TensorProto.DataType.FLOAT_VALUE, g, gPrime, cross);
            Matrix after = QuantizedPoints.approximation(w, curve, refitted, onnx.Onnx.TensorProto.DataType.FLOAT_VALUE,
                    false);
            double measured = x.times(w).plus(xPrime.times(after).scale(-1)).frobeniusNorm() / x.times(w).frobeniusNorm();
            assertEquals(measured, refitted.error(), 1e-6, p.toString());
            double old = LowRank.compensatedError(w, before, g, gPrime, cross);
            assertTrue(refitted.error() < 0.8 * old, p + ": refitted " + refitted.error() + " vs " + old);
            assertEquals(b.bytes(), refitted.bytes());
        }
    }

    /** With the bits axis on (int8 among the points), the refit still lowers the MLP's output error at 20x. */
    @Test
    void theRefitLowersTheErrorOfAQuantizedMix() {
        Onnx.ModelProto model = ModelFiles.read(Path.of("models/digits_mlp.onnx"));
        Map<String, NpyArray> feeds = Map.of("input", NpyArray.read(Path.of("testdata/digits_calib_x.npy")));
        double[] errors = new double[2];
        for (int sequential = 0; sequential < 2; sequential++) {
            CompressionOptions options = CompressionOptions.builder().target(new Target.Ratio(20))
                    .bits(java.util.EnumSet.of(dev.blockterm.quantize.Precision.FLOAT,
                            dev.blockterm.quantize.Precision.INT8)).latencyCheck(false).sequential(sequential == 1).build();
            Compressor.Result r = new Compressor(options, m -> { }, new Calibration(feeds, 1)).compress(model, "mlp");
            errors[sequential] = r.report().quality().outputs().get(0).relativeError();
            if (sequential == 1) {
                assertTrue(r.report().layers().stream().anyMatch(l -> l.layout() != null && l.layout().endsWith(
                        "sequential") && "int8".equals(l.precision())), r.report().table());
            }
        }
        assertTrue(errors[1] < errors[0], "sequential " + errors[1] + " vs " + errors[0]);
    }
}
