package dev.blockterm.compress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class AllocationTest {

    /** A curve of {@code n} ranks with errors falling as the rank grows, some points off the convex hull. */
    private static Allocation.Curve randomCurve(String name, int n, Random random) {
        int[] ranks = new int[n];
        long[] params = new long[n];
        double[] errors = new double[n];
        double e = 1 + random.nextDouble();
        for (int r = 1; r <= n; r++) {
            ranks[r - 1] = r;
            params[r - 1] = 10L * r;
            errors[r - 1] = e;
            e *= 0.3 + 0.6 * random.nextDouble(); // not convex: random ratios
        }
        return new Allocation.Curve(name, 10L * (n + 1), ranks, params, errors);
    }

    private static double error(Allocation.Curve c, int rank) {
        return rank == 0 ? 0 : c.errors()[rank - 1];
    }

    private static long params(Allocation.Curve c, int rank) {
        return rank == 0 ? c.dense() : c.sizes()[rank - 1];
    }

    @Test
    void everyStepIsOptimalForItsSize() {
        // the greedy prefix solves min sum e subject to sum p <= P(step) exactly (Lagrangian argument):
        // no combination of points, hull or not, with as few parameters has less error
        Random random = new Random(7);
        for (int trial = 0; trial < 20; trial++) {
            List<Allocation.Curve> curves = new ArrayList<>();
            for (int c = 0; c < 3; c++) {
                curves.add(randomCurve("c" + c, 4 + random.nextInt(3), random));
            }
            Allocation a = new Allocation(curves);
            long previous = Long.MAX_VALUE;
            for (int step = 0; step <= a.steps(); step++) {
                int[] ranks = a.ranksAt(step);
                long p = 0;
                double e = 0;
                for (int c = 0; c < curves.size(); c++) {
                    p += params(curves.get(c), ranks[c]);
                    e += error(curves.get(c), ranks[c]);
                }
                assertEquals(p, a.sizeAt(step));
                assertTrue(p < previous, "each step saves parameters");
                previous = p;
                assertTrue(e <= bruteForce(curves, p) + 1e-12, "step " + step + ": " + e + " > " + bruteForce(curves, p));
            }
        }
    }

    private static double bruteForce(List<Allocation.Curve> curves, long budget) {
        double best = Double.MAX_VALUE;
        int[] at = new int[curves.size()];
        while (true) {
            long p = 0;
            double e = 0;
            for (int c = 0; c < curves.size(); c++) {
                p += params(curves.get(c), at[c]);
                e += error(curves.get(c), at[c]);
            }
            if (p <= budget) {
                best = Math.min(best, e);
            }
            int c = 0;
            while (c < at.length && ++at[c] > curves.get(c).ranks().length) {
                at[c] = 0;
                c++;
            }
            if (c == at.length) {
                return best;
            }
        }
    }

    @Test
    void stepsForTakesTheShortestPrefixThatFits() {
        Random random = new Random(8);
        Allocation a = new Allocation(List.of(randomCurve("a", 6, random), randomCurve("b", 5, random)));
        assertEquals(0, a.stepsFor(a.sizeAt(0)));
        for (int step = 1; step <= a.steps(); step++) {
            assertEquals(step, a.stepsFor(a.sizeAt(step)));
            assertEquals(step, a.stepsFor(a.sizeAt(step - 1) - 1));
        }
        assertEquals(a.steps(), a.stepsFor(0), "unreachable: every curve at its smallest point");
    }

    @Test
    void aParameterTargetSpendsWhatTheHullStepLeaves() {
        // a concave curve: the hull jumps from dense (100) straight to rank 1 (20); a target of 60 takes that
        // step, then spends the 40 left on rank 2 (50) of the same curve
        Allocation.Curve concave = new Allocation.Curve("concave", 100, new int[] {1, 2, 3}, new long[] {20, 50, 80},
                new double[] {0.3, 0.25, 0.2});
        Allocation a = new Allocation(List.of(concave));
        int[] ranks = a.ranksFor(60);
        assertEquals(2, ranks[0]);
        assertEquals(50, a.sizeOf(ranks));
        Random random = new Random(9);
        for (int trial = 0; trial < 20; trial++) {
            Allocation b = new Allocation(List.of(randomCurve("a", 6, random), randomCurve("b", 5, random)));
            for (long target = 20; target <= 140; target += 7) {
                int[] r = b.ranksFor(target);
                assertTrue(b.sizeOf(r) <= target || b.sizeOf(r) == b.sizeAt(b.steps()),
                        target + ": " + b.sizeOf(r));
                double prefix = 0;
                double refined = 0;
                int[] p = b.ranksAt(b.stepsFor(target));
                for (int c = 0; c < 2; c++) {
                    prefix += error(b.curves().get(c), p[c]);
                    refined += error(b.curves().get(c), r[c]);
                }
                assertTrue(refined <= prefix, "refining never adds error");
            }
        }
    }

    @Test
    void theInsensitiveLayerPaysFirst() {
        // a layer whose error stays tiny gives up its parameters before one whose error grows fast
        Allocation.Curve cheap = new Allocation.Curve("cheap", 100, new int[] {1, 2}, new long[] {20, 50},
                new double[] {1e-4, 1e-6});
        Allocation.Curve costly = new Allocation.Curve("costly", 100, new int[] {1, 2}, new long[] {20, 50},
                new double[] {0.9, 0.5});
        Allocation a = new Allocation(List.of(cheap, costly));
        int step = a.stepsFor(120);
        int[] ranks = a.ranksAt(step);
        assertEquals(1, ranks[0]);
        assertEquals(0, ranks[1]);
    }
}
