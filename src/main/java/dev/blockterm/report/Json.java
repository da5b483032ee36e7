package dev.blockterm.report;

import java.util.Locale;

/**
 * The report as JSON. Written by hand: the report is a few flat records, and the JSON libraries
 * on the classpath are ND4J's shaded internals, not an API to depend on.
 */
public final class Json {

    private Json() {
    }

    public static String of(CompressionReport r) {
        StringBuilder sb = new StringBuilder("{\n");
        field(sb, "  ", "model", r.model()).append(",\n");
        field(sb, "  ", "version", r.version()).append(",\n");
        field(sb, "  ", "options", r.options()).append(",\n");
        sb.append("  \"modelParamsBefore\": ").append(r.modelParamsBefore()).append(",\n");
        sb.append("  \"modelParamsAfter\": ").append(r.modelParamsAfter()).append(",\n");
        sb.append("  \"fileBytesBefore\": ").append(r.fileBytesBefore()).append(",\n");
        sb.append("  \"fileBytesAfter\": ").append(r.fileBytesAfter()).append(",\n");
        sb.append("  \"seconds\": ").append(number(r.seconds())).append(",\n");
        if (r.quality() != null) {
            ModelQuality q = r.quality();
            sb.append("  \"quality\": {");
            field(sb, "", "inputs", q.inputs()).append(", ");
            sb.append("\"generated\": ").append(q.generated()).append(", ");
            field(sb, "", "target", q.target()).append(", ");
            sb.append("\"outputs\": [");
            for (int i = 0; i < q.outputs().size(); i++) {
                var o = q.outputs().get(i);
                sb.append(i == 0 ? "" : ", ").append('{');
                field(sb, "", "name", o.name()).append(", ");
                sb.append("\"relativeError\": ").append(number(o.relativeError())).append(", ");
                sb.append("\"meanCosine\": ").append(number(o.meanCosine())).append(", ");
                sb.append("\"minCosine\": ").append(number(o.minCosine())).append(", ");
                sb.append("\"top1Agreement\": ").append(number(o.top1Agreement())).append('}');
            }
            sb.append("], \"warnings\": [");
            for (int i = 0; i < q.warnings().size(); i++) {
                sb.append(i == 0 ? "" : ", ");
                sb.append(quote(q.warnings().get(i)));
            }
            sb.append("]},\n");
        }
        if (r.reference() != null) {
            sb.append("  \"reference\": {");
            field(sb, "", "what", r.reference().what()).append(", ");
            sb.append("\"fileBytes\": ").append(r.reference().fileBytes()).append(", ");
            sb.append("\"worstRelativeError\": ").append(number(r.reference().quality().worstRelativeError()));
            sb.append("},\n");
        }
        sb.append("  \"layers\": [");
        for (int i = 0; i < r.layers().size(); i++) {
            LayerReport l = r.layers().get(i);
            sb.append(i == 0 ? "\n" : ",\n").append("    {");
            field(sb, "", "name", l.name()).append(", ");
            field(sb, "", "op", l.op()).append(", ");
            field(sb, "", "weightShape", l.weightShape()).append(", ");
            sb.append("\"compressed\": ").append(l.compressed()).append(", ");
            field(sb, "", "reason", l.reason()).append(", ");
            field(sb, "", "layout", l.layout()).append(", ");
            field(sb, "", "tensorization", l.tensorization()).append(", ");
            sb.append("\"padded\": ").append(l.padded()).append(", ");
            sb.append("\"blocks\": ").append(l.blocks()).append(", ");
            field(sb, "", "ranks", l.ranks()).append(", ");
            field(sb, "", "precision", l.precision()).append(", ");
            sb.append("\"bytesBefore\": ").append(l.bytesBefore()).append(", ");
            sb.append("\"bytesAfter\": ").append(l.bytesAfter()).append(", ");
            sb.append("\"paramsBefore\": ").append(l.paramsBefore()).append(", ");
            sb.append("\"paramsAfter\": ").append(l.paramsAfter()).append(", ");
            sb.append("\"relativeError\": ").append(number(l.relativeError())).append(", ");
            sb.append("\"outputError\": ").append(number(l.outputError())).append(", ");
            sb.append("\"sweeps\": ").append(l.sweeps()).append(", ");
            sb.append("\"converged\": ").append(l.converged()).append(", ");
            sb.append("\"seconds\": ").append(number(l.seconds())).append(", ");
            sb.append("\"flopsBefore\": ").append(number(l.flopsBefore())).append(", ");
            sb.append("\"flopsAfter\": ").append(number(l.flopsAfter())).append(", ");
            field(sb, "", "selection", l.selection()).append(", ");
            sb.append("\"rebuilt\": ").append(l.rebuilt()).append(", ");
            if (l.latency() != null) {
                LayerLatency t = l.latency();
                sb.append("\"latency\": {\"batch\": ").append(t.batch()).append(", \"threads\": ").append(t.threads())
                        .append(", \"denseMillis\": ").append(number(t.denseMillis())).append(", \"factoredMillis\": ")
                        .append(number(t.factoredMillis())).append("}, ");
            }
            sb.append("\"alternatives\": [");
            for (int a = 0; a < l.alternatives().size(); a++) {
                Alternative alt = l.alternatives().get(a);
                sb.append(a == 0 ? "" : ", ").append('{');
                field(sb, "", "layout", alt.layout()).append(", ");
                field(sb, "", "tensorization", alt.tensorization()).append(", ");
                sb.append("\"blocks\": ").append(alt.blocks()).append(", ");
                field(sb, "", "ranks", alt.ranks()).append(", ");
                sb.append("\"parameters\": ").append(alt.parameters()).append(", ");
                sb.append("\"flopsPerSample\": ").append(number(alt.flopsPerSample())).append(", ");
                sb.append("\"relativeError\": ").append(number(alt.relativeError())).append(", ");
                sb.append("\"outputError\": ").append(number(alt.outputError())).append(", ");
                field(sb, "", "note", alt.note()).append('}');
            }
            sb.append("]}");
        }
        sb.append("\n  ]\n}\n");
        return sb.toString();
    }

    private static StringBuilder field(StringBuilder sb, String indent, String name, String value) {
        sb.append(indent).append('"').append(name).append("\": ");
        if (value == null) {
            return sb.append("null");
        }
        return sb.append(quote(value));
    }

    static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }

    private static String number(double v) {
        if (!Double.isFinite(v)) {
            return "null";
        }
        return String.format(Locale.ROOT, "%.6g", v);
    }
}
