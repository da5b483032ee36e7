package dev.blockterm.tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * A dense tensor of order {@code d} with mode sizes {@code shape}, stored row-major (the last
 * index varies fastest). Treated as immutable: operations return new tensors and never write
 * into an existing one's data, which {@link Gemm} relies on when it caches native copies.
 */
public final class Tensor {

    /** Above this many leading slices a middle-mode product is done as one product on a permuted copy. */
    private static final int BATCHED_LEFT = 16;

    private final int[] shape;
    private final double[] data;

    public Tensor(int[] shape, double[] data) {
        long size = 1;
        for (int s : shape) {
            if (s < 1) {
                throw new IllegalArgumentException("tensor shape: expected positive sizes, found " + Arrays.toString(shape));
            }
            size *= s;
        }
        if (size != data.length) {
            throw new IllegalArgumentException("tensor data: expected " + size + " values for shape "
                    + Arrays.toString(shape) + ", found " + data.length);
        }
        this.shape = shape.clone();
        this.data = data;
    }

    public static Tensor zeros(int... shape) {
        return new Tensor(shape, new double[Math.toIntExact(product(shape))]);
    }

    /** Entries drawn from N(0, 1). */
    public static Tensor gaussian(Random random, int... shape) {
        double[] d = new double[Math.toIntExact(product(shape))];
        for (int i = 0; i < d.length; i++) {
            d[i] = random.nextGaussian();
        }
        return new Tensor(shape, d);
    }

