package dev.blockterm.tensor;

/** How the input and output indices of a weight {@code W (I x J)} are grouped into tensor modes (DESIGN.md section 2). */
public enum Layout {
    /** {@code p = q = d}, mode k = {@code (i_k, j_k)} of size {@code I_k J_k}: the BT-layer paper's layout. */
    MERGED,
    /** Input and output indices as separate modes: order {@code p + q}. */
    SPLIT,
    /** The input kept as one mode of size I, the output split in q modes ({@code q = 1}: the plain matrix). */
    INPUT_WHOLE;

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    public static Layout parse(String s) {
        for (Layout l : values()) {
            if (l.label().equals(s)) {
                return l;
            }
        }
        throw new IllegalArgumentException("layout: expected merged, split or input-whole, found '" + s + "'");
    }
}
