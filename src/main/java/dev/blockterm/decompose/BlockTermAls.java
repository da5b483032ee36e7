package dev.blockterm.decompose;

import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Subspace;
import dev.blockterm.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Block-term decomposition by alternating least squares: block after block, one HOOI sweep of
 * the block on the residual of the others (DESIGN.md section 4, "update one block at a time as
 * the best Tucker approximation of the residual").
 *
 * <p>Model: {@code T ~= sum_n G_n x_1 A_n^(1) ... x_d A_n^(d)}, {@code A_n^(k)} of shape
 * {@code S_k x R_k} with orthonormal columns, {@code G_n} of shape {@code R_1 x ... x R_d}.
 * For block n and mode k, with the residual {@code E_n = T - sum_{m != n} term_m},
 * <pre>
 *   Y = E_n x_{j != k} A_n^(j)T
 *     = T x_{j != k} A_n^(j)T - sum_{m != n} G_m x_k A_m^(k) x_{j != k} (A_n^(j)T A_m^(j))
 *   A_n^(k) = leading R_k left singular vectors of Y_(k)
 * </pre>
 * and after the modes, {@code G_n = E_n x_j A_n^(j)T} computed the same way. Only the products
 * with T touch the full tensor, the other blocks enter through {@code R x R} Gram matrices. The
 * products with T share their prefix ({@code T x_1 A_n^(1)T} feeds every later mode), so a sweep
 * costs about {@code 4 N R |T|} flops plus small algebra.
 *
 * <p>The error never rises: each factor update maximizes {@code ||E_n x_j A_n^(j)T||} with the
 * old factor feasible, and the projected core is the best core for the factors.
 */
public final class BlockTermAls {

    private BlockTermAls() {
    }

    public static FitResult<BlockTerm> fit(Tensor t, BlockTermConfig config) {
        config.validateFor(t.shape());
        FitResult<BlockTerm> best = null;
        for (int s = 0; s < config.starts(); s++) {
            // AUTO tries the algebraic start where it applies and the greedy one, keeping the better fit:
            // the algebraic start is exact on block-term data but can be poor on trained weights
            boolean both = config.init() == Initialization.AUTO
                    && AlgebraicStart.modes(t.shape(), config.blocks(), config.ranks()).isPresent();
            List<FitResult<BlockTerm>> fits = new ArrayList<>();
            fits.add(fitOnce(t, both ? config.withInit(Initialization.ALGEBRAIC) : config, config.seed() + s));
            if (both && fits.get(0).relativeError() > 1e-10) {
                fits.add(fitOnce(t, config.withInit(Initialization.GREEDY), config.seed() + s));
            }
            for (FitResult<BlockTerm> r : fits) {
                if (best == null || r.relativeError() < best.relativeError()) {
                    best = r;
                }
            }
        }
        return best;
    }

    private static FitResult<BlockTerm> fitOnce(Tensor t, BlockTermConfig config, long seed) {
        long started = System.nanoTime();
        Random random = new Random(seed);
        int[] ranks = config.ranks();
        Initialization used = config.init();
        BlockTerm start = null;
        if (used == Initialization.AUTO || used == Initialization.ALGEBRAIC) {
            start = AlgebraicStart.start(t, config.blocks(), ranks, random).orElse(null);
            used = start != null ? Initialization.ALGEBRAIC : Initialization.GREEDY;
        }
        if (start == null) {
            start = used == Initialization.RANDOM
                    ? RandomStart.start(t, config.blocks(), ranks, random)
                    : GreedyDeflation.start(t, config.blocks(), ranks, random);
        }

        int blocks = config.blocks();
        int d = t.order();
        Matrix[][] a = new Matrix[blocks][];
        Tensor[] g = new Tensor[blocks];
        for (int n = 0; n < blocks; n++) {
            a[n] = start.terms().get(n).factors().toArray(new Matrix[0]);
            g[n] = start.terms().get(n).core();
        }
        double normT = t.norm();
        double normT2 = normT * normT;
        List<Double> errors = new ArrayList<>();
        Tensor[] projections = new Tensor[blocks];
        for (int n = 0; n < blocks; n++) {
            projections[n] = projectAll(t, a[n]);
        }
        errors.add(relativeError(normT2, a, g, projections));

        boolean converged = errors.get(0) <= 1e-13;
        int sweeps = 0;
        while (!converged && sweeps < config.maxSweeps()) {
            for (int n = 0; n < blocks; n++) {
                projections[n] = updateBlock(t, a, g, n, ranks, random);
            }
            sweeps++;
            double error = relativeError(normT2, a, g, projections);
            double previous = errors.get(errors.size() - 1);
            errors.add(error);
            // relative change of the error; an exact fit stops at once
            converged = error <= 1e-13 || (previous - error) <= config.tolerance() * previous;
        }
        List<Term> terms = new ArrayList<>();
        for (int n = 0; n < blocks; n++) {
            terms.add(new Term(g[n], Arrays.asList(a[n])));
        }
        BlockTerm model = new BlockTerm(terms);
        double finalError = normT == 0 ? 0 : t.minus(model.reconstruct()).norm() / normT;
        double[] history = errors.stream().mapToDouble(Double::doubleValue).toArray();
        return new FitResult<>(model, history, sweeps, converged, finalError, used,
                (System.nanoTime() - started) / 1e9);
    }

    /** One HOOI sweep of block n on its residual; returns {@code T x_j A_n^(j)T} for the new factors. */
    private static Tensor updateBlock(Tensor t, Matrix[][] a, Tensor[] g, int n, int[] ranks, Random random) {
        int d = t.order();
        // mode 0: contract the others from the last mode down (the first product is one GEMM)
        Tensor y = t;
        for (int j = d - 1; j >= 1; j--) {
            y = y.project(j, a[n][j]);
        }
        a[n][0] = Subspace.leadingLeft(minusOthers(y, a, g, n, 0).unfold(0), ranks[0], random);
        Tensor prefix = t.project(0, a[n][0]); // T x_0 A^(0)T, shared by every later mode
        for (int k = 1; k < d; k++) {
            Tensor z = prefix;
            for (int j = d - 1; j > k; j--) {
                z = z.project(j, a[n][j]);
            }
            a[n][k] = Subspace.leadingLeft(minusOthers(z, a, g, n, k).unfold(k), ranks[k], random);
            prefix = prefix.project(k, a[n][k]);
        }
        g[n] = minusOthers(prefix, a, g, n, -1);
        return prefix;
    }

    /**
     * {@code y - sum_{m != n} G_m x_k A_m^(k) x_{j != k} (A_n^(j)T A_m^(j))}: the other blocks'
     * share of {@code T x_{j != k} A_n^(j)T}; with {@code k = -1} every mode is projected.
     */
    private static Tensor minusOthers(Tensor y, Matrix[][] a, Tensor[] g, int n, int k) {
        Tensor out = y;
        for (int m = 0; m < g.length; m++) {
            if (m != n) {
                out = out.minus(crossProjection(a, g, n, m, k));
            }
        }
        return out;
    }

    private static Tensor crossProjection(Matrix[][] a, Tensor[] g, int n, int m, int k) {
        Tensor c = g[m];
        for (int j = 0; j < c.order(); j++) {
            c = c.modeProduct(j, j == k ? a[m][j] : a[n][j].transposeTimes(a[m][j]));
        }
        return c;
    }

    private static Tensor projectAll(Tensor t, Matrix[] factors) {
        Tensor p = t;
        for (int k = 0; k < factors.length; k++) {
            p = p.project(k, factors[k]);
        }
        return p;
    }

    /**
     * {@code ||T - sum_n term_n|| / ||T||} from small quantities:
     * {@code ||T||^2 - 2 sum_n <G_n, T x A_n^T> + sum_{n,m} <G_n, G_m x_j (A_n^(j)T A_m^(j))>}
     * (orthonormal factors make {@code <term_n, term_n> = ||G_n||^2}).
     */
    private static double relativeError(double normT2, Matrix[][] a, Tensor[] g, Tensor[] projections) {
        if (normT2 == 0) {
            return 0;
        }
        double e2 = normT2;
        for (int n = 0; n < g.length; n++) {
            e2 -= 2 * g[n].dot(projections[n]);
            for (int m = 0; m < g.length; m++) {
                e2 += m == n ? g[n].dot(g[n]) : g[n].dot(crossProjection(a, g, n, m, -1));
            }
        }
        return Math.sqrt(Math.max(e2, 0) / normT2);
    }
}
