package dev.blockterm.compress;

import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.LinearLayer;
import dev.blockterm.onnx.StoredWeight;
import dev.blockterm.onnx.Weights;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import onnx.Onnx;

/**
 * {@code --budget P}: a whole-model parameter target. Every fully connected layer and stored weight
 * gets an error-versus-parameters curve (the best candidate at each ratio of
 * {@link Compressor#RATIO_GRID}, error measured as {@code ||W - W^||_F^2}); starting from the
 * dense model, the move of least added error per parameter saved (to any more compressed point of
 * one curve) is taken until the model fits P. Conv layers are fitted at {@code --blocks/--rank} and
 * are counted dense here, so the result is at or under P.
 */
final class BudgetAllocation {

    private record Point(Compressor.Choice choice, long parameters, double error) {
    }

    private record Curve(String name, long dense, List<Point> points) {
    }

    private BudgetAllocation() {
    }

    static Map<String, Compressor.Choice> allocate(Compressor compressor, Onnx.ModelProto model,
                                                   List<LinearLayer> layers, List<StoredWeight> stored,
                                                   Map<String, Onnx.TensorProto> inits) {
        CompressionOptions options = compressor.options();
        List<Callable<Curve>> tasks = new ArrayList<>();
        for (LinearLayer layer : layers) {
            if (compressor.skipReason(layer.name(), layer.parameters(), layer.skipReason()) == null) {
                tasks.add(() -> curve(compressor, layer, Graphs.weightMatrix(layer, inits.get(layer.weightName())), false));
            }
        }
        for (int i = 0; i < stored.size(); i++) {
            StoredWeight w = stored.get(i);
            int index = -1 - i;
            if (compressor.skipReason(w.name(), w.parameters(), w.skipReason()) == null) {
                tasks.add(() -> curve(compressor, Compressor.matrix(w, index), Weights.values(inits.get(w.name())), true));
            }
        }
        List<Curve> curves = Parallel.run(tasks, options.threads());

        long total = Compressor.parameters(model);
        int[] at = new int[curves.size()]; // index into points; -1 = dense
        java.util.Arrays.fill(at, -1);
        while (total > options.budget()) {
            int bestCurve = -1;
            int bestPoint = -1;
            double bestCost = Double.MAX_VALUE;
            for (int c = 0; c < curves.size(); c++) {
                Curve curve = curves.get(c);
                long params = at[c] < 0 ? curve.dense() : curve.points().get(at[c]).parameters();
                double error = at[c] < 0 ? 0 : curve.points().get(at[c]).error();
                for (int p = at[c] + 1; p < curve.points().size(); p++) {
                    Point next = curve.points().get(p);
                    long saved = params - next.parameters();
                    if (saved <= 0) {
                        continue;
                    }
                    double cost = (next.error() - error) / saved;
                    if (cost < bestCost) {
                        bestCost = cost;
                        bestCurve = c;
                        bestPoint = p;
                    }
                }
            }
            if (bestCurve < 0) {
                break; // every layer is at its most compressed point
            }
            Curve curve = curves.get(bestCurve);
            long params = at[bestCurve] < 0 ? curve.dense() : curve.points().get(at[bestCurve]).parameters();
            total -= params - curve.points().get(bestPoint).parameters();
            at[bestCurve] = bestPoint;
        }
        boolean reached = total <= options.budget();
        Map<String, Compressor.Choice> out = new HashMap<>();
        for (int c = 0; c < curves.size(); c++) {
            Curve curve = curves.get(c);
            String note = String.format(Locale.ROOT, "--budget %d: spread over %d weights by least added error per "
                    + "parameter saved; the model comes to %d parameters%s", options.budget(), curves.size(), total,
                    reached ? "" : " (the budget is not reachable: every weight is at its most compressed point)");
            if (at[c] < 0) {
                out.put(curve.name(), new Compressor.Choice(new LinearFitter.Attempt(null, null, null, List.of(),
                        "no compression chosen: " + note), null, List.of(), 0));
            } else {
                Compressor.Choice chosen = curve.points().get(at[c]).choice();
                out.put(curve.name(), new Compressor.Choice(chosen.attempt(), note, chosen.tried(), chosen.seconds()));
            }
        }
        return out;
    }

    private static Curve curve(Compressor compressor, LinearLayer layer, double[] w, boolean rebuilt) {
        compressor.progress().accept("error-versus-parameters curve of " + layer.name() + " (" + layer.weightShape() + ")");
        double norm2 = 0;
        for (double v : w) {
            norm2 += v * v;
        }
        List<Point> points = new ArrayList<>();
        double[] grid = Compressor.RATIO_GRID;
        for (int i = grid.length - 1; i >= 0; i--) { // least compressed first
            long budget = (long) Math.floor(layer.parameters() / grid[i]);
            Compressor.Choice c = compressor.atBudget(layer, w, rebuilt, budget);
            if (c.attempt().best() != null) {
                double e = c.attempt().best().fit().relativeError();
                points.add(new Point(c, c.attempt().best().fit().model().parameters(), e * e * norm2));
            }
        }
        return new Curve(layer.name(), layer.parameters(), points);
    }
}
