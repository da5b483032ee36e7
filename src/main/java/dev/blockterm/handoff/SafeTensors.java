package dev.blockterm.handoff;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.TempFiles;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format (Hugging Face): an unsigned little-endian 64-bit header length, a JSON
 * header mapping each tensor's name to its dtype, shape and byte range (plus an optional
 * {@code __metadata__} object of strings), then the raw little-endian data. Read and written here
 * (a page of code; there is no maintained Java library for it) for F32 and F64 tensors, which is
 * what the factors are; reading checks every range against the file.
 */
public final class SafeTensors {

    /** One tensor: its values held as doubles, written in its dtype. */
    public record Tensor(String name, String dtype, long[] shape, double[] values) {
        public Tensor {
            shape = shape.clone();
            if (!dtype.equals("F32") && !dtype.equals("F64")) {
                throw new IllegalArgumentException("safetensors: dtype " + dtype + " is not supported (F32 or F64)");
            }
            if (elements(shape) != values.length) {
                throw new IllegalArgumentException("safetensors: tensor '" + name + "' of shape " + Arrays.toString(shape)
                        + " has " + values.length + " values");
            }
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        int width() {
            return dtype.equals("F32") ? 4 : 8;
        }
    }

    static final String METADATA = "__metadata__";
    private static final long MAX_HEADER = 100L << 20;

    private final Map<String, String> metadata;
    private final List<Tensor> tensors;

    public SafeTensors(Map<String, String> metadata, List<Tensor> tensors) {
        // in key order: Map.copyOf iterates in an order salted per JVM, so the same command wrote different bytes
        this.metadata = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(metadata));
        this.tensors = List.copyOf(tensors);
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public List<Tensor> tensors() {
        return tensors;
    }

    /** Writes to a temporary file beside {@code path} and moves it into place. */
    public void write(Path path) throws IOException {
        JsonObject header = new JsonObject();
        if (!metadata.isEmpty()) {
            JsonObject meta = new JsonObject();
            metadata.forEach(meta::addProperty);
            header.add(METADATA, meta);
        }
        long offset = 0;
        for (Tensor t : tensors) {
            JsonObject entry = new JsonObject();
            entry.addProperty("dtype", t.dtype());
            JsonArray shape = new JsonArray();
            for (long d : t.shape()) {
                shape.add(d);
            }
            entry.add("shape", shape);
            JsonArray offsets = new JsonArray();
            offsets.add(offset);
            offset += (long) t.values().length * t.width();
            offsets.add(offset);
            entry.add("data_offsets", offsets);
            header.add(t.name(), entry);
        }
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8; // the data starts 8-byte aligned; the header is padded with spaces
        Path target = path.toAbsolutePath();
        Path temp = TempFiles.beside(target);
        try {
            try (OutputStream out = Files.newOutputStream(temp)) {
                ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
                head.putLong(padded).put(json);
                while (head.hasRemaining()) {
                    head.put((byte) ' ');
                }
                out.write(head.array());
                for (Tensor t : tensors) {
                    ByteBuffer b = ByteBuffer.allocate(t.values().length * t.width()).order(ByteOrder.LITTLE_ENDIAN);
                    for (double v : t.values()) {
                        if (t.width() == 4) {
                            b.putFloat((float) v);
                        } else {
                            b.putDouble(v);
                        }
                    }
                    out.write(b.array());
                }
            }
            ModelFiles.publish(temp, target);
        } finally {
            TempFiles.delete(temp);
        }
    }

    /** Reads and checks a file; every malformation is an {@link IllegalArgumentException} naming the file. */
    public static SafeTensors read(Path path) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (IOException e) {
            throw new IllegalArgumentException(path + ": cannot read (" + e.getMessage() + ")", e);
        }
        String where = path + ": not a safetensors file: ";
        if (bytes.length < 8) {
            throw new IllegalArgumentException(where + "shorter than its 8-byte header length");
        }
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long headerLength = buf.getLong(0);
        if (headerLength < 2 || headerLength > MAX_HEADER || headerLength > bytes.length - 8) {
            throw new IllegalArgumentException(where + "header length " + headerLength + " does not fit the file of "
                    + bytes.length + " bytes");
        }
        JsonObject header;
        try {
            JsonElement e = JsonParser.parseString(new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8));
            if (!e.isJsonObject()) {
                throw new IllegalArgumentException(where + "the header is not a JSON object");
            }
            header = e.getAsJsonObject();
        } catch (JsonParseException e) {
            throw new IllegalArgumentException(where + "the header is not JSON (" + e.getMessage() + ")", e);
        }
        long dataStart = 8 + headerLength;
        long dataLength = bytes.length - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Tensor> tensors = new ArrayList<>();
        List<long[]> ranges = new ArrayList<>();
        try {
            for (Map.Entry<String, JsonElement> e : header.entrySet()) {
                if (e.getKey().equals(METADATA)) {
                    for (Map.Entry<String, JsonElement> m : e.getValue().getAsJsonObject().entrySet()) {
                        metadata.put(m.getKey(), m.getValue().getAsString());
                    }
                    continue;
                }
                JsonObject t = e.getValue().getAsJsonObject();
                String dtype = t.get("dtype").getAsString();
                int width = switch (dtype) {
                    case "F32" -> 4;
                    case "F64" -> 8;
                    default -> throw new IllegalArgumentException(path + ": tensor '" + e.getKey() + "' has dtype "
                            + dtype + "; factors are F32 or F64");
                };
                JsonArray s = t.getAsJsonArray("shape");
                long[] shape = new long[s.size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = s.get(i).getAsLong();
                    if (shape[i] < 0) {
                        throw new IllegalArgumentException(where + "tensor '" + e.getKey() + "' has a negative dimension");
                    }
                }
                JsonArray o = t.getAsJsonArray("data_offsets");
                long begin = o.get(0).getAsLong();
                long end = o.get(1).getAsLong();
                long n = elements(shape);
                if (o.size() != 2 || begin < 0 || end < begin || end > dataLength || end - begin != n * width) {
                    throw new IllegalArgumentException(where + "tensor '" + e.getKey() + "' has data_offsets [" + begin
                            + ", " + end + "] for " + n + " values of " + width + " bytes in " + dataLength
                            + " bytes of data");
                }
                double[] v = new double[(int) n];
                ByteBuffer d = ByteBuffer.wrap(bytes, (int) (dataStart + begin), (int) (end - begin))
                        .order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < v.length; i++) {
                    v[i] = width == 4 ? d.getFloat() : d.getDouble();
                }
                tensors.add(new Tensor(e.getKey(), dtype, shape, v));
                ranges.add(new long[] {begin, end});
            }
        } catch (IllegalStateException | NullPointerException | IndexOutOfBoundsException | UnsupportedOperationException
                 | ClassCastException e) {
            throw new IllegalArgumentException(where + "a header entry lacks dtype, shape or data_offsets", e);
        }
        ranges.sort(Comparator.comparingLong(r -> r[0]));
        for (int i = 1; i < ranges.size(); i++) {
            if (ranges.get(i)[0] < ranges.get(i - 1)[1]) {
                throw new IllegalArgumentException(where + "two tensors' data overlap");
            }
        }
        return new SafeTensors(metadata, tensors);
    }

    static long elements(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }
}
