package dev.blockterm.compress;

import dev.blockterm.decompose.LowRank;
import dev.blockterm.decompose.Whitening;
import dev.blockterm.onnx.WeightSource;
import dev.blockterm.tensor.Matrix;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.Locale;

/**
 * One layer's exact low-rank curve as a self-contained job, the unit of work that a thread here or a
 * cluster task runs ({@link FitRunner}): it reads the layer's weight from {@code weight}, and its
 * input covariance where calibrated, decomposes it ({@link LowRank}), writes the bases up to rank
 * {@code keep} to {@code staging} and returns the curve itself, a few kilobytes. It holds no
 * randomness (one symmetric eigendecomposition), so a retried or speculative run writes the same
 * bytes.
 *
 * @param index      the task's place in its list; its staged file is named by it
 * @param covariance the layer input's {@code X^T X} where calibrated, else null
 * @param keep       the highest rank whose factors may be asked for
 * @param staging    a folder the task and the process that assembles the model can both read and write
 */
public record CurveTask(int index, LayerJob job, WeightSource weight, Covariance covariance, int keep, String staging)
        implements Serializable {

    /**
     * A layer input's covariance: a dense {@code X^T X} held or staged in a file (for a task in another
     * process), or the diagonal one of an embedding table's one-hot inputs.
     */
    public sealed interface Covariance extends Serializable permits Dense, Diagonal {
    }

    /** A dense covariance {@code X^T X}. */
    public sealed interface Dense extends Covariance permits Held, Staged {
        Matrix read();
    }

    /**
     * {@code X^T X = diag(counts)}: how often each row of an embedding table was looked up. The metric
     * {@code ||S D||^2} with {@code S = diag(sqrt(counts + delta))}, {@code delta} the mean count: a
     * floor that gives the rows never seen together as much weight as the calibration inputs' own
     * lookups, so that tokens a user's text holds and the calibration text did not are not given up
     * (a covariance's 1% damping would leave them at a thousandth of a seen row's weight on a
     * few hundred sentences). The curve is that of {@code S W}, whose right
     * singular vectors give the optimum {@code W V_r V_r^T} of the weighted problem (a projection on the
     * right commutes with a scaling on the left); for tables at least as tall as wide.
     */
    public record Diagonal(double[] counts) implements Covariance {
        public double delta() {
            double mean = 0;
            for (double c : counts) {
                mean += c;
            }
            return mean / Math.max(1, counts.length);
        }

        LowRank curve(Matrix w, int keep) {
            if (w.rows() != counts.length || w.cols() > w.rows()) {
                throw new IllegalArgumentException("row counts: expected " + w.rows() + " for a table at least as tall as "
                        + "wide, found " + counts.length + " for " + w.rows() + "x" + w.cols());
            }
            double delta = delta();
            double[] scaled = w.data().clone();
            for (int i = 0; i < w.rows(); i++) {
                double s = Math.sqrt(counts[i] + delta);
                for (int j = 0; j < w.cols(); j++) {
                    scaled[i * w.cols() + j] *= s;
                }
            }
            return LowRank.of(new Matrix(w.rows(), w.cols(), scaled), keep);
        }
    }

    public record Held(Matrix gram) implements Dense {
        public Matrix read() {
            return gram;
        }
    }

    /** A covariance written by {@link #stage}: {@code n}, then {@code n^2} little-endian doubles. */
    public record Staged(String file) implements Dense {
        public Matrix read() {
            LowRank.Bases b = StagedBases.open(Path.of(file));
            Matrix m = b.p(b.kept()); // stored as bases of n columns: the matrix itself
            return m;
        }
    }

    /** {@code gram} written to {@code file} for tasks elsewhere. */
    public static Dense stage(Matrix gram, Path file) {
        StagedBases.write(file, new LowRank.HeldBases(gram, null));
        return new Staged(file.toString());
    }

    /** The task with its weight and covariance read from elsewhere. */
    public CurveTask with(WeightSource weight, Covariance covariance) {
        return new CurveTask(index, job, weight, covariance, keep, staging);
    }

    /** The layer's name, for progress and scheduling. */
    public String name() {
        return job.name();
    }

    /** Its cost in flops: the Gram matrix and the eigendecomposition (the largest first, so none starts last). */
    public double flops() {
        double small = Math.min(job.rows(), job.cols());
        return 2.0 * job.rows() * job.cols() * small + 9 * small * small * small;
    }

    /**
     * The heap a run takes at its peak, in bytes: the weight in double, its Gram matrix and the
     * eigendecomposition's three copies, the kept bases twice, and with calibration the covariance's
     * damped copy and factor and the weight in the metric. (LAPACK's own copy and workspace, about
     * {@code 4 x 8 n^2} more, are off the heap.)
     */
    public long bytes() {
        long n = Math.min(job.rows(), job.cols());
        long i = job.rows();
        long weight = (long) job.rows() * job.cols();
        long b = 8 * (weight + 4 * n * n + 2 * n * keep);
        return covariance == null ? b : covariance instanceof Diagonal ? b + 8 * weight : b + 8 * (2 * i * i + weight);
    }

    /** Decomposes the layer and stages its bases; returns its curve. Its native product buffers are freed after. */
    public CurveFit run() {
        try {
            return fit();
        } finally {
            dev.blockterm.tensor.Gemm.release();
        }
    }

    private CurveFit fit() {
        long started = System.nanoTime();
        Matrix w = job.matrix(weight.read());
        LowRank curve;
        double delta;
        if (covariance instanceof Diagonal d) {
            curve = d.curve(w, keep);
            delta = d.delta();
        } else {
            Matrix gram = covariance == null ? null : ((Dense) covariance).read();
            curve = gram == null ? LowRank.of(w, keep) : LowRank.whitened(w, gram, Whitening.DEFAULT_DAMPING, keep);
            delta = gram == null ? 0 : Whitening.delta(gram, Whitening.DEFAULT_DAMPING);
        }
        Path file = Path.of(staging).resolve(String.format(Locale.ROOT, "curve-%05d.bases", index));
        StagedBases.write(file, curve.bases());
        return new CurveFit(index, curve.side(), curve.tails(), covariance != null, delta, file.toString(),
                (System.nanoTime() - started) / 1e9);
    }
}
