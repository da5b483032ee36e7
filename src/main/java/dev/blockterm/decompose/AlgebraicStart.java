package dev.blockterm.decompose;

import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Subspace;
import dev.blockterm.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.EigenDecomposition;
import org.apache.commons.math3.linear.LUDecomposition;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;

/**
 * Algebraic start for block terms by a generalized eigenvalue decomposition, after Tensorlab's GEVD
 * initialization of block-term decompositions (Sorber, Van Barel, De Lathauwer).
 *
 * <p>Pick two modes a, b with equal ranks R and {@code N R <= S_a, S_b}; merge the others into one
 * mode of size K. Compressed to the dominant {@code P = N R} dimensional subspaces of modes a and b,
 * every slice is {@code C_k = A' D_k B'^T} with {@code A', B'} invertible ({@code P x P}) and
 * {@code D_k} block diagonal ({@code R x R} blocks). For mixtures {@code M_i = sum_k w_ik C_k},
 * {@code E = M_1 M_2^-1 = A' D(w_1) D(w_2)^-1 A'^-1}: each eigenvector of E lies in the span of
 * one block's columns of A'. A third mixture {@code F = M_3 M_2^-1} has the same invariant
 * subspaces, so the Krylov space of an eigenvector under F is that block's whole R-dimensional
 * span. N distinct spans give the mode-a subspaces {@code B_n}; then
 * {@code T x_a [B_1 .. B_N]^+} separates the blocks exactly, and the HOSVD of each separated block
 * gives its remaining factors and core. Exact for noise-free block terms; cost: two projections of
 * T plus {@code O(P^3)} dense algebra.
 *
 * <p>It needs the slices to mix through at least three directions per block (the product of the
 * other modes' ranks {@code >= 3}, or {@code R = 1}): with two, {@code F} is an affine function of
 * {@code E} and the Krylov spaces collapse to single eigenvectors. It then does not apply.
 */
final class AlgebraicStart {

    private AlgebraicStart() {
    }

    /** The two modes the method works on, or empty when it does not apply. */
    static Optional<int[]> modes(int[] shape, int blocks, int[] ranks) {
        if (shape.length < 3 || blocks < 2) {
            return Optional.empty();
        }
        for (int a = 0; a < shape.length; a++) {
            for (int b = a + 1; b < shape.length; b++) {
                long p = (long) blocks * ranks[a];
                long pencil = 1; // slices mix through a space of this dimension per block
                for (int k = 0; k < shape.length; k++) {
                    pencil *= k == a || k == b ? 1 : ranks[k];
                }
                if (ranks[a] == ranks[b] && p <= shape[a] && p <= shape[b] && (ranks[a] == 1 || pencil >= 3)) {
                    return Optional.of(new int[] {a, b});
                }
            }
        }
        return Optional.empty();
    }

    static Optional<BlockTerm> start(Tensor t, int blocks, int[] ranks, Random random) {
        Optional<int[]> pair = modes(t.shape(), blocks, ranks);
        if (pair.isEmpty()) {
            return Optional.empty();
        }
        int d = t.order();
        int[] perm = new int[d];
        perm[0] = pair.get()[0];
        perm[1] = pair.get()[1];
        for (int k = 0, i = 2; k < d; k++) {
            if (k != perm[0] && k != perm[1]) {
                perm[i++] = k;
            }
        }
        Tensor tp = t.permute(perm);
        int[] permRanks = new int[d];
        for (int k = 0; k < d; k++) {
            permRanks[k] = ranks[perm[k]];
        }
        int r = permRanks[0];
        int p = blocks * r;
        Matrix u1 = Subspace.leadingLeftOfUnfolding(tp, 0, p, random);
        Matrix u2 = Subspace.leadingLeftOfUnfolding(tp, 1, p, random);
        Tensor c = tp.project(0, u1).project(1, u2);
        int k = c.length() / (p * p);
        Matrix slices = new Matrix(p * p, k, c.data()); // row (i, j), column k: C[i, j, k]

        RealMatrix m2 = mixture(slices, p, random);
        LUDecomposition lu = new LUDecomposition(m2.transpose());
        if (!lu.getSolver().isNonSingular()) {
            return Optional.empty();
        }
        // E = M1 M2^-1 = (M2^-T M1^T)^T
        RealMatrix e = lu.getSolver().solve(mixture(slices, p, random).transpose()).transpose();
        RealMatrix f = lu.getSolver().solve(mixture(slices, p, random).transpose()).transpose();

        List<Matrix> spans = new ArrayList<>();
        EigenDecomposition eig = new EigenDecomposition(e);
        double[] re = eig.getRealEigenvalues();
        double[] im = eig.getImagEigenvalues();
        double scale = 0;
        for (int i = 0; i < p; i++) {
            scale = Math.max(scale, Math.hypot(re[i], im[i]));
        }
        for (int i = 0; i < p; i++) {
            Matrix invariant;
            if (Math.abs(im[i]) <= 1e-9 * scale) {
                invariant = nullSpace(shift(e, re[i], 0), 1);
            } else if (im[i] > 0) {
                invariant = nullSpace(shift(e, re[i], im[i]), 2);
            } else {
                continue;
            }
            spans.add(krylov(f, invariant, r, random));
        }
        List<Matrix> chosen = mostDistinct(spans, blocks);
        if (chosen.size() < blocks) {
            return Optional.empty();
        }

        // mode-a bases of the blocks in the original space, and the separating pseudo-inverse
        Matrix[] bases = new Matrix[blocks];
        for (int n = 0; n < blocks; n++) {
            bases[n] = u1.times(chosen.get(n));
        }
        Matrix all = Matrix.hstack(bases);
        LUDecomposition normal = new LUDecomposition(toReal(all.transposeTimes(all)));
        if (!normal.getSolver().isNonSingular()) {
            return Optional.empty();
        }
        Matrix separator = fromReal(normal.getSolver().solve(toReal(all.transpose()))); // P x S_a
        Tensor separated = tp.modeProduct(0, separator);
        int blockLength = separated.length() / p * r;
        List<Term> terms = new ArrayList<>();
        int[] blockShape = separated.shape();
        blockShape[0] = r;
        int[] inverse = new int[d];
        for (int i = 0; i < d; i++) {
            inverse[perm[i]] = i;
        }
        for (int n = 0; n < blocks; n++) {
            double[] part = java.util.Arrays.copyOfRange(separated.data(), n * blockLength, (n + 1) * blockLength);
            Term local = GreedyDeflation.hosvd(new Tensor(blockShape, part), permRanks, random);
            Matrix modeA = bases[n].times(local.factors().get(0)); // S_a x R, not orthonormal
            Matrix q = Subspace.orthonormalize(modeA, random);
            Matrix triangular = q.transposeTimes(modeA); // Q R = modeA
            Tensor core = local.core().modeProduct(0, triangular);
            List<Matrix> factors = new ArrayList<>(local.factors());
            factors.set(0, q);
            // back to the original mode order
            List<Matrix> ordered = new ArrayList<>();
            for (int mode = 0; mode < d; mode++) {
                ordered.add(factors.get(inverse[mode]));
            }
            terms.add(new Term(core.permute(inverse), ordered));
        }
        return Optional.of(new BlockTerm(terms));
    }

