package dev.blockterm.report;

/** A layout that was fitted for a layer and not kept (or kept), at the same parameter budget. */
public record Alternative(String layout, String tensorization, String ranks, long parameters, double relativeError,
                          String note) {
}
