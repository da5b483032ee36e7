package dev.blockterm.decompose;

import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Subspace;
import dev.blockterm.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.IntPredicate;

/**
 * Block-term decomposition by alternating least squares: one step updates one factor of one block
 * as the best subspace for the block's residual, then the block's core (DESIGN.md section 4,
 * "update one block at a time as the best Tucker approximation of the residual").
 *
 * <p>Model: {@code T ~= sum_n G_n x_1 A_n^(1) ... x_d A_n^(d)}, {@code A_n^(k)} of shape
 * {@code S_k x R_k} with orthonormal columns, {@code G_n} of shape {@code R_1 x ... x R_d}.
 * For block n and mode k, with the residual {@code E_n = T - sum_{m != n} term_m},
 * <pre>
 *   Y = E_n x_{j != k} A_n^(j)T
 *     = T x_{j != k} A_n^(j)T - sum_{m != n} G_m x_k A_m^(k) x_{j != k} (A_n^(j)T A_m^(j))
 *   A_n^(k) = leading R_k left singular vectors of Y_(k),   G_n = Y x_k A_n^(k)T
 * </pre>
 * Only the products with T touch the full tensor; the other blocks enter through {@code R x R}
 * Gram matrices.
 *
 * <p>A sweep goes mode by mode, and within a mode block by block, so that the products with T
 * follow a dimension tree shared by all blocks: the modes split into a left half {@code [0, h)}
 * and a right half {@code [h, d)}. Before the left half's steps, {@code T x_{j >= h} A_n^(j)T}
 * (right factors not yet changed this sweep); before the right half's,
 * {@code T x_{j < h} A_n^(j)T} (left factors just updated). Each starts with one product of T
 * with all N blocks' factors side by side ({@link Tensor#projectEach}), so a sweep reads T twice,
 * in two GEMMs {@code N R} columns wide, about {@code 4 N R |T|} flops; everything after works on
 * tensors {@code S / R} times smaller.
 *
 * <p>The error never rises: each step maximizes {@code ||E_n x_j A_n^(j)T||} over one factor with
 * the old factor feasible, and the re-projected core is the best core for the factors.
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
        Partials all = Partials.of(t, a, 0, d);
        for (int n = 0; n < blocks; n++) {
            projections[n] = all.project(n, a[n], -1);
        }
        errors.add(relativeError(normT2, a, g, projections));

        boolean converged = errors.get(0) <= 1e-13;
        int sweeps = 0;
        long sweepNanos = 0;
        while (!converged && sweeps < config.maxSweeps()) {
            long sweepStarted = System.nanoTime();
            projections = sweep(t, a, g, ranks, random);
            sweepNanos += System.nanoTime() - sweepStarted;
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
                (System.nanoTime() - started) / 1e9, sweepNanos / 1e9);
    }

    /** One sweep: every factor of every block once; returns {@code T x_j A_n^(j)T} for each block n. */
    private static Tensor[] sweep(Tensor t, Matrix[][] a, Tensor[] g, int[] ranks, Random random) {
        int d = t.order();
        int h = d / 2;
        Partials left = Partials.of(t, a, h, d); // T x_{j >= h} A_n^(j)T: right factors as they were
        updateModes(left, a, g, ranks, random);
        Partials right = Partials.of(t, a, 0, h); // T x_{j < h} A_n^(j)T: left factors just updated
        updateModes(right, a, g, ranks, random);
        Tensor[] projections = new Tensor[g.length];
        for (int n = 0; n < g.length; n++) {
            projections[n] = right.project(n, a[n], -1);
        }
        return projections;
    }

    /** The steps for the modes the partials leave open, each block in turn. */
    private static void updateModes(Partials partials, Matrix[][] a, Tensor[] g, int[] ranks, Random random) {
        int d = ranks.length;
        for (int k = 0; k < d; k++) {
            if (partials.closed(k)) {
                continue;
            }
            for (int n = 0; n < g.length; n++) {
                Tensor y = minusOthers(partials.project(n, a[n], k), a, g, n, k);
                a[n][k] = Subspace.leadingLeft(y.unfold(k), ranks[k], random);
                g[n] = y.project(k, a[n][k]);
            }
        }
    }

    /**
     * {@code T x_j A_n^(j)T} over the closed modes {@code [from, to)} for every block n, a range that
     * starts at mode 0 or ends at the last mode: the product at the range's outer end is one GEMM for
     * all blocks ({@link Tensor#projectEach}), the rest run per block on the smaller results. A
     * range that ends at the last mode leaves it stored first: natural mode j sits at position
     * {@code (j + shift) mod d}, and only the small fully projected results are put back in order.
     */
    private record Partials(List<Tensor> tensors, int from, int to, int shift) {

        static Partials of(Tensor t, Matrix[][] a, int from, int to) {
            int d = t.order();
            int outer = from == 0 ? 0 : d - 1;
            int shift = outer == 0 ? 0 : 1;
            List<Matrix> factors = new ArrayList<>();
            for (Matrix[] block : a) {
                factors.add(block[outer]);
            }
            List<Tensor> firsts = t.projectEach(outer, factors);
            List<Tensor> tensors = new ArrayList<>();
            for (int n = 0; n < a.length; n++) {
                tensors.add(projectModes(firsts.get(n), a[n], j -> j >= from && j < to && j != outer, shift));
            }
            return new Partials(tensors, from, to, shift);
        }

        boolean closed(int mode) {
            return mode >= from && mode < to;
        }

        /** Block n's partial projected on its factors in every open mode but {@code skip}, in natural order. */
        Tensor project(int n, Matrix[] factors, int skip) {
            Tensor p = projectModes(tensors.get(n), factors, j -> !closed(j) && j != skip, shift);
            if (shift == 0) {
                return p;
            }
            int d = factors.length;
            int[] perm = new int[d];
            for (int j = 0; j < d; j++) {
                perm[j] = (j + shift) % d;
            }
            return p.permute(perm);
        }

        private static Tensor projectModes(Tensor x, Matrix[] factors, IntPredicate modes, int shift) {
            int d = factors.length;
            Tensor p = x;
            for (int j = d - 1; j >= 0; j--) {
                if (modes.test(j)) {
                    p = p.project((j + shift) % d, factors[j]);
                }
            }
            return p;
        }
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
            if (j != k) {
                c = c.modeProduct(j, a[n][j].transposeTimes(a[m][j]));
            }
        }
        // the one product that grows the tensor (R_k to S_k) goes last
        return k < 0 ? c : c.modeProduct(k, a[m][k]);
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