    private static RealMatrix mixture(Matrix slices, int p, Random random) {
        double[] w = new double[slices.cols()];
        for (int i = 0; i < w.length; i++) {
            w[i] = random.nextGaussian();
        }
        RealMatrix m = new Array2DRowRealMatrix(p, p);
        for (int i = 0; i < p; i++) {
            for (int j = 0; j < p; j++) {
                double s = 0;
                int row = (i * p + j) * slices.cols();
                for (int kk = 0; kk < w.length; kk++) {
                    s += slices.data()[row + kk] * w[kk];
                }
                m.setEntry(i, j, s);
            }
        }
        return m;
    }

    /** {@code E - a I} for a real eigenvalue, {@code (E - a I)^2 + b^2 I} for a complex pair a +- ib. */
    private static RealMatrix shift(RealMatrix e, double a, double b) {
        int n = e.getRowDimension();
        RealMatrix s = e.copy();
        for (int i = 0; i < n; i++) {
            s.addToEntry(i, i, -a);
        }
        if (b == 0) {
            return s;
        }
        RealMatrix sq = s.multiply(s);
        for (int i = 0; i < n; i++) {
            sq.addToEntry(i, i, b * b);
        }
        return sq;
    }

    private static Matrix nullSpace(RealMatrix m, int dim) {
        SingularValueDecomposition svd = new SingularValueDecomposition(m);
        RealMatrix v = svd.getV();
        int n = v.getColumnDimension();
        return fromReal(v.getSubMatrix(0, v.getRowDimension() - 1, n - dim, n - 1));
    }

    /** The dominant R-dimensional part of the Krylov space {@code [V, F V, F^2 V, ...]}. */
    private static Matrix krylov(RealMatrix f, Matrix v, int r, Random random) {
        List<Matrix> blocks = new ArrayList<>();
        Matrix current = Subspace.orthonormalize(v, random);
        Matrix fm = fromReal(f);
        int columns = 0;
        while (columns < r + v.cols()) {
            blocks.add(current);
            columns += current.cols();
            current = Subspace.orthonormalize(fm.times(current), random);
        }
        Matrix k = Matrix.hstack(blocks.toArray(new Matrix[0]));
        return Subspace.leadingLeft(k, r, random);
    }

    /** Farthest-point selection of {@code count} subspaces (distance: norm of the part outside the other). */
    private static List<Matrix> mostDistinct(List<Matrix> spans, int count) {
        List<Matrix> chosen = new ArrayList<>();
        if (spans.isEmpty()) {
            return chosen;
        }
        chosen.add(spans.get(0));
        while (chosen.size() < count) {
            Matrix best = null;
            double bestDistance = -1;
            for (Matrix s : spans) {
                double nearest = Double.MAX_VALUE;
                for (Matrix c : chosen) {
                    nearest = Math.min(nearest, distance(c, s));
                }
                if (nearest > bestDistance) {
                    bestDistance = nearest;
                    best = s;
                }
            }
            if (bestDistance < 1e-8) {
                break;
            }
            chosen.add(best);
        }
        return chosen;
    }

    private static double distance(Matrix q, Matrix s) {
        Matrix outside = s.plus(q.times(q.transposeTimes(s)).scale(-1));
        return outside.frobeniusNorm() / Math.sqrt(s.cols());
    }

    private static RealMatrix toReal(Matrix m) {
        RealMatrix r = new Array2DRowRealMatrix(m.rows(), m.cols());
        for (int i = 0; i < m.rows(); i++) {
            for (int j = 0; j < m.cols(); j++) {
                r.setEntry(i, j, m.get(i, j));
            }
        }
        return r;
    }

    private static Matrix fromReal(RealMatrix r) {
        Matrix m = Matrix.zeros(r.getRowDimension(), r.getColumnDimension());
        for (int i = 0; i < m.rows(); i++) {
            for (int j = 0; j < m.cols(); j++) {
                m.data()[i * m.cols() + j] = r.getEntry(i, j);
            }
        }
        return m;
    }
}
