package dev.blockterm.bench;

import dev.blockterm.decompose.BlockTermAls;
import dev.blockterm.decompose.BlockTermConfig;
import dev.blockterm.decompose.FitResult;
import dev.blockterm.decompose.Initialization;
import dev.blockterm.tensor.Gemm;
import dev.blockterm.tensor.Tensor;
import dev.blockterm.tensor.Tensorization;
import java.util.Locale;
import java.util.Random;

/**
 * Not a unit test: one ALS sweep on a 4096 x 4096 weight (merged, order 4, N = 4, ranks 8) against
 * this machine's GEMM peak measured in the same run. Run:
 * {@code mvn -q test-compile && java -cp "target/classes:target/test-classes:target/lib/*" dev.blockterm.bench.SweepBenchmark}
 */
public final class SweepBenchmark {

    public static void main(String[] args) {
        int n = 2048;
        double[] a = new double[n * n];
        double[] b = new double[n * n];
        double[] c = new double[n * n];
        Random r = new Random(1);
        for (int i = 0; i < a.length; i++) {
            a[i] = r.nextGaussian();
            b[i] = r.nextGaussian();
        }
        Gemm.multiply(false, false, n, n, n, a, 0, b, 0, c, 0);
        long t0 = System.nanoTime();
        int reps = 5;
        for (int i = 0; i < reps; i++) {
            Gemm.multiply(false, false, n, n, n, a, 0, b, 0, c, 0);
        }
        double peak = reps * 2.0 * n * n * n / ((System.nanoTime() - t0) / 1e9) / 1e9;
        System.out.printf(Locale.ROOT, "dgemm peak (2048^3, through ND4J, copies included): %.1f GFLOP/s%n", peak);

        double[] w = new double[4096 * 4096];
        for (int i = 0; i < w.length; i++) {
            w[i] = r.nextGaussian();
        }
        Tensor t = Tensorization.merged(4096, 4096, 4).tensorize(w);
        BlockTermConfig config = BlockTermConfig.of(4, 8, 8, 8, 8).withInit(Initialization.RANDOM);
        BlockTermAls.fit(t, config.withSweeps(1, 0)); // warm-up
        FitResult one = BlockTermAls.fit(t, config.withSweeps(1, 0));
        FitResult more = BlockTermAls.fit(t, config.withSweeps(6, 0));
        double perSweep = (more.seconds() - one.seconds()) / 5;
        double flops = 4.0 * 4 * 8 * t.length(); // the two products with T per block and sweep
        System.out.printf(Locale.ROOT, "ALS sweep, 4096x4096 merged 64^4, N=4, R=8: %.3f s; dominant products %.1f GFLOP"
                + " -> %.1f GFLOP/s = %.0f%% of the measured dgemm peak%n", perSweep, flops / 1e9, flops / perSweep / 1e9,
                100 * flops / perSweep / 1e9 / peak);
    }
}
