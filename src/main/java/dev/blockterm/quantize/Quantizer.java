package dev.blockterm.quantize;

import ai.onnxruntime.platform.Fp16Conversions;

/** Quantizes matrices as {@link Quantized} describes, and counts the bytes each precision stores. */
public final class Quantizer {

    /** Rows per int4 scale group (the field's common choice: 32 to 128). */
    public static final int GROUP = 64;

    private Quantizer() {
    }

    /** The rows per scale group of a matrix with {@code rows} rows at {@code p}. */
    public static int group(int rows, Precision p) {
        return p == Precision.INT4 ? Math.min(rows, GROUP) : rows;
    }

    /** Rows after padding to whole groups. */
    public static int paddedRows(int rows, Precision p) {
        int g = group(rows, p);
        return (rows + g - 1) / g * g;
    }

    /** {@code values} ({@code rows x cols}, row-major) at an integer precision. */
    public static Quantized quantize(double[] values, int rows, int cols, Precision p) {
        if (!p.integer()) {
            throw new IllegalArgumentException("quantize: expected int8 or int4, found " + p);
        }
        if (values.length != (long) rows * cols) {
            throw new IllegalArgumentException("quantize: expected " + rows + " x " + cols + " values, found "
                    + values.length);
        }
        int g = group(rows, p);
        int padded = paddedRows(rows, p);
        int groups = padded / g;
        float[] scales = new float[groups * cols];
        for (int i = 0; i < rows; i++) {
            for (int c = 0; c < cols; c++) {
                int s = (i / g) * cols + c;
                scales[s] = (float) Math.max(scales[s], Math.abs(values[i * cols + c]));
            }
        }
        for (int s = 0; s < scales.length; s++) {
            // an all-zero group keeps scale 1 (its values are 0 either way)
            scales[s] = scales[s] == 0 ? 1f : scales[s] / p.levels();
        }
        byte[] q = new byte[padded * cols];
        for (int i = 0; i < rows; i++) {
            for (int c = 0; c < cols; c++) {
                double v = values[i * cols + c] / scales[(i / g) * cols + c];
                q[i * cols + c] = (byte) Math.max(-p.levels(), Math.min(p.levels(), Math.rint(v)));
            }
        }
        return new Quantized(p, rows, cols, g, q, scales);
    }

    /** The dequantized matrix {@code q s} ({@code rows x cols}), each product in float32 as ONNX Runtime computes it. */
    public static double[] values(Quantized m) {
        double[] out = new double[m.rows() * m.cols()];
        for (int i = 0; i < m.rows(); i++) {
            for (int c = 0; c < m.cols(); c++) {
                out[i * m.cols() + c] = (float) m.q()[i * m.cols() + c] * m.scales()[(i / m.group()) * m.cols() + c];
            }
        }
        return out;
    }

    /** {@code values} as stored at {@code p} and read back (float: unchanged; half: rounded to float16). */
    public static double[] roundTrip(double[] values, int rows, int cols, Precision p) {
        return switch (p) {
            case FLOAT -> values;
            case HALF -> {
                double[] out = new double[values.length];
                for (int i = 0; i < out.length; i++) {
                    out[i] = Fp16Conversions.fp16ToFloat(Fp16Conversions.floatToFp16((float) values[i]));
                }
                yield out;
            }
            case INT8, INT4 -> values(quantize(values, rows, cols, p));
        };
    }

    /**
     * The bytes a {@code rows x cols} matrix takes stored at {@code p}: its values, and the float32
     * scales of an integer precision ({@code nativeBytes}: the width of the model's own float type).
     */
    public static long bytes(int rows, int cols, Precision p, int nativeBytes) {
        long n = (long) rows * cols;
        return switch (p) {
            case FLOAT -> n * nativeBytes;
            case HALF -> n * 2;
            case INT8 -> n + 4L * cols;
            case INT4 -> ((long) paddedRows(rows, p) * cols + 1) / 2 + 4L * (paddedRows(rows, p) / group(rows, p)) * cols;
        };
    }
}
