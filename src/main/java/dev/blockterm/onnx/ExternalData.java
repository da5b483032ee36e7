package dev.blockterm.onnx;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;
import org.nd4j.shade.protobuf.CodedInputStream;
import org.nd4j.shade.protobuf.UnsafeByteOperations;
import org.nd4j.shade.protobuf.WireFormat;

/**
 * ONNX external data (required above 2 GB): initializers whose bytes live in a file beside the
 * model, named by {@code external_data} entries {@code location}, {@code offset} and {@code length}.
 * Read: each initializer's bytes are mapped from the file into {@code raw_data}, not copied, so a
 * model larger than memory is read layer by layer as the layers are fitted, and the pages the kernel
 * loaded can be dropped again (file-backed, clean). Written: initializers of at least
 * {@link #MIN_EXTERNAL_BYTES} go to one data file, each aligned to 4 kB, as ONNX's own writer does.
 */
final class ExternalData {

    /** Serialized models above this go external: protobuf's hard limit is 2 GB. */
    static final long INLINE_LIMIT = (1L << 31) - (64L << 20);
    static final int MIN_EXTERNAL_BYTES = 1024;
    private static final int ALIGNMENT = 4096;

    private ExternalData() {
    }

    static Onnx.ModelProto load(Onnx.ModelProto model, Path dir) {
        Onnx.GraphProto graph = model.getGraph();
        boolean any = false;
        for (Onnx.TensorProto t : graph.getInitializerList()) {
            any |= t.getDataLocation() == Onnx.TensorProto.DataLocation.EXTERNAL;
        }
        if (!any) {
            return model;
        }
        Onnx.GraphProto.Builder g = graph.toBuilder();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            Onnx.TensorProto t = g.getInitializer(i);
            if (t.getDataLocation() != Onnx.TensorProto.DataLocation.EXTERNAL) {
                continue;
            }
            WeightSource.Mapped ref = reference(t, dir);
            g.setInitializer(i, t.toBuilder().clearExternalData().setDataLocation(Onnx.TensorProto.DataLocation.DEFAULT)
                    .setRawData(ref.read().getRawData()).build());
        }
        return model.toBuilder().setGraph(g).build();
    }

    /**
     * The external initializers of a model as read from its file (before {@link #load}): each one's
     * bytes by reference, checked as {@link #load} checks them.
     */
    static Map<String, WeightSource.Mapped> sources(Onnx.ModelProto model, Path dir) {
        Map<String, WeightSource.Mapped> out = new HashMap<>();
        for (Onnx.TensorProto t : model.getGraph().getInitializerList()) {
            if (t.getDataLocation() == Onnx.TensorProto.DataLocation.EXTERNAL) {
                out.put(t.getName(), reference(t, dir));
            }
        }
        return out;
    }

    /** Where an external initializer's bytes are: its entries read and checked against its file. */
    private static WeightSource.Mapped reference(Onnx.TensorProto t, Path dir) {
        Map<String, String> entries = new HashMap<>();
        for (Onnx.StringStringEntryProto e : t.getExternalDataList()) {
            entries.put(e.getKey(), e.getValue());
        }
        String what = "initializer '" + t.getName() + "'";
        String location = entries.get("location");
        if (location == null || location.isEmpty()) {
            throw new ModelException(what + ": external data without a location");
        }
        Path file = inside(dir, location, what);
        long offset = number(entries, "offset", 0, what);
        // without a length the tensor's own size is read (its shape and type say how many bytes)
        long expected = ModelCheck.byteSize(t, what);
        if (expected < 0) {
            throw new ModelException(what + ": string tensors cannot be stored as external data");
        }
        long length = number(entries, "length", expected, what);
        if (length != expected) {
            throw new ModelException(what + ": external data length " + length + " bytes, its shape "
                    + t.getDimsList() + " and type need " + expected);
        }
        if (length > Integer.MAX_VALUE) {
            throw new ModelException(what + ": " + length + " bytes in one tensor; tensors over 2 GB are not supported");
        }
        long size;
        try {
            size = Files.size(file);
        } catch (IOException e) {
            throw new ModelException(what + ": cannot read external data " + file + " (" + e.getMessage() + ")", e);
        }
        if (offset > size || length > size - offset) {
            throw new ModelException(what + ": external data " + location + " holds " + size
                    + " bytes, the tensor needs bytes " + offset + " to " + (offset + length));
        }
        return new WeightSource.Mapped(t.getName(), t.getDataType(),
                t.getDimsList().stream().mapToLong(Long::longValue).toArray(), file.toString(), offset, length);
    }

    /**
     * The data file {@code location} names, which must be a relative path to a regular file inside the
     * model's folder {@code dir} (ONNX's rule), symbolic links resolved: anything else is refused before
     * it is opened, so a model cannot make the tool read {@code /etc/passwd} or block on a FIFO.
     */
    static Path inside(Path dir, String location, String what) {
        Path relative;
        try {
            relative = Path.of(location);
        } catch (InvalidPathException e) {
            throw new ModelException(what + ": external data location '" + location + "' is not a valid path");
        }
        if (relative.isAbsolute() || location.startsWith("/") || location.startsWith("\\")) {
            throw new ModelException(what + ": external data location '" + location
                    + "' is an absolute path; ONNX allows only paths relative to the model's folder");
        }
        Path file = dir.resolve(relative).normalize();
        if (!file.startsWith(dir.normalize())) {
            throw new ModelException(what + ": external data location '" + location + "' is outside the model's folder");
        }
        if (!Files.exists(file)) {
            throw new ModelException(what + ": cannot read external data " + file + " (no such file)");
        }
        Path real;
        try {
            real = file.toRealPath();
            if (!real.startsWith(dir.toRealPath())) {
                throw new ModelException(what + ": external data location '" + location
                        + "' leads outside the model's folder (a symbolic link)");
            }
        } catch (IOException e) {
            throw new ModelException(what + ": cannot read external data " + file + " (" + e.getMessage() + ")", e);
        }
        if (!Files.isRegularFile(real)) {
            throw new ModelException(what + ": external data " + file + " is not a regular file");
        }
        return real;
    }

    private static long number(Map<String, String> entries, String key, long fallback, String what) {
        String value = entries.get(key);
        if (value == null) {
            return fallback;
        }
        try {
            long v = Long.parseLong(value.trim());
            if (v < 0) {
                throw new ModelException(what + ": external data " + key + " " + v + " is negative");
            }
            return v;
        } catch (NumberFormatException e) {
            throw new ModelException(what + ": external data " + key + " '" + value + "' is not a whole number");
        }
    }

    /**
     * The external data files a model file names (its initializers' {@code location}s, resolved
     * beside it), found by walking the protobuf fields without reading the weights into memory; what
     * cannot be parsed is left to {@link ModelFiles#read}, which says what is wrong.
     */
    static List<Path> files(Path model) {
        Set<Path> files = new LinkedHashSet<>();
        Path dir = model.toAbsolutePath().normalize().getParent();
        if (dir == null || !Files.isRegularFile(model)) {
            return List.of();
        }
        try (InputStream stream = Files.newInputStream(model)) {
            CodedInputStream in = CodedInputStream.newInstance(stream);
            in.setSizeLimit(Integer.MAX_VALUE);
            for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
                if (tag == messageTag(Onnx.ModelProto.GRAPH_FIELD_NUMBER)) {
                    int limit = in.pushLimit(in.readRawVarint32());
                    graphFiles(in, dir, files);
                    in.popLimit(limit);
                } else {
                    in.skipField(tag);
                }
            }
        } catch (IOException | RuntimeException e) {
            // a damaged file: reading it says so
        }
        return new ArrayList<>(files);
    }

    /** The tag of a length-delimited field (a message, bytes or a string): field number, then wire type 2. */
    private static int messageTag(int field) {
        return (field << 3) | WireFormat.WIRETYPE_LENGTH_DELIMITED;
    }

    private static void graphFiles(CodedInputStream in, Path dir, Set<Path> files) throws IOException {
        int initializer = messageTag(Onnx.GraphProto.INITIALIZER_FIELD_NUMBER);
        int external = messageTag(Onnx.TensorProto.EXTERNAL_DATA_FIELD_NUMBER);
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            if (tag != initializer) {
                in.skipField(tag);
                continue;
            }
            int limit = in.pushLimit(in.readRawVarint32());
            for (int t = in.readTag(); t != 0; t = in.readTag()) {
                if (t == external) {
                    Onnx.StringStringEntryProto e = Onnx.StringStringEntryProto.parseFrom(in.readBytes());
                    if (e.getKey().equals("location") && !e.getValue().isEmpty()) {
                        try {
                            files.add(dir.resolve(e.getValue()).normalize());
                        } catch (InvalidPathException ignored) {
                            // refused when the model is read
                        }
                    }
                } else {
                    in.skipField(t);
                }
            }
            in.popLimit(limit);
        }
    }

    /** Writes the large raw initializers to {@code file}; returns the model that points at it as {@code location}. */
    static Onnx.ModelProto store(Onnx.ModelProto model, Path file, String location) throws IOException {
        Onnx.GraphProto.Builder g = model.getGraph().toBuilder();
        long offset = 0;
        try (OutputStream out = Files.newOutputStream(file)) {
            for (int i = 0; i < g.getInitializerCount(); i++) {
                Onnx.TensorProto t = g.getInitializer(i);
                if (t.getRawData().size() < MIN_EXTERNAL_BYTES) {
                    continue;
                }
                long padding = (ALIGNMENT - offset % ALIGNMENT) % ALIGNMENT;
                out.write(new byte[(int) padding]);
                offset += padding;
                t.getRawData().writeTo(out);
                long length = t.getRawData().size();
                g.setInitializer(i, t.toBuilder().clearRawData().setDataLocation(Onnx.TensorProto.DataLocation.EXTERNAL)
                        .addExternalData(entry("location", location)).addExternalData(entry("offset", Long.toString(offset)))
                        .addExternalData(entry("length", Long.toString(length))).build());
                offset += length;
            }
        }
        return model.toBuilder().setGraph(g).build();
    }

    private static Onnx.StringStringEntryProto entry(String key, String value) {
        return Onnx.StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }
}
