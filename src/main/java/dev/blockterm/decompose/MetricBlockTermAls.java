package dev.blockterm.decompose;

import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Subspace;
import dev.blockterm.tensor.Tensor;
import dev.blockterm.tensor.Tensorization;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.UnaryOperator;

/**
 * Block-term decomposition of a layer's weight fitted in the metric of the layer's output rather
 * than of the weight: alternating least squares in which every step is a linear least-squares
 * problem in that metric (the distribution-aware ALS of Kalle, Rudkiewicz, Ouerfelli et al.,
 * "Distribution-Aware Tensor Decomposition for Compression of Convolutional Neural Networks",
 * NeurIPS 2025, carried from Tucker-2 and CP to block terms on any {@link Tensorization}).
 *
 * <p>Model: for a layer {@code y = x W}, {@code W} of shape {@code I x J},
 * <pre>
 *   W^ = mat( sum_{n=1..N} G_n x_1 A_n^(1) ... x_d A_n^(d) )
 * </pre>
 * with {@code mat} = {@link Tensorization#matricize} (padding dropped), {@code A_n^(k)} of shape
 * {@code S_k x R_k} with orthonormal columns, {@code G_n} of shape {@code R_1 x ... x R_d}
 * (De Lathauwer 2008, "Decompositions of a higher-order tensor in block terms"). Objective, for the
 * damped calibration metric {@code C = X^T X + delta I} ({@code I x I}, symmetric positive definite,
 * {@link Whitening#damped}; {@code C = I} where none is given):
 * <pre>
 *   f = tr((W - W^)^T C (W - W^)) = ||X (W - W^)||_F^2 + delta ||W - W^||_F^2,   error = sqrt(f / tr(W^T C W))
 * </pre>
 *
 * <p>Updates. A sweep updates, mode by mode, the factors of all N blocks at once, then all N cores
 * at once (the order of De Lathauwer and Nion's block-term ALS, SIAM J. Matrix Anal. Appl. 30(3),
 * 2008). {@code W^} is linear in the parameters a step updates: {@code W^ = M(theta) = sum_n M_n(theta_n)},
 * so the step solves the normal equations {@code M*(C M(theta)) = M*(C W)}. The adjoint of {@code mat}
 * is {@code tens} = {@link Tensorization#tensorize} (zero padding, the inverse permutation), which
 * gives the maps on any layout:
 * <pre>
 *   factors k:  M_n(A) = mat(B_n x_k A), B_n = G_n x_{j != k} A_n^(j);  M_n*(Z) = [tens(Z) x_{j != k} A_n^(j)T]_(k) G_n(k)^T   (S_k x R_k)
 *   cores:      M_n(G) = mat(G x_j A_n^(j));                           M_n*(Z) = tens(Z) x_j A_n^(j)T                        (R_1 x ... x R_d)
 * </pre>
 * Closed forms where mode 0 is the whole input ({@code INPUT_WHOLE}, or {@code SPLIT} with one input
 * leg), with {@code A_n = A_n^(0)}:
 * <pre>
 *   input factors:  W^ = [A_1 .. A_N] F,  F = [F_1; ..; F_N],  F_n = [G_n x_{j >= 1} A_n^(j)]_(0)  (R_0 x J, padding dropped);
 *                   L^T [A_1 .. A_N] is free, so C cancels:  [A_1 .. A_N] (F F^T) = W F^T
 * </pre>
 * and, without output padding (C then acts on mode 0 alone), with {@code M_nm = A_n^T C A_m},
 * {@code P_nm^(j) = A_n^(j)T A_m^(j)} and {@code Y_n = tens(W) x_0 (C A_n)^T x_{j != 0, k} A_n^(j)T}:
 * <pre>
 *   output factors k:  sum_m A_m^(k) N_mn = Y_n(k) G_n(k)^T,  N_mn = [G_m x_0 M_nm x_{j != 0, k} P_nm^(j)]_(k) G_n(k)^T   (N R_k square)
 *   cores:             sum_m G_m x_0 M_nm x_{j >= 1} P_nm^(j) = tens(W) x_0 (C A_n)^T x_{j >= 1} A_n^(j)T                   (N prod R_k)
 * </pre>
 * the first solved through the pseudoinverse ({@link MetricLeastSquares#pseudoSolve}), the second by
 * conjugate gradients on that small operator, preconditioned by {@code M_nn^-1} on mode 0 (exact for
 * N = 1). Elsewhere ({@code MERGED}: the input legs spread over every mode, so C couples them all)
 * by at most {@link #CG_STEPS} steps of preconditioned conjugate gradients (Hestenes and Stiefel
 * 1952) on the normal equations, started at the current value, each factor preconditioned by
 * {@code (G_n(k) G_n(k)^T)^-1} on the right (the exact inverse in the weight metric for one block).
 * After each factor step {@code A = Q R} (Gram-Schmidt), {@code G <- G x_k R}: {@code W^} is unchanged
 * and the factors stay orthonormal, which the closed forms and the preconditioners use.
 *
 * <p>The error never rises: a closed form is the minimum over its parameters, the old values
 * feasible; a CG step from the current value is an exact line search on the quadratic, lowering
 * f by {@code (r^T z)^2 / (p^T H p) >= 0}; the QR step changes nothing.
 *
 * <p>Start (when none is given): where mode 0 is the whole input, the whitened fit (SVD-LLM, Wang
 * et al. 2024): {@link BlockTermAls} of {@code tens(L^T W)}, {@code C = L L^T}, its input factors
 * multiplied by {@code L^-T} ({@link Whitening#unwhiten}): without padding f is the weight-metric
 * error of {@code L^T W}, so that start is already stationary to its tolerance; elsewhere the
 * weight-metric fit {@link BlockTermAls} of {@code tens(W)} at the same config, so the metric fit is
 * never worse than it in the metric. Either keeps the best of {@code config.starts()} starts; the
 * sweeps run once, from it.
 *
 * <p>Cost per sweep ({@code |T| = I' J'} the padded size, R the largest rank, s the CG steps taken,
 * at most {@link #CG_STEPS}): the error, {@code 2 N R |T| + 2 I^2 J}. CG: per step one product with
 * the metric, {@code 2 I^2 J}, and the N maps and adjoints, about {@code 4 N R |T|}, so {@code MERGED}
 * costs about {@code (d + 1) s (2 I^2 J + 4 N R |T|)}. Closed forms: input factors
 * {@code 2 N R_0 (|T| + I J) + (N R_0)^3}; {@code C A_n} {@code 2 I^2 N R_0}; output factors and cores
 * about {@code 2 N R |T|} for {@code Y_n} plus {@code N^2 R^(d+1)} per cross term, with no product with C.
 */
