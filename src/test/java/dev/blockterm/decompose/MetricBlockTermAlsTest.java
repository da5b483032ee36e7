package dev.blockterm.decompose;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Tensor;
import dev.blockterm.tensor.Tensorization;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class MetricBlockTermAlsTest {

    private static final double DAMPING = 1e-2;

    /**
     * {@code X^T X} of calibration inputs with correlated, strongly unequal columns: X = Z M with M
     * a random mixing whose column c is scaled by {@code 0.7^c}.
     */
    static Matrix gram(int inputs, long seed) {
        Random random = new Random(seed);
        Matrix mix = Matrix.gaussian(inputs, inputs, random);
        for (int i = 0; i < inputs; i++) {
            for (int c = 0; c < inputs; c++) {
                mix.data()[i * inputs + c] *= Math.pow(0.7, c);
            }
        }
        return Whitening.gram(Matrix.gaussian(4 * inputs, inputs, random).times(mix));
    }

    static Matrix metric(int inputs, long seed) {
        return Whitening.damped(gram(inputs, seed), DAMPING);
    }

    /** Random block-term factors (not orthonormal) and Gaussian cores on {@code shape}. */
    static BlockTerm planted(int[] shape, int blocks, int[] ranks, Random random) {
        List<Term> terms = new ArrayList<>();
        for (int n = 0; n < blocks; n++) {
            List<Matrix> factors = new ArrayList<>();
            for (int k = 0; k < shape.length; k++) {
                factors.add(Matrix.gaussian(shape[k], ranks[k], random));
            }
            terms.add(new Term(Tensor.gaussian(random, ranks), factors));
        }
        return new BlockTerm(terms);
    }

    /** {@code b} with every factor and core entry moved by {@code scale} times N(0, 1) times that factor's rms entry. */
    static BlockTerm perturbed(BlockTerm b, double scale, Random random) {
        List<Term> terms = new ArrayList<>();
        for (Term t : b.terms()) {
            List<Matrix> factors = new ArrayList<>();
            for (Matrix f : t.factors()) {
                double rms = f.frobeniusNorm() / Math.sqrt(f.data().length);
                factors.add(f.plus(Matrix.gaussian(f.rows(), f.cols(), random).scale(scale * rms)));
            }
            Tensor core = t.core();
            double rms = core.norm() / Math.sqrt(core.length());
            terms.add(new Term(core.plus(Tensor.gaussian(random, core.shape()).scale(scale * rms)), factors));
        }
        return new BlockTerm(terms);
    }

    static Matrix matricize(Tensorization tz, Decomposition d) {
        return new Matrix(tz.inputSize(), tz.outputSize(), tz.matricize(d.reconstruct()));
    }

    static List<Arguments> layouts() {
        return List.of(
                Arguments.of(Tensorization.merged(16, 24, new int[] {2, 2, 4}, new int[] {2, 3, 4}), new int[] {2, 3, 3}),
                Arguments.of(Tensorization.merged(15, 24, new int[] {2, 2, 4}, new int[] {2, 3, 4}), new int[] {2, 3, 3}),
                Arguments.of(Tensorization.split(16, 24, new int[] {4, 4}, new int[] {4, 6}), new int[] {2, 2, 2, 3}),
                Arguments.of(Tensorization.inputWhole(16, 24, new int[] {4, 6}), new int[] {3, 2, 3}),
                Arguments.of(Tensorization.inputWhole(16, 23, new int[] {4, 6}), new int[] {3, 2, 3}));
    }

    @ParameterizedTest
    @MethodSource("layouts")
    void errorNeverRisesBetweenSweeps(Tensorization tz, int[] ranks) {
        Matrix w = Matrix.gaussian(tz.inputSize(), tz.outputSize(), new Random(3));
        Matrix c = metric(tz.inputSize(), 4);
        BlockTermConfig config = BlockTermConfig.of(2, ranks).withSweeps(30, 0).withSeed(5);
        BlockTerm start = BlockTermAls.fit(tz.tensorize(w.data()), config.withSweeps(1, 0)).model();
        FitResult<BlockTerm> fit = MetricBlockTermAls.fit(w, tz, c, config, start);
        double[] e = fit.errors();
        for (int i = 1; i < e.length; i++) {
            assertTrue(e[i] <= e[i - 1] * (1 + 1e-12), tz.describe() + ": error rose at sweep " + i + ": "
                    + e[i - 1] + " -> " + e[i]);
        }
        assertEquals(31, e.length); // tolerance 0: every sweep runs
        assertTrue(e[e.length - 1] < 0.95 * e[0], tz.describe() + ": the sweeps did not move the error: " + e[0]
                + " -> " + e[e.length - 1]);
        assertEquals(e[e.length - 1], fit.relativeError(), 1e-9);
        assertEquals(fit.relativeError(), MetricBlockTermAls.relativeError(w, matricize(tz, fit.model()), c), 1e-12);
    }

    static List<Arguments> plantedMerged() {
        // two blocks can sit in a swamp for hundreds of sweeps from other draws (block-term ALS's slow
        // convergence, worse in an ill-conditioned metric): these reach 1e-6 within about 60 sweeps
        return List.of(
                Arguments.of(Tensorization.merged(36, 36, new int[] {3, 3, 4}, new int[] {4, 3, 3}), 1, new int[] {2, 3, 3}, 6L),
                Arguments.of(Tensorization.merged(16, 24, new int[] {2, 2, 4}, new int[] {2, 3, 4}), 2, new int[] {2, 2, 3}, 8L));
    }

    @ParameterizedTest
    @MethodSource("plantedMerged")
    void recoversAPlantedBlockTermOnTheMergedLayoutInAnyMetric(Tensorization tz, int blocks, int[] ranks, long seed) {
        // W itself is a block term of the fitted ranks: the optimum is 0 in every metric
        Random random = new Random(seed);
        BlockTerm truth = planted(tz.modeSizes(), blocks, ranks, random);
        Matrix w = matricize(tz, truth);
        BlockTerm start = perturbed(truth, 0.3, random);
        Matrix c = metric(tz.inputSize(), seed + 1);
        BlockTermConfig config = BlockTermConfig.of(blocks, ranks).withSweeps(300, 1e-12);
        double startError = MetricBlockTermAls.relativeError(w, matricize(tz, start), c);
        FitResult<BlockTerm> fit = MetricBlockTermAls.fit(w, tz, c, config, start);
        assertTrue(startError > 0.1, "start error " + startError);
        assertTrue(fit.relativeError() < 1e-6, "relative error " + fit.relativeError() + " after " + fit.sweeps()
                + " sweeps, from " + startError);
    }

    @Test
    void recoversAWhitenedPlantedBlockTermOnTheInputWholeLayout() {
        // W = L^-T mat(B): a block term in the metric's coordinates (the input factor mixed by L^-T)
        Tensorization tz = Tensorization.inputWhole(16, 24, new int[] {4, 6});
        int[] ranks = {2, 2, 3}; // where BlockTermAls's algebraic start applies: exact on block-term data
        Random random = new Random(8);
        Matrix c = metric(16, 9);
        Whitening whitening = Whitening.ofMetric(c);
        BlockTerm truth = (BlockTerm) whitening.unwhiten(planted(tz.modeSizes(), 2, ranks, random), 0);
        Matrix w = matricize(tz, truth);
        BlockTermConfig config = BlockTermConfig.of(2, ranks).withSweeps(500, 1e-12);
        FitResult<BlockTerm> whitened = MetricBlockTermAls.fit(w, tz, c, config, null);
        assertTrue(whitened.relativeError() < 1e-6, "whitened start: relative error " + whitened.relativeError());
        BlockTerm start = perturbed(truth, 0.3, random);
        double startError = MetricBlockTermAls.relativeError(w, matricize(tz, start), c);
        FitResult<BlockTerm> fit = MetricBlockTermAls.fit(w, tz, c, config, start);
        assertTrue(startError > 0.1, "start error " + startError);
        assertTrue(fit.relativeError() < 1e-6, "perturbed start: relative error " + fit.relativeError() + " after "
                + fit.sweeps() + " sweeps, from " + startError);
    }

    @ParameterizedTest
    @ValueSource(ints = {24, 23}) // 23: the output padded to 24, the output factors and core by CG
    void oneBlockOnTheWholeInputReachesTheWhitenedTruncatedSvd(int outputs) {
        // ranks (r, J_1, J_2): W^ = A B of rank r, whose least error in the damped metric is LowRank's tail
        Tensorization tz = Tensorization.inputWhole(16, outputs, new int[] {4, 6});
        int r = 3;
        Random random = new Random(10);
        Matrix w = Matrix.gaussian(16, outputs, random);
        Matrix xtx = gram(16, 11);
        Matrix c = Whitening.damped(xtx, DAMPING);
        LowRank curve = LowRank.whitened(w, xtx, DAMPING);
        double optimum = curve.tail(r);
        assertEquals(curve.total(), MetricLeastSquares.squaredNorm(c, w), 1e-9 * curve.total());
        BlockTermConfig config = BlockTermConfig.of(1, r, 4, 6).withSweeps(2000, 1e-15);
        BlockTerm weightFit = BlockTermAls.fit(tz.tensorize(w.data()), config).model();
        for (BlockTerm start : new BlockTerm[] {null, weightFit}) {
            FitResult<BlockTerm> fit = MetricBlockTermAls.fit(w, tz, c, config, start);
            double error = Math.pow(fit.relativeError(), 2) * curve.total();
            assertEquals(optimum, error, 1e-6 * optimum, (start == null ? "whitened" : "weight-fit") + " start, "
                    + fit.sweeps() + " sweeps");
            if (start == null) { // the whitened start is the optimum already
                assertEquals(optimum, Math.pow(fit.errors()[0], 2) * curve.total(), 1e-6 * optimum);
            }
        }
        double weightError = MetricLeastSquares.squaredNorm(c, w.plus(matricize(tz, weightFit).scale(-1)));
        assertTrue(weightError > 1.05 * optimum, "the weight fit is already optimal: " + weightError + " vs " + optimum);
    }

    @Test
    void beatsTheWeightMetricFitOnTheMergedLayout() {
        Tensorization tz = Tensorization.merged(16, 24, new int[] {2, 2, 4}, new int[] {2, 3, 4});
        Matrix w = Matrix.gaussian(16, 24, new Random(12));
        Matrix c = metric(16, 13);
        BlockTermConfig config = BlockTermConfig.of(2, 2, 3, 3).withSeed(14);
        FitResult<BlockTerm> weightFit = BlockTermAls.fit(tz.tensorize(w.data()), config);
        double weightError = MetricBlockTermAls.relativeError(w, matricize(tz, weightFit.model()), c);
        FitResult<BlockTerm> fit = MetricBlockTermAls.fit(w, tz, c, config, null);
        assertEquals(weightError, fit.errors()[0], 1e-12, "the start is the weight fit");
        assertTrue(fit.relativeError() < 0.8 * weightError, "metric fit " + fit.relativeError() + " vs weight fit "
                + weightError);
        // and the other way round in the weight metric
        double frobenius = MetricBlockTermAls.relativeError(w, matricize(tz, fit.model()), null);
        assertTrue(frobenius > weightFit.relativeError(), frobenius + " vs " + weightFit.relativeError());
    }

    @Test
    void withoutAMetricItRefinesTheWeightFit() {
        Tensorization tz = Tensorization.merged(16, 24, new int[] {2, 2, 4}, new int[] {2, 3, 4});
        Matrix w = Matrix.gaussian(16, 24, new Random(15));
        BlockTermConfig config = BlockTermConfig.of(2, 2, 3, 3).withSweeps(20, 0);
        FitResult<BlockTerm> weightFit = BlockTermAls.fit(tz.tensorize(w.data()), config);
        FitResult<BlockTerm> fit = MetricBlockTermAls.fit(w, tz, null, config, null);
        assertEquals(weightFit.relativeError(), fit.errors()[0], 1e-12);
        assertTrue(fit.relativeError() <= weightFit.relativeError() * (1 + 1e-12));
    }

    @Test
    void sameSeedGivesSameFactors() {
        Tensorization tz = Tensorization.merged(16, 24, new int[] {2, 2, 4}, new int[] {2, 3, 4});
        Matrix w = Matrix.gaussian(16, 24, new Random(16));
        Matrix c = metric(16, 17);
        BlockTermConfig config = BlockTermConfig.of(2, 2, 3, 3).withInit(Initialization.RANDOM).withSeed(42)
                .withSweeps(10, 0);
        BlockTerm first = MetricBlockTermAls.fit(w, tz, c, config, null).model();
        BlockTerm second = MetricBlockTermAls.fit(w, tz, c, config, null).model();
        for (int n = 0; n < 2; n++) {
            assertArrayEquals(first.terms().get(n).core().data(), second.terms().get(n).core().data());
            assertEquals(first.terms().get(n).factors(), second.terms().get(n).factors());
        }
    }

    @Test
    void whiteningByTheMetricFactorsItAsGiven() {
        Matrix c = metric(16, 21);
        Matrix m = Matrix.gaussian(16, 5, new Random(22));
        Whitening whitening = Whitening.ofMetric(c);
        double norm = MetricLeastSquares.squaredNorm(c, m);
        assertEquals(norm, Math.pow(whitening.apply(m).frobeniusNorm(), 2), 1e-10 * norm); // no damping added
        assertArrayEquals(m.data(), whitening.unapply(whitening.apply(m)).data(), 1e-9);
        assertThrows(IllegalArgumentException.class, () -> Whitening.ofMetric(Matrix.zeros(3, 4)));
    }

    @Test
    void refusesMismatchedInputs() {
        Tensorization tz = Tensorization.merged(16, 24, new int[] {2, 2, 4}, new int[] {2, 3, 4});
        Matrix w = Matrix.gaussian(16, 24, new Random(18));
        Matrix c = metric(16, 19);
        BlockTermConfig config = BlockTermConfig.of(2, 2, 3, 3);
        IllegalArgumentException weight = assertThrows(IllegalArgumentException.class,
                () -> MetricBlockTermAls.fit(w.transpose(), tz, c, config, null));
        assertTrue(weight.getMessage().contains("expected 16x24"), weight.getMessage());
        IllegalArgumentException metric = assertThrows(IllegalArgumentException.class,
                () -> MetricBlockTermAls.fit(w, tz, metric(24, 19), config, null));
        assertTrue(metric.getMessage().contains("expected 16x16"), metric.getMessage());
        BlockTerm wrongRanks = planted(tz.modeSizes(), 2, new int[] {2, 2, 2}, new Random(20));
        IllegalArgumentException start = assertThrows(IllegalArgumentException.class,
                () -> MetricBlockTermAls.fit(w, tz, c, config, wrongRanks));
        assertTrue(start.getMessage().contains("ranks [2, 3, 3]"), start.getMessage());
        assertThrows(IllegalArgumentException.class, () -> MetricBlockTermAls.fit(w, tz, c, BlockTermConfig.of(2, 2, 3), null));
    }
}
