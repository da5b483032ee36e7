package dev.blockterm.compress;

import dev.blockterm.decompose.BlockTerm;
import dev.blockterm.tensor.Factorization;
import dev.blockterm.tensor.Layout;
import dev.blockterm.tensor.Tensorization;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The tensorizations tried for a layer, with their block counts and ranks. The user's blocks and
 * ranks apply to the primary tensorization (the merged layout, or the one named by
 * {@code --layout}); under {@code --layout auto} each other one gets the block count (the user's N
 * or 1) and largest uniform rank that use the most of the primary's parameter count without
 * exceeding it, so all candidates are compared at the same budget.
 */
final class Candidates {

    /** A tensorization to fit, with its ranks. */
    record Candidate(Tensorization tensorization, int blocks, int[] ranks) {
        long parameters() {
            return BlockTerm.parameters(tensorization.modeSizes(), blocks, ranks);
        }
    }

    private Candidates() {
    }

    static List<Candidate> of(String layer, int inputSize, int outputSize, CompressionOptions options) {
        LayerShape given = options.shapeFor(layer);
        if (given != null) {
            return given(given, inputSize, outputSize, options);
        }
        int d = options.order() != 0 ? options.order() : Factorization.defaultOrder(inputSize, outputSize);
        Layout primaryLayout = options.layout() == null ? Layout.MERGED : options.layout();
        Tensorization primary = tensorization(primaryLayout, inputSize, outputSize, d);
        int[] primaryRanks = userRanks(primary, options.ranks());
        if (options.layout() != null) {
            return List.of(new Candidate(primary, options.blocks(), primaryRanks));
        }
        return atBudget(primary, primaryRanks, List.of(
                Tensorization.split(inputSize, outputSize, d, d),
                Tensorization.inputWhole(inputSize, outputSize, 1),
                Tensorization.inputWhole(inputSize, outputSize, d)), options);
    }

    /** Candidates from factor sizes given for the layer ({@code --shape}). */
    private static List<Candidate> given(LayerShape s, int inputSize, int outputSize, CompressionOptions options) {
        int[] in = s.inputFactors();
        int[] out = s.outputFactors();
        List<Tensorization> all = new ArrayList<>();
        if (in.length == out.length) {
            all.add(Tensorization.merged(inputSize, outputSize, in, out));
        }
        all.add(Tensorization.split(inputSize, outputSize, in, out));
        all.add(Tensorization.inputWhole(inputSize, outputSize, out));
        all.add(Tensorization.inputWhole(inputSize, outputSize, new int[] {outputSize}));
        Layout wanted = options.layout() == null ? all.get(0).layout() : options.layout();
        Tensorization primary = all.stream().filter(t -> t.layout() == wanted).findFirst().orElseThrow(
                () -> new IllegalArgumentException("--shape " + s.describe() + ": the merged layout needs as many input "
                        + "as output factors"));
        int[] primaryRanks = userRanks(primary, options.ranks());
        if (options.layout() != null) {
            return List.of(new Candidate(primary, options.blocks(), primaryRanks));
        }
        all.remove(primary);
        return atBudget(primary, primaryRanks, all, options);
    }

    private static List<Candidate> atBudget(Tensorization primary, int[] primaryRanks, List<Tensorization> others,
                                            CompressionOptions options) {
        List<Candidate> out = new ArrayList<>();
        out.add(new Candidate(primary, options.blocks(), primaryRanks));
        long budget = BlockTerm.parameters(primary.modeSizes(), options.blocks(), primaryRanks);
        for (Tensorization t : others) {
            if (out.stream().anyMatch(c -> c.tensorization().equals(t))) {
                continue;
            }
            // N blocks of small ranks, or one block of larger ranks: whichever uses more of the budget
            // (in the plain-matrix layout N blocks of rank r are one block of rank N r, so N = 1 loses nothing)
            Candidate best = null;
            for (int blocks : new int[] {options.blocks(), 1}) {
                int[] ranks = ranksForBudget(t.modeSizes(), blocks, budget);
                Candidate c = ranks == null ? null : new Candidate(t, blocks, ranks);
                if (c != null && (best == null || c.parameters() > best.parameters())) {
                    best = c;
                }
            }
            if (best != null) {
                out.add(best);
            }
        }
        return out;
    }

    static Tensorization tensorization(Layout layout, int inputSize, int outputSize, int d) {
        return switch (layout) {
            case MERGED -> Tensorization.merged(inputSize, outputSize, d);
            case SPLIT -> Tensorization.split(inputSize, outputSize, d, d);
            case INPUT_WHOLE -> Tensorization.inputWhole(inputSize, outputSize, Math.max(1, d - 1));
        };
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

    /** The largest uniform rank (capped per mode to what the mode allows) within the budget, or null. */
    static int[] ranksForBudget(int[] sizes, int blocks, long budget) {
        int[] best = null;
        int max = Arrays.stream(sizes).max().orElse(1);
        for (int r = 1; r <= max; r++) {
            int[] ranks = feasible(sizes, r);
            if (BlockTerm.parameters(sizes, blocks, ranks) > budget) {
                break;
            }
            best = ranks;
        }
        return best;
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
