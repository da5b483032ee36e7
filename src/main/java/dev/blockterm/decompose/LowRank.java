package dev.blockterm.decompose;

import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Subspace;
import dev.blockterm.tensor.Tensor;
import java.util.List;

/**
 * Every truncation of one weight matrix at once: the best rank-{@code r} approximation
 * {@code W^ = A B} ({@code A: I x r}, {@code B: r x J}) of {@code W} ({@code I x J}) for every
 * {@code r}, in the Frobenius norm or, given the Gram matrix {@code C = X^T X} of calibration inputs,
 * in the metric of the layer's output {@code ||X (W - W^)||_F} (damped: {@code C + delta I}).
 *
 * <p>Eckart-Young: with {@code M = S^T W} where {@code C = S S^T} ({@code S = I} without calibration),
 * the best rank-{@code r} error is {@code sum_{k > r} lambda_k}, the eigenvalues of {@code M^T M}
 * (equally {@code M M^T}) beyond the r-th, so one eigendecomposition of the smaller Gram matrix gives
 * the whole error-versus-rank curve (DESIGN.md section 9). Whitened, the optimum is exact for the
 * output error (SVD-LLM): on the output side ({@code J <= I}), {@code W^ = W V_r V_r^T} with
 * {@code V} the eigenvectors of {@code W^T C W}, and no factor of {@code C} is needed; on the input
 * side ({@code I < J}), {@code S = L} (Cholesky), {@code A = L^-T U_r}, {@code B = U_r^T L^T W} with
 * {@code U} the eigenvectors of {@code L^T W W^T L}. Cost: {@code min(I,J)^3} for the eigenproblem
 * plus {@code I J min(I,J)} (and {@code I^2 J} with calibration) for the Gram matrices.
 */
public final class LowRank {

    /** Which Gram matrix was decomposed: {@code M^T M} on the output side ({@code J <= I}), else {@code M M^T}. */
    public enum Side { OUTPUT, INPUT }

    /**
     * The leading bases the factors are read from, up to rank {@link #kept()}, each truncation a
     * prefix of the next: on the output side {@code P = V} ({@code A = W P_r}, {@code B = P_r^T});
     * on the input side {@code P = U} ({@code A = P_r}, {@code B = P_r^T W}), or whitened
     * {@code P = L^-T U} and {@code Q = L U} ({@code A = P_r}, {@code B = Q_r^T W}). Held here, or
     * read back from where a fit elsewhere staged them.
     */
    public interface Bases {
        /** The first {@code r} columns of P ({@code n x r}, row-major). */
        Matrix p(int r);

        /** The first {@code r} columns of Q, or null where B is read from P. */
        Matrix q(int r);

        int kept();
    }

    /** Bases held in memory (all {@code kept} columns). */
    public record HeldBases(Matrix p, Matrix q) implements Bases {
        public Matrix p(int r) {
            return p.columns(0, r);
        }

        public Matrix q(int r) {
            return q == null ? null : q.columns(0, r);
        }

        public int kept() {
            return p.cols();
        }
    }

    private final java.util.function.Supplier<Matrix> weight; // read again when factors are asked for
    private final int rows;
    private final int cols;
    private final Side side;
    private final Bases bases;
    private final double total;
    private final double[] tails; // tails[r] = sum_{k >= r} lambda_k

    private LowRank(java.util.function.Supplier<Matrix> weight, int rows, int cols, Side side, double[] tails,
                    Bases bases) {
        this.weight = weight;
        this.rows = rows;
        this.cols = cols;
        this.side = side;
        this.tails = tails;
        this.total = tails[0];
        this.bases = bases;
    }

