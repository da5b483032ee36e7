package dev.blockterm.tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Balanced factorizations of a size: {@code n = n_1 ... n_d} with the factors as equal as possible
 * (the BT-layer paper's {@code 4096 = 8*8*8*8}). A size whose factors cannot be balanced (a large
 * prime factor) is padded to the nearest size that can be.
 */
public final class Factorization {

    /** Largest ratio of the largest to the smallest factor accepted without padding. */
    public static final double MAX_IMBALANCE = 4.0;

    private Factorization() {
    }

    /** The chosen factors and the (possibly padded) size they multiply to. */
    public record Factors(int size, int[] factors) {
        public boolean padded(int original) {
            return size != original;
        }
    }

    /** Factors of {@code n} into {@code d} parts, padding {@code n} when it cannot be balanced. */
    public static Factors choose(int n, int d) {
        if (d == 1) {
            return new Factors(n, new int[] {n});
        }
        int[] best = balanced(n, d);
        if (imbalance(best) <= MAX_IMBALANCE) {
            return new Factors(n, best);
        }
        for (int m = n + 1; ; m++) {
            int[] f = balanced(m, d);
            if (imbalance(f) <= 2.0) {
                return new Factors(m, f);
            }
        }
    }

    /** The most balanced factorization of n into d factors (descending), factors of 1 allowed. */
    public static int[] balanced(int n, int d) {
        List<int[]> all = new ArrayList<>();
        collect(n, d, n, new int[d], 0, all);
        int[] best = null;
        for (int[] f : all) {
            if (best == null || imbalance(f) < imbalance(best)) {
                best = f;
            }
        }
        return best;
    }

    private static void collect(int n, int d, int maxFactor, int[] current, int depth, List<int[]> out) {
        if (depth == d - 1) {
            if (n <= maxFactor) {
                current[depth] = n;
                out.add(current.clone());
            }
            return;
        }
        for (int f = Math.min(n, maxFactor); f >= 1; f--) {
            if (n % f == 0) {
                current[depth] = f;
                collect(n / f, d, f, current, depth + 1, out);
            }
        }
    }

    public static double imbalance(int[] factors) {
        int max = Arrays.stream(factors).max().orElse(1);
        int min = Arrays.stream(factors).min().orElse(1);
        return (double) max / min;
    }

    /** The merged layout's default order: factors of about 8 (d = 2 up to 64, 3 up to 512, then 4). */
    public static int defaultOrder(int inputSize, int outputSize) {
        int smaller = Math.min(inputSize, outputSize);
        int d = (int) Math.round(Math.log(smaller) / Math.log(2) / 3.0);
        return Math.max(2, Math.min(4, d));
    }
}
