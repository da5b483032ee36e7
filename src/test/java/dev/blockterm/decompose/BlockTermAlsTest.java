package dev.blockterm.decompose;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class BlockTermAlsTest {

    /** A tensor built from random block-term factors (not orthonormal, generic cores). */
    static Tensor planted(int[] shape, int blocks, int[] ranks, long seed) {
        Random random = new Random(seed);
        List<Term> terms = new ArrayList<>();
        for (int n = 0; n < blocks; n++) {
            List<Matrix> factors = new ArrayList<>();
            for (int k = 0; k < shape.length; k++) {
                factors.add(Matrix.gaussian(shape[k], ranks[k], random));
            }
            terms.add(new Term(Tensor.gaussian(random, ranks), factors));
        }
        return new BlockTerm(terms).reconstruct();
    }

    static List<Arguments> plantedCases() {
        return List.of(
                Arguments.of(new int[] {20, 30}, 2, new int[] {3, 3}),
                Arguments.of(new int[] {20, 20, 20}, 3, new int[] {3, 3, 3}),
                Arguments.of(new int[] {12, 10, 9}, 2, new int[] {3, 3, 4}),
                Arguments.of(new int[] {8, 9, 7, 6}, 2, new int[] {2, 2, 2, 2}),
                Arguments.of(new int[] {10, 10, 10}, 4, new int[] {1, 1, 1}), // CP of rank 4
                Arguments.of(new int[] {9, 8, 7}, 1, new int[] {3, 4, 2})); // Tucker
    }

    @ParameterizedTest
    @MethodSource("plantedCases")
    void recoversPlantedBlockTerms(int[] shape, int blocks, int[] ranks) {
        for (long seed = 1; seed <= 3; seed++) {
            Tensor t = planted(shape, blocks, ranks, seed);
            FitResult fit = BlockTermAls.fit(t, BlockTermConfig.of(blocks, ranks).withSeed(seed));
            assertTrue(fit.relativeError() < 1e-6, "seed " + seed + ": relative error " + fit.relativeError());
            assertEquals(BlockTerm.parameters(shape, blocks, ranks), fit.model().parameters());
        }
    }

    @Test
    void orderTwoTuckerReachesTheTruncatedSvd() {
        Random random = new Random(7);
        Tensor t = Tensor.gaussian(random, 30, 40);
        int r = 5;
        Matrix m = t.unfold(0);
        Array2DRowRealMatrix real = new Array2DRowRealMatrix(m.rows(), m.cols());
        for (int i = 0; i < m.rows(); i++) {
            for (int j = 0; j < m.cols(); j++) {
                real.setEntry(i, j, m.get(i, j));
            }
        }
        double[] sigma = new SingularValueDecomposition(real).getSingularValues();
        double tail = 0;
        double all = 0;
        for (int i = 0; i < sigma.length; i++) {
            all += sigma[i] * sigma[i];
            if (i >= r) {
                tail += sigma[i] * sigma[i];
            }
        }
        double optimum = Math.sqrt(tail / all);
        for (Initialization init : new Initialization[] {Initialization.GREEDY, Initialization.RANDOM}) {
            FitResult fit = BlockTermAls.fit(t, BlockTermConfig.of(1, r, r).withInit(init).withSweeps(500, 1e-12));
            assertEquals(optimum, fit.relativeError(), 1e-6 * optimum, init + " start");
        }
    }

    @Test
    void fullRanksReproduceTheTensor() {
        Tensor t = Tensor.gaussian(new Random(3), 4, 5, 6);
        FitResult fit = BlockTermAls.fit(t, BlockTermConfig.of(1, 4, 5, 6));
        assertTrue(fit.relativeError() < 1e-12, "relative error " + fit.relativeError());
    }

    @Test
    void errorNeverRisesBetweenSweeps() {
        Tensor t = Tensor.gaussian(new Random(11), 10, 12, 14);
        for (Initialization init : new Initialization[] {Initialization.GREEDY, Initialization.RANDOM}) {
            FitResult fit = BlockTermAls.fit(t,
                    BlockTermConfig.of(3, 2, 3, 2).withInit(init).withSweeps(40, 0));
            double[] e = fit.errors();
            assertEquals(41, e.length);
            for (int i = 1; i < e.length; i++) {
                assertTrue(e[i] <= e[i - 1] + 1e-12, init + ": error rose at sweep " + i + ": " + e[i - 1] + " -> " + e[i]);
            }
            assertEquals(e[e.length - 1], fit.relativeError(), 1e-9);
        }
    }

    @Test
    void sameSeedGivesSameFactors() {
        Tensor t = Tensor.gaussian(new Random(5), 8, 9, 10);
        BlockTermConfig config = BlockTermConfig.of(2, 2, 2, 2).withInit(Initialization.RANDOM).withSeed(42);
        BlockTerm first = BlockTermAls.fit(t, config).model();
        BlockTerm second = BlockTermAls.fit(t, config).model();
        for (int n = 0; n < 2; n++) {
            assertArrayEquals(first.terms().get(n).core().data(), second.terms().get(n).core().data());
            assertEquals(first.terms().get(n).factors(), second.terms().get(n).factors());
        }
    }

    @Test
    void refusesInvalidRanks() {
        Tensor t = Tensor.zeros(4, 5, 6);
        IllegalArgumentException tooBig = assertThrows(IllegalArgumentException.class,
                () -> BlockTermAls.fit(t, BlockTermConfig.of(1, 5, 2, 2)));
        assertTrue(tooBig.getMessage().contains("exceeds its size 4"), tooBig.getMessage());
        assertThrows(IllegalArgumentException.class, () -> BlockTermAls.fit(t, BlockTermConfig.of(1, 4, 1, 1)));
        assertThrows(IllegalArgumentException.class, () -> BlockTermAls.fit(t, BlockTermConfig.of(1, 2, 2)));
        assertThrows(IllegalArgumentException.class, () -> BlockTermConfig.of(0, 2, 2, 2));
        assertThrows(IllegalArgumentException.class, () -> BlockTermConfig.of(1, 2, 0, 2));
    }
}
