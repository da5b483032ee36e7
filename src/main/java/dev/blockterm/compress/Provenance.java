package dev.blockterm.compress;

import dev.blockterm.report.CompressionReport;
import dev.blockterm.report.Json;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import onnx.Onnx;

/**
 * What a compressed model records about how it was made (its {@code metadata_props}, as Tribuo
 * records provenance): the tool's version (read from the build), the options, the report as JSON and
 * the table; and reading them back, for {@code inspect}. The keys live here only.
 */
public final class Provenance {

    public static final String VERSION_KEY = "blockterm.version";
    public static final String OPTIONS_KEY = "blockterm.options";
    public static final String REPORT_KEY = "blockterm.report";
    public static final String TABLE_KEY = "blockterm.table";
    private static final String PREFIX = "blockterm.";
    private static final String VERSION = readVersion();

    /** What a compressed model says about itself, or null where it is not one of ours. */
    public record Recorded(String version, String options, String table) {
    }

    private Provenance() {
    }

    /** The tool's version, as the build wrote it into {@code blockterm.properties}. */
    public static String version() {
        return VERSION;
    }

    private static String readVersion() {
        try (InputStream in = Provenance.class.getResourceAsStream("/dev/blockterm/blockterm.properties")) {
            if (in == null) {
                return "unknown";
            }
            Properties p = new Properties();
            p.load(in);
            String v = p.getProperty("version", "unknown");
            return v.startsWith("${") ? "unknown" : v;
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** The model with this report recorded (any earlier record of ours replaced). */
    static Onnx.ModelProto record(Onnx.ModelProto model, CompressionReport report) {
        Onnx.ModelProto.Builder b = model.toBuilder();
        List<Onnx.StringStringEntryProto> kept = new ArrayList<>();
        for (Onnx.StringStringEntryProto e : model.getMetadataPropsList()) {
            if (!e.getKey().startsWith(PREFIX)) {
                kept.add(e);
            }
        }
        b.clearMetadataProps().addAllMetadataProps(kept);
        b.addMetadataProps(entry(VERSION_KEY, version()));
        b.addMetadataProps(entry(OPTIONS_KEY, report.options()));
        b.addMetadataProps(entry(REPORT_KEY, Json.of(report)));
        b.addMetadataProps(entry(TABLE_KEY, report.table()));
        return b.build();
    }

    /** What the model records, or null where it has no table of ours. */
    public static Recorded read(Onnx.ModelProto model) {
        String table = null;
        String version = null;
        String options = null;
        for (Onnx.StringStringEntryProto e : model.getMetadataPropsList()) {
            switch (e.getKey()) {
                case TABLE_KEY -> table = e.getValue();
                case VERSION_KEY -> version = e.getValue();
                case OPTIONS_KEY -> options = e.getValue();
                default -> { }
            }
        }
        return table == null ? null : new Recorded(version, options, table);
    }

    private static Onnx.StringStringEntryProto entry(String key, String value) {
        return Onnx.StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }
}
