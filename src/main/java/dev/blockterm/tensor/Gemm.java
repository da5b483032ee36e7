package dev.blockterm.tensor;

import java.lang.ref.WeakReference;
import java.nio.DoubleBuffer;
import java.util.Arrays;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
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
 * <p>Native buffers are pooled per thread and reused across shapes; one that already holds the
 * array being sent (the tensor being decomposed, in every sweep) is not copied again.
 */
public final class Gemm {

    /**
     * Products with at least this many multiply-adds use native BLAS; below it the copies and the
     * call (tens of microseconds) cost more than they save.
     */
    public static final long NATIVE_FLOPS = 1L << 18;
    private static final int MAX_SLOTS = 256;
    /**
     * Native bytes a thread keeps: a few copies of the largest tensor fitted (a 4096 x 4096 weight
     * is 134 MB in double), not one per shape ever seen.
     */
    private static final long MAX_BYTES = 512L << 20;
    /** Per thread, least recently used first. */
    private static final ThreadLocal<Pool> SLOTS = ThreadLocal.withInitial(Pool::new);

    private Gemm() {
    }

    /**
     * Frees the calling thread's native buffers now (a thread that ends keeps them until the garbage
     * collector finds its pool): for a job that is done with its products, such as one layer's fit.
     */
    public static void release() {
        Pool pool = SLOTS.get();
        for (Buffer b : pool.buffers) {
            b.array.close();
        }
        pool.buffers.clear();
        pool.bytes = 0;
        SLOTS.remove();
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
     * {@code C[m x n] += op(A) op(B)}, as {@link #multiply}: the product added into C where it lies,
     * no array of C's size made (a covariance summed over many batches of rows).
     */
    public static void multiplyAdd(boolean transA, boolean transB, int m, int n, int k,
                                   double[] a, int aOffset, double[] b, int bOffset, double[] c, int cOffset) {
        if ((long) m * n * k >= NATIVE_FLOPS) {
            DoubleBuffer p = nativeProduct(transA, transB, m, n, k, a, aOffset, b, bOffset);
            for (int i = 0; i < m * n; i++) {
                c[cOffset + i] += p.get(i);
            }
            return;
        }
        double[] p = new double[m * n];
        javaMultiply(transA, transB, m, n, k, a, aOffset, b, bOffset, p, 0);
        for (int i = 0; i < p.length; i++) {
            c[cOffset + i] += p[i];
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
        SLOTS.get().call++;
        // Row-major X (r x s) is Fortran-order X^T (s x r).
        INDArray aF = operand(a, aOffset, transA ? new long[] {m, k} : new long[] {k, m});
        INDArray bF = operand(b, bOffset, transB ? new long[] {k, n} : new long[] {n, k});
        INDArray cT = scratch(new long[] {n, m});
        Nd4j.gemm(bF, aF, cT, transB, transA, 1.0, 0.0);
        return cT.data().asNioDouble();
    }

    /**
     * The operand on the native side, in one of the thread's buffers. A buffer remembers which array
     * it holds: tensors are never modified, so sending the same array again (the tensor being
     * decomposed, in every sweep) costs nothing. Copies are bulk copies; ND4J's own array
     * constructors copy element by element.
     */
    private static INDArray operand(double[] data, int offset, long[] shape) {
        Pool pool = SLOTS.get();
        long length = shape[0] * shape[1];
        Buffer held = pool.holding(data, offset, length);
        if (held != null) {
            return pool.view(held, shape);
        }
        Buffer b = pool.acquire(length);
        b.array.data().asNioDouble().put(data, offset, (int) length);
        b.source = new WeakReference<>(data);
        b.offset = offset;
        b.length = length;
        return pool.view(b, shape);
    }

    private static INDArray scratch(long[] shape) {
        Pool pool = SLOTS.get();
        Buffer b = pool.acquire(shape[0] * shape[1]);
        b.source = new WeakReference<>(null);
        return pool.view(b, shape);
    }

    /**
     * One thread's native buffers. Any buffer large enough serves any shape (a Fortran-order view
     * of its start), so a fit that runs through many shapes reuses a few buffers instead of
     * allocating one per shape: on machines where first touching memory is slow, allocation is
     * what a product would otherwise cost.
     */
    private static final class Pool {
        final List<Buffer> buffers = new ArrayList<>();
        long bytes;
        long call;
        long clock;

        Buffer holding(double[] data, int offset, long length) {
            for (Buffer b : buffers) {
                // also within one call: both operands of X^T X are read from the one copy
                if (b.source.get() == data && b.offset == offset && b.length == length) {
                    return use(b);
                }
            }
            return null;
        }

        /** The smallest free buffer that fits (the least recently used of those), else a new one. */
        Buffer acquire(long length) {
            Buffer best = null;
            for (Buffer b : buffers) {
                if (b.call != call && b.array.length() >= length && (best == null
                        || b.array.length() < best.array.length()
                        || (b.array.length() == best.array.length() && b.lastUse < best.lastUse))) {
                    best = b;
                }
            }
            if (best == null) {
                evictFor(length);
                best = new Buffer(Nd4j.createUninitialized(DataType.DOUBLE, new long[] {length}, 'f'));
                buffers.add(best);
                bytes += 8 * length;
            }
            best.source = new WeakReference<>(null);
            return use(best);
        }

        private Buffer use(Buffer b) {
            b.call = call;
            b.lastUse = ++clock;
            return b;
        }

        INDArray view(Buffer b, long[] shape) {
            return Nd4j.create(b.array.data(), shape, new long[] {1, shape[0]}, 0, 'f');
        }

        /** Frees the least recently used buffers, never one the current product has taken, until {@code length} more fit. */
        private void evictFor(long length) {
            buffers.sort(Comparator.comparingLong(b -> b.lastUse));
            var it = buffers.iterator();
            while (it.hasNext() && (bytes + 8 * length > MAX_BYTES || buffers.size() >= MAX_SLOTS)) {
                Buffer eldest = it.next();
                if (eldest.call == call) {
                    continue;
                }
                bytes -= 8 * eldest.array.length();
                eldest.array.close();
                it.remove();
            }
        }
    }

    /** A native buffer and the Java array (offset, length) whose values it currently holds. */
    private static final class Buffer {
        final INDArray array;
        WeakReference<double[]> source = new WeakReference<>(null);
        int offset;
        long length;
        long call;
        long lastUse;

        Buffer(INDArray array) {
            this.array = array;
        }
    }
}
