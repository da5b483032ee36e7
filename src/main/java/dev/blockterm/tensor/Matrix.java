package dev.blockterm.tensor;

import java.util.Arrays;
import java.util.Random;

/**
 * A dense row-major matrix of doubles, {@code rows x cols}. Immutable by convention: operations
 * return new matrices.
 */
public record Matrix(int rows, int cols, double[] data) implements java.io.Serializable {

    public Matrix {
        if (rows < 0 || cols < 0 || data.length != (long) rows * cols) {
            throw new IllegalArgumentException(
                    "matrix data: expected " + ((long) rows * cols) + " values for " + rows + "x" + cols
                            + ", found " + data.length);
        }
    }

    public static Matrix zeros(int rows, int cols) {
        return new Matrix(rows, cols, new double[rows * cols]);
    }

    public static Matrix identity(int n) {
        Matrix m = zeros(n, n);
        for (int i = 0; i < n; i++) {
            m.data[i * n + i] = 1;
        }
        return m;
    }

    /** Entries drawn from N(0, 1). */
    public static Matrix gaussian(int rows, int cols, Random random) {
        double[] d = new double[rows * cols];
        for (int i = 0; i < d.length; i++) {
            d[i] = random.nextGaussian();
        }
        return new Matrix(rows, cols, d);
    }

    public double get(int i, int j) {
        return data[i * cols + j];
    }

    public Matrix transpose() {
        double[] t = new double[data.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t[j * rows + i] = data[i * cols + j];
            }
        }
        return new Matrix(cols, rows, t);
    }

    /** {@code this * other}. */
    public Matrix times(Matrix other) {
        if (cols != other.rows) {
            throw new IllegalArgumentException("matrix product: inner sizes " + cols + " and " + other.rows);
        }
        double[] c = new double[rows * other.cols];
        Gemm.multiply(false, false, rows, other.cols, cols, data, 0, other.data, 0, c, 0);
        return new Matrix(rows, other.cols, c);
    }

    /** {@code this^T * other}, without forming the transpose. */
    public Matrix transposeTimes(Matrix other) {
        if (rows != other.rows) {
            throw new IllegalArgumentException("matrix product: row counts " + rows + " and " + other.rows);
        }
        double[] c = new double[cols * other.cols];
        Gemm.multiply(true, false, cols, other.cols, rows, data, 0, other.data, 0, c, 0);
        return new Matrix(cols, other.cols, c);
    }

    public Matrix scale(double s) {
        double[] d = data.clone();
        for (int i = 0; i < d.length; i++) {
            d[i] *= s;
        }
        return new Matrix(rows, cols, d);
    }

    public Matrix plus(Matrix other) {
        double[] d = data.clone();
        for (int i = 0; i < d.length; i++) {
            d[i] += other.data[i];
        }
        return new Matrix(rows, cols, d);
    }

    /** Columns {@code [from, to)}. */
    public Matrix columns(int from, int to) {
        Matrix m = zeros(rows, to - from);
        for (int i = 0; i < rows; i++) {
            System.arraycopy(data, i * cols + from, m.data, i * m.cols, to - from);
        }
        return m;
    }

    /** Rows {@code [from, to)}. */
    public Matrix rowRange(int from, int to) {
        return new Matrix(to - from, cols, Arrays.copyOfRange(data, from * cols, to * cols));
    }

    /** Horizontal concatenation {@code [a | b | ...]}. */
    public static Matrix hstack(Matrix... parts) {
        int rows = parts[0].rows;
        int cols = 0;
        for (Matrix p : parts) {
            cols += p.cols;
        }
        Matrix m = zeros(rows, cols);
        int offset = 0;
        for (Matrix p : parts) {
            for (int i = 0; i < rows; i++) {
                System.arraycopy(p.data, i * p.cols, m.data, i * cols + offset, p.cols);
            }
            offset += p.cols;
        }
        return m;
    }

    /** {@code tr(A^T B)}: the Frobenius inner product with a matrix of the same shape. */
    public double dot(Matrix other) {
        double s = 0;
        for (int i = 0; i < data.length; i++) {
            s += data[i] * other.data[i];
        }
        return s;
    }

    public double frobeniusNorm() {
        double s = 0;
        for (double v : data) {
            s += v * v;
        }
        return Math.sqrt(s);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Matrix m && rows == m.rows && cols == m.cols && Arrays.equals(data, m.data);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * rows + cols) + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "Matrix[" + rows + "x" + cols + "]";
    }
}
