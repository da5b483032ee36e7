package dev.blockterm.rewrite;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The pairwise contraction order of least FLOPs, found exactly by dynamic programming over subsets
 * of operands (opt_einsum's "optimal" strategy; fine up to a dozen operands). The cost of
 * contracting two intermediate results is {@code 2 * prod(sizes of all their open labels)}; a
 * label is open in a subset when the output or an operand outside the subset still needs it.
 * Costs are counted at the network's expected batch, so work on constants alone is shared by the
 * batch.
 */
public final class ContractionPlan {

    /** A node of the contraction tree: a leaf (an operand) or a pair of subtrees. */
    public record Step(int mask, Step left, Step right, List<String> labels) {
        public boolean leaf() {
            return left == null;
        }
    }

    private final TensorNetwork network;
    private final Step root;
    private final double flops;

    private ContractionPlan(TensorNetwork network, Step root, double flops) {
        this.network = network;
        this.root = root;
        this.flops = flops;
    }

    public TensorNetwork network() {
        return network;
    }

    public Step root() {
        return root;
    }

    /** Total FLOPs of the contractions at the expected batch. */
    public double flops() {
        return flops;
    }

    /** FLOPs per sample: the total over the expected batch (the total, for a network without a batch). */
    public double flopsPerSample() {
        return network.batchLabel() == null ? flops : flops / network.size(network.batchLabel());
    }

    public static ContractionPlan optimal(TensorNetwork network) {
        int n = network.operands().size();
        if (n > 16) {
            throw new IllegalArgumentException("contraction search: " + n + " operands is too many for the exact search");
        }
        int full = (1 << n) - 1;
        List<List<String>> open = new ArrayList<>(full + 1);
        for (int mask = 0; mask <= full; mask++) {
            open.add(openLabels(network, mask));
        }
        double[] cost = new double[full + 1];
        int[] split = new int[full + 1];
        for (int mask = 1; mask <= full; mask++) {
            if (Integer.bitCount(mask) == 1) {
                continue;
            }
            cost[mask] = Double.MAX_VALUE;
            // each unordered split once: the submask holding the lowest operand of the mask
            int low = Integer.lowestOneBit(mask);
            for (int sub = (mask - 1) & mask; sub > 0; sub = (sub - 1) & mask) {
                if ((sub & low) == 0) {
                    continue;
                }
                int rest = mask ^ sub;
                double c = cost[sub] + cost[rest] + pairFlops(network, open.get(sub), open.get(rest));
                if (c < cost[mask]) {
                    cost[mask] = c;
                    split[mask] = sub;
                }
            }
        }
        return new ContractionPlan(network, tree(full, split, open), cost[full]);
    }

    private static Step tree(int mask, int[] split, List<List<String>> open) {
        if (Integer.bitCount(mask) == 1) {
            return new Step(mask, null, null, open.get(mask));
        }
        return new Step(mask, tree(split[mask], split, open), tree(mask ^ split[mask], split, open), open.get(mask));
    }

    static double pairFlops(TensorNetwork network, List<String> a, List<String> b) {
        Set<String> all = new LinkedHashSet<>(a);
        all.addAll(b);
        double f = 2;
        for (String l : all) {
            f *= network.size(l);
        }
        return f;
    }

    /** Labels of the subset's operands that the output or an operand outside the subset needs. */
    private static List<String> openLabels(TensorNetwork network, int mask) {
        Set<String> inside = new LinkedHashSet<>();
        Set<String> outside = new LinkedHashSet<>(network.output());
        for (int i = 0; i < network.operands().size(); i++) {
            if ((mask & (1 << i)) != 0) {
                inside.addAll(network.operands().get(i).labels());
            } else {
                outside.addAll(network.operands().get(i).labels());
            }
        }
        if (Integer.bitCount(mask) == 1) {
            return List.copyOf(inside); // a leaf keeps its storage order
        }
        List<String> open = new ArrayList<>();
        for (String l : inside) {
            if (outside.contains(l)) {
                open.add(l);
            }
        }
        return open;
    }
}
