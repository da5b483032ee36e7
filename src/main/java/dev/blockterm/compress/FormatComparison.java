package dev.blockterm.compress;

import dev.blockterm.decompose.Format;
import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.LinearLayer;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import onnx.Onnx;

/**
 * {@code inspect --compare}: per fully connected layer and stored (recurrent, {@code --weights})
 * weight, the relative weight error of each format
 * (BT, Tucker, CP, TT) at the same parameter budget, every tensorization tried for each, so a user
 * sees what block terms buy. The budget is the parameter count of {@code --ratio} when given, else
 * that of the user's blocks and ranks in the merged layout. Fits everything, kept or not.
 */
public final class FormatComparison {

    private FormatComparison() {
    }

    public static String table(Onnx.ModelProto model, CompressionOptions options, Consumer<String> progress) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-16s %-10s %9s", "layer", "shape", "budget"));
        for (Format f : Format.values()) {
            sb.append(String.format(Locale.ROOT, "  %-34s", f.label() + " (error, params, layout)"));
        }
        sb.append('\n');
        Map<String, Onnx.TensorProto> inits = Graphs.initializers(model.getGraph());
        java.util.List<LinearLayer> matrices = new java.util.ArrayList<>(Graphs.linearLayers(model.getGraph()));
        java.util.List<dev.blockterm.onnx.StoredWeight> stored = Graphs.storedWeights(model.getGraph(), options.weights());
        for (int i = 0; i < stored.size(); i++) {
            if (stored.get(i).skipReason() == null) {
                matrices.add(PerLayerFits.matrix(stored.get(i), -1 - i));
            }
        }
        for (LinearLayer layer : matrices) {
            if (!layer.compressible()) {
                continue;
            }
            long budget = ratio(options) > 0 ? (long) Math.floor(layer.parameters() / ratio(options))
                    : Candidates.explicit(Format.BT, Candidates.tensorizations(layer.name(), layer.inputSize(),
                            layer.outputSize(), options.withLayout(null)).get(0), options).parameters();
            sb.append(String.format(Locale.ROOT, "%-16s %-10s %9d", layer.name(), layer.weightShape(), budget));
            double[] w = layer.nodeIndex() < 0 ? dev.blockterm.onnx.Weights.values(inits.get(layer.weightName()))
                    : Graphs.weightMatrix(layer, inits.get(layer.weightName()));
            for (Format f : Format.values()) {
                CompressionOptions o = options.withFormat(f).withLayout(null).withForce(true);
                List<Candidates.Candidate> candidates = Candidates.forBudget(layer.name(), layer.inputSize(),
                        layer.outputSize(), o, budget);
                LinearFitter.Attempt a = new LinearFitter(layer, w, o, progress, false).fit(candidates);
                sb.append(a.best() == null ? String.format(Locale.ROOT, "  %-34s", "-")
                        : String.format(Locale.ROOT, "  %-34s", String.format(Locale.ROOT, "%.4f, %d, %s",
                                a.best().fit().relativeError(), a.best().fit().model().parameters(),
                                a.chosen().tensorization().layout().label())));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /** The ratio the comparison is sized to: a layer ratio or a whole-model ratio read per layer; 0: none. */
    private static double ratio(CompressionOptions options) {
        if (options.target() instanceof Target.LayerRatio r) {
            return r.ratio();
        }
        return options.target() instanceof Target.Ratio r ? r.ratio() : 0;
    }
}
