package dev.blockterm.report;

/**
 * A tensorization tried for a layer at the same parameter budget, kept or not.
 *
 * @param relativeError NaN when it was not fitted (the note says why)
 */
public record Alternative(String layout, String tensorization, int blocks, String ranks, long parameters, double flopsPerSample,
                          double relativeError, String note) {
}
