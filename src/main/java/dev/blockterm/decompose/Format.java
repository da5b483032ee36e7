package dev.blockterm.decompose;

/**
 * The factored formats, compared at equal parameter counts. BT, Tucker and CP are one code path
 * (Tucker: one block; CP: all ranks 1, the block count is the CP rank); TT is the tensor-train
 * (matrix) format of "Tensorizing Neural Networks" (Novikov et al. 2015), fitted by TT-SVD.
 */
public enum Format {
    BT, TUCKER, CP, TT;

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    public static Format parse(String s) {
        for (Format f : values()) {
            if (f.label().equals(s)) {
                return f;
            }
        }
        throw new IllegalArgumentException("--format: expected bt, tucker, cp or tt, found '" + s + "'");
    }
}
