package dev.blockterm.bench;

import dev.blockterm.decompose.BlockTermAls;
import dev.blockterm.decompose.BlockTermConfig;
import dev.blockterm.decompose.Initialization;
import dev.blockterm.tensor.Gemm;
import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Tensor;
import dev.blockterm.tensor.Tensorization;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * Not a unit test: one ALS sweep (N = 4, ranks 8) on 1024 x 1024, 4096 x 4096 and 4096 x 11008
 * weights tensorized at order 3 and 4 (merged layout), against this machine's dgemm peak measured
 * in the same run through the same path ({@link Gemm}, copies included). Prints a Markdown table.
 *
 * <p>The dominant contraction of a sweep is the product of T with all blocks' factors side by side
 * ({@link Tensor#projectEach}, twice a sweep); it is timed on its own with the sweep's shapes, and
 * the whole sweep is timed as the difference between a 6-sweep and a 1-sweep fit.
 */
public final class SweepBenchmark {

    private static final int BLOCKS = 4;
    private static final int RANK = 8;
    private static final int SWEEPS = 8;

    public static void main(String[] args) {
        // steady state: the young generation's pages touched once (first touches cost ~3 ms/MB on this VM)
        for (int i = 0; i < 16; i++) {
            double[] warm = new double[1 << 23];
            warm[warm.length - 1] = i;
        }
        Random r = new Random(1);
        double peak = dgemmPeak(r);
        double bandwidth = readBandwidth(r);
        // the dominant contraction does 2 N R flops per 8-byte entry of T it reads
        double roofline = bandwidth * 2 * BLOCKS * RANK / 8;
        System.out.printf(Locale.ROOT, "OPENBLAS_CORETYPE=%s; dgemm peak (2048^3 through ND4J, copies included): "
                + "%.1f GFLOP/s; memory read bandwidth (2 threads, 128 MB): %.1f GB/s; so a contraction reading T "
                + "once per %d columns is bound at %.1f GFLOP/s = %.0f%% of peak%n%n",
                System.getenv().getOrDefault("OPENBLAS_CORETYPE", "(unset)"), peak, bandwidth, BLOCKS * RANK,
                roofline, 100 * roofline / peak);
        System.out.println("| weight | tensor | dominant contraction (m x k x n) | GFLOP/s | % of peak | sweep s "
                + "| sweep GFLOP/s |");
        System.out.println("|---|---|---|---|---|---|---|");
        int[][] shapes = {{1024, 1024}, {4096, 4096}, {4096, 11008}};
        for (int[] shape : shapes) {
            double[] w = new double[shape[0] * shape[1]];
            for (int i = 0; i < w.length; i++) {
                w[i] = r.nextGaussian();
            }
            for (int order : new int[] {3, 4}) {
                row(Tensorization.merged(shape[0], shape[1], order).tensorize(w), shape, peak, r);
            }
        }
    }

    private static void row(Tensor t, int[] weight, double peak, Random r) {
        int d = t.order();
        int[] ranks = new int[d];
        Arrays.fill(ranks, RANK);
        // the dominant contraction alone: T against 4 blocks' factors, at the first and the last mode
        double seconds = 0;
        for (int mode : new int[] {0, d - 1}) {
            List<Matrix> factors = new ArrayList<>();
            for (int n = 0; n < BLOCKS; n++) {
                factors.add(Matrix.gaussian(t.size(mode), RANK, r));
            }
            t.projectEach(mode, factors); // warm-up: native buffers
            seconds += median(7, () -> t.projectEach(mode, factors));
        }
        double contraction = 2 * 2.0 * BLOCKS * RANK * t.length(); // both products
        double rate = contraction / seconds / 1e9;

        BlockTermConfig config = BlockTermConfig.of(BLOCKS, ranks).withInit(Initialization.RANDOM);
        BlockTermAls.fit(t, config.withSweeps(2, 0)); // warm-up
        double perSweep = BlockTermAls.fit(t, config.withSweeps(SWEEPS, 0)).sweepSeconds() / SWEEPS;
        System.out.printf(Locale.ROOT, "| %dx%d | %s | %d x %d x %d, twice | %.1f | %.0f%% | %.3f | %.1f |%n",
                weight[0], weight[1], Arrays.toString(t.shape()).replace(", ", "x"),
                t.length() / t.size(0), t.size(0), BLOCKS * RANK, rate, 100 * rate / peak, perSweep,
                contraction / perSweep / 1e9);
    }

    /** Median wall seconds of {@code reps} runs: this VM's page faults make single runs spike. */
    private static double median(int reps, Runnable task) {
        double[] s = new double[reps];
        for (int i = 0; i < reps; i++) {
            long started = System.nanoTime();
            task.run();
            s[i] = (System.nanoTime() - started) / 1e9;
        }
        Arrays.sort(s);
        return s[reps / 2];
    }

    /** GB/s summing a 128 MB array with two threads, best of 5. */
    private static double readBandwidth(Random r) {
        double[] x = new double[1 << 24];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextDouble();
        }
        double best = 0;
        for (int rep = 0; rep < 5; rep++) {
            long started = System.nanoTime();
            double sum = IntStream.range(0, 2).parallel().mapToDouble(h -> {
                double s = 0;
                for (int i = h * (x.length / 2); i < (h + 1) * (x.length / 2); i++) {
                    s += x[i];
                }
                return s;
            }).sum();
            double seconds = (System.nanoTime() - started) / 1e9;
            if (sum != 0) {
                best = Math.max(best, 8.0 * x.length / seconds / 1e9);
            }
        }
        return best;
    }

    private static double dgemmPeak(Random r) {
        int n = 2048;
        double[] a = new double[n * n];
        double[] b = new double[n * n];
        double[] c = new double[n * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = r.nextGaussian();
            b[i] = r.nextGaussian();
        }
        Gemm.multiply(false, false, n, n, n, a, 0, b, 0, c, 0);
        long started = System.nanoTime();
        int reps = 5;
        for (int i = 0; i < reps; i++) {
            Gemm.multiply(false, false, n, n, n, a, 0, b, 0, c, 0);
        }
        return reps * 2.0 * n * n * n / ((System.nanoTime() - started) / 1e9) / 1e9;
    }
}
