package dev.blockterm.decompose;

import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Subspace;
import dev.blockterm.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Random start: orthonormalized Gaussian factors, Gaussian cores scaled to the tensor's norm. */
final class RandomStart {

    private RandomStart() {
    }

    static BlockTerm start(Tensor t, int blocks, int[] ranks, Random random) {
        List<Term> terms = new ArrayList<>();
        long coreSize = 1;
        for (int r : ranks) {
            coreSize *= r;
        }
        double scale = t.norm() / Math.sqrt(blocks * (double) coreSize);
        for (int n = 0; n < blocks; n++) {
            List<Matrix> factors = new ArrayList<>();
            for (int k = 0; k < t.order(); k++) {
                factors.add(Subspace.orthonormalize(Matrix.gaussian(t.size(k), ranks[k], random), random));
            }
            terms.add(new Term(Tensor.gaussian(random, ranks).scale(scale), factors));
        }
        return new BlockTerm(terms);
    }
}
