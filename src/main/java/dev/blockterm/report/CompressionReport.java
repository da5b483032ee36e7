package dev.blockterm.report;

import java.util.List;
import java.util.Locale;

/**
 * The whole model's outcome: the layers, the totals, and the options it ran with.
 *
 * @param model         input model path
 * @param version       tool version
 * @param options       the options, as the user would write them
 * @param layers        one entry per candidate layer
 * @param modelParamsBefore all initializer elements before
 * @param modelParamsAfter  all initializer elements after
 * @param fileBytesBefore   serialized size before
 * @param fileBytesAfter    serialized size after
 * @param seconds           total time
 * @param quality           the written model's outputs against the original's, or null where the
 *                          models could not be run
 */
public record CompressionReport(String model, String version, String options, List<LayerReport> layers,
                                long modelParamsBefore, long modelParamsAfter, long fileBytesBefore, long fileBytesAfter,
                                double seconds, ModelQuality quality, Reference reference) {

    /**
     * What a user would do instead, measured in the same run on the same inputs: {@code what} (every
     * selected layer's weight stored at int8, nothing factored), its file size, and its outputs against
     * the original's.
     */
    public record Reference(String what, long fileBytes, ModelQuality quality) {
    }

    public CompressionReport {
        layers = List.copyOf(layers);
    }

    public CompressionReport(String model, String version, String options, List<LayerReport> layers,
                             long modelParamsBefore, long modelParamsAfter, long fileBytesBefore, long fileBytesAfter,
                             double seconds, ModelQuality quality) {
        this(model, version, options, layers, modelParamsBefore, modelParamsAfter, fileBytesBefore, fileBytesAfter,
                seconds, quality, null);
    }

    /** This report without its timings (seconds, latencies), for the provenance in the model: same run, same bytes. */
    public CompressionReport withoutTimings() {
        List<LayerReport> untimed = layers.stream().map(LayerReport::withoutTimings).toList();
        return new CompressionReport(model, version, options, untimed, modelParamsBefore, modelParamsAfter,
                fileBytesBefore, 0, 0, quality, null);
    }

    public long compressedLayers() {
        return layers.stream().filter(LayerReport::compressed).count();
    }

    /** The per-layer table and totals, as printed on stdout. */
    public String table() {
        StringBuilder sb = new StringBuilder(rows());
        // the report recorded in the model has no size of the file that holds it, nor timings (same run, same bytes)
        boolean recorded = fileBytesAfter == 0 && seconds == 0;
        sb.append(String.format(Locale.ROOT, "compressed %d of %d layers; parameters %d -> %d (%.2fx); file %s -> %s%n",
                compressedLayers(), layers.size(), modelParamsBefore, modelParamsAfter,
                modelParamsAfter == 0 ? 0.0 : (double) modelParamsBefore / modelParamsAfter,
                bytes(fileBytesBefore), recorded ? "this file" : bytes(fileBytesAfter) + String.format(Locale.ROOT,
                        "; %.1f s", seconds)));
        if (quality != null) {
            sb.append(quality.text());
        }
        if (reference != null) {
            sb.append(String.format(Locale.ROOT, "reference, measured in this run: %s: file %s (%.2fx smaller), worst "
                    + "output error %.4g", reference.what(), bytes(reference.fileBytes()),
                    (double) fileBytesBefore / Math.max(1, reference.fileBytes()), reference.quality().worstRelativeError()));
            reference.quality().outputs().stream().mapToDouble(o -> o.meanCosine()).filter(c -> !Double.isNaN(c)).min()
                    .ifPresent(c -> sb.append(String.format(Locale.ROOT, ", mean cosine %.4f", c)));
            sb.append(String.format(Locale.ROOT, "; this model: file %s (%.2fx smaller), worst output error %.4g%n",
                    bytes(fileBytesAfter), (double) fileBytesBefore / Math.max(1, fileBytesAfter),
                    quality == null ? Double.NaN : quality.worstRelativeError()));
        }
        sb.append("(rel.err: of the weight; out.err: of the layer's output on the calibration inputs; sweeps ending in +"
                + " stopped at the sweep limit before reaching the tolerance");
        if (layers.stream().anyMatch(l -> l.op().equals("Conv"))) {
            sb.append("; Conv FLOPs are per output position");
        }
        if (layers.stream().anyMatch(LayerReport::rebuilt)) {
            sb.append("; 'rebuilt at load': stored factored, the dense weight rebuilt by a constant subgraph,"
                    + " so the file shrinks and the compute does not");
        }
        sb.append(")\n");
        return sb.toString();
    }

    /** The header and one row per layer (with its indented notes). */
    public String rows() {
        StringBuilder sb = new StringBuilder();
        String header = String.format(Locale.ROOT, "%-14s %-6s %-9s %-14s %-26s %3s %-10s %17s %7s %9s %8s %6s %-4s %21s "
                + "%7s %21s", "layer", "op", "shape", "layout", "tensorization", "N", "ranks", "params", "ratio", "rel.err",
                "out.err", "sweeps", "bits", "bytes", "seconds", "FLOPs/sample");
        sb.append(header).append('\n');
        for (LayerReport l : layers) {
            if (l.compressed()) {
                sb.append(String.format(Locale.ROOT,
                        "%-14s %-6s %-9s %-14s %-26s %3d %-10s %17s %6.1fx %9.4f %8s %6s %-4s %21s %7.2f %21s%n",
                        l.name(), l.op(), l.weightShape(), l.layout(), l.tensorization() + (l.padded() ? " (pad)" : ""),
                        l.blocks(), l.ranks(), l.paramsBefore() + " -> " + l.paramsAfter(), l.ratio(),
                        l.relativeError(), error(l.outputError()), l.sweeps() + (l.converged() ? "" : "+"),
                        l.precision() == null ? "-" : l.precision(), l.bytesAfter() < 0 ? "-"
                                : bytes(l.bytesBefore()) + " -> " + bytes(l.bytesAfter()), l.seconds(),
                        l.rebuilt() ? "rebuilt at load" : human(l.flopsBefore()) + " -> " + human(l.flopsAfter())));
            } else {
                sb.append(String.format(Locale.ROOT, "%-14s %-6s %-9s dense: %s%n", l.name(), l.op(), l.weightShape(),
                        l.reason()));
            }
            if (l.selection() != null) {
                sb.append("    chosen by ").append(l.selection()).append('\n');
            }
            if (l.latency() != null && l.compressed()) {
                sb.append("    ").append(l.latency()).append('\n');
            }
            for (Alternative a : l.alternatives()) {
                sb.append(String.format(Locale.ROOT, "    %-14s %-26s N=%-2d ranks %-12s params %-9d FLOPs/sample %-7s rel.err %s%s%s%n",
                        a.layout(), a.tensorization(), a.blocks(), a.ranks(), a.parameters(), human(a.flopsPerSample()),
                        error(a.relativeError()), Double.isNaN(a.outputError()) ? "" : " out.err " + error(a.outputError()),
                        a.note() == null || a.note().isEmpty() ? "" : "  " + a.note()));
            }
        }
        return sb.toString();
    }

    /** An error to four places, or "-" where there is none. */
    static String error(double e) {
        return Double.isNaN(e) ? "-" : String.format(Locale.ROOT, "%.4f", e);
    }

    static String human(double flops) {
        if (flops >= 1e9) {
            return String.format(Locale.ROOT, "%.2fG", flops / 1e9);
        }
        if (flops >= 1e6) {
            return String.format(Locale.ROOT, "%.2fM", flops / 1e6);
        }
        if (flops >= 1e3) {
            return String.format(Locale.ROOT, "%.1fk", flops / 1e3);
        }
        return String.format(Locale.ROOT, "%.0f", flops);
    }

    static String bytes(long b) {
        if (b >= 1 << 20) {
            return String.format(Locale.ROOT, "%.2f MB", b / 1048576.0);
        }
        return String.format(Locale.ROOT, "%.1f kB", b / 1024.0);
    }
}