public final class MetricBlockTermAls {

    /** Conjugate-gradient steps per update where no closed form applies. */
    static final int CG_STEPS = 12;
    /** A CG solve stops once {@code r^T z} falls below this fraction of its value at the start. */
    private static final double CG_TOLERANCE = 1e-20;
    /** Ridge on the preconditioner {@code G_(k) G_(k)^T}, relative to its mean diagonal. */
    private static final double PRECONDITIONER_RIDGE = 1e-10;

    private MetricBlockTermAls() {
    }

    /**
     * The block-term fit of {@code weight} ({@code I x J}) on layout {@code tz} in the metric
     * {@code metric} ({@code I x I}, already damped; null: the weight metric), from {@code start}
     * (on {@code tz.modeSizes()} with the config's blocks and ranks; null: see the class comment).
     * The result's errors are relative errors in the metric; its init is the start fit's, or the
     * config's where a start was given.
     */
    public static FitResult<BlockTerm> fit(Matrix weight, Tensorization tz, Matrix metric, BlockTermConfig config,
                                           BlockTerm start) {
        long started = System.nanoTime();
        validate(weight, tz, metric, config, start);
        Initialization used = config.init();
        if (start == null) {
            FitResult<BlockTerm> first = startFit(weight, tz, metric, config);
            start = first.model();
            used = first.init();
        }
        Blocks blocks = new Blocks(weight, tz, metric, start, new Random(config.seed()));
        double total = MetricLeastSquares.squaredNorm(metric, weight);
        List<Double> errors = new ArrayList<>();
        errors.add(relative(blocks.error(), total));
        boolean converged = errors.get(0) <= 1e-13;
        int sweeps = 0;
        long sweepNanos = 0;
        while (!converged && sweeps < config.maxSweeps()) {
            long sweepStarted = System.nanoTime();
            blocks.sweep();
            sweepNanos += System.nanoTime() - sweepStarted;
            sweeps++;
            double error = relative(blocks.error(), total);
            double previous = errors.get(errors.size() - 1);
            errors.add(error);
            // relative change of the error; an exact fit stops at once
            converged = error <= 1e-13 || (previous - error) <= config.tolerance() * previous;
        }
        BlockTerm model = blocks.model();
        Matrix approx = new Matrix(weight.rows(), weight.cols(), tz.matricize(model.reconstruct()));
        double[] history = errors.stream().mapToDouble(Double::doubleValue).toArray();
        return new FitResult<>(model, history, sweeps, converged, relativeError(weight, approx, metric), used,
                (System.nanoTime() - started) / 1e9, sweepNanos / 1e9);
    }

