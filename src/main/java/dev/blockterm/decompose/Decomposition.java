package dev.blockterm.decompose;

import dev.blockterm.tensor.Tensor;

/** A factored tensor: a block-term decomposition or a tensor train. */
public sealed interface Decomposition permits BlockTerm, TensorTrain {

    /** Stored parameters of the factors and cores. */
    long parameters();

    /** The dense tensor it represents. */
    Tensor reconstruct();

    /** Its ranks as the report prints them. */
    String ranksText();

    /** Ranks as the report prints them: {@code 8,8,8}. */
    static String text(int[] ranks) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < ranks.length; i++) {
            sb.append(i == 0 ? "" : ",").append(ranks[i]);
        }
        return sb.toString();
    }
}
