package dev.blockterm.tensor;

import java.lang.ref.WeakReference;
import java.nio.DoubleBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * General matrix product {@code C = op(A) op(B)} on row-major {@code double[]} slices.
 *
 * <p>Small products run in a plain Java loop; products of at least {@link #NATIVE_FLOPS}
 * multiply-adds go to native BLAS (dgemm) through ND4J. Row-major data read as Fortran order is
 * the transpose, so {@code C^T = op(B)^T op(A)^T} is computed into a Fortran-order output whose
 * buffer is exactly row-major {@code C}: no layout copies (DESIGN.md section 8).
 *
 * <p>Native buffers are reused per thread, role and shape; one that already holds the array being
 * sent (the tensor being decomposed, in every sweep) is not copied again.
 */
public final class Gemm {

    /**
     * Products with at least this many multiply-adds use native BLAS; below it the copies and the
     * call (tens of microseconds) cost more than they save.
     */
    public static final long NATIVE_FLOPS = 1L << 18;
    private static final int MAX_SLOTS = 512;
    /** Per thread, least recently used first: the oldest buffer goes when a new shape needs room. */
    private static final ThreadLocal<Map<String, Slot>> SLOTS = ThreadLocal.withInitial(() ->
            new LinkedHashMap<>(64, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<String, Slot> eldest) {
                    return size() > MAX_SLOTS; // ND4J frees its buffer once unreachable
                }
            });

    private Gemm() {
    }

    /**
     * {@code C[m x n] = op(A)[m x k] * op(B)[k x n]}, all row-major, C overwritten.
     * {@code op(A) = A^T} when {@code transA}: A is then stored {@code k x m}.
     */
    public static void multiply(boolean transA, boolean transB, int m, int n, int k,
                                double[] a, int aOffset, double[] b, int bOffset, double[] c, int cOffset) {
        if ((long) m * n * k >= NATIVE_FLOPS) {
            nativeMultiply(transA, transB, m, n, k, a, aOffset, b, bOffset, c, cOffset);
        } else {
            javaMultiply(transA, transB, m, n, k, a, aOffset, b, bOffset, c, cOffset);
        }
    }

    /**
     * {@code C = op(A) op(B)} as above, with the rows of C handed out in consecutive runs: part i
     * receives the next {@code parts[i].length / n} rows. Spares a copy of C when its row blocks
     * belong to different owners (one product for several factors, {@link Tensor#projectEach}).
     */
    public static void multiply(boolean transA, boolean transB, int m, int n, int k,
                                double[] a, int aOffset, double[] b, int bOffset, double[][] parts) {
        if ((long) m * n * k >= NATIVE_FLOPS) {
            DoubleBuffer c = nativeProduct(transA, transB, m, n, k, a, aOffset, b, bOffset);
            for (double[] part : parts) {
                c.get(part);
            }
            return;
        }
        double[] c = new double[m * n];
        javaMultiply(transA, transB, m, n, k, a, aOffset, b, bOffset, c, 0);
        int from = 0;
        for (double[] part : parts) {
            System.arraycopy(c, from, part, 0, part.length);
            from += part.length;
        }
    }

    static void javaMultiply(boolean transA, boolean transB, int m, int n, int k,
                             double[] a, int aOffset, double[] b, int bOffset, double[] c, int cOffset) {
        if (transB && !transA) {
            // rows of A against rows of B: contiguous dot products
            for (int i = 0; i < m; i++) {
                int ai = aOffset + i * k;
                for (int j = 0; j < n; j++) {
                    int bj = bOffset + j * k;
                    double s = 0;
                    for (int p = 0; p < k; p++) {
                        s += a[ai + p] * b[bj + p];
                    }
                    c[cOffset + i * n + j] = s;
                }
            }
            return;
        }
        Arrays.fill(c, cOffset, cOffset + m * n, 0.0);
        for (int i = 0; i < m; i++) {
            int ci = cOffset + i * n;
            for (int p = 0; p < k; p++) {
                double aip = transA ? a[aOffset + p * m + i] : a[aOffset + i * k + p];
                if (aip == 0.0) {
                    continue;
                }
                if (transB) {
                    for (int j = 0; j < n; j++) {
                        c[ci + j] += aip * b[bOffset + j * k + p];
                    }
                } else {
                    int bp = bOffset + p * n;
                    for (int j = 0; j < n; j++) {
                        c[ci + j] += aip * b[bp + j];
                    }
                }
            }
        }
    }

    private static void nativeMultiply(boolean transA, boolean transB, int m, int n, int k,
                                       double[] a, int aOffset, double[] b, int bOffset, double[] c, int cOffset) {
        nativeProduct(transA, transB, m, n, k, a, aOffset, b, bOffset).get(c, cOffset, m * n);
    }

    /** The product in a native buffer, positioned at row-major C's first entry. */
    private static DoubleBuffer nativeProduct(boolean transA, boolean transB, int m, int n, int k,
                                              double[] a, int aOffset, double[] b, int bOffset) {
        // Row-major X (r x s) is Fortran-order X^T (s x r).
        INDArray aF = operand("a", a, aOffset, transA ? new long[] {m, k} : new long[] {k, m});
        INDArray bF = operand("b", b, bOffset, transB ? new long[] {k, n} : new long[] {n, k});
        INDArray cT = scratch("c", new long[] {n, m});
        Nd4j.gemm(bF, aF, cT, transB, transA, 1.0, 0.0);
        return cT.data().asNioDouble();
    }

    /**
     * The operand on the native side, in a per-thread buffer kept for each role and shape. A buffer
     * remembers which array it holds: tensors are never modified, so sending the same array again
     * (the tensor being decomposed, in every sweep) costs nothing. Copies are bulk copies; ND4J's
     * own array constructors copy element by element.
     */
    private static INDArray operand(String role, double[] data, int offset, long[] shape) {
        Slot slot = slot(role, shape);
        if (slot.source.get() != data || slot.offset != offset) {
            slot.array.data().asNioDouble().put(data, offset, (int) (shape[0] * shape[1]));
            slot.source = new WeakReference<>(data);
            slot.offset = offset;
        }
        return slot.array;
    }

    private static INDArray scratch(String role, long[] shape) {
        Slot slot = slot(role, shape);
        slot.source = new WeakReference<>(null);
        return slot.array;
    }

    private static Slot slot(String role, long[] shape) {
        Map<String, Slot> pool = SLOTS.get();
        String key = role + shape[0] + "x" + shape[1];
        Slot slot = pool.get(key);
        if (slot == null) {
            slot = new Slot(Nd4j.createUninitialized(DataType.DOUBLE, shape, 'f'));
            pool.put(key, slot);
        }
        return slot;
    }

    /** A native buffer and the Java array (and offset) whose values it currently holds. */
    private static final class Slot {
        final INDArray array;
        WeakReference<double[]> source = new WeakReference<>(null);
        int offset;

        Slot(INDArray array) {
            this.array = array;
        }
    }
}
