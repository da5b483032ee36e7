package dev.blockterm.decompose;

/**
 * The outcome of a fit.
 *
 * @param model          the fitted decomposition (a block term, or a tensor train from TT-SVD)
 * @param errors         relative error {@code ||T - T^|| / ||T||} after the initialization (index 0)
 *                       and after each sweep
 * @param sweeps         ALS sweeps run (0 for TT-SVD, which is one pass)
 * @param converged      whether the tolerance stopped the fit (rather than the sweep limit)
 * @param relativeError  the final relative error, recomputed from the reconstruction
 * @param init           the initialization actually used ({@code AUTO} resolved)
 * @param seconds        wall time of the fit
 * @param sweepSeconds   the part of it spent in ALS sweeps (the start and the final check excluded)
 */
public record FitResult<M extends Decomposition>(M model, double[] errors, int sweeps, boolean converged,
                                                 double relativeError, Initialization init, double seconds,
                                                 double sweepSeconds) {

    public FitResult {
        errors = errors.clone();
    }

    @Override
    public double[] errors() {
        return errors.clone();
    }
}
