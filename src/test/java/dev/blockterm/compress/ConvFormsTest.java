package dev.blockterm.compress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.decompose.BlockTerm;
import dev.blockterm.decompose.Whitening;
import dev.blockterm.onnx.ConvLayer;
import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.TinyModels;
import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Tensor;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The block-term chain of a convolution in the metric of its input patches: the exact refit of its
 * last 1x1, then every factor refined by ALS in that metric, never worse than the refit alone and
 * better than the weight fit; the mode permutation it goes through is its own inverse's inverse.
 */
class ConvFormsTest {

    @Test
    void everyFactorRefinedInTheMetricBeatsTheLastOneRefittedAlone() {
        ConvLayer layer = Graphs.convLayers(TinyModels.conv(12, 8, new int[] {3, 3}, 6, null, List.of())
                .getGraph()).get(0);
        Random random = new Random(3);
        int rows = layer.inChannels() * layer.kernelSize(); // 72
        Matrix w = Matrix.gaussian(rows, layer.outChannels(), random);
        // correlated patches: a metric far from the identity
        Matrix x = Matrix.gaussian(400, rows, random).times(Matrix.gaussian(rows, rows, random));
        Matrix metric = Whitening.damped(Whitening.gram(x), Whitening.DEFAULT_DAMPING);
        CompressionOptions options = CompressionOptions.builder().build();
        ConvFitter fitter = new ConvFitter(layer, options.toBuilder().format(dev.blockterm.decompose.Format.BT).build());
        ConvFitter.Setting s = fitter.largestUnder(rows * layer.outChannels() / 4);
        Tensor kernel = new Tensor(new int[] {layer.outChannels(), layer.inChannels(), layer.kernelSize()},
                w.transpose().data());
        BlockTerm weightFit = fitter.fit(kernel, s).model();
        BlockTerm last = ConvForms.refitLast(weightFit, w, metric, layer);
        BlockTerm refined = ConvForms.refined(last, w, metric, layer, options).model();
        double eWeight = error(w, weightFit, metric, layer);
        double eLast = error(w, last, metric, layer);
        double eRefined = error(w, refined, metric, layer);
        assertTrue(eLast <= eWeight + 1e-12, eLast + " > " + eWeight);
        assertTrue(eRefined <= eLast + 1e-9, "refined " + eRefined + " > last refitted " + eLast);
        assertTrue(eRefined < 0.95 * eLast, "refined " + eRefined + " against last refitted " + eLast);
        BlockTerm back = ConvForms.permute(ConvForms.permute(refined, new int[] {1, 2, 0}), new int[] {2, 0, 1});
        assertEquals(0, back.reconstruct().minus(refined.reconstruct()).norm(), 1e-12);
    }

    private static double error(Matrix w, BlockTerm bt, Matrix metric, ConvLayer layer) {
        Matrix approx = new Matrix(layer.outChannels(), layer.inChannels() * layer.kernelSize(),
                bt.reconstruct().data()).transpose();
        Matrix d = w.plus(approx.scale(-1));
        return Math.sqrt(d.dot(metric.times(d)) / w.dot(metric.times(w)));
    }
}
