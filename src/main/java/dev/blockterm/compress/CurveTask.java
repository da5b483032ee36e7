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

    /** A layer input's covariance, held or staged in a file (for a task in another process). */
    public sealed interface Covariance extends Serializable permits Held, Staged {
        Matrix read();
    }

    public record Held(Matrix gram) implements Covariance {
        public Matrix read() {
            return gram;
        }
    }

    /** A covariance written by {@link #stage}: {@code n}, then {@code n^2} little-endian doubles. */
    public record Staged(String file) implements Covariance {
        public Matrix read() {
            LowRank.Bases b = StagedBases.open(Path.of(file));
            Matrix m = b.p(b.kept()); // stored as bases of n columns: the matrix itself
            return m;
        }
    }

    /** {@code gram} written to {@code file} for tasks elsewhere. */
    public static Covariance stage(Matrix gram, Path file) {
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
        return covariance == null ? b : b + 8 * (2 * i * i + weight);
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
        Matrix gram = covariance == null ? null : covariance.read();
        LowRank curve = gram == null ? LowRank.of(w, keep) : LowRank.whitened(w, gram, Whitening.DEFAULT_DAMPING, keep);
        double delta = gram == null ? 0 : Whitening.delta(gram, Whitening.DEFAULT_DAMPING);
        Path file = Path.of(staging).resolve(String.format(Locale.ROOT, "curve-%05d.bases", index));
        StagedBases.write(file, curve.bases());
        return new CurveFit(index, curve.side(), curve.tails(), gram != null, delta, file.toString(),
                (System.nanoTime() - started) / 1e9);
    }
}
