package dev.blockterm.decompose;

import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Subspace;

/**
 * The last factor of a form refitted to the layer's outputs: given {@code F} ({@code n x m}, what the
 * earlier factors compute from an input patch) and the metric {@code C} ({@code n x n}, the damped
 * covariance of the layer's inputs), {@code X = argmin tr((W - F X)^T C (W - F X))}, that is
 * {@code (F^T C F) X = F^T C W}: the exact optimum of the output error for that factor (what AIMET's
 * channel pruning calls reconstruction by linear regression). Solved through the eigendecomposition
 * of {@code F^T C F}, so a rank-deficient {@code F} (a dead channel, a repeated column) gives the
 * minimum-norm solution rather than a failure. Cost: {@code n^2 m + n m^2 + m^3}.
 */
public final class MetricLeastSquares {

    /** Eigenvalues below this fraction of the largest are treated as zero. */
    static final double CUTOFF = 1e-12;

    private MetricLeastSquares() {
    }

    /** {@code X} ({@code m x J}); {@code c} null: the Frobenius metric. */
    public static Matrix solve(Matrix f, Matrix c, Matrix w) {
        Matrix cf = c == null ? f : c.times(f); // C F, n x m
        Matrix normal = f.transposeTimes(cf); // F^T C F, m x m
        Matrix rhs = cf.transposeTimes(w); // F^T C W, m x J
        return pseudoSolve(normal, rhs);
    }

    /** {@code A^+ B} for a symmetric positive semidefinite {@code A}. */
    public static Matrix pseudoSolve(Matrix a, Matrix b) {
        Subspace.EigenPairs e = Subspace.symmetricEigen(a);
        int m = a.rows();
        double[] values = e.values();
        double top = Math.max(values.length == 0 ? 0 : values[0], 0);
        Matrix v = e.vectors();
        Matrix vtb = v.transposeTimes(b); // m x J
        double[] d = vtb.data();
        int cols = b.cols();
        for (int k = 0; k < m; k++) {
            double inv = values[k] > CUTOFF * top && values[k] > 0 ? 1 / values[k] : 0;
            for (int j = 0; j < cols; j++) {
                d[k * cols + j] *= inv;
            }
        }
        return v.times(vtb);
    }

    /** {@code tr(M^T C M)}: the squared norm of {@code M} in the metric ({@code c} null: Frobenius). */
    public static double squaredNorm(Matrix c, Matrix m) {
        return Math.max(c == null ? m.dot(m) : m.dot(c.times(m)), 0);
    }
}
