package dev.blockterm.report;

import java.util.List;

/**
 * One layer's outcome.
 *
 * @param name            layer name
 * @param op              Gemm or MatMul
 * @param weightShape     {@code I x J}
 * @param compressed      whether the layer was replaced
 * @param reason          why it stayed dense (null when compressed)
 * @param layout          the format and layout kept, e.g. {@code bt merged}
 * @param tensorization   mode sizes, e.g. {@code 8*8 x 8*8 x 8*8}
 * @param padded          whether the weight was padded to balance its factors
 * @param blocks          N
 * @param ranks           ranks per mode
 * @param paramsBefore    dense weight parameters
 * @param paramsAfter     parameters of the factors and cores (the weight's own, bias excluded)
 * @param relativeError   {@code ||W - W^||_F / ||W||_F}
 * @param outputError     {@code ||X (W - W^)||_F / ||X W||_F} on the calibration inputs, NaN without them
 * @param sweeps          ALS sweeps run
 * @param converged       whether the tolerance stopped the fit
 * @param seconds         fitting time for all layouts tried
 * @param flopsBefore     FLOPs per sample of the dense product
 * @param flopsAfter      FLOPs per sample of the factored contraction
 * @param alternatives    every candidate tried, the kept one included
 * @param selection       how the setting was chosen ({@code --ratio}, {@code --max-error}), or null
 * @param rebuilt         stored factored and rebuilt by a constant subgraph at load (the file shrinks, the
 *                        compute does not), rather than contracted factored at run time
 * @param latency         the layer timed dense and factored in ONNX Runtime, or null where it was not
 * @param precision       how its factors (or its dense weight) are stored: "int8", "int4", "fp16"; null for the
 *                        weight's own float type
 * @param bytesBefore     the weight's bytes in the input model (-1: not counted)
 * @param bytesAfter      the bytes of what replaced it: factors, scales and the weight's own bias (-1: not counted)
 */
public record LayerReport(String name, String op, String weightShape, boolean compressed, String reason, String layout,
                          String tensorization, boolean padded, int blocks, String ranks, long paramsBefore,
                          long paramsAfter, double relativeError, double outputError, int sweeps, boolean converged, double seconds,
                          double flopsBefore, double flopsAfter, List<Alternative> alternatives,
                          String selection, boolean rebuilt, LayerLatency latency, String precision, long bytesBefore,
                          long bytesAfter) {

    public LayerReport {
        alternatives = List.copyOf(alternatives);
    }

    /** A report whose precision (the weight's own: null) and bytes (-1: not counted) are set later. */
    public LayerReport(String name, String op, String weightShape, boolean compressed, String reason, String layout,
                       String tensorization, boolean padded, int blocks, String ranks, long paramsBefore,
                       long paramsAfter, double relativeError, double outputError, int sweeps, boolean converged,
                       double seconds, double flopsBefore, double flopsAfter, List<Alternative> alternatives,
                       String selection, boolean rebuilt, LayerLatency latency) {
        this(name, op, weightShape, compressed, reason, layout, tensorization, padded, blocks, ranks, paramsBefore,
                paramsAfter, relativeError, outputError, sweeps, converged, seconds, flopsBefore, flopsAfter, alternatives,
                selection, rebuilt, latency, null, -1, -1);
    }

    /** This report with the stored precision of its factors or weight ("int8", "int4", "fp16"; null: its own). */
    public LayerReport withPrecision(String stored) {
        return new LayerReport(name, op, weightShape, compressed, reason, layout, tensorization, padded, blocks, ranks,
                paramsBefore, paramsAfter, relativeError, outputError, sweeps, converged, seconds, flopsBefore, flopsAfter,
                alternatives, selection, rebuilt, latency, stored, bytesBefore, bytesAfter);
    }

    /** This report with the bytes of its weight as the input stored it and as the output does. */
    public LayerReport withBytes(long before, long after) {
        return new LayerReport(name, op, weightShape, compressed, reason, layout, tensorization, padded, blocks, ranks,
                paramsBefore, paramsAfter, relativeError, outputError, sweeps, converged, seconds, flopsBefore, flopsAfter,
                alternatives, selection, rebuilt, latency, precision, before, after);
    }

    public static LayerReport dense(String name, String op, String weightShape, long params, double flops, String reason,
                                    List<Alternative> tried, double seconds) {
        return new LayerReport(name, op, weightShape, false, reason, "-", "-", false, 0, "-", params, params, 0, Double.NaN, 0,
                false, seconds, flops, flops, tried, null, false, null);
    }

    /** This report without its fitting time and latency. */
    public LayerReport withoutTimings() {
        return new LayerReport(name, op, weightShape, compressed, reason, layout, tensorization, padded, blocks, ranks,
                paramsBefore, paramsAfter, relativeError, outputError, sweeps, converged, 0, flopsBefore, flopsAfter,
                alternatives, selection, rebuilt, null, precision, bytesBefore, bytesAfter);
    }

    /** This report with the layer's measured latency. */
    public LayerReport withLatency(LayerLatency measured) {
        return new LayerReport(name, op, weightShape, compressed, reason, layout, tensorization, padded, blocks, ranks,
                paramsBefore, paramsAfter, relativeError, outputError, sweeps, converged, seconds, flopsBefore, flopsAfter,
                alternatives, selection, rebuilt, measured, precision, bytesBefore, bytesAfter);
    }

    public double ratio() {
        return paramsAfter == 0 ? 0 : (double) paramsBefore / paramsAfter;
    }
}
