package dev.blockterm.tensor;

/**
 * The im2col view of a convolution's input: for each output position, the patch of input values its
 * kernel reads ({@code C x k_1 x ... x k_d}, channel-major, the kernel offsets row-major, zeros where
 * the kernel reaches into the padding), so that the convolution is {@code patch . W[o]} at every
 * position. Used to accumulate the patch covariance {@code sum P^T P} of calibration inputs, the
 * metric in which a kernel read as the {@code (C K) x C_out} matrix is fitted to its outputs.
 *
 * @param channels  C (per group; only group 1 is read this way)
 * @param kernel    kernel sizes {@code k_1..k_d}
 * @param strides   strides
 * @param dilations dilations
 * @param pads      pads, begins then ends (ONNX order), for {@code auto_pad} NOTSET
 * @param autoPad   ONNX {@code auto_pad}: NOTSET, VALID, SAME_UPPER or SAME_LOWER
 */
public record Patches(int channels, int[] kernel, int[] strides, int[] dilations, int[] pads, String autoPad) {

    public Patches {
        kernel = kernel.clone();
        strides = strides.clone();
        dilations = dilations.clone();
        pads = pads.clone();
    }

    /** {@code C K}: the length of a patch. */
    public int width() {
        int w = channels;
        for (int k : kernel) {
            w *= k;
        }
        return w;
    }

    /** The begin and end pads of axis {@code i} for an input of {@code size} along it. */
    int[] padsOf(int i, int size) {
        int span = (kernel[i] - 1) * dilations[i] + 1;
        return switch (autoPad) {
            case "VALID" -> new int[] {0, 0};
            case "SAME_UPPER", "SAME_LOWER" -> {
                int out = (size + strides[i] - 1) / strides[i];
                int total = Math.max(0, (out - 1) * strides[i] + span - size);
                int small = total / 2;
                yield autoPad.equals("SAME_UPPER") ? new int[] {small, total - small} : new int[] {total - small, small};
            }
            default -> new int[] {pads[i], pads[i + kernel.length]};
        };
    }

    /** The output sizes for these spatial input sizes. */
    public int[] outputSizes(int[] sizes) {
        int[] out = new int[kernel.length];
        for (int i = 0; i < kernel.length; i++) {
            int[] p = padsOf(i, sizes[i]);
            int span = (kernel[i] - 1) * dilations[i] + 1;
            out[i] = Math.max(0, Math.floorDiv(sizes[i] + p[0] + p[1] - span, strides[i]) + 1);
        }
        return out;
    }

    /**
     * The patches of one sample ({@code x}: {@code C x S_1 x ... x S_d} from {@code offset}) at up
     * to {@code maxPositions} output positions spread evenly over all of them, as the rows of a
     * {@code positions x (C K)} row-major array.
     */
    public double[] sample(double[] x, int offset, int[] sizes, int maxPositions) {
        int d = kernel.length;
        int[] out = outputSizes(sizes);
        int[] begin = new int[d];
        for (int i = 0; i < d; i++) {
            begin[i] = padsOf(i, sizes[i])[0];
        }
        long total = 1;
        for (int o : out) {
            total *= o;
        }
        int k = 1;
        for (int s : kernel) {
            k *= s;
        }
        int area = 1;
        for (int s : sizes) {
            area *= s;
        }
        int n = (int) Math.min(total, maxPositions);
        int width = channels * k;
        double[] rows = new double[n * width];
        int[] position = new int[d];
        int[] offsets = new int[k];
        int[] kIndex = new int[d];
        for (int p = 0; p < n; p++) {
            long flat = total <= maxPositions ? p : (long) ((p + 0.5) * total / n);
            for (int i = d - 1; i >= 0; i--) {
                position[i] = (int) (flat % out[i]);
                flat /= out[i];
            }
            for (int s = 0; s < k; s++) {
                int rest = s;
                for (int i = d - 1; i >= 0; i--) {
                    kIndex[i] = rest % kernel[i];
                    rest /= kernel[i];
                }
                int at = 0;
                for (int i = 0; i < d && at >= 0; i++) {
                    int c = position[i] * strides[i] - begin[i] + kIndex[i] * dilations[i];
                    at = c < 0 || c >= sizes[i] ? -1 : at * sizes[i] + c;
                }
                offsets[s] = at;
            }
            int row = p * width;
            for (int c = 0; c < channels; c++) {
                int base = offset + c * area;
                for (int s = 0; s < k; s++) {
                    rows[row + c * k + s] = offsets[s] < 0 ? 0 : x[base + offsets[s]];
                }
            }
        }
        return rows;
    }
}
