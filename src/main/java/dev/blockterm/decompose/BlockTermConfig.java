package dev.blockterm.decompose;

import java.util.Arrays;

/**
 * What to fit: {@code blocks} terms of multilinear ranks {@code ranks} (one per mode, shared by all
 * blocks), with the ALS stopping rule and the seed of every random choice.
 *
 * @param blocks     N, the number of block terms (1 = Tucker)
 * @param ranks      R_k per mode (all 1 = CP of rank N)
 * @param maxSweeps  ALS sweep limit (0 = the initialization only)
 * @param tolerance  stop when the relative change of the error falls below this
 * @param seed       seed for every random choice
 * @param init       how to start
 * @param starts     independent starts (seeds {@code seed, seed+1, ...}); the best fit is kept
 */
public record BlockTermConfig(int blocks, int[] ranks, int maxSweeps, double tolerance, long seed,
                              Initialization init, int starts) {

    public static final int DEFAULT_MAX_SWEEPS = 100;
    public static final double DEFAULT_TOLERANCE = 1e-5;

    public BlockTermConfig {
        if (blocks < 1) {
            throw new IllegalArgumentException("blocks: expected >= 1, found " + blocks);
        }
        if (ranks == null || ranks.length < 2) {
            throw new IllegalArgumentException("ranks: expected one rank per mode for order >= 2, found "
                    + Arrays.toString(ranks));
        }
        for (int r : ranks) {
            if (r < 1) {
                throw new IllegalArgumentException("ranks: expected all >= 1, found " + Arrays.toString(ranks));
            }
        }
        if (maxSweeps < 0) {
            throw new IllegalArgumentException("maxSweeps: expected >= 0, found " + maxSweeps);
        }
        if (!(tolerance >= 0)) {
            throw new IllegalArgumentException("tolerance: expected >= 0, found " + tolerance);
        }
        if (starts < 1) {
            throw new IllegalArgumentException("starts: expected >= 1, found " + starts);
        }
        if (init == null) {
            throw new IllegalArgumentException("init: expected one of " + Arrays.toString(Initialization.values()));
        }
        ranks = ranks.clone();
    }

    public static BlockTermConfig of(int blocks, int... ranks) {
        return new BlockTermConfig(blocks, ranks, DEFAULT_MAX_SWEEPS, DEFAULT_TOLERANCE, 0L, Initialization.AUTO, 1);
    }

    public BlockTermConfig withSweeps(int maxSweeps, double tolerance) {
        return new BlockTermConfig(blocks, ranks, maxSweeps, tolerance, seed, init, starts);
    }

    public BlockTermConfig withSeed(long newSeed) {
        return new BlockTermConfig(blocks, ranks, maxSweeps, tolerance, newSeed, init, starts);
    }

    public BlockTermConfig withInit(Initialization newInit) {
        return new BlockTermConfig(blocks, ranks, maxSweeps, tolerance, seed, newInit, starts);
    }

    public BlockTermConfig withStarts(int newStarts) {
        return new BlockTermConfig(blocks, ranks, maxSweeps, tolerance, seed, init, newStarts);
    }

    @Override
    public int[] ranks() {
        return ranks.clone();
    }

    /** Refuses ranks that do not fit a tensor of this shape. */
    public void validateFor(int[] shape) {
        if (ranks.length != shape.length) {
            throw new IllegalArgumentException("ranks: expected " + shape.length + " (one per mode of a tensor of shape "
                    + Arrays.toString(shape) + "), found " + ranks.length + " " + Arrays.toString(ranks));
        }
        long all = 1;
        for (int r : ranks) {
            all *= r;
        }
        for (int k = 0; k < shape.length; k++) {
            if (ranks[k] > shape[k]) {
                throw new IllegalArgumentException("rank " + ranks[k] + " of mode " + k + " exceeds its size " + shape[k]
                        + " (shape " + Arrays.toString(shape) + ")");
            }
            // a mode-k unfolding of the core has rank <= the product of the other ranks
            if (ranks[k] > all / ranks[k]) {
                throw new IllegalArgumentException("rank " + ranks[k] + " of mode " + k
                        + " exceeds the product of the other ranks " + (all / ranks[k]) + " " + Arrays.toString(ranks));
            }
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BlockTermConfig c && blocks == c.blocks && Arrays.equals(ranks, c.ranks)
                && maxSweeps == c.maxSweeps && tolerance == c.tolerance && seed == c.seed && init == c.init
                && starts == c.starts;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(ranks) * 31 + blocks;
    }

    @Override
    public String toString() {
        return "BlockTermConfig[blocks=" + blocks + ", ranks=" + Arrays.toString(ranks) + ", maxSweeps=" + maxSweeps
                + ", tolerance=" + tolerance + ", seed=" + seed + ", init=" + init + ", starts=" + starts + "]";
    }
}
