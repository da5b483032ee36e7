package dev.blockterm.compress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The contract every {@link Form} keeps, checked on every form of every layer of the bundled MLP and
 * CNN, with and without calibration (EJML's one suite for every implementation): a point's error is
 * the error of the weight it computes in the layer's metric; the low-rank curve's errors do not rise
 * with the rank and its sizes do; a point's outcome reports its own size; the written graph of a point
 * computes in ONNX Runtime what its weight says; and the ids name each point once.
 */
class FormContractTest {

    @TempDir
    Path dir;

    @Test
    void everyFormOfTheMlpKeepsTheContract() {
        check(ModelFiles.read(Path.of("models/digits_mlp.onnx")), "input", "testdata/digits_calib_x.npy");
    }

    @Test
    void everyFormOfTheCnnKeepsTheContract() {
        check(ModelFiles.read(Path.of("models/digits_cnn.onnx")), "image", "testdata/digits_img_x.npy");
    }

    private void check(Onnx.ModelProto input, String name, String npy) {
        Map<String, NpyArray> feeds = Map.of(name, NpyArray.read(Path.of(npy)));
        Set<Form.Family> seen = EnumSet.noneOf(Form.Family.class);
        for (boolean calibrated : new boolean[] {false, true}) {
            CompressionOptions options = CompressionOptions.builder().target(new Target.Ratio(4)).minParams(0)
                    .latencyCheck(false).build();
            Calibration data = new Calibration(feeds, 1);
            Compressor compressor = new Compressor(options, m -> { }, calibrated ? data : null);
            Onnx.ModelProto model = Graphs.liftConstants(input);
            var layers = Graphs.linearLayers(model.getGraph());
            var convs = Graphs.convLayers(model.getGraph());
            Calibration fitting = calibrated ? data.fitting() : null;
            if (fitting != null) {
                fitting.capture(model, layers, convs, List.of());
            }
            try (Staging staging = new Staging(dir);
                 ModelRunner original = new ModelRunner(model.toByteArray(), "original", 1)) {
                CurveCompression curves = new CurveCompression(compressor, options.target(), layers, convs, List.of(),
                        List.of(), Graphs.initializers(model.getGraph()), fitting, staging.dir());
                QualityProbe probe = QualityProbe.on(original, data.heldOut(), "held-out rows", 1);
                try (QualityProbe.WeightFeeds weightFed = probe.withWeightsAsInputs(model, curves.weightNames())) {
                    List<LayerForms> all = curves.layers();
                    for (int l = 0; l < all.size(); l++) {
                        checkLayer(model, curves, all, l, probe, weightFed, seen);
                    }
                }
            }
        }
        assertTrue(seen.containsAll(EnumSet.of(Form.Family.LOW_RANK, Form.Family.DENSE)), "families seen: " + seen);
    }

    private static void checkLayer(Onnx.ModelProto model, CurveCompression curves, List<LayerForms> all, int l,
                                   QualityProbe probe, QualityProbe.WeightFeeds weightFed, Set<Form.Family> seen) {
        LayerForms layer = all.get(l);
        String name = layer.job().name();
        int id = 1;
        for (int k = 0; k < layer.forms().size(); k++) {
            Form form = layer.forms().get(k);
            for (int p = 0; p < form.points(); p++, id++) {
                String what = name + " " + form.getClass().getSimpleName() + " point " + p;
                seen.add(form.family(p));
                assertEquals(id, layer.id(k, p), what + ": its id");
                assertEquals(form, layer.at(id).form(), what + ": the form its id names");
                double measured = layer.layer().metricError(form.approximation(p));
                assertEquals(measured, form.error(p), 1e-6 + 1e-6 * measured, what + ": its error in the layer's metric");
                Compressor.LayerOutcome outcome = form.outcome(p, null);
                assertTrue(outcome.report().compressed(), what + ": reported compressed");
                if (form instanceof LowRankForm) {
                    assertEquals(form.size(p, false), outcome.report().paramsAfter(), what + ": its parameters");
                    if (p > 0) {
                        assertTrue(form.error(p) <= form.error(p - 1) + 1e-12, what + ": the curve's error rises");
                        assertTrue(form.size(p, true) > form.size(p - 1, true), what + ": the curve's size falls");
                    }
                }
                if (form instanceof BitsForm) {
                    assertEquals(form.size(p, true), outcome.report().bytesAfter(), what + ": its bytes");
                }
                // the first and last point of each form through ONNX Runtime: the graph computes its weight
                if (p == 0 || p == form.points() - 1) {
                    int[] ids = new int[all.size()];
                    ids[l] = id;
                    double fed = weightFed.worstError(curves.weights(ids));
                    double written = probe.worstError(Compressor.assemble(model, curves.replacements(ids)));
                    assertEquals(fed, written, 1e-4 * (1 + fed), what + ": the written graph against its weight");
                }
            }
        }
        assertEquals(id - 1, layer.points(), name + ": points");
    }
}