    public int order() {
        return shape.length;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int size(int mode) {
        return shape[mode];
    }

    public int length() {
        return data.length;
    }

    /** The row-major values; callers must not modify them. */
    public double[] data() {
        return data;
    }

    public double norm() {
        double s = 0;
        for (double v : data) {
            s += v * v;
        }
        return Math.sqrt(s);
    }

    public double dot(Tensor other) {
        requireSameShape(other);
        double s = 0;
        for (int i = 0; i < data.length; i++) {
            s += data[i] * other.data[i];
        }
        return s;
    }

    public Tensor plus(Tensor other) {
        requireSameShape(other);
        double[] d = data.clone();
        for (int i = 0; i < d.length; i++) {
            d[i] += other.data[i];
        }
        return new Tensor(shape, d);
    }

    public Tensor minus(Tensor other) {
        requireSameShape(other);
        double[] d = data.clone();
        for (int i = 0; i < d.length; i++) {
            d[i] -= other.data[i];
        }
        return new Tensor(shape, d);
    }

    public Tensor scale(double s) {
        double[] d = data.clone();
        for (int i = 0; i < d.length; i++) {
            d[i] *= s;
        }
        return new Tensor(shape, d);
    }

    public Tensor reshape(int... newShape) {
        return new Tensor(newShape, data);
    }

    /**
     * The mode-k product {@code T x_k M} for {@code M} of shape {@code P x S_k}:
     * {@code (T x_k M)[.., p, ..] = sum_s M[p, s] T[.., s, ..]}. Cost {@code 2 P |T|} flops.
     */
    public Tensor modeProduct(int mode, Matrix m) {
        return product(mode, m, false);
    }

    /**
     * {@code T x_k A^T} for a factor {@code A} of shape {@code S_k x R}: projects mode k onto the
     * columns of A, without forming the transpose. Cost {@code 2 R |T|} flops.
     */
    public Tensor project(int mode, Matrix a) {
        return product(mode, a, true);
    }

    /**
     * {@code T x_k A_b^T} for each of several factors {@code A_b} ({@code S_k x R_b}) in one
     * product, each result with mode k moved to the front (its other modes in their order). The
     * factors side by side make one wide matrix, so T is read once for all of them instead of once
     * per factor: skinny products with T are bound by memory traffic, not by the GEMM kernel
     * (DESIGN.md section 8). Mode k must be the first or the last; at the last, the results come
     * out with it first at no cost, where putting it back would be a transpose of each.
     */
    public List<Tensor> projectEach(int mode, List<Matrix> factors) {
        if (mode != 0 && mode != shape.length - 1) {
            throw new IllegalArgumentException("projectEach: mode " + mode + " is neither the first nor the last");
        }
        Matrix stacked = Matrix.hstack(factors.toArray(new Matrix[0]));
        int inner = shape[mode];
        if (stacked.rows() != inner) {
            throw new IllegalArgumentException("mode-" + mode + " product: tensor mode size " + inner
                    + ", matrix size " + stacked.rows());
        }
        int rest = data.length / inner;
        double[][] rows = new double[factors.size()][];
        for (int b = 0; b < rows.length; b++) {
            rows[b] = new double[factors.get(b).cols() * rest];
        }
        // C (width x rest) = [A_1 .. A_B]^T T_(k): factor b owns a run of C's rows. At mode 0, T_(0)
        // is T as stored (S x rest); at the last mode it is the transpose of T as stored (rest x S).
        Gemm.multiply(true, mode != 0, stacked.cols(), rest, inner, stacked.data(), 0, data, 0, rows);
        int[] others = new int[shape.length - 1];
        for (int j = 0, p = 0; j < shape.length; j++) {
            if (j != mode) {
                others[p++] = shape[j];
            }
        }
        List<Tensor> parts = new ArrayList<>();
        for (int b = 0; b < rows.length; b++) {
            int[] s = new int[shape.length];
            s[0] = factors.get(b).cols();
            System.arraycopy(others, 0, s, 1, others.length);
            parts.add(new Tensor(s, rows[b]));
        }
        return parts;
    }

    private Tensor product(int mode, Matrix m, boolean transposed) {
        int inner = transposed ? m.rows() : m.cols();
        int outer = transposed ? m.cols() : m.rows();
        if (inner != shape[mode]) {
            throw new IllegalArgumentException("mode-" + mode + " product: tensor mode size " + shape[mode]
                    + ", matrix size " + inner);
        }
        int left = (int) product(Arrays.copyOfRange(shape, 0, mode));
        int right = (int) product(Arrays.copyOfRange(shape, mode + 1, shape.length));
        int[] outShape = shape.clone();
        outShape[mode] = outer;
        double[] out = new double[left * outer * right];
        if (right == 1) {
            // out (left x P) = T (left x S) * M^T
            Gemm.multiply(false, !transposed, left, outer, inner, data, 0, m.data(), 0, out, 0);
        } else if (left <= BATCHED_LEFT) {
            // for each leading index l: out_l (P x right) = M (P x S) * T_l (S x right)
            for (int l = 0; l < left; l++) {
                Gemm.multiply(transposed, false, outer, right, inner, m.data(), 0, data, l * inner * right,
                        out, l * outer * right);
            }
        } else {
            // many small products: move mode k last, one product, move it back
            double[] moved = Permutation.permute(data, new int[] {left, inner, right}, new int[] {0, 2, 1});
            double[] product = new double[left * right * outer];
            Gemm.multiply(false, !transposed, left * right, outer, inner, moved, 0, m.data(), 0, product, 0);
            out = Permutation.permute(product, new int[] {left, right, outer}, new int[] {0, 2, 1});
        }
        return new Tensor(outShape, out);
    }

    /**
     * The Gram matrix of the mode-k unfolding, {@code T_(k) T_(k)^T} ({@code S_k x S_k}), without
     * forming the unfolding. Cost {@code 2 S_k |T|} flops.
     */
    public Matrix unfoldingGram(int mode) {
        int s = shape[mode];
        int left = (int) product(Arrays.copyOfRange(shape, 0, mode));
        int right = (int) product(Arrays.copyOfRange(shape, mode + 1, shape.length));
        double[] gram = new double[s * s];
        double[] part = new double[s * s];
        if (left == 1 || right == 1) {
            // one product: X X^T with X = T (S x right), or X^T X with X = T (left x S)
            Gemm.multiply(right == 1 && left != 1, right != 1 || left == 1, s, s, left == 1 ? right : left,
                    data, 0, data, 0, gram, 0);
            return new Matrix(s, s, gram);
        }
        // slices l side by side, X = [T_l ...] (S x slices*right), enough of them per product that
        // it goes to native BLAS: one product per slice would be many small ones in plain Java
        int slices = (int) Math.max(1, Math.min(left, (Gemm.NATIVE_FLOPS * 16) / ((long) s * s * right)));
        for (int l0 = 0; l0 < left; l0 += slices) {
            int count = Math.min(slices, left - l0);
            int cols = count * right;
            double[] x = new double[s * cols]; // a new array each time: Gemm caches operands by identity
            for (int l = 0; l < count; l++) {
                for (int i = 0; i < s; i++) {
                    System.arraycopy(data, ((l0 + l) * s + i) * right, x, i * cols + l * right, right);
                }
            }
            Gemm.multiply(false, true, s, s, cols, x, 0, x, 0, part, 0);
            for (int i = 0; i < gram.length; i++) {
                gram[i] += part[i];
            }
        }
        return new Matrix(s, s, gram);
    }

    /** The mode-k unfolding {@code T_(k)}: {@code S_k x (|T| / S_k)}, other modes in row-major order. */
    public Matrix unfold(int mode) {
        int s = shape[mode];
        int left = (int) product(Arrays.copyOfRange(shape, 0, mode));
        int right = data.length / left / s;
        double[] out = new double[data.length];
        int cols = left * right;
        for (int l = 0; l < left; l++) {
            for (int i = 0; i < s; i++) {
                System.arraycopy(data, (l * s + i) * right, out, i * cols + l * right, right);
            }
        }
        return new Matrix(s, cols, out);
    }

    /** The inverse of {@link #unfold}: folds an {@code S_k x rest} matrix back into {@code shape}. */
    public static Tensor fold(Matrix unfolding, int mode, int[] shape) {
        int s = shape[mode];
        int left = (int) product(Arrays.copyOfRange(shape, 0, mode));
        int right = unfolding.data().length / left / s;
        double[] out = new double[unfolding.data().length];
        int cols = left * right;
        for (int l = 0; l < left; l++) {
            for (int i = 0; i < s; i++) {
                System.arraycopy(unfolding.data(), i * cols + l * right, out, (l * s + i) * right, right);
            }
        }
        return new Tensor(shape, out);
    }

    /** Reorders the modes: mode k of the result is mode {@code perm[k]} of this tensor. */
    public Tensor permute(int... perm) {
        return new Tensor(Permutation.permutedShape(shape, perm), Permutation.permute(data, shape, perm));
    }

    public static long product(int[] sizes) {
        long p = 1;
        for (int s : sizes) {
            p *= s;
        }
        return p;
    }

    private void requireSameShape(Tensor other) {
        if (!Arrays.equals(shape, other.shape)) {
            throw new IllegalArgumentException("tensor shapes differ: " + Arrays.toString(shape) + " and "
                    + Arrays.toString(other.shape));
        }
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape);
    }
}