    /** {@code sqrt(tr(D^T C D) / tr(W^T C W))} with {@code D = W - approx}; {@code metric} null: Frobenius. */
    public static double relativeError(Matrix weight, Matrix approx, Matrix metric) {
        return relative(MetricLeastSquares.squaredNorm(metric, minus(weight, approx)),
                MetricLeastSquares.squaredNorm(metric, weight));
    }

    private static double relative(double error, double total) {
        return total <= 0 ? 0 : Math.sqrt(Math.max(error, 0) / total);
    }

    private static void validate(Matrix weight, Tensorization tz, Matrix metric, BlockTermConfig config,
                                 BlockTerm start) {
        if (weight.rows() != tz.inputSize() || weight.cols() != tz.outputSize()) {
            throw new IllegalArgumentException("weight: expected " + tz.inputSize() + "x" + tz.outputSize()
                    + " for tensorization " + tz.describe() + ", found " + weight.rows() + "x" + weight.cols());
        }
        if (metric != null && (metric.rows() != weight.rows() || metric.cols() != weight.rows())) {
            throw new IllegalArgumentException("metric: expected " + weight.rows() + "x" + weight.rows() + " for a "
                    + weight.rows() + "x" + weight.cols() + " weight, found " + metric.rows() + "x" + metric.cols());
        }
        int[] shape = tz.modeSizes();
        config.validateFor(shape);
        if (start != null && (start.blocks() != config.blocks() || !Arrays.equals(start.shape(), shape)
                || !Arrays.equals(start.ranks(), config.ranks()))) {
            throw new IllegalArgumentException("start: expected " + config.blocks() + " blocks of ranks "
                    + Arrays.toString(config.ranks()) + " on " + Arrays.toString(shape) + ", found " + start.blocks()
                    + " of ranks " + Arrays.toString(start.ranks()) + " on " + Arrays.toString(start.shape()));
        }
    }

    /** The whitened fit where mode 0 is the whole input, else the weight-metric fit. */
    private static FitResult<BlockTerm> startFit(Matrix weight, Tensorization tz, Matrix metric,
                                                 BlockTermConfig config) {
        if (metric == null || !wholeInput(tz)) {
            return BlockTermAls.fit(tz.tensorize(weight.data()), config);
        }
        Whitening whitening = Whitening.ofMetric(metric);
        FitResult<BlockTerm> whitened = BlockTermAls.fit(tz.tensorize(whitening.apply(weight).data()), config);
        BlockTerm model = (BlockTerm) whitening.unwhiten(whitened.model(), 0);
        return new FitResult<>(model, whitened.errors(), whitened.sweeps(), whitened.converged(),
                whitened.relativeError(), whitened.init(), whitened.seconds(), whitened.sweepSeconds());
    }

    /** Mode 0 is the whole input, unpadded, and every mode one leg in order: {@code tens(W)} is W, padded, reshaped. */
    private static boolean wholeInput(Tensorization tz) {
        if (tz.inputLegs() != 1 || tz.paddedInput() != tz.inputSize()) {
            return false;
        }
        for (int k = 0; k < tz.order(); k++) {
            int[] legs = tz.modes().get(k);
            if (legs.length != 1 || legs[0] != k) {
                return false;
            }
        }
        return true;
    }

