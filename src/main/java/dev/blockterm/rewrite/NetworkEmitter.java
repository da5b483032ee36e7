package dev.blockterm.rewrite;

import java.util.ArrayList;
import java.util.List;

/**
 * Emits a {@link ContractionPlan} as standard ONNX ops. Each pairwise contraction of A and B,
 * with K the labels still needed afterwards:
 * <pre>
 *   batch      = labels in A and B and in K     (e.g. the block index n)
 *   contracted = labels in A and B, not in K
 *   A -> Transpose -> Reshape [batch, free_A, contracted]
 *   B -> Transpose -> Reshape [batch, contracted, free_B]
 *   MatMul -> [batch, free_A, free_B]
 * </pre>
 * The batch label keeps size -1 in every Reshape, so the graph takes any batch. The result is
 * transposed to the network's output order.
 */
public final class NetworkEmitter {

    /** A value of the graph and the labels of its dimensions, in order. */
    public record Labelled(String value, List<String> labels) {
    }

    private final GraphBuilder graph;
    private final TensorNetwork network;

    private NetworkEmitter(GraphBuilder graph, TensorNetwork network) {
        this.graph = graph;
        this.network = network;
    }

    /** Emits the plan; returns the value holding the result, its dimensions in the output's order. */
    public static String emit(GraphBuilder graph, ContractionPlan plan) {
        NetworkEmitter e = new NetworkEmitter(graph, plan.network());
        Labelled result = e.emit(plan.root());
        List<String> out = plan.network().output();
        return e.permute(result, out).value();
    }

    private Labelled emit(ContractionPlan.Step step) {
        if (step.leaf()) {
            TensorNetwork.Operand o = network.operands().get(Integer.numberOfTrailingZeros(step.mask()));
            return new Labelled(o.value(), o.labels());
        }
        Labelled a = emit(step.left());
        Labelled b = emit(step.right());
        List<String> keep = step.labels();
        List<String> batch = new ArrayList<>();
        List<String> contracted = new ArrayList<>();
        List<String> freeA = new ArrayList<>();
        List<String> freeB = new ArrayList<>();
        for (String l : a.labels()) {
            if (b.labels().contains(l)) {
                (keep.contains(l) ? batch : contracted).add(l);
            } else {
                freeA.add(requireKept(l, keep));
            }
        }
        for (String l : b.labels()) {
            if (!a.labels().contains(l)) {
                freeB.add(requireKept(l, keep));
            }
        }
        String left = grouped(a, batch, freeA, contracted);
        String right = grouped(b, batch, contracted, freeB);
        String product = graph.matmul(left, right);
        List<String> labels = new ArrayList<>(batch);
        labels.addAll(freeA);
        labels.addAll(freeB);
        return new Labelled(graph.reshape(product, dims(labels)), labels);
    }

    private static String requireKept(String label, List<String> keep) {
        if (!keep.contains(label)) {
            throw new IllegalStateException("label '" + label + "' is in one operand only and not in the output");
        }
        return label;
    }

    /** Transposes to the three groups' order and reshapes to one dimension per non-empty group. */
    private String grouped(Labelled x, List<String> g1, List<String> g2, List<String> g3) {
        List<String> order = new ArrayList<>(g1);
        order.addAll(g2);
        order.addAll(g3);
        Labelled t = permute(x, order);
        List<Long> shape = new ArrayList<>();
        if (!g1.isEmpty()) {
            shape.add(groupSize(g1));
        }
        shape.add(groupSize(g2));
        shape.add(groupSize(g3));
        long[] s = shape.stream().mapToLong(Long::longValue).toArray();
        return graph.reshape(t.value(), s);
    }

    private Labelled permute(Labelled x, List<String> order) {
        if (x.labels().equals(order)) {
            return x;
        }
        int[] perm = new int[order.size()];
        for (int i = 0; i < perm.length; i++) {
            perm[i] = x.labels().indexOf(order.get(i));
            if (perm[i] < 0) {
                throw new IllegalStateException("label '" + order.get(i) + "' missing from " + x.labels());
            }
        }
        return new Labelled(graph.transpose(x.value(), perm), order);
    }

    private long groupSize(List<String> group) {
        long s = 1;
        for (String l : group) {
            if (l.equals(network.batchLabel())) {
                return -1;
            }
            s *= network.size(l);
        }
        return s;
    }

    private long[] dims(List<String> labels) {
        long[] d = new long[labels.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = labels.get(i).equals(network.batchLabel()) ? -1 : network.size(labels.get(i));
        }
        return d;
    }
}
