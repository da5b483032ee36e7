package dev.blockterm.compress;

import dev.blockterm.decompose.BlockTerm;
import dev.blockterm.decompose.BlockTermAls;
import dev.blockterm.decompose.BlockTermConfig;
import dev.blockterm.decompose.FitResult;
import dev.blockterm.decompose.Format;
import dev.blockterm.decompose.Initialization;
import dev.blockterm.decompose.LowRank;
import dev.blockterm.decompose.MetricBlockTermAls;
import dev.blockterm.decompose.UnfoldingBound;
import dev.blockterm.decompose.Whitening;
import dev.blockterm.tensor.Layout;
import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Tensor;
import dev.blockterm.tensor.Tensorization;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A layer's block-term points beside its low-rank curve, fitted in the same metric as the curve so
 * that the allocation compares them fairly: the output metric {@code C = X^T X + delta I} where
 * calibration inputs were captured ({@link MetricBlockTermAls}), else the weight's
 * ({@link BlockTermAls}).
 *
 * <p>On each tensorization of the weight (merged, split, input-whole with the output split) the
 * largest candidate of the format within each of {@link #RATIOS} of the dense size is sized. Where a
 * bound on its error holds in the layer's metric (the weight metric, or the output metric with the
 * input one whole mode: the unfolding bound of {@code L^T W}, {@link UnfoldingBound}), a candidate
 * whose bound is not below the low-rank curve's error at its size cannot win and is not fitted, and
 * of the others the {@link #PER_LAYER} with the lowest bound over the curve are; where none holds,
 * each layout's candidate nearest 4x is. Each is probed for {@link #PROBE_SWEEPS} sweeps (one without a
 * bound), dropped if
 * still above {@link #PROBE_MARGIN} times the curve's error, else fitted for {@link #SWEEPS} sweeps
 * and offered where it beats the curve; a win also tries the same layout one size up and down.
 */
final class BlockTermPoints {

    /** The ratios of the dense size at which candidates are sized. */
    static final double[] RATIOS = {2, 4, 8, 16};
    /** The sweep limit of a point's fit. */
    static final int SWEEPS = 15;
    /** Candidates fitted per layer at most. */
    static final int PER_LAYER = 2;
    /** A candidate whose error after this many sweeps is more than PROBE_MARGIN times the curve's is dropped. */
    static final int PROBE_SWEEPS = 3;
    static final double PROBE_MARGIN = 1.25;

    private final CompressionOptions options;
    private final Format format;
    /**
     * Whether block terms are the only forms offered ({@code --format bt}): then every sized candidate is
     * fitted and kept, as the low-rank curve they would have to beat is not a choice.
     */
    private final boolean alone;
    private final Consumer<String> progress;
    private final AtomicInteger sized = new AtomicInteger();
    private final AtomicInteger fitted = new AtomicInteger();
    private final AtomicInteger kept = new AtomicInteger();
    private final AtomicInteger skipped = new AtomicInteger();

    /** Points of {@code format} (bt, tucker or cp: one ALS code path). */
    BlockTermPoints(CompressionOptions options, Format format, boolean alone, Consumer<String> progress) {
        if (format == Format.TT) {
            throw new IllegalArgumentException("block-term points: expected bt, tucker or cp, found tt");
        }
        this.options = options;
        this.format = format;
        this.alone = alone;
        this.progress = progress;
    }

    /** What was sized, fitted and kept, in words. */
    String describe() {
        return String.format(Locale.ROOT, "%s layouts: %d sized, %d fitted, %d %s%s", format.label(), sized.get(),
                fitted.get(), kept.get(), alone ? "kept" : "kept (below the low-rank curve at their size)",
                skipped.get() == 0 ? ""
                : ", " + skipped.get() + " layers not tried as none of the first " + SCOUTS + " of their shape won");
    }

    /** A kind of candidate: its layout and the ratio it was sized at. */
    record Key(Tensorization tz, double ratio) {
    }

    private record Sized(Key key, Candidates.Candidate c, double flops, double lowRank, double bound, boolean valid) {
        double score() {
            return bound / lowRank;
        }
    }

    /** A layer's kept points and the kinds of candidate that beat its curve. */
    private record Fits(List<FormPoint> points, Set<Key> won) {
    }

    /** Layers of one shape whose candidates are all tried; the rest of that shape try only what won on them. */
    static final int SCOUTS = 2;

    /**
     * The layers with their block-term points added: the first {@link #SCOUTS} layers of each shape (in
     * graph order) try every layout, the others of that shape only the kinds of candidate that beat
     * the curve on one of them (so that a transformer's many equal matrices are not each tried in
     * every layout). Fitted on {@code threads} threads; deterministic.
     */
    List<LayerForms> attach(List<LayerForms> layers, int threads) {
        Map<String, List<Integer>> byShape = new LinkedHashMap<>();
        for (int i = 0; i < layers.size(); i++) {
            LayerJob job = layers.get(i).job();
            if (eligible(layers.get(i).layer())) {
                byShape.computeIfAbsent(shape(layers.get(i).layer()), k -> new ArrayList<>()).add(i);
            }
        }
        List<List<FormPoint>> points = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            points.add(List.of());
        }
        List<Integer> scouts = new ArrayList<>();
        byShape.values().forEach(g -> scouts.addAll(g.subList(0, Math.min(SCOUTS, g.size()))));
        List<Callable<Fits>> tasks = new ArrayList<>();
        for (int i : scouts) {
            tasks.add(() -> points(layers.get(i).layer(), null));
        }
        List<Fits> scouted = Parallel.run(tasks, threads);
        Map<String, Set<Key>> won = new LinkedHashMap<>();
        for (int k = 0; k < scouts.size(); k++) {
            int i = scouts.get(k);
            points.set(i, scouted.get(k).points());
            won.computeIfAbsent(shape(layers.get(i).layer()), s -> new LinkedHashSet<>()).addAll(scouted.get(k).won());
        }
        List<Integer> rest = new ArrayList<>();
        tasks.clear();
        for (List<Integer> g : byShape.values()) {
            for (int i : g.subList(Math.min(SCOUTS, g.size()), g.size())) {
                Set<Key> only = won.get(shape(layers.get(i).layer()));
                if (only.isEmpty()) {
                    skipped.incrementAndGet();
                    continue;
                }
                rest.add(i);
                tasks.add(() -> points(layers.get(i).layer(), only));
            }
        }
        List<Fits> followed = Parallel.run(tasks, threads);
        for (int k = 0; k < rest.size(); k++) {
            points.set(rest.get(k), followed.get(k).points());
        }
        List<LayerForms> out = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            out.add(points.get(i).isEmpty() ? layers.get(i) : layers.get(i).withFitted(points.get(i)));
        }
        return out;
    }

    /** What layers share a scout by: their kind, the metric they are fitted in, and their shape. */
    private static String shape(FittedLayer layer) {
        LayerJob job = layer.job();
        return job.getClass().getSimpleName() + " " + layer.metric().getClass().getSimpleName() + " " + job.rows() + "x"
                + job.cols();
    }

    /**
     * Whether a candidate is the low-rank form written as a block term: one block on the input-whole
     * layout whose output modes keep their full sizes ({@code A G (I (x) I)} is {@code A B}).
     */
    static boolean lowRankItself(Tensorization tz, Candidates.Candidate c) {
        if (tz.layout() != Layout.INPUT_WHOLE || c.blocks() != 1) {
            return false;
        }
        int[] sizes = tz.modeSizes();
        for (int k = 1; k < sizes.length; k++) {
            if (c.ranks()[k] < sizes[k]) {
                return false;
            }
        }
        return true;
    }

    private static boolean eligible(FittedLayer layer) {
        return !(layer.job() instanceof LayerJob.Conv) && !(layer.job() instanceof LayerJob.Embedding)
                && !(layer.metric() instanceof LayerMetric.Rows);
    }

    /**
     * The points of a fully connected layer or a stored weight, in its curve's metric: every kind of
     * candidate where {@code only} is null (a scout), else those kinds alone.
     */
    private Fits points(FittedLayer layer, Set<Key> only) {
        LayerJob job = layer.job();
        List<Tensorization> layouts;
        try {
            layouts = Candidates.tensorizations(job.name(), job.rows(), job.cols(), options.withLayout(null));
        } catch (IllegalArgumentException e) {
            return new Fits(List.of(), Set.of());
        }
        LowRank curve = layer.curve();
        Matrix w = layer.weight().get();
        LayerMetric.Gram gram = layer.metric() instanceof LayerMetric.Gram g ? g : null;
        Matrix c = gram == null ? null : damped(gram);
        Matrix whitened = c == null ? null : Whitening.ofMetric(c).apply(w); // L^T W
        Map<Tensorization, List<Sized>> sized = new LinkedHashMap<>();
        for (Tensorization tz : layouts) {
            if (tz.equals(LayerJob.plain(job.rows(), job.cols())) || tz.padded()) {
                continue;
            }
            UnfoldingBound weightBound = null;
            UnfoldingBound metricBound = null;
            List<Sized> here = new ArrayList<>();
            for (double ratio : RATIOS) {
                Key key = new Key(tz, ratio);
                if (only != null && !only.contains(key)) {
                    continue;
                }
                Candidates.Candidate cand = Candidates.largestUnder(format, tz, options.blocks(),
                        (long) Math.floor(job.parameters() / ratio));
                if (cand == null || cand.parameters() >= job.parameters()) {
                    continue;
                }
                if (lowRankItself(tz, cand)) {
                    continue;
                }
                double flops = job.flops(tz, cand);
                if (flops >= job.flops(0) && !(job instanceof LayerJob.Stored)) {
                    continue;
                }
                this.sized.incrementAndGet();
                int rank = (int) Math.min(curve.maxRank(), cand.parameters() / ((long) job.rows() + job.cols()));
                double lowRank = curve.tail(rank);
                if (lowRank <= 0 && !alone) {
                    continue; // the curve is exact at this size: nothing beats it
                }
                if (weightBound == null) {
                    weightBound = new UnfoldingBound(tz.tensorize(w.data()));
                }
                double bound;
                boolean valid = true;
                if (c == null) {
                    bound = weightBound.squaredError(cand.blocks(), cand.ranks());
                } else if (tz.layout() == Layout.INPUT_WHOLE) {
                    if (metricBound == null) {
                        metricBound = new UnfoldingBound(tz.tensorize(whitened.data()));
                    }
                    bound = metricBound.squaredError(cand.blocks(), cand.ranks());
                } else {
                    // no bound holds in the output metric when the input is spread over modes: the weight's
                    // bound relative to the weight's norm only ranks the candidates
                    bound = weightBound.squaredError(cand.blocks(), cand.ranks()) / weightTotal(w) * curve.total();
                    valid = false;
                }
                // a valid bound at the curve or above: no fit of it can win (an input-whole candidate at full output
                // ranks is the low-rank form itself, its bound the curve's error)
                if (alone || !valid || bound < (1 - 1e-6) * lowRank) {
                    here.add(new Sized(key, cand, flops, lowRank, bound, valid));
                }
            }
            sized.put(tz, here);
        }
        List<Sized> first = new ArrayList<>();
        if (only != null || alone) {
            sized.values().forEach(first::addAll);
        } else {
            // with a valid bound, the most promising; without one, each layout at its middle size
            List<Sized> bounded = new ArrayList<>();
            for (List<Sized> here : sized.values()) {
                for (Sized s : here) {
                    if (s.valid()) {
                        bounded.add(s);
                    }
                }
                here.stream().filter(s -> !s.valid()).min(Comparator.comparingDouble(s -> Math.abs(s.key().ratio() - 4)))
                        .ifPresent(first::add);
            }
            bounded.sort(Comparator.comparingDouble(Sized::score));
            first.addAll(0, bounded.subList(0, Math.min(PER_LAYER, bounded.size())));
        }
        List<FormPoint> out = new ArrayList<>();
        Set<Key> won = new LinkedHashSet<>();
        Set<Key> tried = new HashSet<>();
        List<Sized> queue = new ArrayList<>(first);
        while (!queue.isEmpty()) {
            Sized s = queue.remove(0);
            if (!tried.add(s.key())) {
                continue;
            }
            FormPoint p = fit(layer, w, c, s);
            if (p == null) {
                continue;
            }
            out.add(p);
            won.add(s.key());
            if (only == null) {
                // a scout's win: the same layout one size up and one down, for the allocation's spread
                List<Sized> here = sized.get(s.key().tz());
                int at = here.indexOf(s);
                for (int n : new int[] {at - 1, at + 1}) {
                    if (n >= 0 && n < here.size()) {
                        queue.add(here.get(n));
                    }
                }
            }
        }
        return new Fits(out, won);
    }

    /** {@code ||W||_F^2}. */
    private static double weightTotal(Matrix w) {
        return Math.max(w.dot(w), Double.MIN_VALUE);
    }

    /** {@code X^T X + delta I}: the metric the curve was fitted in. */
    private static Matrix damped(LayerMetric.Gram g) {
        return g.xtx().plus(Matrix.identity(g.xtx().rows()).scale(g.delta()));
    }

    /** The candidate probed, then fitted; its point where it beats the curve, else null. */
    private FormPoint fit(FittedLayer layer, Matrix w, Matrix c, Sized s) {
        LayerJob job = layer.job();
        LowRank curve = layer.curve();
        fitted.incrementAndGet();
        Candidates.Candidate cand = s.c();
        Tensorization tz = s.key().tz();
        progress.accept("fitting " + job.name() + " as " + format.label() + " " + tz.layout().label() + " "
                + tz.describe() + ", N=" + cand.blocks() + ", ranks " + Arrays.toString(cand.ranks())
                + (c == null ? "" : " in the metric of its outputs")
                + String.format(Locale.ROOT, " (%s %.2f of the low-rank curve's error at its size)",
                s.valid() ? "its unfolding bound is" : "in the weight's metric its bound is", s.score()));
        // a curve point, not the user's fit: a few sweeps to see whether it comes near the curve (ALS
        // rarely closes a wide gap), then a short sweep budget from where the probe stopped
        long started = System.nanoTime();
        // without a bound the probe is all there is to go on, and on wide layers each metric sweep costs
        // seconds: one sweep decides there
        int probe = s.valid() ? PROBE_SWEEPS : 1;
        FitResult<BlockTerm> fit = fit(w, c, tz, cand, probe, null);
        double e = fit.relativeError();
        if (!alone && e * e * curve.total() > PROBE_MARGIN * s.lowRank()) {
            progress.accept(String.format(Locale.ROOT, "  dropped: after %d sweeps %.2f of the curve's error (%.1f s)",
                    probe, e * e * curve.total() / s.lowRank(), (System.nanoTime() - started) / 1e9));
            return null;
        }
        // the weight metric's fit starts again with the longer budget; the output metric's goes on from the probe
        fit = fit(w, c, tz, cand, SWEEPS, c == null ? null : fit.model());
        e = fit.relativeError();
        progress.accept(String.format(Locale.ROOT, "  %.2f of the curve's error (%.1f s)", e * e * curve.total()
                / s.lowRank(), (System.nanoTime() - started) / 1e9));
        if (!alone && e * e * curve.total() >= s.lowRank()) {
            return null;
        }
        kept.incrementAndGet();
        BlockTerm bt = fit.model();
        Matrix approx = new Matrix(job.rows(), job.cols(), tz.matricize(bt.reconstruct()));
        FittedLayer.Distance d = FittedLayer.Distance.between(w, approx);
        double weightError = d.relative();
        double outputError = c == null ? Double.NaN : layer.outputError(e * e * curve.total(), d);
        String layout = format.label() + " " + tz.layout().label() + (c == null ? "" : " whitened");
        return new FormPoint(Form.Family.BLOCK_TERM, layout, tz.describe(), cand.blocks(), cand.ranksText(),
                cand.parameters(), e, weightError, outputError, fit.sweeps(), fit.converged(), s.flops(),
                () -> approx, job.rewrite(tz, bt), new Compressor.LayerFit(job.name(), tz, fit, outputError));
    }

    private FitResult<BlockTerm> fit(Matrix w, Matrix c, Tensorization tz, Candidates.Candidate cand, int sweeps,
                                     BlockTerm start) {
        BlockTermConfig config = new BlockTermConfig(cand.blocks(), cand.ranks(), Math.min(options.maxSweeps(), sweeps),
                Math.max(options.tolerance(), 1e-4), options.seed(), Initialization.GREEDY, 1);
        if (c == null && start == null) {
            return BlockTermAls.fit(tz.tensorize(w.data()), config);
        }
        return MetricBlockTermAls.fit(w, tz, c, config, start);
    }
}