    /**
     * Preconditioned conjugate gradients on {@code H x = b} ({@code H} symmetric positive semidefinite)
     * from {@code x0}, given its residual {@code r0 = b - H x0}; at most {@link #CG_STEPS} steps, each
     * an exact line search, so {@code x^T H x / 2 - b^T x} never rises. Every array is new:
     * {@link dev.blockterm.tensor.Gemm} caches operands by identity, so none may change after use.
     */
    private static double[] conjugateGradients(UnaryOperator<double[]> normal, double[] x0, double[] r0,
                                               UnaryOperator<double[]> precondition) {
        double[] x = x0.clone();
        double[] r = r0;
        double[] z = precondition.apply(r);
        double[] p = z;
        double rz = dot(r, z);
        double rz0 = rz;
        for (int s = 0; s < CG_STEPS && rz > CG_TOLERANCE * rz0 && rz > 0; s++) {
            double[] q = normal.apply(p);
            double curvature = dot(p, q);
            if (!(curvature > 0)) {
                break;
            }
            double alpha = rz / curvature;
            x = axpy(x, alpha, p);
            r = axpy(r, -alpha, q);
            z = precondition.apply(r);
            double next = dot(r, z);
            p = axpy(z, next / rz, p);
            rz = next;
        }
        return x;
    }

    private static Matrix minus(Matrix a, Matrix b) {
        return a.plus(b.scale(-1));
    }

    /** {@code (M + M^T) / 2}: a normal matrix made exactly symmetric for the eigensolver. */
    private static Matrix symmetric(Matrix m) {
        return m.plus(m.transpose()).scale(0.5);
    }

    /** {@code (M + ridge I)^+} for a symmetric positive semidefinite {@code M}, the ridge relative to its mean diagonal. */
    private static Matrix inverse(Matrix m, double ridge) {
        int n = m.rows();
        double trace = 0;
        for (int i = 0; i < n; i++) {
            trace += m.get(i, i);
        }
        Matrix shifted = m.plus(Matrix.identity(n).scale(ridge * trace / n + Double.MIN_NORMAL));
        return MetricLeastSquares.pseudoSolve(symmetric(shifted), Matrix.identity(n));
    }

    private static double dot(double[] u, double[] v) {
        double s = 0;
        for (int i = 0; i < u.length; i++) {
            s += u[i] * v[i];
        }
        return s;
    }

    /** {@code u + alpha v}, a new array. */
    private static double[] axpy(double[] u, double alpha, double[] v) {
        double[] out = new double[u.length];
        for (int i = 0; i < u.length; i++) {
            out[i] = u[i] + alpha * v[i];
        }
        return out;
    }

    /** {@code b - a}, a new array. */
    private static double[] residual(double[] b, double[] a) {
        return axpy(b, -1, a);
    }

    /** The factors and cores being fitted. Parameters of all blocks travel as one array, block after block. */
    private static final class Blocks {
        private final Matrix weight;
        private final Tensorization tz;
        private final Matrix metric;
        private final Random random;
        private final boolean wholeInput; // the input factors in closed form
        private final boolean separable; // and no output padding: C acts on mode 0 alone
        private final int[] ranks;
        private final int coreSize;
        private final Matrix[][] a;
        private final Tensor[] g;

        Blocks(Matrix weight, Tensorization tz, Matrix metric, BlockTerm start, Random random) {
            this.weight = weight;
            this.tz = tz;
            this.metric = metric;
            this.random = random;
            this.wholeInput = wholeInput(tz);
            this.separable = wholeInput && tz.paddedOutput() == tz.outputSize();
            this.ranks = start.ranks();
            this.coreSize = start.terms().get(0).core().length();
            int blocks = start.blocks();
            a = new Matrix[blocks][];
            g = new Tensor[blocks];
            for (int n = 0; n < blocks; n++) {
                a[n] = start.terms().get(n).factors().toArray(new Matrix[0]);
                g[n] = start.terms().get(n).core();
                for (int k = 0; k < ranks.length; k++) {
                    orthonormalize(n, k); // a given start need not have orthonormal factors; the updates rely on them
                }
            }
        }

