package dev.blockterm.decompose;

import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Tensor;
import java.util.List;

/**
 * One Tucker term {@code G x_1 A^(1) x_2 A^(2) ... x_d A^(d)}: a core of shape
 * {@code R_1 x ... x R_d} and factors {@code A^(k)} of shape {@code S_k x R_k}.
 */
public record Term(Tensor core, List<Matrix> factors) {

    public Term {
        factors = List.copyOf(factors);
        if (factors.size() != core.order()) {
            throw new IllegalArgumentException("term: expected " + core.order() + " factors for a core of order "
                    + core.order() + ", found " + factors.size());
        }
        for (int k = 0; k < factors.size(); k++) {
            if (factors.get(k).cols() != core.size(k)) {
                throw new IllegalArgumentException("term: factor " + k + " has " + factors.get(k).cols()
                        + " columns, core mode size " + core.size(k));
            }
        }
    }

    /** The dense tensor this term represents. Cost about {@code 2 R |T|} flops. */
    public Tensor reconstruct() {
        Tensor t = core;
        for (int k = 0; k < factors.size(); k++) {
            t = t.modeProduct(k, factors.get(k));
        }
        return t;
    }

    public long parameters() {
        long p = core.length();
        for (Matrix a : factors) {
            p += (long) a.rows() * a.cols();
        }
        return p;
    }
}
