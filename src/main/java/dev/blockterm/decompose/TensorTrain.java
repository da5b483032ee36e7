package dev.blockterm.decompose;

import dev.blockterm.tensor.Tensor;
import java.util.List;

/**
 * A tensor train {@code T[s_1, ..., s_d] = G_1[s_1] G_2[s_2] ... G_d[s_d]} (Oseledets 2011): cores
 * {@code G_k} of shape {@code r_{k-1} x S_k x r_k} with {@code r_0 = r_d = 1}. Parameters:
 * {@code sum_k r_{k-1} S_k r_k}. Read over a tensorized weight it is the TT-matrix format of
 * Novikov et al. (2015).
 */
public record TensorTrain(List<Tensor> cores) implements Decomposition {

    public TensorTrain {
        cores = List.copyOf(cores);
        if (cores.isEmpty()) {
            throw new IllegalArgumentException("tensor train: expected at least one core");
        }
        int previous = 1;
        for (int k = 0; k < cores.size(); k++) {
            Tensor c = cores.get(k);
            if (c.order() != 3 || c.size(0) != previous) {
                throw new IllegalArgumentException("tensor train: core " + k + " has shape "
                        + java.util.Arrays.toString(c.shape()) + ", expected [" + previous + ", S, r]");
            }
            previous = c.size(2);
        }
        if (previous != 1) {
            throw new IllegalArgumentException("tensor train: the last rank must be 1, found " + previous);
        }
    }

    public int order() {
        return cores.size();
    }

    /** The internal ranks {@code r_1 .. r_{d-1}}. */
    public int[] ranks() {
        int[] r = new int[cores.size() - 1];
        for (int k = 0; k < r.length; k++) {
            r[k] = cores.get(k).size(2);
        }
        return r;
    }

    @Override
    public long parameters() {
        long p = 0;
        for (Tensor c : cores) {
            p += c.length();
        }
        return p;
    }

    /** Contracts the cores left to right. */
    @Override
    public Tensor reconstruct() {
        // running product as a matrix (S_1 ... S_k) x r_k
        Tensor first = cores.get(0);
        double[] left = first.data().clone();
        int rows = first.size(1);
        for (int k = 1; k < cores.size(); k++) {
            Tensor c = cores.get(k);
            int r = c.size(0);
            int cols = c.size(1) * c.size(2);
            double[] next = new double[rows * cols];
            dev.blockterm.tensor.Gemm.multiply(false, false, rows, cols, r, left, 0, c.data(), 0, next, 0);
            left = next;
            rows *= c.size(1);
        }
        int[] shape = new int[cores.size()];
        for (int k = 0; k < shape.length; k++) {
            shape[k] = cores.get(k).size(1);
        }
        return new Tensor(shape, left);
    }

    @Override
    public String ranksText() {
        return Decomposition.text(ranks());
    }
}
