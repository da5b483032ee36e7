package dev.blockterm.decompose;

/**
 * The outcome of a fit.
 *
 * @param model          the fitted decomposition
 * @param errors         relative error {@code ||T - T^|| / ||T||} after the initialization (index 0)
 *                       and after each sweep
 * @param sweeps         ALS sweeps run
 * @param converged      whether the tolerance stopped the fit (rather than the sweep limit)
 * @param relativeError  the final relative error, recomputed from the reconstruction
 * @param init           the initialization actually used ({@code AUTO} resolved)
 * @param seconds        wall time of the fit
 */
public record FitResult(BlockTerm model, double[] errors, int sweeps, boolean converged, double relativeError,
                        Initialization init, double seconds) {

    public FitResult {
        errors = errors.clone();
    }

    @Override
    public double[] errors() {
        return errors.clone();
    }
}
