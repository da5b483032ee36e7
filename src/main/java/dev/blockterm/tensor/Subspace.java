package dev.blockterm.tensor;

import java.util.Random;
import org.apache.commons.math3.exception.MaxCountExceededException;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.EigenDecomposition;
import org.apache.commons.math3.linear.RealMatrix;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.eigen.Eigen;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Dominant subspaces: leading left singular vectors of matrices and of tensor unfoldings, and
 * orthonormalization.
 *
 * <p>Singular vectors come from the eigenvectors of the smaller Gram matrix (Apache Commons
 * Math's symmetric QL; LAPACK {@code dsyev} through ND4J where that fails to converge). Matrices
 * and unfoldings whose both sides exceed {@link #GRAM_LIMIT} use randomized subspace iteration
 * (Halko, Martinsson and Tropp 2011, algorithm 4.4): a 4096-row mode costs a few passes over the
 * tensor instead of a 4096 x 4096 eigenproblem (full {@code dsyev} of 512 x 512 takes 0.4 s here).
 */
public final class Subspace {

    static final int GRAM_LIMIT = 160;
    private static final int OVERSAMPLING = 10;
    private static final int POWER_ITERATIONS = 3;

    private Subspace() {
    }

    /** The {@code r} leading left singular vectors of {@code y} ({@code rows x r}, orthonormal). */
    public static Matrix leadingLeft(Matrix y, int r, Random random) {
        if (Math.min(y.rows(), y.cols()) > GRAM_LIMIT) {
            return randomized(y, r, random);
        }
        if (y.rows() <= y.cols()) {
            Matrix gram = new Matrix(y.rows(), y.rows(), new double[y.rows() * y.rows()]);
            Gemm.multiply(false, true, y.rows(), y.rows(), y.cols(), y.data(), 0, y.data(), 0, gram.data(), 0);
            return orthonormalize(leadingEigenvectors(gram, r), random);
        }
        // U = Y V: the right singular vectors of the short side, mapped through Y
        Matrix v = leadingEigenvectors(y.transposeTimes(y), Math.min(r, y.cols()));
        Matrix u = y.times(v);
        if (u.cols() < r) {
            u = Matrix.hstack(u, Matrix.zeros(u.rows(), r - u.cols()));
        }
        return orthonormalize(u, random);
    }

    /** The {@code r} leading left singular vectors of the mode-k unfolding of {@code t}. */
    public static Matrix leadingLeftOfUnfolding(Tensor t, int mode, int r, Random random) {
        if (t.size(mode) <= GRAM_LIMIT) {
            return orthonormalize(leadingEigenvectors(t.unfoldingGram(mode), r), random);
        }
        return leadingLeft(t.unfold(mode), r, random);
    }

    /** Randomized subspace iteration: a few passes over {@code x}, then a small exact problem. */
    private static Matrix randomized(Matrix x, int r, Random random) {
        int l = Math.min(r + OVERSAMPLING, Math.min(x.rows(), x.cols()));
        Matrix q = orthonormalize(x.times(Matrix.gaussian(x.cols(), l, random)), random);
        for (int i = 0; i < POWER_ITERATIONS; i++) {
            Matrix z = orthonormalize(x.transposeTimes(q), random);
            q = orthonormalize(x.times(z), random);
        }
        Matrix b = q.transposeTimes(x); // l x cols, l <= GRAM_LIMIT unless r is large
        if (Math.min(b.rows(), b.cols()) <= GRAM_LIMIT) {
            return q.times(leadingLeft(b, r, random));
        }
        // a rank above the Gram limit: the l x l eigenproblem goes to LAPACK
        return q.times(orthonormalize(leadingEigenvectors(b.times(b.transpose()), r), random));
    }

    /** Eigenvectors of the symmetric matrix {@code s} for its {@code r} largest eigenvalues, as columns. */
    public static Matrix leadingEigenvectors(Matrix s, int r) {
        int n = s.rows();
        if (n <= GRAM_LIMIT) {
            try {
                return smallEigenvectors(s, r);
            } catch (MaxCountExceededException e) {
                // Commons Math's QL iteration can fail on highly degenerate spectra; LAPACK does not
            }
        }
        Matrix out = Matrix.zeros(n, r);
        INDArray a = Nd4j.createUninitialized(DataType.DOUBLE, new long[] {n, n}, 'f');
        a.data().asNioDouble().put(s.data()); // symmetric: row-major = column-major
        INDArray values = Eigen.symmetricGeneralizedEigenvalues(a, true); // a now holds eigenvectors as columns
        double[] vals = values.toDoubleVector();
        Integer[] order = argsortDescending(vals);
        double[] vectors = new double[n * n];
        a.data().asNioDouble().get(vectors); // column j = eigenvector j, in Fortran order
        for (int c = 0; c < Math.min(r, n); c++) {
            for (int i = 0; i < n; i++) {
                out.data()[i * r + c] = vectors[order[c] * n + i];
            }
        }
        return out;
    }

    /** Every eigenpair of a symmetric matrix, eigenvalues in descending order. */
    public record EigenPairs(double[] values, Matrix vectors) {
        /** The eigenvectors of the {@code r} largest eigenvalues, as the columns of an {@code n x r} matrix. */
        public Matrix leading(int r) {
            return vectors.columns(0, r);
        }
    }

    /**
     * The full eigendecomposition {@code s = V diag(values) V^T} of the symmetric matrix {@code s}
     * (LAPACK's divide-and-conquer {@code dsyevd} in the OpenBLAS that ND4J ships, called directly:
     * ND4J's own {@code Eigen} calls {@code dsyev}, 8x slower for the vectors, 15.8 s against 1.9 s at
     * n = 2048 here, two minutes a 4096 x 4096 layer; {@code n^3} flops), values descending.
     */
    public static EigenPairs symmetricEigen(Matrix s) {
        int n = s.rows();
        double[] sym = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                sym[i * n + j] = 0.5 * (s.data()[i * n + j] + s.data()[j * n + i]);
            }
        }
        double[] vals = new double[n];
        if (n > 0) {
            Nd4j.getExecutioner(); // the native libraries loaded as ND4J loads them
            int info = org.bytedeco.openblas.global.openblas.LAPACKE_dsyevd(
                    org.bytedeco.openblas.global.openblas.LAPACK_ROW_MAJOR, (byte) 'V', (byte) 'U', n, sym, n, vals);
            if (info != 0) {
                throw new IllegalStateException("symmetric eigendecomposition failed (LAPACK dsyevd info " + info + ")");
            }
        }
        Integer[] order = argsortDescending(vals);
        double[] vectors = new double[n * n]; // column j = eigenvector j, read as Fortran order below
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                vectors[j * n + i] = sym[i * n + j];
            }
        }
        double[] sorted = new double[n];
        double[] out = new double[n * n];
        for (int c = 0; c < n; c++) {
            sorted[c] = vals[order[c]];
            for (int i = 0; i < n; i++) {
                out[i * n + c] = vectors[order[c] * n + i];
            }
        }
        return new EigenPairs(sorted, new Matrix(n, n, out));
    }

    private static Matrix smallEigenvectors(Matrix s, int r) {
        int n = s.rows();
        Matrix out = Matrix.zeros(n, r);
        RealMatrix m = new Array2DRowRealMatrix(n, n);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                m.setEntry(i, j, 0.5 * (s.get(i, j) + s.get(j, i)));
            }
        }
        EigenDecomposition eig = new EigenDecomposition(m);
        double[] values = eig.getRealEigenvalues();
        Integer[] order = argsortDescending(values);
        for (int c = 0; c < Math.min(r, n); c++) {
            double[] v = eig.getEigenvector(order[c]).toArray();
            for (int i = 0; i < n; i++) {
                out.data()[i * r + c] = v[i];
            }
        }
        return out;
    }

    /**
     * Orthonormal columns spanning the columns of {@code m} (modified Gram-Schmidt, applied twice);
     * a column that is numerically dependent is replaced by a random direction orthogonal to the others.
     */
    public static Matrix orthonormalize(Matrix m, Random random) {
        int rows = m.rows();
        int cols = m.cols();
        if (cols > rows) {
            throw new IllegalArgumentException("cannot orthonormalize " + cols + " columns in dimension " + rows);
        }
        double[][] q = new double[cols][rows];
        for (int c = 0; c < cols; c++) {
            double[] v = new double[rows];
            for (int i = 0; i < rows; i++) {
                v[i] = m.get(i, c);
            }
            double original = norm(v);
            for (int attempt = 0; ; attempt++) {
                for (int pass = 0; pass < 2; pass++) {
                    for (int p = 0; p < c; p++) {
                        double dot = 0;
                        for (int i = 0; i < rows; i++) {
                            dot += q[p][i] * v[i];
                        }
                        for (int i = 0; i < rows; i++) {
                            v[i] -= dot * q[p][i];
                        }
                    }
                }
                double nv = norm(v);
                if (nv > 1e-10 * Math.max(original, 1e-300) && nv > 1e-300) {
                    for (int i = 0; i < rows; i++) {
                        v[i] /= nv;
                    }
                    break;
                }
                if (attempt > 8) {
                    throw new IllegalStateException("could not complete an orthonormal basis");
                }
                for (int i = 0; i < rows; i++) {
                    v[i] = random.nextGaussian();
                }
                original = norm(v);
            }
            q[c] = v;
        }
        Matrix out = Matrix.zeros(rows, cols);
        for (int c = 0; c < cols; c++) {
            for (int i = 0; i < rows; i++) {
                out.data()[i * cols + c] = q[c][i];
            }
        }
        return out;
    }

    private static double norm(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x * x;
        }
        return Math.sqrt(s);
    }

    private static Integer[] argsortDescending(double[] values) {
        Integer[] order = new Integer[values.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (x, y) -> Double.compare(values[y], values[x]));
        return order;
    }
}
