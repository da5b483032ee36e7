package dev.blockterm.quantize;

import dev.blockterm.tensor.Gemm;

/**
 * Quantization with error feedback in the output metric (GPTQ: Frantar et al., "GPTQ: Accurate
 * Post-Training Quantization for Generative Pre-trained Transformers", ICLR 2023). For a weight
 * {@code W} ({@code I x J}, {@code y = x W}) and the damped input covariance {@code H = X^T X + delta I},
 * the rows (inputs) are quantized one at a time, and each row's rounding error is spread over the rows
 * not yet quantized so that {@code ||X (W - W^)||} stays small:
 * <pre>
 *   H^-1 = U^T U (U upper),   e_i = (W[i,:] - Q[i,:]) / U[i,i],   W[i+1:, :] -= U[i, i+1:]^T e_i
 * </pre>
 * (the optimal brain surgeon update, row order as given). Scales as {@link Quantizer}: int8 one per
 * column from the original weight, int4 one per group of {@link Quantizer#GROUP} rows and column from
 * the group's rows as they stand when the group starts (GPTQ's group size). Rows are taken in blocks of
 * {@link #BLOCK}; inside a block the updates are rank-1, after it one product updates the rest
 * ({@code 2 BLOCK (I - i) J} flops), about {@code I^2 J} in all, plus the {@code n^3} of LAPACK's
 * Cholesky factorizations and inverse (OpenBLAS as ND4J ships it).
 */
public final class Gptq {

    /** Rows quantized between two products that update the rest. */
    static final int BLOCK = 128;

    private Gptq() {
    }

    /**
     * {@code w} ({@code rows x cols}, row-major) quantized at {@code p} with error feedback in the metric of
     * {@code damped} ({@code X^T X + delta I}, {@code rows x rows}, positive definite).
     */
    public static Quantized quantize(double[] w, int rows, int cols, Precision p, double[] damped) {
        if (!p.integer()) {
            throw new IllegalArgumentException("gptq: expected int8 or int4, found " + p);
        }
        double[] u = inverseCholeskyUpper(damped, rows);
        double[] work = w.clone();
        int g = Quantizer.group(rows, p);
        int padded = Quantizer.paddedRows(rows, p);
        float[] scales = new float[padded / g * cols];
        byte[] q = new byte[padded * cols];
        if (p == Precision.INT8) {
            setScales(scales, 0, work, 0, rows, cols, p);
        }
        double[] err = new double[BLOCK * cols];
        for (int start = 0; start < rows; start += BLOCK) {
            int end = Math.min(rows, start + BLOCK);
            for (int i = start; i < end; i++) {
                if (p == Precision.INT4 && i % g == 0) {
                    setScales(scales, (i / g) * cols, work, i, Math.min(rows, i + g), cols, p);
                }
                int sRow = (i / g) * cols;
                double d = u[i * rows + i];
                for (int c = 0; c < cols; c++) {
                    float s = scales[sRow + c];
                    int level = (int) Math.max(-p.levels(), Math.min(p.levels(), Math.rint(work[i * cols + c] / s)));
                    q[i * cols + c] = (byte) level;
                    err[(i - start) * cols + c] = (work[i * cols + c] - (float) level * s) / d;
                }
                for (int k = i + 1; k < end; k++) {
                    double uik = u[i * rows + k];
                    if (uik != 0) {
                        for (int c = 0; c < cols; c++) {
                            work[k * cols + c] -= uik * err[(i - start) * cols + c];
                        }
                    }
                }
            }
            if (end < rows) {
                // W[end:, :] -= U[start:end, end:]^T E[start:end, :]
                int b = end - start;
                double[] ublock = new double[b * (rows - end)];
                for (int i = 0; i < b; i++) {
                    System.arraycopy(u, (start + i) * rows + end, ublock, i * (rows - end), rows - end);
                }
                double[] update = new double[(rows - end) * cols];
                Gemm.multiply(true, false, rows - end, cols, b, ublock, 0, err, 0, update, 0);
                for (int k = 0; k < update.length; k++) {
                    work[end * cols + k] -= update[k];
                }
            }
        }
        return new Quantized(p, rows, cols, g, q, scales);
    }

    /** Scales of rows {@code from..to} into {@code scales[at..at+cols)}: max magnitude per column over levels. */
    private static void setScales(float[] scales, int at, double[] w, int from, int to, int cols, Precision p) {
        for (int c = 0; c < cols; c++) {
            double m = 0;
            for (int i = from; i < to; i++) {
                m = Math.max(m, Math.abs(w[i * cols + c]));
            }
            float max = (float) m; // as Quantizer: the float maximum over the levels, in float
            scales[at + c] = max == 0 ? 1f : max / p.levels();
        }
    }

    /** {@code U} upper triangular with {@code U^T U = A^-1}, row-major ({@code A} symmetric positive definite). */
    static double[] inverseCholeskyUpper(double[] a, int n) {
        double[] m = a.clone();
        org.nd4j.linalg.factory.Nd4j.getExecutioner(); // the native libraries loaded as ND4J loads them
        int row = org.bytedeco.openblas.global.openblas.LAPACK_ROW_MAJOR;
        int info = org.bytedeco.openblas.global.openblas.LAPACKE_dpotrf(row, (byte) 'U', n, m, n);
        if (info == 0) {
            info = org.bytedeco.openblas.global.openblas.LAPACKE_dpotri(row, (byte) 'U', n, m, n);
        }
        if (info != 0) {
            throw new IllegalStateException("gptq: the damped covariance is not positive definite (LAPACK info " + info
                    + ")");
        }
        for (int i = 0; i < n; i++) { // dpotri fills the upper triangle: mirror it
            for (int j = 0; j < i; j++) {
                m[i * n + j] = m[j * n + i];
            }
        }
        info = org.bytedeco.openblas.global.openblas.LAPACKE_dpotrf(row, (byte) 'U', n, m, n);
        if (info != 0) {
            throw new IllegalStateException("gptq: the inverse covariance is not positive definite (LAPACK info " + info
                    + ")");
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < i; j++) {
                m[i * n + j] = 0;
            }
        }
        return m;
    }
}
