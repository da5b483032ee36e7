package dev.blockterm.tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * How a weight {@code W (I x J)} (MatMul convention {@code y = x W}) is read as a tensor: the input
 * size factored as {@code I' = I_1 ... I_p}, the output as {@code J' = J_1 ... J_q} (row-major
 * multi-indices; {@code I' >= I}, {@code J' >= J} when padded with zero rows or columns), and the
 * legs {@code i_1..i_p, j_1..j_q} grouped into modes. Legs are numbered {@code 0..p-1} for the
 * input, {@code p..p+q-1} for the output; mode k's index is row-major over its legs.
 */
public record Tensorization(Layout layout, int inputSize, int outputSize, int[] inputFactors, int[] outputFactors,
                            List<int[]> modes) {

    public Tensorization {
        inputFactors = inputFactors.clone();
        outputFactors = outputFactors.clone();
        modes = List.copyOf(modes);
        for (int f : inputFactors) {
            requirePositive(f, inputFactors);
        }
        for (int f : outputFactors) {
            requirePositive(f, outputFactors);
        }
        if (Tensor.product(inputFactors) < inputSize || Tensor.product(outputFactors) < outputSize) {
            throw new IllegalArgumentException("tensorization: factors " + Arrays.toString(inputFactors) + " x "
                    + Arrays.toString(outputFactors) + " do not cover " + inputSize + " x " + outputSize);
        }
    }

    /** The BT-layer paper's layout: mode k = (i_k, j_k), factors chosen (balanced, padded if needed). */
    public static Tensorization merged(int inputSize, int outputSize, int order) {
        return merged(inputSize, outputSize, Factorization.choose(inputSize, order).factors(),
                Factorization.choose(outputSize, order).factors());
    }

    /** The merged layout with given factors (as many input as output factors). */
    public static Tensorization merged(int inputSize, int outputSize, int[] inputFactors, int[] outputFactors) {
        if (inputFactors.length != outputFactors.length) {
            throw new IllegalArgumentException("merged layout: expected as many input as output factors, found "
                    + Arrays.toString(inputFactors) + " and " + Arrays.toString(outputFactors));
        }
        int order = inputFactors.length;
        List<int[]> modes = new ArrayList<>();
        for (int k = 0; k < order; k++) {
            modes.add(new int[] {k, order + k});
        }
        return new Tensorization(Layout.MERGED, inputSize, outputSize, inputFactors, outputFactors, modes);
    }

    /** Input legs then output legs, each its own mode. */
    public static Tensorization split(int inputSize, int outputSize, int p, int q) {
        return split(inputSize, outputSize, Factorization.choose(inputSize, p).factors(),
                Factorization.choose(outputSize, q).factors());
    }

    /** The split layout with given factors. */
    public static Tensorization split(int inputSize, int outputSize, int[] inputFactors, int[] outputFactors) {
        List<int[]> modes = new ArrayList<>();
        for (int k = 0; k < inputFactors.length + outputFactors.length; k++) {
            modes.add(new int[] {k});
        }
        return new Tensorization(Layout.SPLIT, inputSize, outputSize, inputFactors, outputFactors, modes);
    }

    /** The input as one mode, the output split in q modes (q = 1: the plain matrix). */
    public static Tensorization inputWhole(int inputSize, int outputSize, int q) {
        return inputWhole(inputSize, outputSize, Factorization.choose(outputSize, q).factors());
    }

    /** The input-whole layout with given output factors. */
    public static Tensorization inputWhole(int inputSize, int outputSize, int[] outputFactors) {
        List<int[]> modes = new ArrayList<>();
        for (int k = 0; k < 1 + outputFactors.length; k++) {
            modes.add(new int[] {k});
        }
        return new Tensorization(Layout.INPUT_WHOLE, inputSize, outputSize, new int[] {inputSize}, outputFactors, modes);
    }

    private static void requirePositive(int f, int[] factors) {
        if (f < 1) {
            throw new IllegalArgumentException("tensorization: factors must be >= 1, found " + Arrays.toString(factors));
        }
    }

    public int inputLegs() {
        return inputFactors.length;
    }

    public int outputLegs() {
        return outputFactors.length;
    }

    public int paddedInput() {
        return (int) Tensor.product(inputFactors);
    }

    public int paddedOutput() {
        return (int) Tensor.product(outputFactors);
    }

    public boolean padded() {
        return paddedInput() != inputSize || paddedOutput() != outputSize;
    }

    /** Size of leg l (input legs first). */
    public int legSize(int leg) {
        return leg < inputFactors.length ? inputFactors[leg] : outputFactors[leg - inputFactors.length];
    }

    public int order() {
        return modes.size();
    }

    public int[] modeSizes() {
        int[] s = new int[modes.size()];
        for (int k = 0; k < s.length; k++) {
            s[k] = 1;
            for (int leg : modes.get(k)) {
                s[k] *= legSize(leg);
            }
        }
        return s;
    }

    /** {@code W} (row-major {@code I x J}) as the tensor of this layout, zero-padded. */
    public Tensor tensorize(double[] w) {
        if (w.length != (long) inputSize * outputSize) {
            throw new IllegalArgumentException("weight: expected " + inputSize + "x" + outputSize + " values, found " + w.length);
        }
        int ip = paddedInput();
        int jp = paddedOutput();
        double[] padded = w;
        if (padded()) {
            padded = new double[ip * jp];
            for (int i = 0; i < inputSize; i++) {
                System.arraycopy(w, i * outputSize, padded, i * jp, outputSize);
            }
        }
        double[] permuted = Permutation.permute(padded, legSizes(), legOrder());
        return new Tensor(modeSizes(), permuted);
    }

    /** The inverse of {@link #tensorize}: the {@code I x J} matrix, padding dropped. */
    public double[] matricize(Tensor t) {
        int[] order = legOrder();
        int[] inverse = new int[order.length];
        for (int i = 0; i < order.length; i++) {
            inverse[order[i]] = i;
        }
        int[] groupedSizes = Permutation.permutedShape(legSizes(), order);
        double[] padded = Permutation.permute(t.data(), groupedSizes, inverse);
        int jp = paddedOutput();
        double[] w = new double[inputSize * outputSize];
        for (int i = 0; i < inputSize; i++) {
            System.arraycopy(padded, i * jp, w, i * outputSize, outputSize);
        }
        return w;
    }

    private int[] legSizes() {
        int[] s = new int[inputFactors.length + outputFactors.length];
        for (int l = 0; l < s.length; l++) {
            s[l] = legSize(l);
        }
        return s;
    }

    /** Legs in mode order: the permutation from (i..., j...) to the grouped order. */
    private int[] legOrder() {
        int[] order = new int[inputFactors.length + outputFactors.length];
        int at = 0;
        for (int[] mode : modes) {
            for (int leg : mode) {
                order[at++] = leg;
            }
        }
        return order;
    }

    /** E.g. {@code 8*8 x 8*8 x 8*8} for merged: modes joined by x, legs of a mode by *. */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        for (int k = 0; k < modes.size(); k++) {
            if (k > 0) {
                sb.append(" x ");
            }
            int[] mode = modes.get(k);
            for (int i = 0; i < mode.length; i++) {
                if (i > 0) {
                    sb.append('*');
                }
                sb.append(legSize(mode[i]));
            }
        }
        return sb.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Tensorization t && layout == t.layout && inputSize == t.inputSize
                && outputSize == t.outputSize && Arrays.equals(inputFactors, t.inputFactors)
                && Arrays.equals(outputFactors, t.outputFactors) && describe().equals(t.describe());
    }

    @Override
    public int hashCode() {
        return describe().hashCode() * 31 + layout.hashCode();
    }
}
