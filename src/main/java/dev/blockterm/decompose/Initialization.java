package dev.blockterm.decompose;

/** How the factors of a block-term fit are started. */
public enum Initialization {
    /** Both {@link #ALGEBRAIC} (where it applies) and {@link #GREEDY}, keeping the better fit. */
    AUTO,
    /**
     * Generalized eigenvalue decomposition of two mixtures of slices (Tensorlab's GEVD start for
     * block terms): exact for a noise-free block-term tensor. Needs order >= 3, N >= 2, and two
     * modes with equal ranks {@code R} and sizes {@code >= N R}, the other modes' ranks multiplying to >= 3
     * (or R = 1).
     */
    ALGEBRAIC,
    /** Greedy deflation: block after block, the truncated HOSVD of the residual. */
    GREEDY,
    /** Gaussian factors from the seed. */
    RANDOM
}
