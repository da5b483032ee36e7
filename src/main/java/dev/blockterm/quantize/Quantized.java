package dev.blockterm.quantize;

/**
 * Symmetric quantization of a matrix {@code M} ({@code rows x cols}, row-major) whose columns are
 * output channels and whose rows are the inputs they reduce over (a {@code MatMul} weight
 * {@code I x J}, a factor, a convolution kernel read as {@code (C_in k) x C_out}):
 * <pre>
 *   M^[i, c] = q[i, c] s[g(i), c],   q = round(M / s) in [-L, L],   s[g, c] = max_{i in g} |M[i, c]| / L
 * </pre>
 * int8: one group per channel (per-channel scales, as ONNX Runtime's quantizer and GPTQ do), {@code L = 127};
 * int4: groups of {@link #GROUP} consecutive rows ({@code g(i) = floor(i / GROUP)}, the rows padded with
 * zeros to a whole group; a matrix with at most GROUP rows has one group), {@code L = 7}. Symmetric, so
 * there is no zero point; the scales are float32, and {@link #values} computes {@code q s} in float32 as
 * the graph does. Cost: two passes over {@code M}.
 *
 * @param precision   int8 or int4
 * @param rows        rows of M
 * @param cols        columns (output channels) of M
 * @param group       rows per scale group
 * @param q           the quantized values of the padded matrix ({@code paddedRows x cols}, row-major; each in
 *                    {@code [-L, L]}, so a byte)
 * @param scales      {@code groups x cols}, row-major
 */
public record Quantized(Precision precision, int rows, int cols, int group, byte[] q, float[] scales) {
}
