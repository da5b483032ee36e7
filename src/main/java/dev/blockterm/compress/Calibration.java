package dev.blockterm.compress;

import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.LinearLayer;
import dev.blockterm.runtime.ActivationCapture;
import dev.blockterm.runtime.NpyArray;
import dev.blockterm.tensor.Matrix;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import onnx.Onnx;

/**
 * Calibration inputs of the fully connected layers: each layer's input activations captured on the
 * user's calibration data with ONNX Runtime, flattened to {@code n x I} (all leading dimensions as
 * rows; Gemm's transA undone).
 */
public final class Calibration {

    private final Map<String, NpyArray> feeds;
    private final int threads;
    private final Map<String, Matrix> inputs = new HashMap<>();

    /** @param feeds the calibration data, one array per model input */
    public Calibration(Map<String, NpyArray> feeds, int threads) {
        this.feeds = Map.copyOf(feeds);
        this.threads = threads;
    }

    /** Calibration sets with fewer rows than this are not split: fits and measurement share all rows. */
    static final int MIN_ROWS_TO_HOLD_OUT = 10;

    /** The number of rows (the first dimension, common to every input). */
    int rows() {
        int rows = -1;
        for (Map.Entry<String, NpyArray> e : feeds.entrySet()) {
            long[] shape = e.getValue().shape();
            int n = shape.length == 0 ? 1 : (int) shape[0];
            if (rows >= 0 && n != rows) {
                throw new IllegalArgumentException("calibration: input '" + e.getKey() + "' has " + n
                        + " rows where the others have " + rows);
            }
            rows = n;
        }
        return Math.max(rows, 0);
    }

    /** The rows kept for fitting: all but the last fifth (all of them when there are few). */
    Calibration fitting() {
        int rows = rows();
        return rows < MIN_ROWS_TO_HOLD_OUT ? this : new Calibration(slice(0, rows - heldOutRows(rows)), threads);
    }

    /** The rows held out from fitting for measuring the model: the last fifth (all rows when there are few). */
    Map<String, NpyArray> heldOut() {
        int rows = rows();
        return rows < MIN_ROWS_TO_HOLD_OUT ? feeds : slice(rows - heldOutRows(rows), rows);
    }

    /** The held-out rows in words. */
    String heldOutText() {
        int rows = rows();
        return rows < MIN_ROWS_TO_HOLD_OUT ? rows + " calibration rows (too few to hold any out: the fits used them too)"
                : heldOutRows(rows) + " calibration rows held out from the fits (a quality target chose the size on "
                + "them, so check with verify on other data)";
    }

    private static int heldOutRows(int rows) {
        return Math.max(1, rows / 5);
    }

    private Map<String, NpyArray> slice(int from, int to) {
        Map<String, NpyArray> out = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, NpyArray> e : feeds.entrySet()) {
            NpyArray a = e.getValue();
            long[] shape = a.shape().clone();
            int per = (int) (a.values().length / Math.max(1, shape[0]));
            shape[0] = to - from;
            out.put(e.getKey(), new NpyArray(shape, java.util.Arrays.copyOfRange(a.values(), from * per, to * per),
                    a.descr()));
        }
        return out;
    }

    /** Captures the inputs of these layers of {@code model}. */
    void capture(Onnx.ModelProto model, List<LinearLayer> layers) {
        capture(model, model, layers);
    }

    /**
     * Captures the inputs of these layers (found in {@code model}) by running {@code source}, a model
     * with the same values (for {@code --sequential}: the model with the earlier layers compressed).
     */
    void capture(Onnx.ModelProto model, Onnx.ModelProto source, List<LinearLayer> layers) {
        List<String> values = new ArrayList<>();
        for (LinearLayer l : layers) {
            values.add(model.getGraph().getNode(l.nodeIndex()).getInput(0));
        }
        Map<String, NpyArray> captured = ActivationCapture.capture(source, values, feeds, threads);
        for (LinearLayer l : layers) {
            Onnx.NodeProto node = model.getGraph().getNode(l.nodeIndex());
            NpyArray a = captured.get(node.getInput(0));
            boolean transposed = l.op().equals("Gemm") && Graphs.intAttribute(node, "transA", 0) != 0;
            int width = l.inputSize();
            int rows = a.values().length / width;
            Matrix x = transposed ? new Matrix(width, rows, a.values()).transpose() : new Matrix(rows, width, a.values());
            inputs.put(l.name(), x);
        }
    }

    /** The layer's calibration inputs ({@code n x I}), or null when none were captured. */
    Matrix inputs(String layer) {
        return inputs.get(layer);
    }
}
