package dev.blockterm.decompose;

import dev.blockterm.tensor.Tensor;
import java.util.List;

/**
 * A block-term decomposition {@code T ~= sum_{n=1..N} G_n x_1 A_n^(1) ... x_d A_n^(d)}
 * (De Lathauwer 2008, "Decompositions of a higher-order tensor in block terms").
 * Parameters: {@code N (sum_k S_k R_k + prod_k R_k)}.
 */
public record BlockTerm(List<Term> terms) implements Decomposition {

    public BlockTerm {
        terms = List.copyOf(terms);
        if (terms.isEmpty()) {
            throw new IllegalArgumentException("block term: expected at least one term");
        }
    }

    public int blocks() {
        return terms.size();
    }

    public int order() {
        return terms.get(0).core().order();
    }

    /** Mode sizes S_k. */
    public int[] shape() {
        int[] s = new int[order()];
        for (int k = 0; k < s.length; k++) {
            s[k] = terms.get(0).factors().get(k).rows();
        }
        return s;
    }

    /** Ranks R_k of the first block (all blocks share them). */
    public int[] ranks() {
        return terms.get(0).core().shape();
    }

    @Override
    public long parameters() {
        long p = 0;
        for (Term t : terms) {
            p += t.parameters();
        }
        return p;
    }

    /** Parameters of a block-term format without fitting it. */
    public static long parameters(int[] shape, int blocks, int[] ranks) {
        long perBlock = 1;
        for (int r : ranks) {
            perBlock *= r;
        }
        for (int k = 0; k < shape.length; k++) {
            perBlock += (long) shape[k] * ranks[k];
        }
        return blocks * perBlock;
    }

    @Override
    public String ranksText() {
        return Decomposition.text(ranks());
    }

    @Override
    public Tensor reconstruct() {
        Tensor sum = terms.get(0).reconstruct();
        for (int n = 1; n < terms.size(); n++) {
            sum = sum.plus(terms.get(n).reconstruct());
        }
        return sum;
    }
}