    /** The curve from its eigendecomposition, keeping the bases up to rank {@code keep}. */
    private static LowRank decomposed(Matrix weight, Whitening whitening, Matrix damped, int keep) {
        int rows = weight.rows();
        int cols = weight.cols();
        Side side = cols <= rows ? Side.OUTPUT : Side.INPUT;
        Matrix gram;
        if (side == Side.OUTPUT) {
            Matrix metric = damped == null ? weight : damped.times(weight); // C W, I x J
            gram = weight.transposeTimes(metric); // W^T C W, J x J
        } else {
            Matrix m = whitening == null ? weight : whitening.apply(weight); // L^T W, I x J
            gram = m.times(m.transpose()); // I x I
        }
        dev.blockterm.tensor.Gemm.release(); // the weight's native copies go before LAPACK makes its own
        Subspace.EigenPairs eigen = Subspace.symmetricEigen(gram);
        double[] values = eigen.values();
        double[] tails = new double[values.length + 1];
        for (int k = values.length - 1; k >= 0; k--) {
            tails[k] = tails[k + 1] + Math.max(values[k], 0);
        }
        int kept = Math.max(0, Math.min(keep, values.length));
        Matrix top = eigen.leading(kept);
        Bases bases = whitening == null ? new HeldBases(top, null)
                : new HeldBases(whitening.unapply(top), whitening.applyTransposed(top));
        return new LowRank(() -> weight, rows, cols, side, tails, bases);
    }

    /** The curve of {@code W} ({@code rows x cols}, row-major) in the Frobenius norm. */
    public static LowRank of(Matrix weight) {
        return of(weight, Math.min(weight.rows(), weight.cols()));
    }

    /** As {@link #of(Matrix)}, factors offered up to rank {@code keep} only. */
    public static LowRank of(Matrix weight, int keep) {
        return decomposed(weight, null, null, keep);
    }

    /**
     * The curve in the metric of the output on calibration inputs whose Gram matrix is {@code xtx}
     * ({@code I x I}), damped by {@code damping} times its mean diagonal.
     */
    public static LowRank whitened(Matrix weight, Matrix xtx, double damping) {
        return whitened(weight, xtx, damping, Math.min(weight.rows(), weight.cols()));
    }

    /** As {@link #whitened(Matrix, Matrix, double)}, factors offered up to rank {@code keep} only. */
    public static LowRank whitened(Matrix weight, Matrix xtx, double damping, int keep) {
        if (xtx.rows() != weight.rows() || xtx.cols() != weight.rows()) {
            throw new IllegalArgumentException("calibration Gram matrix: expected " + weight.rows() + "x" + weight.rows()
                    + " for a " + weight.rows() + "x" + weight.cols() + " weight, found " + xtx.rows() + "x" + xtx.cols());
        }
        Matrix damped = Whitening.damped(xtx, damping);
        boolean outputSide = weight.cols() <= weight.rows();
        return decomposed(weight, outputSide ? null : Whitening.ofGram(xtx, damping), outputSide ? damped : null, keep);
    }

    /**
     * A curve decomposed elsewhere (a staged fit): its tails ({@code tails[r]}, the squared error at
     * rank r, {@code min(I, J) + 1} of them), its bases, and the weight, read again when the factors are.
     */
    public static LowRank restored(int rows, int cols, Side side, double[] tails, Bases bases,
                                   java.util.function.Supplier<Matrix> weight) {
        if (tails.length != Math.min(rows, cols) + 1) {
            throw new IllegalArgumentException("tails: expected " + (Math.min(rows, cols) + 1) + " for " + rows + "x"
                    + cols + ", found " + tails.length);
        }
        return new LowRank(weight, rows, cols, side, tails.clone(), bases);
    }

    /**
     * The curve of a layer whose inputs change upstream (the layers before it compressed): to keep
     * the original outputs {@code X W} from the inputs {@code X'} it now gets, the best weight is
     * {@code W* = (X'^T X')^-1 X'^T X W}, and since
     * {@code ||X W - X' W^||^2 = ||X W - X' W*||^2 + ||X' (W* - W^)||^2}, the best rank-r weight is
     * the whitened truncation of {@code W*} in the metric of {@code X'} (SVD-LLM's sequential update,
     * exactly). {@code gPrime = X'^T X'}, {@code cross = X'^T X}. Damped as the whitened curve is, toward
     * the weight: {@code ||X W - X' W^||^2 + delta ||W - W^||^2} is least at
     * {@code W* = (X'^T X' + delta I)^-1 (X'^T X W + delta W)}, which is {@code W} itself where the inputs
     * did not change (a ridge toward 0 would shrink every refitted weight by the damping).
     */
    public static LowRank compensated(Matrix weight, Matrix gPrime, Matrix cross, double damping) {
        return compensated(weight, gPrime, cross, damping, Math.min(weight.rows(), weight.cols()));
    }

