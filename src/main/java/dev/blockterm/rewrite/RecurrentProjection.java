package dev.blockterm.rewrite;

import dev.blockterm.decompose.Decomposition;
import dev.blockterm.onnx.LinearLayer;
import dev.blockterm.onnx.Weights;
import dev.blockterm.tensor.Tensorization;
import java.util.ArrayList;
import java.util.List;
import onnx.Onnx;

/**
 * A recurrent op's input projection moved out of the op and run factored: an LSTM, GRU or RNN
 * computes {@code X_t W^T} inside; with one direction, {@code P = X W^T} is computed first by the
 * factored network (as a MatMul on every step at once) and the op reads {@code P} with an identity
 * {@code W} ({@code GH x GH}). Exact; it pays where the input is much wider than {@code G H} (a wide
 * LSTM input projection), and the caller counts the identity against it.
 */
public final class RecurrentProjection {

    private RecurrentProjection() {
    }

    public static String identityName(String weight) {
        return weight + ".bt.identity";
    }

    /**
     * @param projection the projection as a layer: input size I, output size GH, named after the weight,
     *                   {@code nodeIndex} the recurrent node's
     */
    public static LinearRewriter.Replacement rewrite(Onnx.ModelProto model, LinearLayer projection, Tensorization tz,
                                                     Decomposition factored, int dataType, long expectedBatch) {
        Onnx.GraphProto graph = model.getGraph();
        Onnx.NodeProto recurrent = graph.getNode(projection.nodeIndex());
        String projected = projection.weightName() + ".bt/projected";
        // the projection as a MatMul of its own, so that the one emitter for fully connected layers writes it
        Onnx.NodeProto matmul = Onnx.NodeProto.newBuilder().setOpType("MatMul").setName(projection.name())
                .addInput(recurrent.getInput(0)).addInput(projection.weightName()).addOutput(projected).build();
        Onnx.GraphProto alone = graph.toBuilder().clearNode().addNode(matmul).clearInitializer()
                .addInitializer(Onnx.TensorProto.newBuilder().setName(projection.weightName()).setDataType(dataType)
                        .addDims(projection.inputSize()).addDims(projection.outputSize())).build();
        LinearLayer asMatMul = new LinearLayer(0, projection.name(), "MatMul", projection.weightName(),
                projection.inputSize(), projection.outputSize(), false, null);
        LinearRewriter.Replacement r = LinearRewriter.rewrite(model.toBuilder().setGraph(alone).build(), asMatMul, tz,
                factored, expectedBatch);

        int gh = projection.outputSize();
        double[] identity = new double[gh * gh];
        for (int i = 0; i < gh; i++) {
            identity[i * gh + i] = 1;
        }
        List<Onnx.TensorProto> initializers = new ArrayList<>(r.initializers());
        initializers.add(Weights.tensor(identityName(projection.weightName()), new long[] {1, gh, gh}, identity, dataType));
        List<Onnx.NodeProto> nodes = new ArrayList<>(r.nodes());
        nodes.add(recurrent.toBuilder().setInput(0, projected).setInput(1, identityName(projection.weightName())).build());
        return new LinearRewriter.Replacement(nodes, initializers, r.flopsPerSample(), r.plan());
    }
}
