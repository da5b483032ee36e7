package dev.blockterm.compress;

import dev.blockterm.report.CompressionReport;
import dev.blockterm.report.LayerReport;

import dev.blockterm.decompose.Format;
import dev.blockterm.onnx.ConvLayer;
import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.LinearLayer;
import dev.blockterm.rewrite.ConvRewriter;
import dev.blockterm.rewrite.LinearRewriter;
import java.util.List;
import java.util.Locale;
import onnx.Onnx;

/** What {@code compress} would do to each layer, worked out without fitting (for {@code inspect}). */
public final class Plans {

    private Plans() {
    }

    /** The plan that {@link Compressor#plan} decided: each layer's row as compress reports it, and the totals. */
    public static String decided(Onnx.ModelProto model, CompressionOptions options, List<LayerReport> layers) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "plan for %s (what compress does with these options; opset %d)%n",
                options.target().resolve(false) instanceof Target.MaxOutputError e && e.chosenByDefault()
                        ? "the default target" : options.target().describe(), Graphs.opset(model)));
        CompressionReport report = new CompressionReport("", Provenance.version(), options.describe(), layers, 0, 0, 0, 0,
                0, null);
        sb.append(report.rows());
        long before = layers.stream().mapToLong(LayerReport::paramsBefore).sum();
        long after = layers.stream().mapToLong(LayerReport::paramsAfter).sum();
        sb.append(String.format(Locale.ROOT, "layers: parameters %d -> %d (%.2fx)%n", before, after,
                after == 0 ? 0.0 : (double) before / after));
        return sb.toString();
    }

    public static String table(Onnx.ModelProto model, CompressionOptions options) {
        StringBuilder sb = new StringBuilder();
        List<LinearLayer> layers = Graphs.linearLayers(model.getGraph());
        sb.append(String.format(Locale.ROOT, "%d candidate layer(s); opset %d; options: %s%n",
                layers.size() + Graphs.convLayers(model.getGraph()).size(),
                Graphs.opset(model), options.describe()));
        sb.append(String.format(Locale.ROOT, "%-16s %-6s %-10s %9s  %s%n", "layer", "op", "shape", "params",
                "plan (layout tensorization N ranks -> params, ratio, FLOPs/sample vs dense)"));
        Compressor probe = new Compressor(options, m -> { });
        for (LinearLayer layer : layers) {
            sb.append(String.format(Locale.ROOT, "%-16s %-6s %-10s %9d  ", layer.name(), layer.op(), layer.weightShape(),
                    layer.parameters()));
            String skip = probe.skipReason(layer.name(), layer.parameters(), layer.skipReason());
            if (skip != null) {
                sb.append("dense: ").append(skip).append('\n');
                continue;
            }
            List<Candidates.Candidate> candidates;
            try {
                candidates = Candidates.of(layer.name(), layer.inputSize(), layer.outputSize(), options);
            } catch (IllegalArgumentException e) {
                sb.append("cannot compress: ").append(e.getMessage()).append('\n');
                continue;
            }
            for (int i = 0; i < candidates.size(); i++) {
                Candidates.Candidate c = candidates.get(i);
                long params = c.parameters();
                double flops = LinearRewriter.plan(layer, c.tensorization(), c.format() == Format.TT, c.blocks(), c.ranks(),
                        options.expectedBatch()).flopsPerSample();
                sb.append(i == 0 ? "" : String.format(Locale.ROOT, "%-46s", "")).append(String.format(Locale.ROOT,
                        "%-18s %-24s N=%d %-10s -> %d, %.1fx, %.0f vs %.0f%s%n",
                        c.format().label() + " " + c.tensorization().layout().label(),
                        c.tensorization().describe(), c.blocks(), Compressor.ranksText(c.ranks()), params,
                        (double) layer.parameters() / params, flops, 2.0 * layer.parameters(),
                        c.tensorization().padded() ? " (padded)" : ""));
            }
        }
        List<ConvLayer> convs = Graphs.convLayers(model.getGraph());
        for (ConvLayer layer : convs) {
            sb.append(String.format(Locale.ROOT, "%-16s %-6s %-10s %9d  ", layer.name(), "Conv", layer.weightShape(),
                    layer.parameters()));
            String skip = probe.skipReason(layer.name(), layer.parameters(), layer.skipReason());
            if (skip != null) {
                sb.append("dense: ").append(skip).append('\n');
                continue;
            }
            int[] r = options.ranks();
            int[] ranks = Candidates.capped(new int[] {layer.outChannels(), layer.inChannels(), layer.kernelSize()},
                    new int[] {r[0], r.length == 2 ? r[1] : r[0], layer.kernelSize()});
            long params = ConvRewriter.parameters(layer, options.blocks(), ranks[0], ranks[1]);
            sb.append(String.format(Locale.ROOT, "%-11s %-24s N=%d %-10s -> %d, %.1fx, %.0f vs %.0f per output position%n",
                    "conv", "1x1 -> grouped -> 1x1", options.blocks(), ranks[0] + "," + ranks[1], params,
                    (double) layer.parameters() / params,
                    ConvRewriter.flopsPerPosition(layer, options.blocks(), ranks[0], ranks[1]), layer.flopsPerPosition()));
        }
        if (options.layout() == null) {
            sb.append("layout auto: compress fits every layout above at the first one's parameter count and keeps the least error\n");
        }
        return sb.toString();
    }
}
