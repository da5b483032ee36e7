package dev.blockterm.tensor;

/** Mode permutations of row-major arrays by index arithmetic (ND4J's permute copies are slow). */
public final class Permutation {

    private Permutation() {
    }

    public static int[] permutedShape(int[] shape, int[] perm) {
        if (perm.length != shape.length) {
            throw new IllegalArgumentException("permutation of " + perm.length + " modes for a tensor of order " + shape.length);
        }
        int[] out = new int[perm.length];
        boolean[] seen = new boolean[perm.length];
        for (int k = 0; k < perm.length; k++) {
            if (perm[k] < 0 || perm[k] >= perm.length || seen[perm[k]]) {
                throw new IllegalArgumentException("not a permutation: " + java.util.Arrays.toString(perm));
            }
            seen[perm[k]] = true;
            out[k] = shape[perm[k]];
        }
        return out;
    }

    /** {@code out[i_perm[0], ..., i_perm[d-1]] = in[i_0, ..., i_{d-1}]} in row-major order. */
    public static double[] permute(double[] in, int[] shape, int[] perm) {
        int d = shape.length;
        int[] outShape = permutedShape(shape, perm);
        // stride in the input of each output mode
        long[] inStrides = new long[d];
        long s = 1;
        for (int k = d - 1; k >= 0; k--) {
            inStrides[k] = s;
            s *= shape[k];
        }
        long[] strideOfOut = new long[d];
        for (int k = 0; k < d; k++) {
            strideOfOut[k] = inStrides[perm[k]];
        }
        double[] out = new double[in.length];
        if (d == 0 || in.length == 0) {
            return out;
        }
        int last = outShape[d - 1];
        long lastStride = strideOfOut[d - 1];
        int[] index = new int[d];
        long base = 0;
        int o = 0;
        while (o < out.length) {
            long src = base;
            for (int j = 0; j < last; j++) {
                out[o++] = in[(int) src];
                src += lastStride;
            }
            // advance the multi-index over the modes before the last
            int k = d - 2;
            while (k >= 0) {
                index[k]++;
                base += strideOfOut[k];
                if (index[k] < outShape[k]) {
                    break;
                }
                base -= strideOfOut[k] * outShape[k];
                index[k] = 0;
                k--;
            }
        }
        return out;
    }
}
