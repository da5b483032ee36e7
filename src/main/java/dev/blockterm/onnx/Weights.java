package dev.blockterm.onnx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import onnx.Onnx;
import org.nd4j.shade.protobuf.ByteString;

/** Weights in and out of {@code TensorProto}: raw little-endian data or the typed fields. */
public final class Weights {

    public static final int FLOAT = Onnx.TensorProto.DataType.FLOAT_VALUE;
    public static final int DOUBLE = Onnx.TensorProto.DataType.DOUBLE_VALUE;
    public static final int INT64 = Onnx.TensorProto.DataType.INT64_VALUE;

    private Weights() {
    }

    /** Why this tensor cannot be read as a weight, or null when it can. */
    public static String unsupported(Onnx.TensorProto t) {
        if (t.getDataLocation() == Onnx.TensorProto.DataLocation.EXTERNAL) {
            return "external data not loaded (read the model with ModelFiles.read)";
        }
        if (t.getDataType() != FLOAT && t.getDataType() != DOUBLE) {
            return "element type " + Onnx.TensorProto.DataType.forNumber(t.getDataType()) + " (only float and double are fitted)";
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

    /** The values of a float or double tensor, row-major. */
    public static double[] values(Onnx.TensorProto t) {
        String why = unsupported(t);
        if (why != null) {
            throw new ModelException("initializer '" + t.getName() + "': " + why);
        }
        int n = Math.toIntExact(elements(t));
        double[] v = new double[n];
        if (!t.getRawData().isEmpty()) {
            ByteBuffer buf = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            int width = t.getDataType() == FLOAT ? 4 : 8;
            if (buf.remaining() != (long) n * width) {
                throw new ModelException("initializer '" + t.getName() + "': raw data holds " + buf.remaining()
                        + " bytes, expected " + ((long) n * width));
            }
            for (int i = 0; i < n; i++) {
                v[i] = width == 4 ? buf.getFloat() : buf.getDouble();
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

    /** A tensor of element type {@code dataType} (float or double) in raw little-endian data. */
    public static Onnx.TensorProto tensor(String name, long[] dims, double[] values, int dataType) {
        int width = dataType == FLOAT ? 4 : 8;
        ByteBuffer buf = ByteBuffer.allocate(values.length * width).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : values) {
            if (width == 4) {
                buf.putFloat((float) v);
            } else {
                buf.putDouble(v);
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
