package dev.blockterm.decompose;

import dev.blockterm.tensor.Gemm;
import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Calibration-aware fitting (DESIGN.md section 4). For a layer {@code y = x W} with calibration
 * inputs {@code X} ({@code n x I}), what matters is {@code ||X (W - W^)||_F}. With
 * {@code X^T X + delta I = L L^T} (Cholesky), {@code ||X M||_F^2 = ||L^T M||_F^2 - delta ||M||^2}, so
 * fitting {@code L^T W} and multiplying the input factor by {@code L^-T} afterwards minimizes the
 * layer's output error exactly (up to the damping) whenever the input is one mode of the tensor.
 * The damping {@code delta = damping * mean(diag(X^T X))} keeps L invertible when X is rank deficient.
 * Cost: {@code n I^2} for the Gram matrix, {@code I^3 / 3} for the factorization.
 */
public final class Whitening {

    /** Relative damping added to the Gram matrix's diagonal (1% of its mean, the convention of GPTQ). */
    public static final double DEFAULT_DAMPING = 1e-2;

    private final Matrix upper; // L^T, I x I, upper triangular

    private Whitening(Matrix upper) {
        this.upper = upper;
    }

    /** From calibration inputs {@code x} ({@code n x I}). */
    public static Whitening of(Matrix x, double damping) {
        return ofGram(gram(x), damping);
    }

    /** {@code X^T X} of calibration inputs {@code x} ({@code n x I}): {@code I x I}, row-major. */
    public static Matrix gram(Matrix x) {
        int n = x.cols();
        double[] gram = new double[n * n];
        Gemm.multiply(true, false, n, n, x.rows(), x.data(), 0, x.data(), 0, gram, 0);
        return new Matrix(n, n, gram);
    }

    /**
     * From the Gram matrix {@code X^T X} of the calibration inputs, damped by
     * {@code damping * mean(diag)} (at least 1e-12), so that a dead input channel cannot make L singular.
     */
    public static Whitening ofGram(Matrix xtx, double damping) {
        return new Whitening(new Matrix(xtx.rows(), xtx.rows(), choleskyUpper(damped(xtx, damping).data(), xtx.rows())));
    }

    /**
     * From a metric that is already damped, {@code C = X^T X + delta I} ({@code I x I}, symmetric
     * positive definite, as {@link #damped} returns it): {@code C = L L^T} as given, no damping added,
     * so that {@code ||L^T M||_F^2 = tr(M^T C M)} exactly.
     */
    public static Whitening ofMetric(Matrix c) {
        if (c.rows() != c.cols()) {
            throw new IllegalArgumentException("metric: expected a square matrix, found " + c.rows() + "x" + c.cols());
        }
        return new Whitening(new Matrix(c.rows(), c.rows(), choleskyUpper(c.data(), c.rows())));
    }

    /** {@code X^T X + delta I} with {@code delta = damping * mean(diag)}. */
    public static Matrix damped(Matrix xtx, double damping) {
        int n = xtx.rows();
        double[] gram = xtx.data().clone();
        double delta = delta(xtx, damping);
        for (int i = 0; i < n; i++) {
            gram[i * n + i] += delta;
        }
        return new Matrix(n, n, gram);
    }

    /** The damping {@link #damped} adds to the diagonal: {@code damping * mean(diag)}, at least 1e-12. */
    public static double delta(Matrix xtx, double damping) {
        int n = xtx.rows();
        double trace = 0;
        for (int i = 0; i < n; i++) {
            trace += xtx.data()[i * n + i];
        }
        return Math.max(damping * trace / n, 1e-12);
    }

    /** {@code ||X M||_F = sqrt(tr(M^T C M))} from the Gram matrix {@code C = X^T X} ({@code I x I}, {@code M: I x J}). */
    public static double outputNorm(Matrix xtx, Matrix m) {
        return Math.sqrt(Math.max(m.dot(xtx.times(m)), 0));
    }

    /** {@code U} with {@code U^T U = A} (that is, {@code L^T} for {@code A = L L^T}), row-major. */
    static double[] choleskyUpper(double[] a, int n) {
        double[] u = new double[n * n];
        for (int i = 0; i < n; i++) {
            double d = a[i * n + i];
            for (int k = 0; k < i; k++) {
                d -= u[k * n + i] * u[k * n + i];
            }
            if (!(d > 0)) {
                throw new IllegalStateException("calibration Gram matrix is not positive definite at row " + i);
            }
            double uii = Math.sqrt(d);
            u[i * n + i] = uii;
            for (int j = i + 1; j < n; j++) {
                double s = a[i * n + j];
                for (int k = 0; k < i; k++) {
                    s -= u[k * n + i] * u[k * n + j];
                }
                u[i * n + j] = s / uii;
            }
        }
        return u;
    }

    /**
     * The decomposition of {@code W} from one of {@code L^T W}: the factor of {@code mode} (which must
     * be the whole input, of size I) multiplied by {@code L^-T}.
     */
    public Decomposition unwhiten(Decomposition whitened, int mode) {
        if (whitened instanceof BlockTerm bt) {
            List<Term> terms = new ArrayList<>();
            for (Term t : bt.terms()) {
                List<Matrix> factors = new ArrayList<>(t.factors());
                factors.set(mode, unapply(factors.get(mode)));
                terms.add(new Term(t.core(), factors));
            }
            return new BlockTerm(terms);
        }
        TensorTrain tt = (TensorTrain) whitened;
        if (mode != 0) {
            throw new IllegalArgumentException("whitening: a tensor train is unwhitened on its first mode only");
        }
        List<Tensor> cores = new ArrayList<>(tt.cores());
        Tensor first = cores.get(0); // 1 x I x r
        Matrix m = unapply(new Matrix(first.size(1), first.size(2), first.data()));
        cores.set(0, new Tensor(first.shape(), m.data()));
        return new TensorTrain(cores);
    }

    public int size() {
        return upper.rows();
    }

    /** {@code L^T M} for {@code M} of shape {@code I x J}. */
    public Matrix apply(Matrix m) {
        return upper.times(m);
    }

    /** {@code L M} for {@code M} of shape {@code I x J}. */
    public Matrix applyTransposed(Matrix m) {
        return upper.transposeTimes(m);
    }

    /** {@code L^-T M}: solves {@code L^T Y = M} by back substitution. */
    public Matrix unapply(Matrix m) {
        int n = upper.rows();
        int cols = m.cols();
        double[] u = upper.data();
        double[] y = m.data().clone();
        for (int i = n - 1; i >= 0; i--) {
            for (int k = i + 1; k < n; k++) {
                double uik = u[i * n + k];
                if (uik != 0) {
                    for (int c = 0; c < cols; c++) {
                        y[i * cols + c] -= uik * y[k * cols + c];
                    }
                }
            }
            double uii = u[i * n + i];
            for (int c = 0; c < cols; c++) {
                y[i * cols + c] /= uii;
            }
        }
        return new Matrix(n, cols, y);
    }
}
