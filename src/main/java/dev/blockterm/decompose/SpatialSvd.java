package dev.blockterm.decompose;

import dev.blockterm.tensor.Matrix;

/**
 * Spatial SVD of a 2-D convolution (as AIMET does): the kernel {@code W[o, c, i, j]}
 * ({@code C_out x C_in x k_h x k_w}) read as the matrix {@code S[(c, i), (j, o)]}
 * ({@code (C_in k_h) x (k_w C_out)}) and approximated as {@code P Q} ({@code P: (C_in k_h) x r},
 * {@code Q: r x (k_w C_out)}) is exactly a {@code k_h x 1} convolution {@code C_in -> r} followed
 * by a {@code 1 x k_w} convolution {@code r -> C_out}. Parameters {@code r (C_in k_h + k_w C_out)}.
 *
 * <p>In the Frobenius norm of the kernel the truncated SVD of {@code S} is optimal at every rank
 * ({@link LowRank}). In the metric of the layer's outputs ({@code C}: the damped covariance of its
 * im2col patches, indexed {@code (c, i, j)}) no whitening separates the two factors, so the SVD start
 * is refined by alternating least squares in the metric: {@code Q} given {@code P} exactly
 * ({@link MetricLeastSquares}, a system of size {@code r k_w}); {@code P} given {@code Q} by conjugate
 * gradients on its normal equations (size {@code C_in k_h r}; each step one product with {@code C}).
 * Each half-step minimizes the same quadratic, so the error never rises.
 */
public final class SpatialSvd {

    private final int cIn;
    private final int kh;
    private final int kw;
    private final int cOut;
    private final Matrix m; // the kernel as (C_in k_h k_w) x C_out, rows (c, i, j)
    private final LowRank svd;

    /** @param m the kernel as the {@code (C_in k_h k_w) x C_out} matrix, rows ordered {@code (c, i, j)} */
    public SpatialSvd(Matrix m, int cIn, int kh, int kw) {
        if (m.rows() != cIn * kh * kw) {
            throw new IllegalArgumentException("spatial SVD: " + m.rows() + " rows for C_in k_h k_w = " + cIn * kh * kw);
        }
        this.m = m;
        this.cIn = cIn;
        this.kh = kh;
        this.kw = kw;
        this.cOut = m.cols();
        this.svd = LowRank.of(reshape(m));
    }

    /** The rank-r form's factors and its squared error in the metric. */
    public record Fit(Matrix p, Matrix q, double squaredError, double total, int sweeps) {
        public double relativeError() {
            return total == 0 ? 0 : Math.sqrt(Math.max(squaredError, 0) / total);
        }
    }

    /** The largest rank ({@code min(C_in k_h, k_w C_out)}). */
    public int maxRank() {
        return svd.maxRank();
    }

    /** Parameters at rank r. */
    public long parameters(int r) {
        return (long) r * ((long) cIn * kh + (long) kw * cOut);
    }

    /** The Frobenius-optimal relative error at rank r (the SVD's curve). */
    public double relativeError(int r) {
        return svd.relativeError(r);
    }

    /**
     * The rank-r fit in the metric {@code c} ({@code (C_in K) x (C_in K)}; null: the Frobenius norm,
     * the SVD itself), refined by {@code sweeps} alternating sweeps.
     */
    public Fit fit(int r, Matrix c, int sweeps) {
        Matrix[] pq = svd.factors(r);
        Matrix p = pq[0];
        Matrix q = pq[1];
        double total = MetricLeastSquares.squaredNorm(c, m);
        if (c == null) {
            return new Fit(p, q, svd.tail(r), svd.total(), 0);
        }
        double error = squaredError(c, p, q);
        Matrix bestP = p;
        Matrix bestQ = q;
        int done = 0;
        for (int s = 0; s < sweeps; s++) {
            q = fitQ(c, p);
            p = fitP(c, p, q, 12);
            double e = squaredError(c, p, q);
            done++;
            boolean small = error - e <= 1e-4 * error;
            if (e < error) { // the factors returned are those whose error is reported
                error = e;
                bestP = p;
                bestQ = q;
            }
            if (small) {
                break;
            }
        }
        Matrix[] balanced = LowRank.balanced(bestP, bestQ);
        return new Fit(balanced[0], balanced[1], error, total, done);
    }

