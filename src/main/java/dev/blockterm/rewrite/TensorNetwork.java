package dev.blockterm.rewrite;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A tensor network: named tensors with labelled indices, the labels of the result, and the size
 * of every label. The batch label's size is the expected batch (used for costs only; the emitted
 * graph leaves it dynamic). A label may appear in more than two tensors (the block index
 * {@code n}); it is then a batch dimension of the contractions until its last use.
 */
public record TensorNetwork(List<Operand> operands, List<String> output, Map<String, Long> sizes, String batchLabel) {

    /** One tensor of the network: a value of the graph and its index labels, in storage order. */
    public record Operand(String value, List<String> labels) {
        public Operand {
            labels = List.copyOf(labels);
        }
    }

    public TensorNetwork {
        operands = List.copyOf(operands);
        output = List.copyOf(output);
        sizes = Map.copyOf(sizes);
        Set<String> seen = new HashSet<>();
        for (Operand o : operands) {
            for (String l : o.labels()) {
                if (!sizes.containsKey(l)) {
                    throw new IllegalArgumentException("tensor network: label '" + l + "' of " + o.value() + " has no size");
                }
                seen.add(l);
            }
        }
        for (String l : output) {
            if (!seen.contains(l)) {
                throw new IllegalArgumentException("tensor network: output label '" + l + "' is in no operand");
            }
        }
    }

    public long size(String label) {
        return sizes.get(label);
    }
}
