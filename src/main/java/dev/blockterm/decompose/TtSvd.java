package dev.blockterm.decompose;

import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Subspace;
import dev.blockterm.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * TT-SVD (Oseledets 2011, algorithm 1): sweep left to right, at step k take the leading
 * {@code r_k} left singular vectors of the current unfolding {@code (r_{k-1} S_k) x rest} as
 * core k and carry {@code U^T C} on. Quasi-optimal: {@code ||T - T^||^2 <= sum_k (tail of the k-th
 * unfolding's spectrum)^2}. Exact when every rank is at least the rank of its unfolding. Cost: one
 * Gram matrix (or randomized subspace iteration) per step on a shrinking matrix.
 */
public final class TtSvd {

    private TtSvd() {
    }

    public static FitResult<TensorTrain> fit(Tensor t, int[] ranks, long seed) {
        int d = t.order();
        if (ranks.length != d - 1) {
            throw new IllegalArgumentException("TT ranks: expected " + (d - 1) + " for a tensor of order " + d
                    + ", found " + ranks.length + " " + Arrays.toString(ranks));
        }
        long started = System.nanoTime();
        Random random = new Random(seed);
        List<Tensor> cores = new ArrayList<>();
        double[] rest = t.data();
        int previous = 1;
        long remaining = t.length();
        for (int k = 0; k < d - 1; k++) {
            int s = t.size(k);
            int rows = previous * s;
            int cols = (int) (remaining / s);
            if (ranks[k] < 1) {
                throw new IllegalArgumentException("TT ranks: expected all >= 1, found " + Arrays.toString(ranks));
            }
            int r = Math.min(ranks[k], Math.min(rows, cols));
            Matrix c = new Matrix(rows, cols, rest);
            Matrix u = Subspace.leadingLeft(c, r, random);
            cores.add(new Tensor(new int[] {previous, s, r}, u.data()));
            rest = u.transposeTimes(c).data(); // r x cols
            previous = r;
            remaining = cols;
        }
        cores.add(new Tensor(new int[] {previous, t.size(d - 1), 1}, rest));
        TensorTrain tt = new TensorTrain(cores);
        double norm = t.norm();
        double error = norm == 0 ? 0 : t.minus(tt.reconstruct()).norm() / norm;
        return new FitResult<>(tt, new double[] {error}, 0, true, error, Initialization.GREEDY,
                (System.nanoTime() - started) / 1e9, 0);
    }
}
