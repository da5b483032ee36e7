package dev.blockterm.onnx;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;
import onnx.Onnx;
import org.nd4j.shade.protobuf.UnsafeByteOperations;

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
            Map<String, String> entries = new HashMap<>();
            for (Onnx.StringStringEntryProto e : t.getExternalDataList()) {
                entries.put(e.getKey(), e.getValue());
            }
            String location = entries.get("location");
            if (location == null) {
                throw new ModelException("initializer '" + t.getName() + "': external data without a location");
            }
            Path file = dir.resolve(location).normalize();
            long offset = Long.parseLong(entries.getOrDefault("offset", "0"));
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                long length = entries.containsKey("length") ? Long.parseLong(entries.get("length")) : channel.size() - offset;
                if (offset + length > channel.size()) {
                    throw new ModelException("initializer '" + t.getName() + "': external data " + file + " holds "
                            + channel.size() + " bytes, needs " + (offset + length));
                }
                // the mapping outlives the channel; the input is never written while it is mapped
                ByteBuffer mapped = channel.map(FileChannel.MapMode.READ_ONLY, offset, length);
                g.setInitializer(i, t.toBuilder().clearExternalData().setDataLocation(Onnx.TensorProto.DataLocation.DEFAULT)
                        .setRawData(UnsafeByteOperations.unsafeWrap(mapped)).build());
            } catch (IOException e) {
                throw new ModelException("initializer '" + t.getName() + "': cannot read external data " + file + " ("
                        + e.getMessage() + ")", e);
            }
        }
        return model.toBuilder().setGraph(g).build();
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
