package dev.blockterm.onnx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import ai.onnxruntime.platform.Fp16Conversions;
import onnx.Onnx;
import org.nd4j.shade.protobuf.ByteString;

/** Weights in and out of {@code TensorProto}: raw little-endian data or the typed fields. */
public final class Weights {

    public static final int FLOAT = Onnx.TensorProto.DataType.FLOAT_VALUE;
    public static final int DOUBLE = Onnx.TensorProto.DataType.DOUBLE_VALUE;
    public static final int INT64 = Onnx.TensorProto.DataType.INT64_VALUE;
    public static final int FLOAT16 = Onnx.TensorProto.DataType.FLOAT16_VALUE;
    public static final int BFLOAT16 = Onnx.TensorProto.DataType.BFLOAT16_VALUE;

    /** Whether weights of this element type are fitted (in double) and written back in the same type. */
    public static boolean fitted(int dataType) {
        return dataType == FLOAT || dataType == DOUBLE || dataType == FLOAT16 || dataType == BFLOAT16;
    }

    /** Bytes per element of a fitted type. */
    public static int width(int dataType) {
        return switch (dataType) {
            case 1 -> 4; // FLOAT
            case 11 -> 8; // DOUBLE
            default -> 2; // FLOAT16, BFLOAT16
        };
    }

    /** The numpy descr of a fitted type (bfloat16, which numpy lacks, travels as float32). */
    public static String descr(int dataType) {
        return switch (dataType) {
            case 11 -> "<f8";
            case 10 -> "<f2";
            default -> "<f4";
        };
    }

    private Weights() {
    }

    /** Why this tensor cannot be read as a weight, or null when it can. */
    public static String unsupported(Onnx.TensorProto t) {
        if (t.getDataLocation() == Onnx.TensorProto.DataLocation.EXTERNAL) {
            return "external data not loaded (read the model with ModelFiles.read)";
        }
        if (!fitted(t.getDataType())) {
            return "element type " + Onnx.TensorProto.DataType.forNumber(t.getDataType())
                    + " (only float, double, float16 and bfloat16 are fitted)";
        }
        return null;
    }

    public static long elements(Onnx.TensorProto t) {
        long n = 1;
        for (long d : t.getDimsList()) {
            n *= d;
        }
        return n;
    }

    /**
     * The values of a float, double, float16 or bfloat16 tensor, row-major (half precision through
     * ONNX Runtime's own conversions; in the typed fields it is stored as 16-bit patterns in int32_data).
     */
    public static double[] values(Onnx.TensorProto t) {
        String why = unsupported(t);
        if (why != null) {
            throw new ModelException("initializer '" + t.getName() + "': " + why);
        }
        int n = Math.toIntExact(elements(t));
        double[] v = new double[n];
        if (!t.getRawData().isEmpty()) {
            ByteBuffer buf = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            int width = width(t.getDataType());
            if (buf.remaining() != (long) n * width) {
                throw new ModelException("initializer '" + t.getName() + "': raw data holds " + buf.remaining()
                        + " bytes, expected " + ((long) n * width));
            }
            for (int i = 0; i < n; i++) {
                v[i] = switch (t.getDataType()) {
                    case 1 -> buf.getFloat();
                    case 11 -> buf.getDouble();
                    default -> half(buf.getShort(), t.getDataType());
                };
            }
        } else if (t.getDataType() == FLOAT16 || t.getDataType() == BFLOAT16) {
            requireCount(t, t.getInt32DataCount(), n);
            for (int i = 0; i < n; i++) {
                v[i] = half((short) t.getInt32Data(i), t.getDataType());
            }
        } else if (t.getDataType() == FLOAT) {
            requireCount(t, t.getFloatDataCount(), n);
            for (int i = 0; i < n; i++) {
                v[i] = t.getFloatData(i);
            }
        } else {
            requireCount(t, t.getDoubleDataCount(), n);
            for (int i = 0; i < n; i++) {
                v[i] = t.getDoubleData(i);
            }
        }
        for (int i = 0; i < n; i++) {
            if (!Double.isFinite(v[i])) {
                throw new ModelException("initializer '" + t.getName() + "': non-finite value " + v[i] + " at index " + i);
            }
        }
        return v;
    }

    private static void requireCount(Onnx.TensorProto t, int found, int expected) {
        if (found != expected) {
            throw new ModelException("initializer '" + t.getName() + "': holds " + found + " values, shape says " + expected);
        }
    }

    private static double half(short bits, int dataType) {
        return dataType == FLOAT16 ? Fp16Conversions.fp16ToFloat(bits) : Fp16Conversions.bf16ToFloat(bits);
    }

    /** A value rounded to the element type, as a double. */
    public static double round(double v, int dataType) {
        return switch (dataType) {
            case 1 -> (float) v;
            case 10 -> Fp16Conversions.fp16ToFloat(Fp16Conversions.floatToFp16((float) v));
            case 16 -> Fp16Conversions.bf16ToFloat(Fp16Conversions.floatToBf16((float) v));
            default -> v;
        };
    }

    /**
     * A tensor of element type {@code dataType} (float, double, float16 or bfloat16) in raw
     * little-endian data; values are rounded to the nearest representable (beyond float16's range:
     * infinity, which {@link dev.blockterm.onnx.ModelCheck} would refuse, so factors are balanced first).
     */
    public static Onnx.TensorProto tensor(String name, long[] dims, double[] values, int dataType) {
        if (!fitted(dataType)) {
            throw new IllegalArgumentException("weights of element type " + dataType + " are not written");
        }
        ByteBuffer buf = ByteBuffer.allocate(values.length * width(dataType)).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : values) {
            switch (dataType) {
                case 1 -> buf.putFloat((float) v);
                case 11 -> buf.putDouble(v);
                case 10 -> buf.putShort(Fp16Conversions.floatToFp16((float) v));
                default -> buf.putShort(Fp16Conversions.floatToBf16((float) v));
            }
        }
        buf.flip();
        Onnx.TensorProto.Builder b = Onnx.TensorProto.newBuilder().setName(name).setDataType(dataType)
                .setRawData(ByteString.copyFrom(buf));
        for (long d : dims) {
            b.addDims(d);
        }
        return b.build();
    }

    /** A 1-D int64 tensor (shapes, axes, starts). */
    public static Onnx.TensorProto int64s(String name, long... values) {
        Onnx.TensorProto.Builder b = Onnx.TensorProto.newBuilder().setName(name).setDataType(INT64).addDims(values.length);
        for (long v : values) {
            b.addInt64Data(v);
        }
        return b.build();
    }
}
