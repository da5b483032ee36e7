package dev.blockterm.report;

import java.util.Locale;

/**
 * A layer timed alone in ONNX Runtime, dense and factored: median milliseconds of one run at
 * {@code batch} rows with {@code threads} intra-op threads.
 */
public record LayerLatency(long batch, int threads, double denseMillis, double factoredMillis) {

    public double speedup() {
        return denseMillis / factoredMillis;
    }

    public boolean factoredSlower() {
        return factoredMillis >= denseMillis;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "ONNX Runtime at batch %d, %d thread%s: dense %.3f ms, factored %.3f ms (%.1fx)",
                batch, threads, threads == 1 ? "" : "s", denseMillis, factoredMillis, speedup());
    }
}
