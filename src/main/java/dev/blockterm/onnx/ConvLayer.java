package dev.blockterm.onnx;

/**
 * A {@code Conv} with a constant kernel of shape {@code C_out x C_in x k_1 x ... x k_s} (1-D, 2-D or
 * 3-D).
 *
 * @param nodeIndex   position of the node in the graph
 * @param name        the layer's name
 * @param weightName  the kernel's initializer
 * @param outChannels C_out
 * @param inChannels  C_in (per group)
 * @param kernel      spatial kernel sizes
 * @param strides     spatial strides (1 where absent)
 * @param group       the {@code group} attribute (1: an ordinary convolution)
 * @param unsupported why the kernel cannot be replaced or stored otherwise at all (shared, a type this
 *                    tool does not read), or null
 */
public record ConvLayer(int nodeIndex, String name, String weightName, int outChannels, int inChannels, int[] kernel,
                        int[] strides, int group, String unsupported) implements java.io.Serializable {

    public ConvLayer {
        kernel = kernel.clone();
        strides = strides.clone();
    }

    @Override
    public int[] kernel() {
        return kernel.clone();
    }

    @Override
    public int[] strides() {
        return strides.clone();
    }

    /**
     * Why the layer cannot be factored, or null: what {@link #unsupported} says, and a grouped
     * convolution (its kernel may still be stored at a lower precision: {@link #storable}).
     */
    public String skipReason() {
        if (unsupported != null) {
            return unsupported;
        }
        return grouped() ? "grouped convolution (group = " + group + ") left dense" : null;
    }

    /** Whether the convolution is grouped ({@code group} other than 1): no factored form here. */
    public boolean grouped() {
        return group != 1;
    }

    /** Whether the kernel may be stored at a lower precision and read back whole (grouped or not). */
    public boolean storable() {
        return unsupported == null;
    }

    /** Product of the kernel's spatial sizes. */
    public int kernelSize() {
        int k = 1;
        for (int s : kernel) {
            k *= s;
        }
        return k;
    }

    public long parameters() {
        return (long) outChannels * inChannels * kernelSize();
    }

    public String weightShape() {
        StringBuilder sb = new StringBuilder().append(outChannels).append('x').append(inChannels);
        for (int k : kernel) {
            sb.append('x').append(k);
        }
        return sb.toString();
    }

    /** FLOPs per output position of the dense convolution. */
    public double flopsPerPosition() {
        return 2.0 * parameters();
    }
}
