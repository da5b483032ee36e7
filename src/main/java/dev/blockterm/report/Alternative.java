package dev.blockterm.report;

/**
 * A tensorization tried for a layer at the same parameter budget, kept or not.
 *
 * @param relativeError NaN when it was not fitted (the note says why)
 * @param outputError   the relative output error on the calibration inputs, NaN without them
 */
public record Alternative(String layout, String tensorization, int blocks, String ranks, long parameters, double flopsPerSample,
                          double relativeError, double outputError, String note) {
}
