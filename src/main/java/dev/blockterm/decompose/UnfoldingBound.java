package dev.blockterm.decompose;

import dev.blockterm.tensor.Subspace;
import dev.blockterm.tensor.Tensor;

/**
 * A lower bound on the error of any block-term approximation of a tensor, from the spectra of its
 * unfoldings. A sum of {@code N} terms with core ranks {@code (R_1, ..., R_d)} has mode-k unfolding
 * {@code T^_(k) = sum_n A_n^(k) M_n} of rank at most {@code N R_k}, so by Eckart-Young
 * {@code ||T - T^||^2 = ||T_(k) - T^_(k)||^2 >= sum_{i > N R_k} sigma_i(T_(k))^2} for every k: the
 * bound is the largest of these tails. Where it is already above what another form reaches at the
 * same size, no ALS fit of this one can do better, and none is run (DESIGN.md section 9).
 * Cost: one Gram matrix {@code S_k x S_k} ({@code 2 S_k |T|} flops) and its eigenvalues per mode.
 */
public final class UnfoldingBound {

    private final double[][] tails; // tails[k][r] = sum_{i >= r} lambda_i(T_(k) T_(k)^T)

    public UnfoldingBound(Tensor t) {
        tails = new double[t.order()][];
        for (int k = 0; k < t.order(); k++) {
            double[] values = Subspace.symmetricEigen(t.unfoldingGram(k)).values();
            double[] tail = new double[values.length + 1];
            for (int i = values.length - 1; i >= 0; i--) {
                tail[i] = tail[i + 1] + Math.max(values[i], 0);
            }
            tails[k] = tail;
        }
    }

    /** The least squared error any {@code blocks} terms of core ranks {@code ranks} can reach. */
    public double squaredError(int blocks, int[] ranks) {
        if (ranks.length != tails.length) {
            throw new IllegalArgumentException("ranks: expected " + tails.length + ", found " + ranks.length);
        }
        double bound = 0;
        for (int k = 0; k < tails.length; k++) {
            int rank = (int) Math.min((long) blocks * ranks[k], tails[k].length - 1);
            bound = Math.max(bound, tails[k][rank]);
        }
        return bound;
    }
}
