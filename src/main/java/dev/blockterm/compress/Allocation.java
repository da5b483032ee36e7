package dev.blockterm.compress;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * One global allocation over every layer's error-versus-size curve: starting from the dense
 * model, the step of least added error per unit of size saved, over all layers, is taken first.
 * The size is one unit for all curves: bytes (the file a user pays for, where points differ in
 * precision as well as in form and rank) or parameters.
 *
 * <p>Each curve is reduced to its lower convex hull (from the dense point toward smaller sizes);
 * along a hull the cost per parameter saved rises, so merging all hulls' segments in order of cost
 * gives one path of models, from dense ({@code step 0}) to every layer at its smallest point
 * ({@link #steps()}). A parameter target takes the shortest prefix that meets it; a quality target
 * bisects over the steps. This is the greedy solution of {@code min sum_l e_l^2} subject to
 * {@code sum_l p_l <= P}, optimal at the hull points (the multiple-choice knapsack relaxation).
 */
final class Allocation {

    /**
     * A layer's curve: its dense size and, for each offered point (its id in {@code ranks}: a rank, or
     * the id of another form or precision), its size and its squared error.
     */
    record Curve(String name, long dense, int[] ranks, long[] sizes, double[] errors) {
        Curve {
            if (ranks.length != sizes.length || ranks.length != errors.length) {
                throw new IllegalArgumentException("curve " + name + ": " + ranks.length + " ranks, "
                        + sizes.length + " sizes, " + errors.length + " errors");
            }
        }
    }

    private record Segment(int curve, int rank, long saved, double cost, int order) {
    }

    private final List<Curve> curves;
    private final List<Segment> segments = new ArrayList<>();

    Allocation(List<Curve> curves) {
        this.curves = List.copyOf(curves);
        for (int c = 0; c < this.curves.size(); c++) {
            addHull(c, this.curves.get(c));
        }
        segments.sort(Comparator.comparingDouble(Segment::cost).thenComparingInt(Segment::curve)
                .thenComparingInt(Segment::order));
    }

    /** The lower convex hull from the dense point (error 0) toward smaller sizes, as segments. */
    private void addHull(int c, Curve curve) {
        Integer[] byParams = new Integer[curve.ranks().length];
        for (int i = 0; i < byParams.length; i++) {
            byParams[i] = i;
        }
        Arrays.sort(byParams, Comparator.comparingLong((Integer i) -> -curve.sizes()[i]));
        List<Integer> hull = new ArrayList<>(); // indices into the curve; -1 = dense
        hull.add(-1);
        for (int i : byParams) {
            if (curve.sizes()[i] >= curve.dense()) {
                continue;
            }
            while (hull.size() >= 2) {
                int a = hull.get(hull.size() - 2);
                int b = hull.get(hull.size() - 1);
                if (slope(curve, a, b) >= slope(curve, b, i)) {
                    hull.remove(hull.size() - 1); // b lies above the chord from a to i
                } else {
                    break;
                }
            }
            if (hull.size() == 1 || slope(curve, hull.get(hull.size() - 1), i) >= 0) {
                hull.add(i);
            }
        }
        for (int k = 1; k < hull.size(); k++) {
            int from = hull.get(k - 1);
            int to = hull.get(k);
            segments.add(new Segment(c, curve.ranks()[to], params(curve, from) - params(curve, to),
                    slope(curve, from, to), k));
        }
    }

    private static long params(Curve curve, int i) {
        return i < 0 ? curve.dense() : curve.sizes()[i];
    }

    private static double error(Curve curve, int i) {
        return i < 0 ? 0 : curve.errors()[i];
    }

    /** Added error per parameter saved from point a to the smaller point b. */
    private static double slope(Curve curve, int a, int b) {
        long saved = params(curve, a) - params(curve, b);
        return saved <= 0 ? Double.MAX_VALUE : (error(curve, b) - error(curve, a)) / saved;
    }

    List<Curve> curves() {
        return curves;
    }

    /** The number of steps from dense to every layer at its smallest hull point. */
    int steps() {
        return segments.size();
    }

    /** Each curve's rank after {@code step} steps (0: dense). */
    int[] ranksAt(int step) {
        int[] ranks = new int[curves.size()];
        for (int s = 0; s < Math.min(step, segments.size()); s++) {
            ranks[segments.get(s).curve()] = segments.get(s).rank();
        }
        return ranks;
    }

    /** The size of all curves together after {@code step} steps. */
    long sizeAt(int step) {
        long total = 0;
        for (Curve c : curves) {
            total += c.dense();
        }
        for (int s = 0; s < Math.min(step, segments.size()); s++) {
            total -= segments.get(s).saved();
        }
        return total;
    }

    /**
     * The ranks for a parameter target: the shortest prefix of the path that fits, then the
     * parameters left under the target spent again, one rank increase at a time, where they remove
     * the most error per parameter (a hull step can jump past points that fit: a full-rank matrix's
     * hull goes from dense straight to a low rank).
     */
    int[] ranksFor(long size) {
        int step = stepsFor(size);
        int[] ranks = ranksAt(step);
        long left = size - sizeAt(step);
        while (left > 0) {
            int bestCurve = -1;
            int bestIndex = -1;
            double bestGain = 0;
            for (int c = 0; c < curves.size(); c++) {
                Curve curve = curves.get(c);
                int at = indexOf(curve, ranks[c]);
                if (at < 0) {
                    continue; // dense
                }
                for (int i = 0; i < curve.ranks().length; i++) {
                    long extra = curve.sizes()[i] - curve.sizes()[at];
                    double gain = curve.errors()[at] - curve.errors()[i];
                    if (extra > 0 && extra <= left && gain > 0 && gain / extra > bestGain) {
                        bestGain = gain / extra;
                        bestCurve = c;
                        bestIndex = i;
                    }
                }
            }
            if (bestCurve < 0) {
                break;
            }
            Curve curve = curves.get(bestCurve);
            left -= curve.sizes()[bestIndex] - curve.sizes()[indexOf(curve, ranks[bestCurve])];
            ranks[bestCurve] = curve.ranks()[bestIndex];
        }
        return ranks;
    }

    private static int indexOf(Curve curve, int rank) {
        for (int i = 0; i < curve.ranks().length; i++) {
            if (curve.ranks()[i] == rank) {
                return i;
            }
        }
        return -1;
    }

    /** The size of all curves together at these ranks (0: dense). */
    long sizeOf(int[] ranks) {
        long total = 0;
        for (int c = 0; c < curves.size(); c++) {
            int at = indexOf(curves.get(c), ranks[c]);
            total += at < 0 ? curves.get(c).dense() : curves.get(c).sizes()[at];
        }
        return total;
    }

    /** The fewest steps after which the curves hold at most {@code size}, or {@link #steps()} if none does. */
    int stepsFor(long size) {
        long total = sizeAt(0);
        for (int s = 0; s < segments.size(); s++) {
            if (total <= size) {
                return s;
            }
            total -= segments.get(s).saved();
        }
        return segments.size();
    }
}