        /** One sweep: the factors of every block mode by mode, then the cores. */
        void sweep() {
            for (int k = 0; k < ranks.length; k++) {
                if (k == 0 && wholeInput) {
                    inputFactors();
                } else if (separable) {
                    outputFactors(k);
                } else {
                    factorsByGradients(k);
                }
                for (int n = 0; n < g.length; n++) {
                    orthonormalize(n, k);
                }
            }
            if (separable) {
                separableCores();
            } else {
                coresByGradients();
            }
        }

        /** {@code tr((W - W^)^T C (W - W^))}. */
        double error() {
            Tensor t = term(0, g[0]);
            for (int n = 1; n < g.length; n++) {
                t = t.plus(term(n, g[n]));
            }
            return MetricLeastSquares.squaredNorm(metric, minus(weight, matrix(tz.matricize(t))));
        }

        BlockTerm model() {
            List<Term> terms = new ArrayList<>();
            for (int n = 0; n < g.length; n++) {
                terms.add(new Term(g[n], Arrays.asList(a[n].clone())));
            }
            return new BlockTerm(terms);
        }

        /** {@code core x_j A_n^(j)}. */
        private Tensor term(int n, Tensor core) {
            Tensor t = core;
            for (int k = 0; k < ranks.length; k++) {
                t = t.modeProduct(k, a[n][k]);
            }
            return t;
        }

        private Matrix matrix(double[] w) {
            return new Matrix(weight.rows(), weight.cols(), w);
        }

        private Matrix times(Matrix z) {
            return metric == null ? z : metric.times(z);
        }

        /** {@code A = Q R}, {@code G <- G x_k R}: the same term, an orthonormal factor. */
        private void orthonormalize(int n, int k) {
            Matrix q = Subspace.orthonormalize(a[n][k], random);
            g[n] = g[n].modeProduct(k, q.transposeTimes(a[n][k])); // Q Q^T A = A: A's columns lie in span(Q)
            a[n][k] = q;
        }

        /** Mode 0 the whole input: {@code [A_1 .. A_N] (F F^T) = W F^T}, the metric cancelling. */
        private void inputFactors() {
            int r = ranks[0];
            int cols = weight.cols();
            double[] stacked = new double[g.length * r * cols]; // F = [F_1; ..; F_N], N R_0 x J
            for (int n = 0; n < g.length; n++) {
                Tensor h = g[n];
                for (int j = 1; j < ranks.length; j++) {
                    h = h.modeProduct(j, a[n][j]);
                }
                Matrix f = h.unfold(0); // R_0 x J', the output padded
                System.arraycopy(f.columns(0, cols).data(), 0, stacked, n * r * cols, r * cols);
            }
            Matrix f = new Matrix(g.length * r, cols, stacked);
            Matrix all = MetricLeastSquares.pseudoSolve(symmetric(f.times(f.transpose())), f.times(weight.transpose()))
                    .transpose(); // I x N R_0
            for (int n = 0; n < g.length; n++) {
                a[n][0] = all.columns(n * r, (n + 1) * r);
            }
        }

        /** {@code C A_n} for every block's input factor. */
        private Matrix[] metricTimesInputFactors() {
            Matrix[] ca = new Matrix[g.length];
            for (int n = 0; n < g.length; n++) {
                ca[n] = times(a[n][0]);
            }
            return ca;
        }

        /** {@code G_m x_0 M_nm x_j P_nm^(j)} over every mode j but {@code skip}: block m's core in block n's coordinates. */
        private Tensor cross(Tensor coreM, Matrix[] ca, int n, int m, int skip) {
            Tensor t = coreM.modeProduct(0, ca[n].transposeTimes(a[m][0]));
            for (int j = 1; j < ranks.length; j++) {
                if (j != skip) {
                    t = t.modeProduct(j, a[n][j].transposeTimes(a[m][j]));
                }
            }
            return t;
        }

