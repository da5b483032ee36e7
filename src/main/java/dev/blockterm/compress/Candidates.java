package dev.blockterm.compress;

import dev.blockterm.decompose.BlockTerm;
import dev.blockterm.decompose.Format;
import dev.blockterm.tensor.Factorization;
import dev.blockterm.tensor.Layout;
import dev.blockterm.tensor.Tensorization;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The factored forms tried for a layer: a format, a tensorization, a block count and ranks.
 *
 * <p>With explicit ranks, the user's blocks and ranks apply to the primary tensorization (the merged
 * layout, or the one named by {@code --layout}); under {@code --layout auto} every other
 * tensorization gets the block count (the user's N or 1) and largest uniform rank that use the most
 * of the primary's parameter count without exceeding it, so all are compared at the same budget.
 * With a parameter budget ({@code --ratio}, {@code --max-error}), every tensorization is sized to
 * that budget the same way.
 */
final class Candidates {

    /** A factored form to fit. For CP the ranks are all 1 and {@code blocks} is the CP rank; for TT the ranks are the d-1 bond ranks. */
    record Candidate(Format format, Tensorization tensorization, int blocks, int[] ranks) {
        long parameters() {
            return parameters(format, tensorization.modeSizes(), blocks, ranks);
        }

        static long parameters(Format format, int[] sizes, int blocks, int[] ranks) {
            if (format == Format.TT) {
                long p = 0;
                for (int k = 0; k < sizes.length; k++) {
                    long left = k == 0 ? 1 : ranks[k - 1];
                    long right = k == sizes.length - 1 ? 1 : ranks[k];
                    p += left * sizes[k] * right;
                }
                return p;
            }
            return BlockTerm.parameters(sizes, blocks, ranks);
        }

        String ranksText() {
            return Compressor.ranksText(ranks);
        }
    }

    private Candidates() {
    }

    /** The candidates for the user's explicit blocks and ranks. */
    static List<Candidate> of(String layer, int inputSize, int outputSize, CompressionOptions options) {
        List<Tensorization> all = tensorizations(layer, inputSize, outputSize, options);
        Tensorization primary = all.get(0);
        Candidate first = explicit(options.format(), primary, options);
        if (options.layout() != null) {
            return List.of(first);
        }
        List<Candidate> out = new ArrayList<>(List.of(first));
        out.addAll(atBudget(all.subList(1, all.size()), options, first.parameters()));
        return out;
    }

    /** Every tensorization sized to a parameter budget (those that cannot fit it are left out). */
    static List<Candidate> forBudget(String layer, int inputSize, int outputSize, CompressionOptions options, long budget) {
        List<Tensorization> all = tensorizations(layer, inputSize, outputSize, options);
        return atBudget(options.layout() != null ? all.subList(0, 1) : all, options, budget);
    }

    /**
     * The tensorizations of a layer, the primary first: the layout named by {@code --layout} (else
     * merged), then the others; from {@code --shape} factors where given for the layer.
     */
    static List<Tensorization> tensorizations(String layer, int inputSize, int outputSize, CompressionOptions options) {
        List<Tensorization> all = new ArrayList<>();
        LayerShape given = options.shapeFor(layer);
        if (given != null) {
            int[] in = given.inputFactors();
            int[] out = given.outputFactors();
            if (in.length == out.length) {
                all.add(Tensorization.merged(inputSize, outputSize, in, out));
            }
            all.add(Tensorization.split(inputSize, outputSize, in, out));
            all.add(Tensorization.inputWhole(inputSize, outputSize, out));
            all.add(Tensorization.inputWhole(inputSize, outputSize, new int[] {outputSize}));
        } else {
            int d = options.order() != 0 ? options.order() : Factorization.defaultOrder(inputSize, outputSize);
            all.add(Tensorization.merged(inputSize, outputSize, d));
            all.add(Tensorization.split(inputSize, outputSize, d, d));
            all.add(Tensorization.inputWhole(inputSize, outputSize, 1));
            all.add(Tensorization.inputWhole(inputSize, outputSize, d));
        }
        List<Tensorization> distinct = new ArrayList<>();
        for (Tensorization t : all) {
            if (!distinct.contains(t)) {
                distinct.add(t);
            }
        }
        Layout wanted = options.layout() == null ? Layout.MERGED : options.layout();
        Tensorization primary = distinct.stream().filter(t -> t.layout() == wanted).findFirst().orElseThrow(
                () -> new IllegalArgumentException("--layout " + wanted.label() + ": not possible with --shape "
                        + given.describe() + " (the merged layout needs as many input as output factors)"));
        distinct.remove(primary);
        distinct.add(0, primary);
        return distinct;
    }

    /** The user's blocks and ranks in this format on this tensorization. */
    static Candidate explicit(Format format, Tensorization t, CompressionOptions options) {
        int[] sizes = t.modeSizes();
        int[] ranks = options.ranks();
        return switch (format) {
            case BT -> new Candidate(format, t, options.blocks(), userRanks(t, ranks));
            case TUCKER -> new Candidate(format, t, 1, userRanks(t, ranks));
            case CP -> {
                if (ranks.length != 1) {
                    throw new IllegalArgumentException("--rank: the CP rank is one number, found " + Arrays.toString(ranks));
                }
                int[] ones = new int[sizes.length];
                Arrays.fill(ones, 1);
                yield new Candidate(format, t, ranks[0], ones);
            }
            case TT -> {
                int[] tt;
                if (ranks.length == 1) {
                    tt = ttRanks(sizes, ranks[0]);
                } else if (ranks.length == sizes.length - 1) {
                    tt = ranks.clone();
                } else {
                    throw new IllegalArgumentException("--rank: expected 1 or " + (sizes.length - 1)
                            + " TT ranks for " + t.describe() + ", found " + ranks.length);
                }
                yield new Candidate(format, t, 1, tt);
            }
        };
    }

    private static List<Candidate> atBudget(List<Tensorization> tensorizations, CompressionOptions options, long budget) {
        List<Candidate> out = new ArrayList<>();
        for (Tensorization t : tensorizations) {
            Candidate c = largestUnder(options.format(), t, options.blocks(), budget);
            if (c != null) {
                out.add(c);
            }
        }
        return out;
    }

    /** The candidate of this format and tensorization with the most parameters within the budget, or null. */
    static Candidate largestUnder(Format format, Tensorization t, int userBlocks, long budget) {
        int[] sizes = t.modeSizes();
        Candidate best = null;
        int max = Arrays.stream(sizes).max().orElse(1);
        switch (format) {
            case CP -> {
                long perRank = 1;
                for (int s : sizes) {
                    perRank += s;
                }
                int rank = (int) Math.min(Integer.MAX_VALUE, budget / perRank);
                if (rank >= 1) {
                    int[] ones = new int[sizes.length];
                    Arrays.fill(ones, 1);
                    best = new Candidate(format, t, rank, ones);
                }
            }
            case TT -> {
                for (int r = 1; r <= max; r++) {
                    Candidate c = new Candidate(format, t, 1, ttRanks(sizes, r));
                    if (c.parameters() > budget) {
                        break;
                    }
                    best = c;
                }
            }
            default -> {
                // N blocks of small ranks, or one block of larger ranks: whichever uses more of the budget
                // (in the plain-matrix layout N blocks of rank r are one block of rank N r, so N = 1 loses nothing)
                int[] blockCounts = format == Format.TUCKER ? new int[] {1} : new int[] {userBlocks, 1};
                for (int blocks : blockCounts) {
                    for (int r = 1; r <= max; r++) {
                        Candidate c = new Candidate(format, t, blocks, feasible(sizes, r));
                        if (c.parameters() > budget) {
                            break;
                        }
                        if (best == null || c.parameters() > best.parameters()) {
                            best = c;
                        }
                    }
                }
            }
        }
        return best;
    }

    /** TT rank r on every bond, capped at what each bond can carry. */
    static int[] ttRanks(int[] sizes, int r) {
        int[] ranks = new int[sizes.length - 1];
        for (int k = 0; k < ranks.length; k++) {
            long left = 1;
            for (int j = 0; j <= k; j++) {
                left *= sizes[j];
            }
            long right = 1;
            for (int j = k + 1; j < sizes.length; j++) {
                right *= sizes[j];
            }
            ranks[k] = (int) Math.min(r, Math.min(left, right));
        }
        return ranks;
    }

    /** The user's ranks: one for all modes (capped to each mode), or one per mode (refused when impossible). */
    static int[] userRanks(Tensorization t, int[] ranks) {
        int[] sizes = t.modeSizes();
        int[] r;
        if (ranks.length == 1) {
            return feasible(sizes, ranks[0]); // one rank for every layer: capped where a mode is smaller
        } else if (ranks.length == sizes.length) {
            r = ranks.clone();
        } else {
            throw new IllegalArgumentException("--rank: expected 1 or " + sizes.length + " ranks for the "
                    + t.layout().label() + " tensorization " + t.describe() + ", found " + ranks.length);
        }
        for (int k = 0; k < r.length; k++) {
            if (r[k] > sizes[k]) {
                throw new IllegalArgumentException("--rank: rank " + r[k] + " exceeds mode " + k + " of size " + sizes[k]
                        + " in the " + t.layout().label() + " tensorization " + t.describe() + " of a "
                        + t.inputSize() + "x" + t.outputSize() + " weight");
            }
        }
        return r;
    }

    /** Rank r in every mode, capped at the mode size and at the product of the other ranks. */
    static int[] feasible(int[] sizes, int r) {
        int[] ranks = new int[sizes.length];
        Arrays.fill(ranks, r);
        return capped(sizes, ranks);
    }

    /** The ranks capped at the mode sizes and at the product of the other ranks. */
    static int[] capped(int[] sizes, int[] wanted) {
        int[] ranks = new int[sizes.length];
        for (int k = 0; k < sizes.length; k++) {
            ranks[k] = Math.min(wanted[k], sizes[k]);
        }
        boolean changed = true;
        while (changed) {
            changed = false;
            for (int k = 0; k < ranks.length; k++) {
                long others = 1;
                for (int j = 0; j < ranks.length; j++) {
                    others *= j == k ? 1 : ranks[j];
                }
                if (ranks[k] > others) {
                    ranks[k] = (int) others;
                    changed = true;
                }
            }
        }
        return ranks;
    }
}
