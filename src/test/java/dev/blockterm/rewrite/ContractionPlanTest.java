package dev.blockterm.rewrite;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.tensor.Tensorization;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ContractionPlanTest {

    @Test
    void matrixChainPicksTheCheaperOrder() {
        // x[b,i] A[i,r] B[r,j]: (xA)B costs 2(b i r + b r j); x(AB) costs 2(i r j + b i j)
        TensorNetwork net = new TensorNetwork(List.of(new TensorNetwork.Operand("x", List.of("b", "i")),
                new TensorNetwork.Operand("A", List.of("i", "r")), new TensorNetwork.Operand("B", List.of("r", "j"))),
                List.of("b", "j"), Map.of("b", 32L, "i", 512L, "r", 4L, "j", 512L), "b");
        ContractionPlan plan = ContractionPlan.optimal(net);
        assertEquals(2.0 * (32 * 512 * 4 + 32 * 4 * 512), plan.flops());
        assertEquals(plan.flops() / 32, plan.flopsPerSample());
    }

    @Test
    void plainMatrixBlockTermCostsLikeItsLowRankProduct() {
        // x[b,i] A0[n,i,r0] G[n,r0,r1] A1[n,j,r1]: ((x A0) G) A1 is the cheapest order
        Tensorization tz = Tensorization.inputWhole(4096, 4096, 1);
        ContractionPlan plan = ContractionPlan.optimal(FactoredLinear.network("fc", "x", tz, 4, new int[] {8, 8}, 32));
        assertEquals(2.0 * 32 * (4096 * 4 * 8 + 4 * 8 * 8 + 4 * 8 * 4096), plan.flops());
        assertTrue(plan.flopsPerSample() < 2.0 * 4096 * 4096 / 50);
    }

    @Test
    void mergedHighOrderBlockTermIsCostedHonestly() {
        // the BT-layer paper's format keeps all R^d core indices alive: at d = 4, R = 8 it costs more than dense
        Tensorization tz = Tensorization.merged(4096, 4096, 4);
        ContractionPlan plan = ContractionPlan.optimal(FactoredLinear.network("fc", "x", tz, 4, new int[] {8, 8, 8, 8}, 32));
        assertTrue(plan.flopsPerSample() > 2.0 * 4096 * 4096, Double.toString(plan.flopsPerSample()));
        ContractionPlan small = ContractionPlan.optimal(FactoredLinear.network("fc", "x", tz, 4, new int[] {2, 2, 2, 2}, 32));
        assertTrue(small.flopsPerSample() < 2.0 * 4096 * 4096 / 5, Double.toString(small.flopsPerSample()));
    }
}
