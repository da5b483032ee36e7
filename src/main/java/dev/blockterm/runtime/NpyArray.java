package dev.blockterm.runtime;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A NumPy array from or for a {@code .npy} file (format versions 1-3, C order, little-endian
 * {@code f4 f8 i4 i8}). Values are held as doubles.
 */
public record NpyArray(long[] shape, double[] values, String descr) {

    private static final Pattern DESCR = Pattern.compile("'descr':\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order':\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\(([^)]*)\\)");

    public NpyArray {
        shape = shape.clone();
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        if (n != values.length) {
            throw new IllegalArgumentException("npy: shape holds " + n + " values, found " + values.length);
        }
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public static NpyArray read(Path path) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (IOException e) {
            throw new IllegalArgumentException(path + ": cannot read (" + e.getMessage() + ")", e);
        }
        if (bytes.length < 10 || (bytes[0] & 0xff) != 0x93 || !new String(bytes, 1, 5, StandardCharsets.US_ASCII).equals("NUMPY")) {
            throw new IllegalArgumentException(path + ": not a .npy file");
        }
        int major = bytes[6];
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int headerLength = major == 1 ? Short.toUnsignedInt(buf.getShort(8)) : buf.getInt(8);
        int start = major == 1 ? 10 : 12;
        String header = new String(bytes, start, headerLength, StandardCharsets.ISO_8859_1);
        Matcher d = DESCR.matcher(header);
        Matcher f = FORTRAN.matcher(header);
        Matcher s = SHAPE.matcher(header);
        if (!d.find() || !f.find() || !s.find()) {
            throw new IllegalArgumentException(path + ": unreadable .npy header: " + header.trim());
        }
        if (f.group(1).equals("True")) {
            throw new IllegalArgumentException(path + ": Fortran-order arrays are not supported; save with C order");
        }
        List<Long> dims = new ArrayList<>();
        for (String part : s.group(1).split(",")) {
            if (!part.isBlank()) {
                dims.add(Long.parseLong(part.trim()));
            }
        }
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        long n = 1;
        for (long x : shape) {
            n *= x;
        }
        String descr = d.group(1);
        int width = switch (descr) {
            case "<f4", "<i4" -> 4;
            case "<f8", "<i8" -> 8;
            default -> throw new IllegalArgumentException(path + ": unsupported dtype " + descr
                    + " (expected little-endian float32, float64, int32 or int64)");
        };
        int offset = start + headerLength;
        if (bytes.length - offset != n * width) {
            throw new IllegalArgumentException(path + ": holds " + (bytes.length - offset) + " data bytes, shape needs "
                    + (n * width));
        }
        buf.position(offset);
        double[] v = new double[(int) n];
        for (int i = 0; i < n; i++) {
            v[i] = switch (descr) {
                case "<f4" -> buf.getFloat();
                case "<f8" -> buf.getDouble();
                case "<i4" -> buf.getInt();
                default -> buf.getLong();
            };
        }
        return new NpyArray(shape, v, descr);
    }

    /** Writes float32 ({@code <f4}) or the array's own integer type. */
    public void write(Path path) throws IOException {
        String d = descr.startsWith("<i") ? descr : "<f4";
        StringBuilder dims = new StringBuilder();
        for (long x : shape) {
            dims.append(x).append(", ");
        }
        String dictionary = String.format(Locale.ROOT, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", d,
                shape.length == 1 ? shape[0] + "," : dims.toString().replaceAll(", $", ""));
        int total = 10 + dictionary.length() + 1;
        int pad = (64 - total % 64) % 64;
        String header = dictionary + " ".repeat(pad) + "\n";
        int width = d.equals("<f4") || d.equals("<i4") ? 4 : 8;
        ByteBuffer buf = ByteBuffer.allocate(10 + header.length() + values.length * width).order(ByteOrder.LITTLE_ENDIAN);
        buf.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        buf.putShort((short) header.length()).put(header.getBytes(StandardCharsets.US_ASCII));
        for (double v : values) {
            switch (d) {
                case "<f4" -> buf.putFloat((float) v);
                case "<i4" -> buf.putInt((int) v);
                default -> buf.putLong((long) v);
            }
        }
        Files.write(path, buf.array());
    }
}
