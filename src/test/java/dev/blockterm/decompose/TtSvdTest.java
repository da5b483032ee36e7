package dev.blockterm.decompose;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TtSvdTest {

    static TensorTrain planted(int[] sizes, int[] ranks, long seed) {
        Random random = new Random(seed);
        List<Tensor> cores = new ArrayList<>();
        for (int k = 0; k < sizes.length; k++) {
            int left = k == 0 ? 1 : ranks[k - 1];
            int right = k == sizes.length - 1 ? 1 : ranks[k];
            cores.add(Tensor.gaussian(random, left, sizes[k], right));
        }
        return new TensorTrain(cores);
    }

    @Test
    void recoversPlantedTensorTrains() {
        int[] sizes = {6, 7, 8, 5};
        int[] ranks = {3, 4, 2};
        Tensor t = planted(sizes, ranks, 1).reconstruct();
        FitResult<TensorTrain> fit = TtSvd.fit(t, ranks, 0);
        assertTrue(fit.relativeError() < 1e-10, "relative error " + fit.relativeError());
        assertArrayEquals(ranks, fit.model().ranks());
        assertEquals(3 * 6 + 3 * 7 * 4 + 4 * 8 * 2 + 2 * 5, fit.model().parameters());
    }

    @Test
    void fullRanksAreExactAndLowRanksMatchTheMatrixOptimum() {
        Tensor t = Tensor.gaussian(new Random(2), 4, 5, 6);
        assertTrue(TtSvd.fit(t, new int[] {4, 6}, 0).relativeError() < 1e-12);
        // order 2: TT-SVD is the truncated SVD, the same optimum as a rank-(r, r) Tucker fit
        Tensor m = Tensor.gaussian(new Random(3), 20, 30);
        double tt = TtSvd.fit(m, new int[] {4}, 0).relativeError();
        double tucker = BlockTermAls.fit(m, BlockTermConfig.of(1, 4, 4).withSweeps(300, 1e-13)).relativeError();
        assertEquals(tucker, tt, 1e-6 * tucker);
    }

    @Test
    void refusesWrongRankCounts() {
        Tensor t = Tensor.zeros(3, 4, 5);
        assertThrows(IllegalArgumentException.class, () -> TtSvd.fit(t, new int[] {2}, 0));
        assertThrows(IllegalArgumentException.class, () -> TtSvd.fit(t, new int[] {0, 2}, 0));
    }
}