    /** {@code S} from {@code M}: {@code S[(c,i), (j,o)] = M[(c,i,j), o]}. */
    private Matrix reshape(Matrix mat) {
        double[] s = new double[cIn * kh * kw * cOut];
        int cols = kw * cOut;
        for (int ci = 0; ci < cIn * kh; ci++) {
            for (int j = 0; j < kw; j++) {
                System.arraycopy(mat.data(), (ci * kw + j) * cOut, s, ci * cols + j * cOut, cOut);
            }
        }
        return new Matrix(cIn * kh, cols, s);
    }

    /** {@code M^ = expand(P Q)}, {@code (C_in k_h k_w) x C_out}. */
    public Matrix expand(Matrix p, Matrix q) {
        Matrix s = p.times(q); // (C_in k_h) x (k_w C_out)
        double[] out = new double[m.rows() * cOut];
        int cols = kw * cOut;
        for (int ci = 0; ci < cIn * kh; ci++) {
            for (int j = 0; j < kw; j++) {
                System.arraycopy(s.data(), ci * cols + j * cOut, out, (ci * kw + j) * cOut, cOut);
            }
        }
        return new Matrix(m.rows(), cOut, out);
    }

    private double squaredError(Matrix c, Matrix p, Matrix q) {
        Matrix d = m.plus(expand(p, q).scale(-1));
        return MetricLeastSquares.squaredNorm(c, d);
    }

    /** Q given P, exactly: {@code F[(c,i,j), (r,j')] = P[(c,i), r] delta(j, j')}. */
    private Matrix fitQ(Matrix c, Matrix p) {
        int r = p.cols();
        double[] f = new double[m.rows() * r * kw];
        for (int ci = 0; ci < cIn * kh; ci++) {
            for (int j = 0; j < kw; j++) {
                int row = ci * kw + j;
                for (int k = 0; k < r; k++) {
                    f[row * r * kw + k * kw + j] = p.get(ci, k);
                }
            }
        }
        Matrix x = MetricLeastSquares.solve(new Matrix(m.rows(), r * kw, f), c, m); // (r k_w) x C_out
        double[] q = new double[r * kw * cOut];
        for (int k = 0; k < r; k++) {
            for (int j = 0; j < kw; j++) {
                System.arraycopy(x.data(), (k * kw + j) * cOut, q, k * kw * cOut + j * cOut, cOut);
            }
        }
        return new Matrix(r, kw * cOut, q);
    }

    /**
     * The gradient map of the P half-step: {@code G(E)[(c,i), r] = sum_{j,o} E[(c,i,j), o] Q[r, (j,o)]},
     * the adjoint of {@code P -> expand(P Q)}.
     */
    private Matrix adjoint(Matrix e, Matrix q) {
        // E as (C_in k_h) x (k_w C_out) is S-shaped; G = E_S Q^T
        return reshape(e).times(q.transpose());
    }

    /** P given Q: conjugate gradients on {@code A(P) = adjoint(C expand(P Q)) = adjoint(C M)}, from the current P. */
    private Matrix fitP(Matrix c, Matrix p, Matrix q, int iterations) {
        Matrix b = adjoint(c.times(m), q);
        Matrix x = p;
        Matrix res = b.plus(adjoint(c.times(expand(x, q)), q).scale(-1));
        Matrix dir = res;
        double rr = res.dot(res);
        double start = rr;
        for (int it = 0; it < iterations && rr > 1e-20 * start && rr > 0; it++) {
            Matrix ad = adjoint(c.times(expand(dir, q)), q);
            double curvature = dir.dot(ad);
            if (!(curvature > 0)) {
                break;
            }
            double alpha = rr / curvature;
            x = x.plus(dir.scale(alpha));
            res = res.plus(ad.scale(-alpha));
            double next = res.dot(res);
            dir = res.plus(dir.scale(next / rr));
            rr = next;
        }
        return x;
    }
}
