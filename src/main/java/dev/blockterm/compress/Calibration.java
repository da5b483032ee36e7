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