        /** {@code tens(W) x_0 (C A_n)^T x_{j >= 1, j != skip} A_n^(j)T}. */
        private Tensor projectedWeight(Matrix[] ca, int n, int skip) {
            Tensor y = tz.tensorize(weight.data()).project(0, ca[n]);
            for (int j = 1; j < ranks.length; j++) {
                if (j != skip) {
                    y = y.project(j, a[n][j]);
                }
            }
            return y;
        }

        /** Separable: {@code sum_m A_m^(k) N_mn = Y_n(k) G_n(k)^T}, one {@code N R_k} square system. */
        private void outputFactors(int k) {
            int blocks = g.length;
            int r = ranks[k];
            Matrix[] ca = metricTimesInputFactors();
            Matrix normal = Matrix.zeros(blocks * r, blocks * r);
            Matrix[] rhs = new Matrix[blocks];
            for (int n = 0; n < blocks; n++) {
                Matrix gnt = g[n].unfold(k).transpose();
                for (int m = 0; m < blocks; m++) {
                    Matrix nmn = cross(g[m], ca, n, m, k).unfold(k).times(gnt); // R_k (m) x R_k (n)
                    for (int i = 0; i < r; i++) {
                        System.arraycopy(nmn.data(), i * r, normal.data(), (m * r + i) * blocks * r + n * r, r);
                    }
                }
                rhs[n] = projectedWeight(ca, n, k).unfold(k).times(gnt); // S_k x R_k
            }
            Matrix all = MetricLeastSquares.pseudoSolve(symmetric(normal), Matrix.hstack(rhs).transpose()).transpose();
            for (int n = 0; n < blocks; n++) {
                a[n][k] = all.columns(n * r, (n + 1) * r);
            }
        }

        /** Separable: CG on {@code sum_m G_m x_0 M_nm x_{j >= 1} P_nm^(j) = Y_n}, no product with C. */
        private void separableCores() {
            int blocks = g.length;
            Matrix[] ca = metricTimesInputFactors();
            UnaryOperator<double[]> normal = x -> {
                double[] out = new double[blocks * coreSize];
                for (int n = 0; n < blocks; n++) {
                    Tensor sum = null;
                    for (int m = 0; m < blocks; m++) {
                        Tensor t = cross(core(x, m), ca, n, m, -1);
                        sum = sum == null ? t : sum.plus(t);
                    }
                    System.arraycopy(sum.data(), 0, out, n * coreSize, coreSize);
                }
                return out;
            };
            double[] b = new double[blocks * coreSize];
            Matrix[] inverses = new Matrix[blocks];
            for (int n = 0; n < blocks; n++) {
                System.arraycopy(projectedWeight(ca, n, -1).data(), 0, b, n * coreSize, coreSize);
                inverses[n] = inverse(a[n][0].transposeTimes(ca[n]), PRECONDITIONER_RIDGE); // M_nn^-1
            }
            UnaryOperator<double[]> precondition = x -> {
                double[] out = new double[x.length];
                for (int n = 0; n < blocks; n++) {
                    System.arraycopy(core(x, n).modeProduct(0, inverses[n]).data(), 0, out, n * coreSize, coreSize);
                }
                return out;
            };
            double[] x0 = cores();
            setCores(conjugateGradients(normal, x0, residual(b, normal.apply(x0)), precondition));
        }

