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
}
