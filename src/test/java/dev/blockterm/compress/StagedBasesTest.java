package dev.blockterm.compress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.blockterm.decompose.LowRank;
import dev.blockterm.onnx.LinearLayer;
import dev.blockterm.onnx.Weights;
import dev.blockterm.onnx.WeightSource;
import dev.blockterm.tensor.Matrix;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A curve fitted as a task and staged to a file gives exactly (bit for bit) the factors of the
 * curve fitted in memory, on both sides and whitened, at every rank up to the kept one; the
 * truncation at rank r is the prefix of the kept bases.
 */
class StagedBasesTest {

    @TempDir
    Path dir;

    private static Matrix gaussian(int rows, int cols, long seed) {
        return Matrix.gaussian(rows, cols, new Random(seed));
    }

    private void sameFactors(LowRank held, LowRank staged) {
        assertEquals(held.kept(), staged.kept());
        assertArrayEquals(held.tails(), staged.tails());
        for (int r = 1; r <= held.kept(); r++) {
            Matrix[] a = held.factors(r);
            Matrix[] b = staged.factors(r);
            assertArrayEquals(a[0].data(), b[0].data(), "A at rank " + r);
            assertArrayEquals(a[1].data(), b[1].data(), "B at rank " + r);
        }
    }

    @Test
    void aStagedCurveHasTheHeldCurvesFactorsExactly() {
        for (int[] shape : new int[][] {{40, 24}, {24, 40}}) {
            Matrix w = gaussian(shape[0], shape[1], 5);
            Matrix x = gaussian(60, shape[0], 6);
            Matrix gram = x.transposeTimes(x);
            for (boolean whitened : new boolean[] {false, true}) {
                int keep = 11;
                LinearLayer layer = new LinearLayer(0, "fc", "MatMul", "w", shape[0], shape[1], false, null);
                LayerJob job = new LayerJob.Linear(layer, 1);
                WeightSource weight = new WeightSource.Held(Weights.tensor("w", new long[] {shape[0], shape[1]},
                        w.data(), Weights.DOUBLE));
                CurveTask task = new CurveTask(3, job, weight, whitened ? new CurveTask.Held(gram) : null, keep,
                        dir.toString());
                CurveFit fit = task.run();
                assertEquals(whitened, fit.whitened());
                assertEquals(3, fit.index());
                LowRank staged = fit.curve(shape[0], shape[1], () -> w);
                LowRank held = whitened ? LowRank.whitened(w, gram, dev.blockterm.decompose.Whitening.DEFAULT_DAMPING,
                        keep) : LowRank.of(w, keep);
                sameFactors(held, staged);
                assertThrows(IllegalArgumentException.class, () -> staged.factors(keep + 1));
            }
        }
    }

    @Test
    void aTruncationIsThePrefixOfTheKeptBases() {
        Matrix w = gaussian(30, 20, 7);
        LowRank all = LowRank.of(w);
        LowRank few = LowRank.of(w, 5);
        for (int r = 1; r <= 5; r++) {
            assertArrayEquals(all.factors(r)[0].data(), few.factors(r)[0].data(), 1e-12);
            assertArrayEquals(all.factors(r)[1].data(), few.factors(r)[1].data(), 1e-12);
        }
    }

    @Test
    void aStagedCovarianceReadsBackExactly() {
        Matrix g = gaussian(9, 9, 8);
        CurveTask.Dense c = CurveTask.stage(g, dir.resolve("cov.bin"));
        assertArrayEquals(g.data(), c.read().data());
    }

    @Test
    void aDamagedStagingFileIsRefused() throws Exception {
        Path file = dir.resolve("bad.bases");
        Files.write(file, new byte[] {1, 2, 3});
        assertThrows(IllegalStateException.class, () -> StagedBases.open(file));
    }
}
