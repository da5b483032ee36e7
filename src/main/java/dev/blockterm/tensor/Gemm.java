package dev.blockterm.tensor;

import java.lang.ref.WeakReference;
import java.util.Arrays;
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
 * <p>The operand that is reused across calls (the tensor being decomposed, gigabytes of copies
 * otherwise) is kept on the native side in a one-entry, weakly referenced cache per thread.
 */
public final class Gemm {

    /**
     * Products with at least this many multiply-adds use native BLAS. ND4J copies arrays in and out
     * element by element and allocates natively on every call (about a millisecond for a few
     * megabytes), so only large products pay off.
     */
    public static final long NATIVE_FLOPS = 1L << 22;
    private static final int CACHE_MIN_LENGTH = 1 << 16;
    private static final ThreadLocal<CachedOperand> CACHE = new ThreadLocal<>();

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

    static void javaMultiply(boolean transA, boolean transB, int m, int n, int k,
                             double[] a, int aOffset, double[] b, int bOffset, double[] c, int cOffset) {
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
        // Row-major X (r x s) is Fortran-order X^T (s x r).
        INDArray aF = operand(a, aOffset, transA ? new long[] {m, k} : new long[] {k, m});
        INDArray bF = operand(b, bOffset, transB ? new long[] {k, n} : new long[] {n, k});
        INDArray cT = Nd4j.createUninitialized(DataType.DOUBLE, new long[] {n, m}, 'f');
        Nd4j.gemm(bF, aF, cT, transB, transA, 1.0, 0.0);
        System.arraycopy(cT.data().asDouble(), 0, c, cOffset, m * n);
    }

    private static INDArray operand(double[] data, int offset, long[] shape) {
        int length = (int) (shape[0] * shape[1]);
        CachedOperand cached = CACHE.get();
        if (cached != null && cached.matches(data, offset, shape)) {
            return cached.array;
        }
        double[] slice = offset == 0 && length == data.length ? data : Arrays.copyOfRange(data, offset, offset + length);
        INDArray array = Nd4j.create(slice, shape, 'f');
        if (length >= CACHE_MIN_LENGTH) {
            CACHE.set(new CachedOperand(new WeakReference<>(data), offset, shape.clone(), array));
        }
        return array;
    }

    private record CachedOperand(WeakReference<double[]> source, int offset, long[] shape, INDArray array) {
        boolean matches(double[] data, int off, long[] s) {
            return source.get() == data && offset == off && Arrays.equals(shape, s);
        }
    }
}
