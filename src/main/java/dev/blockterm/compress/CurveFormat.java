package dev.blockterm.compress;

import dev.blockterm.decompose.Format;
import java.util.Locale;

/**
 * The forms the targets decided on curves choose among: every form ({@code AUTO}), the block-term
 * family alone in one format (a layer's block terms on its tensorizations and a convolution's
 * block-term chain), or the low-rank curve alone (its points at every precision offered).
 */
public enum CurveFormat {
    AUTO(Format.BT), BT(Format.BT), TUCKER(Format.TUCKER), CP(Format.CP), LOWRANK(Format.BT);

    private final Format fitted;

    CurveFormat(Format fitted) {
        this.fitted = fitted;
    }

    /** The format the block-term points are fitted in. */
    public Format fitted() {
        return fitted;
    }

    /** Whether block-term points are fitted at all. */
    boolean fitsBlockTerms() {
        return this != LOWRANK;
    }

    /** Whether block terms are the only forms offered (bt, tucker, cp). */
    public boolean blockTermsAlone() {
        return this == BT || this == TUCKER || this == CP;
    }

    /** Whether the allocation may choose a point of this family. */
    boolean allows(Form.Family family) {
        return switch (this) {
            case AUTO -> true;
            case LOWRANK -> family == Form.Family.LOW_RANK;
            case BT, TUCKER, CP -> family == Form.Family.BLOCK_TERM;
        };
    }

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static CurveFormat parse(String s) {
        for (CurveFormat f : values()) {
            if (f.label().equals(s)) {
                return f;
            }
        }
        throw new IllegalArgumentException("format: expected auto, bt, tucker, cp or lowrank, found '" + s + "'");
    }
}
