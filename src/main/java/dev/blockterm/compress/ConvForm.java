package dev.blockterm.compress;

/** The factored forms a convolution may take where the targets decide on curves. */
public enum ConvForm {
    /** A k conv {@code C_in -> r}, then a 1x1 conv {@code r -> C_out}: the kernel as {@code (C_in K) x C_out} at rank r. */
    CHANNEL("channel"),
    /** A {@code k_h x 1} conv {@code C_in -> r}, then a {@code 1 x k_w} conv {@code r -> C_out} (2-D kernels only). */
    SPATIAL("spatial"),
    /** A 1x1 conv, a grouped k conv, a 1x1 conv: a block term over the channels (kernels larger than 1x1). */
    CHAIN("chain");

    private final String label;

    ConvForm(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    /** The form with this label. */
    public static ConvForm of(String label) {
        for (ConvForm f : values()) {
            if (f.label.equals(label)) {
                return f;
            }
        }
        throw new IllegalArgumentException("conv form: expected channel, spatial or chain, found '" + label + "'");
    }
}
