package dev.blockterm.compress;

import dev.blockterm.decompose.LowRank;
import dev.blockterm.decompose.Whitening;
import dev.blockterm.onnx.ConvLayer;
import dev.blockterm.onnx.LinearLayer;
import dev.blockterm.tensor.Matrix;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;
import onnx.Onnx;

/**
 * Sequential compensation (SVD-LLM's update, for {@code --sequential}): with the points chosen, the
 * layers are refitted in graph order, each to the original model's outputs from the inputs the model
 * compressed up to it gives ({@link LowRank#compensated}, {@link QuantizedPoints#compensated}), so that
 * it corrects what the layers before it changed. Layers reading the same value are refitted together;
 * a layer kept dense, stored at float16 or given another form is left as it is. One run of the
 * original and the partly compressed model on the fitting rows per group.
 */
final class Sequential {

    private final List<LayerForms> layers;
    private final Consumer<String> progress;

    Sequential(List<LayerForms> layers, Consumer<String> progress) {
        this.layers = new ArrayList<>(layers);
        this.progress = progress;
    }

    /** Whether the chosen point {@code id} of layer {@code f} is refitted: factors, or a dense integer weight. */
    private static boolean refits(LayerForms f, int id) {
        if (id == 0 || !f.layer().whitened() || f.job() instanceof LayerJob.Stored) {
            return false;
        }
        LayerForms.At at = f.at(id);
        return at.form().rank(at.point()) > 0
                || at.form() instanceof BitsForm b && b.stored().get(at.point()).precision().integer();
    }

    /**
     * The layers with the chosen points {@code ids} refitted; {@code replacements} assembles the
     * chosen points of the layers upstream of a group.
     */
    List<LayerForms> refit(int[] ids, Onnx.ModelProto model, Calibration calibration,
                           Function<int[], List<Compressor.LayerOutcome>> replacements) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            if (refits(layers.get(i), ids[i])) {
                order.add(i);
            }
        }
        order.sort(Comparator.comparingInt(i -> layers.get(i).job().nodeIndex()));
        int at = 0;
        while (at < order.size()) {
            String input = model.getGraph().getNode(layers.get(order.get(at)).job().nodeIndex()).getInput(0);
            List<Integer> group = new ArrayList<>();
            while (at < order.size()
                    && model.getGraph().getNode(layers.get(order.get(at)).job().nodeIndex()).getInput(0).equals(input)) {
                group.add(order.get(at++));
            }
            int first = layers.get(group.get(0)).job().nodeIndex();
            int[] earlier = new int[ids.length];
            for (int i = 0; i < layers.size(); i++) {
                // a weight rebuilt at load is computed before every node: it is upstream of all of them
                earlier[i] = layers.get(i).job().nodeIndex() < first ? ids[i] : 0;
            }
            List<Compressor.LayerOutcome> before = replacements.apply(earlier);
            if (before.isEmpty()) {
                continue; // nothing upstream changed: the curves already fit these inputs
            }
            List<LinearLayer> linear = new ArrayList<>();
            List<ConvLayer> convs = new ArrayList<>();
            for (int i : group) {
                if (layers.get(i).job() instanceof LayerJob.Linear l) {
                    linear.add(l.layer());
                } else if (layers.get(i).job() instanceof LayerJob.Conv c && !c.layer().grouped()) {
                    convs.add(c.layer());
                }
            }
            progress.accept("refitting " + String.join(", ", group.stream().map(i -> layers.get(i).job().name())
                    .toList()) + " to the original outputs from the inputs of the model compressed up to them");
            calibration.captureCompensating(model, Compressor.assemble(model, before), linear, convs);
            for (int i : group) {
                Calibration.Compensation c = calibration.takeCompensation(layers.get(i).job().name());
                if (c != null) {
                    layers.set(i, refitted(layers.get(i), ids[i], c));
                }
            }
        }
        return layers;
    }

    /** Layer {@code f} with its point {@code id} refitted to the compensation's products. */
    private static LayerForms refitted(LayerForms f, int id, Calibration.Compensation c) {
        FittedLayer layer = f.layer();
        Matrix w = layer.weight().get();
        int rank = f.rankOf(id);
        LowRank curve = layer.curve();
        double error = Double.NaN;
        if (rank > 0) {
            curve = LowRank.compensated(w, c.gPrime(), c.cross(), Whitening.DEFAULT_DAMPING,
                    Math.min(rank, Math.min(w.rows(), w.cols()))); // only the chosen rank is asked for
            Matrix[] ab = curve.factors(Math.min(rank, curve.maxRank()));
            error = LowRank.compensatedError(w, ab[0].times(ab[1]), c.g(), c.gPrime(), c.cross());
        }
        LayerForms.At at = f.at(id);
        QuantizedPoints.Point refittedPoint = null;
        if (at.form() instanceof BitsForm b) {
            // the chosen point stored from the refitted values (GPTQ of the compensated weight for a dense one)
            refittedPoint = QuantizedPoints.compensated(w, b.stored().get(at.point()), curve, layer.dataType(), c.g(),
                    c.gPrime(), c.cross());
            error = refittedPoint.error();
        }
        FittedLayer refit = new FittedLayer(layer.job(), layer.weight(), curve, true, layer.metric(), layer.delta(), layer.seconds(),
                layer.dataType(), error);
        List<Form> forms = new ArrayList<>();
        for (Form form : f.forms()) {
            if (form instanceof LowRankForm l) {
                forms.add(new LowRankForm(refit, l.maxRank()));
            } else if (form instanceof FittedForms o) {
                forms.add(new FittedForms(refit, o.fitted()));
            } else {
                List<QuantizedPoints.Point> stored = new ArrayList<>(((BitsForm) form).stored());
                if (form == at.form()) {
                    stored.set(at.point(), refittedPoint);
                }
                forms.add(new BitsForm(refit, stored));
            }
        }
        return new LayerForms(refit, forms);
    }
}