        /** CG on {@code M*(C M(A)) = M*(C W)} for the mode-k factors of all blocks, {@code M_n(A) = mat(B_n x_k A)}. */
        private void factorsByGradients(int k) {
            int blocks = g.length;
            int rows = a[0][k].rows();
            int size = rows * ranks[k];
            Tensor[] b = new Tensor[blocks];
            Matrix[] gt = new Matrix[blocks];
            Matrix[] inverses = new Matrix[blocks];
            for (int n = 0; n < blocks; n++) {
                b[n] = g[n];
                for (int j = 0; j < ranks.length; j++) {
                    if (j != k) {
                        b[n] = b[n].modeProduct(j, a[n][j]);
                    }
                }
                Matrix gk = g[n].unfold(k);
                gt[n] = gk.transpose();
                // the weight metric's exact inverse for one block: M_n*M_n(A) = A G_n(k) G_n(k)^T, its other factors orthonormal
                inverses[n] = inverse(gk.times(gt[n]), PRECONDITIONER_RIDGE);
            }
            UnaryOperator<double[]> map = x -> {
                Tensor t = b[0].modeProduct(k, block(x, 0, rows, ranks[k]));
                for (int n = 1; n < blocks; n++) {
                    t = t.plus(b[n].modeProduct(k, block(x, n, rows, ranks[k])));
                }
                return tz.matricize(t);
            };
            UnaryOperator<double[]> adjoint = z -> {
                Tensor t = tz.tensorize(z);
                double[] out = new double[blocks * size];
                for (int n = 0; n < blocks; n++) {
                    Tensor y = t;
                    for (int j = 0; j < ranks.length; j++) {
                        if (j != k) {
                            y = y.project(j, a[n][j]);
                        }
                    }
                    System.arraycopy(y.unfold(k).times(gt[n]).data(), 0, out, n * size, size);
                }
                return out;
            };
            UnaryOperator<double[]> precondition = x -> {
                double[] out = new double[x.length];
                for (int n = 0; n < blocks; n++) {
                    System.arraycopy(block(x, n, rows, ranks[k]).times(inverses[n]).data(), 0, out, n * size, size);
                }
                return out;
            };
            double[] x0 = new double[blocks * size];
            for (int n = 0; n < blocks; n++) {
                System.arraycopy(a[n][k].data(), 0, x0, n * size, size);
            }
            double[] x = solveNormal(map, adjoint, x0, precondition);
            for (int n = 0; n < blocks; n++) {
                a[n][k] = block(x, n, rows, ranks[k]);
            }
        }

        /** CG on {@code M*(C M(G)) = M*(C W)} for the cores of all blocks, {@code M_n(G) = mat(G x_j A_n^(j))}. */
        private void coresByGradients() {
            int blocks = g.length;
            UnaryOperator<double[]> map = x -> {
                Tensor t = term(0, core(x, 0));
                for (int n = 1; n < blocks; n++) {
                    t = t.plus(term(n, core(x, n)));
                }
                return tz.matricize(t);
            };
            UnaryOperator<double[]> adjoint = z -> {
                Tensor t = tz.tensorize(z);
                double[] out = new double[blocks * coreSize];
                for (int n = 0; n < blocks; n++) {
                    Tensor y = t;
                    for (int j = 0; j < ranks.length; j++) {
                        y = y.project(j, a[n][j]);
                    }
                    System.arraycopy(y.data(), 0, out, n * coreSize, coreSize);
                }
                return out;
            };
            // orthonormal factors: M_n*M_n = I in the weight metric, no preconditioner
            setCores(solveNormal(map, adjoint, cores(), x -> x));
        }

        /** CG on {@code M*(C M(x)) = M*(C W)} from {@code x0}, the maps on row-major {@code I x J} arrays. */
        private double[] solveNormal(UnaryOperator<double[]> map, UnaryOperator<double[]> adjoint, double[] x0,
                                     UnaryOperator<double[]> precondition) {
            UnaryOperator<double[]> metricTimes = w -> times(matrix(w)).data();
            UnaryOperator<double[]> normal = x -> adjoint.apply(metricTimes.apply(map.apply(x)));
            // r0 = M*(C (W - M(x0))): one product with C
            double[] r0 = adjoint.apply(metricTimes.apply(residual(weight.data(), map.apply(x0))));
            return conjugateGradients(normal, x0, r0, precondition);
        }

        private double[] cores() {
            double[] x = new double[g.length * coreSize];
            for (int n = 0; n < g.length; n++) {
                System.arraycopy(g[n].data(), 0, x, n * coreSize, coreSize);
            }
            return x;
        }

        private void setCores(double[] x) {
            for (int n = 0; n < g.length; n++) {
                g[n] = core(x, n);
            }
        }

        private Tensor core(double[] x, int n) {
            return new Tensor(ranks, Arrays.copyOfRange(x, n * coreSize, (n + 1) * coreSize));
        }

        private static Matrix block(double[] x, int n, int rows, int cols) {
            return new Matrix(rows, cols, Arrays.copyOfRange(x, n * rows * cols, (n + 1) * rows * cols));
        }
    }
}
