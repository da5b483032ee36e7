package dev.blockterm.rewrite;

import dev.blockterm.onnx.EmbeddingTable;
import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.Weights;
import dev.blockterm.tensor.Matrix;
import java.util.ArrayList;
import java.util.List;
import onnx.Onnx;

/**
 * An embedding table stored as a low-rank product {@code T ~ A B} ({@code A: V x r}, {@code B: r x H})
 * and looked up factored: {@code Gather(T, ids) = Gather(A, ids) B}, exactly, since a lookup is a
 * row selection. Two nodes, {@code Gather} then {@code MatMul}, with initializers
 * {@code <layer>.tt.core0} ({@code A}) and {@code <layer>.tt.core1} ({@code B}): the file holds
 * {@code r (V + H)} values and each looked-up token costs {@code 2 r H} FLOPs more than a lookup.
 */
public final class EmbeddingRewriter {

    private EmbeddingRewriter() {
    }

    public static LinearRewriter.Replacement rewrite(Onnx.ModelProto model, EmbeddingTable table, Matrix a, Matrix b) {
        Onnx.NodeProto node = model.getGraph().getNode(table.nodeIndex());
        int dataType = Graphs.initializers(model.getGraph()).get(table.weightName()).getDataType();
        GraphBuilder g = new GraphBuilder(table.name(), Graphs.opset(model));
        String ta = g.addInitializer(Weights.tensor(TensorTrainLinear.coreName(table.name(), 0),
                new long[] {a.rows(), a.cols()}, a.data(), dataType));
        String tb = g.addInitializer(Weights.tensor(TensorTrainLinear.coreName(table.name(), 1),
                new long[] {b.rows(), b.cols()}, b.data(), dataType));
        String rows = g.op("Gather", List.of(ta, node.getInput(1)), List.of());
        String y = g.matmul(rows, tb);
        g.renameLastOutput(y, node.getOutput(0));
        return new LinearRewriter.Replacement(new ArrayList<>(g.nodes()), new ArrayList<>(g.initializers()), 0, null);
    }
}