    /** As {@link #compensated(Matrix, Matrix, Matrix, double)}, factors offered up to rank {@code keep} only. */
    public static LowRank compensated(Matrix weight, Matrix gPrime, Matrix cross, double damping, int keep) {
        Matrix target = MetricLeastSquares.pseudoSolve(Whitening.damped(gPrime, damping),
                cross.times(weight).plus(weight.scale(Whitening.delta(gPrime, damping))));
        return whitened(target, gPrime, damping, keep);
    }

    /**
     * {@code ||X W - X' W^||^2 / ||X W||^2} from the covariances {@code g = X^T X},
     * {@code gPrime = X'^T X'} and {@code cross = X'^T X}.
     */
    public static double compensatedError(Matrix weight, Matrix approx, Matrix g, Matrix gPrime, Matrix cross) {
        double total = weight.dot(g.times(weight));
        double e = total - 2 * approx.dot(cross.times(weight)) + approx.dot(gPrime.times(approx));
        return total <= 0 ? 0 : Math.sqrt(Math.max(e, 0) / total);
    }

    public Side side() {
        return side;
    }

    public Bases bases() {
        return bases;
    }

    /** {@code tails[r]}, the least squared error at rank r, for every r from 0 to {@link #maxRank()}. */
    public double[] tails() {
        return tails.clone();
    }

    /** The largest rank whose factors are offered. */
    public int kept() {
        return bases.kept();
    }

    /** The largest rank, {@code min(I, J)}. */
    public int maxRank() {
        return tails.length - 1;
    }

    /** {@code ||M||_F^2}: the squared norm of the weight in the metric. */
    public double total() {
        return total;
    }

    /** The least squared error of a rank-{@code r} approximation in the metric: {@code sum_{k > r} lambda_k}. */
    public double tail(int r) {
        return tails[Math.max(0, Math.min(r, maxRank()))];
    }

    /** {@code sqrt(tail(r) / total())}: the relative error of the best rank-{@code r} approximation. */
    public double relativeError(int r) {
        return total == 0 ? 0 : Math.sqrt(tail(r) / total);
    }

    /** The factors {@code A} ({@code I x r}) and {@code B} ({@code r x J}) of the best rank-{@code r} approximation. */
    public Matrix[] factors(int r) {
        if (r < 1 || r > kept()) {
            throw new IllegalArgumentException("rank: expected 1.." + kept() + ", found " + r);
        }
        Matrix p = bases.p(r);
        if (side == Side.OUTPUT) {
            return balanced(weight.get().times(p), p.transpose()); // W V_r, V_r^T
        }
        Matrix q = bases.q(r);
        return balanced(p, (q == null ? p : q).transposeTimes(weight.get())); // U_r, U_r^T W (whitened: L U_r)
    }

    /**
     * {@code A} and {@code B} rescaled so that each column of {@code A} and the matching row of
     * {@code B} have equal norms ({@code A B} unchanged): neither factor holds the scale alone, which
     * keeps both inside float16's range where the weight is stored in it.
     */
    static Matrix[] balanced(Matrix a, Matrix b) {
        int r = a.cols();
        double[] ad = a.data().clone();
        double[] bd = b.data().clone();
        for (int k = 0; k < r; k++) {
            double na = 0;
            for (int i = 0; i < a.rows(); i++) {
                na += ad[i * r + k] * ad[i * r + k];
            }
            double nb = 0;
            for (int j = 0; j < b.cols(); j++) {
                nb += bd[k * b.cols() + j] * bd[k * b.cols() + j];
            }
            if (na == 0 || nb == 0) {
                continue;
            }
            double s = Math.sqrt(Math.sqrt(nb / na)); // a *= s, b /= s: both norms sqrt(|a| |b|)
            for (int i = 0; i < a.rows(); i++) {
                ad[i * r + k] *= s;
            }
            for (int j = 0; j < b.cols(); j++) {
                bd[k * b.cols() + j] /= s;
            }
        }
        return new Matrix[] {new Matrix(a.rows(), r, ad), new Matrix(r, b.cols(), bd)};
    }

    /** The best rank-{@code r} approximation as a two-core tensor train over {@code I x J}. */
    public TensorTrain tensorTrain(int r) {
        Matrix[] f = factors(r);
        return new TensorTrain(List.of(new Tensor(new int[] {1, rows, r}, f[0].data()),
                new Tensor(new int[] {r, cols, 1}, f[1].data())));
    }
}
