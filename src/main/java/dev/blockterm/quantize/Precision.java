package dev.blockterm.quantize;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * How a tensor is stored: its own float type ({@link #FLOAT}), float16, int8 or int4. The stored
 * values are read back as the model's float type by standard ONNX ops at load (see
 * {@code rewrite.QuantizedWeights}); the computation stays in float.
 */
public enum Precision {
    /** The tensor's own float type (float32, float16 or bfloat16): today's storage. */
    FLOAT(32, 127),
    /** IEEE half precision, read back by a Cast. */
    HALF(16, 0),
    /** int8, symmetric, one scale per output channel: {@code w = q s_c}, {@code q in [-127, 127]}. */
    INT8(8, 127),
    /** int4, symmetric, one scale per group of inputs of an output channel, two values packed per byte. */
    INT4(4, 7);

    private final int bits;
    private final int levels;

    Precision(int bits, int levels) {
        this.bits = bits;
        this.levels = levels;
    }

    /** The bits per value as the user names them: 32 (the tensor's own type), 16, 8, 4. */
    public int bits() {
        return bits;
    }

    /** The largest quantized magnitude ({@code q in [-levels, levels]}) of an integer precision. */
    public int levels() {
        return levels;
    }

    public boolean integer() {
        return this == INT8 || this == INT4;
    }

    /** How the report names it for a tensor of the given float width in bytes. */
    public String label(int nativeBytes) {
        return switch (this) {
            case FLOAT -> nativeBytes == 2 ? "fp16" : "fp32";
            case HALF -> "fp16";
            case INT8 -> "int8";
            case INT4 -> "int4";
        };
    }

    /** The precision of {@code bits} bits (32, 16, 8, 4); refused otherwise. */
    public static Precision ofBits(int bits) {
        for (Precision p : values()) {
            if (p.bits == bits) {
                return p;
            }
        }
        throw new IllegalArgumentException("bits: expected 32, 16, 8 or 4, found " + bits);
    }

    /** A comma-separated list of bit widths ("32,8,4"), each once. */
    public static Set<Precision> parse(String list) {
        Set<Precision> out = EnumSet.noneOf(Precision.class);
        for (String part : list.split(",", -1)) {
            String p = part.strip();
            int bits;
            try {
                bits = Integer.parseInt(p);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bits: expected a list of 32, 16, 8, 4 (e.g. 32,8), found '" + list
                        + "'");
            }
            out.add(ofBits(bits));
        }
        return out;
    }

    /** The list as the user writes it, widest first. */
    public static String text(Set<Precision> set) {
        StringBuilder sb = new StringBuilder();
        for (Precision p : values()) {
            if (set.contains(p)) {
                sb.append(sb.length() == 0 ? "" : ",").append(p.bits);
            }
        }
        return sb.toString().toLowerCase(Locale.ROOT);
    }
}
