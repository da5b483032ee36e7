package dev.blockterm.compress;

import dev.blockterm.report.LayerReport;
import java.util.ArrayList;
import java.util.List;

/**
 * A layer's forms together, as the decision numbers their points: id 0 is the dense layer, ids
 * {@code 1..points()} run over the forms' points in order (the low-rank curve first, so that its
 * rank-r point is id r). The allocation, the quality search and the report speak in these ids.
 *
 * @param layer the layer as fitted
 * @param forms its candidate forms, the low-rank curve's first
 */
record LayerForms(FittedLayer layer, List<Form> forms) {

    LayerForms {
        forms = List.copyOf(forms);
        if (forms.isEmpty() || !(forms.get(0) instanceof LowRankForm)) {
            throw new IllegalArgumentException("layer " + layer.job().name() + ": expected its low-rank curve first");
        }
    }

    /** The form and the point within it that an id names. */
    record At(Form form, int point) {
    }

    LayerJob job() {
        return layer.job();
    }

    LowRankForm lowRank() {
        return (LowRankForm) forms.get(0);
    }

    /** The largest rank of the low-rank curve offered (0: none). */
    int maxRank() {
        return lowRank().maxRank();
    }

    /** The id of the low-rank curve's rank-{@code r} point. */
    int lowRankId(int r) {
        if (r < 1 || r > maxRank()) {
            throw new IllegalArgumentException("layer " + job().name() + ": rank " + r + " outside 1.." + maxRank());
        }
        return r;
    }

    int points() {
        int n = 0;
        for (Form f : forms) {
            n += f.points();
        }
        return n;
    }

    /** The form and point of {@code id} (1..points()). */
    At at(int id) {
        int left = id - 1;
        for (Form f : forms) {
            if (left >= 0 && left < f.points()) {
                return new At(f, left);
            }
            left -= f.points();
        }
        throw new IllegalArgumentException("layer " + job().name() + ": no point " + id + " (it has " + points() + ")");
    }

    /** The id of point {@code p} of {@code forms().get(form)}. */
    int id(int form, int p) {
        int id = 1 + p;
        for (int i = 0; i < form; i++) {
            id += forms.get(i).points();
        }
        return id;
    }

    /** The low-rank rank point {@code id} holds (its factors'); 0 for the dense layer or a form holding none. */
    int rankOf(int id) {
        if (id == 0) {
            return 0;
        }
        At a = at(id);
        return a.form().rank(a.point());
    }

    /** The same forms with {@code points} added to the fitted forms' points. */
    LayerForms withFitted(List<FormPoint> points) {
        List<Form> out = new ArrayList<>();
        for (Form f : forms) {
            if (f instanceof FittedForms o) {
                List<FormPoint> all = new ArrayList<>(o.fitted());
                all.addAll(points);
                out.add(new FittedForms(layer, all));
            } else {
                out.add(f);
            }
        }
        return new LayerForms(layer, out);
    }

    /** The same forms with the low-rank curve offered only up to {@code rank}: the other forms are not timed. */
    LayerForms capped(int rank) {
        List<Form> kept = new ArrayList<>();
        kept.add(new LowRankForm(layer, Math.min(rank, maxRank())));
        for (Form f : forms) {
            if (f instanceof BitsForm b) {
                kept.add(new BitsForm(layer, b.stored().stream().filter(s -> s.rank() <= rank).toList()));
            }
        }
        return new LayerForms(layer, kept);
    }

    /**
     * The allocation's curve of this layer: every point's size and its squared relative error scaled by
     * the layer's {@code sensitivity}, in bytes or in parameters; only the points the format allows.
     */
    Allocation.Curve curve(double sensitivity, boolean inBytes, CurveFormat format) {
        int n = 0;
        for (Form f : forms) {
            for (int p = 0; p < f.points(); p++) {
                n += format.allows(f.family(p)) ? 1 : 0;
            }
        }
        int[] ids = new int[n];
        long[] sizes = new long[n];
        double[] errors = new double[n];
        int at = 0;
        for (int i = 0; i < forms.size(); i++) {
            Form f = forms.get(i);
            for (int p = 0; p < f.points(); p++) {
                if (!format.allows(f.family(p))) {
                    continue;
                }
                ids[at] = id(i, p);
                sizes[at] = f.size(p, inBytes);
                double e = f.error(p) * sensitivity;
                errors[at] = e * e;
                at++;
            }
        }
        long dense = job().parameters() * (inBytes ? dev.blockterm.onnx.Weights.width(layer.dataType()) : 1);
        return new Allocation.Curve(job().name(), dense, ids, sizes, errors);
    }

    /**
     * The verdict at point {@code id}: the least error (in the layer's metric) of the low-rank and of the
     * block-term points no larger than it, and the family that was chosen; null where the layer has no
     * block-term point to compare.
     */
    String verdict(int id, boolean inBytes) {
        At chosen = at(id);
        long size = chosen.form().size(chosen.point(), inBytes);
        double lowRank = Double.NaN;
        double blockTerm = Double.NaN;
        boolean any = false;
        for (Form f : forms) {
            for (int p = 0; p < f.points(); p++) {
                Form.Family family = f.family(p);
                any |= family == Form.Family.BLOCK_TERM;
                if (f.size(p, inBytes) > size) {
                    continue;
                }
                if (family == Form.Family.LOW_RANK && !(f.error(p) >= lowRank)) {
                    lowRank = f.error(p);
                } else if (family == Form.Family.BLOCK_TERM && !(f.error(p) >= blockTerm)) {
                    blockTerm = f.error(p);
                }
            }
        }
        if (!any) {
            return null;
        }
        return String.format(java.util.Locale.ROOT, "at this size the best block term %s, the best low rank %s (errors "
                + "in the layer's metric): %s", text(blockTerm), text(lowRank),
                switch (chosen.form().family(chosen.point())) {
                    case LOW_RANK -> "low rank chosen";
                    case BLOCK_TERM -> "block term chosen";
                    case SPATIAL -> "spatial SVD chosen";
                    case DENSE -> "dense at a lower precision chosen";
                });
    }

    private static String text(double e) {
        return Double.isNaN(e) ? "none" : String.format(java.util.Locale.ROOT, "%.4f", e);
    }

    /** The family of point {@code id}. */
    Form.Family family(int id) {
        At a = at(id);
        return a.form().family(a.point());
    }

    /** The layer's outcome at point {@code id} (0: dense, saying why). */
    Compressor.LayerOutcome outcome(int id, String selection, Target target, CurveFormat format) {
        if (id != 0) {
            At a = at(id);
            return a.form().outcome(a.point(), selection);
        }
        LayerJob job = job();
        String reason = job instanceof LayerJob.Conv c && c.layer().grouped()
                ? c.layer().skipReason() + " as a factored form; its kernel kept at its own precision by the target ("
                + target.describe() + ")"
                : format != CurveFormat.AUTO && curve(1, false, format).ranks().length == 0
                ? "no " + format.label() + " form offered for this layer"
                : layer.smallerThanDense() == 0 ? "no rank gives a factored form smaller than the dense weight"
                : maxRank() == 0 ? "no rank runs fast enough factored (the minimum speed-up)"
                : "kept dense by the target (" + target.describe() + ")";
        return Compressor.LayerOutcome.dense(job.nodeIndex(), job.weightName(), LayerReport.dense(job.name(),
                job.op(), job.shape(), job.parameters(), job.flops(0), reason, List.of(), layer.seconds()));
    }
}
