package dev.blockterm.decompose;

import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Subspace;
import dev.blockterm.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Greedy deflation start: block after block, the truncated HOSVD of the residual
 * ({@code A_n^(k)} = leading {@code R_k} left singular vectors of {@code (T - sum_{m<n} term_m)_(k)},
 * {@code G_n} = the residual projected on them). For order 2 this is the truncated SVD, for
 * {@code N = 1} the HOSVD (De Lathauwer, De Moor, Vandewalle 2000). Cheap and good on trained
 * weights; not enough for planted block terms of order >= 3 (DESIGN.md section 4).
 */
final class GreedyDeflation {

    private GreedyDeflation() {
    }

    static BlockTerm start(Tensor t, int blocks, int[] ranks, Random random) {
        List<Term> terms = new ArrayList<>();
        Tensor residual = t;
        for (int n = 0; n < blocks; n++) {
            Term term = hosvd(residual, ranks, random);
            terms.add(term);
            if (n + 1 < blocks) {
                residual = residual.minus(term.reconstruct());
            }
        }
        return new BlockTerm(terms);
    }

    /** Truncated HOSVD of {@code t} at multilinear ranks {@code ranks}. */
    static Term hosvd(Tensor t, int[] ranks, Random random) {
        List<Matrix> factors = new ArrayList<>();
        for (int k = 0; k < t.order(); k++) {
            factors.add(Subspace.leadingLeftOfUnfolding(t, k, ranks[k], random));
        }
        Tensor core = t;
        for (int k = 0; k < t.order(); k++) {
            core = core.project(k, factors.get(k));
        }
        return new Term(core, factors);
    }
}
