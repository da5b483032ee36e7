package dev.blockterm.rewrite;

import dev.blockterm.decompose.BlockTerm;
import dev.blockterm.decompose.Decomposition;
import dev.blockterm.decompose.TensorTrain;
import dev.blockterm.onnx.StoredWeight;
import dev.blockterm.tensor.Tensorization;
import java.util.ArrayList;
import java.util.List;
import onnx.Onnx;

/**
 * Stores a weight factored and rebuilds the dense weight with a constant subgraph (DESIGN.md
 * section 5): the factors' network contracted with no input ({@code W[i..., j...]}), reshaped to
 * {@code rows x cols}, the padding sliced away, reshaped to the weight's own dimensions and
 * written under the weight's own name, so every consumer (an LSTM, a Gather, a subgraph) reads it
 * unchanged. Runtimes fold the subgraph at load: the file shrinks, the compute does not.
 */
public final class WeightRebuilder {

    private WeightRebuilder() {
    }

    /** FLOPs to rebuild the weight once (at load). */
    public static double flops(StoredWeight weight, Tensorization tz, boolean tensorTrain, int blocks, int[] ranks) {
        return ContractionPlan.optimal(network(weight.name(), tz, tensorTrain, blocks, ranks)).flops();
    }

    private static TensorNetwork network(String name, Tensorization tz, boolean tensorTrain, int blocks, int[] ranks) {
        return tensorTrain ? TensorTrainLinear.network(name, null, tz, ranks, 1)
                : FactoredLinear.network(name, null, tz, blocks, ranks, 1);
    }

    public static LinearRewriter.Replacement rewrite(Onnx.ModelProto model, StoredWeight weight, Tensorization tz,
                                                     Decomposition factored, int dataType) {
        GraphBuilder g = new GraphBuilder(weight.name(), dev.blockterm.onnx.Graphs.opset(model));
        List<Onnx.TensorProto> factors = factored instanceof TensorTrain tt
                ? TensorTrainLinear.initializers(weight.name(), tz, tt, 1.0, dataType)
                : FactoredLinear.initializers(weight.name(), tz, (BlockTerm) factored, 1.0, dataType);
        factors.forEach(g::addInitializer);
        TensorNetwork net = factored instanceof TensorTrain tt
                ? network(weight.name(), tz, true, 1, tt.ranks())
                : network(weight.name(), tz, false, ((BlockTerm) factored).blocks(), ((BlockTerm) factored).ranks());
        ContractionPlan plan = ContractionPlan.optimal(net);
        String w = NetworkEmitter.emit(g, plan);
        w = g.reshape(w, new long[] {tz.paddedInput(), tz.paddedOutput()});
        if (tz.paddedInput() > weight.rows()) {
            w = g.slice(w, 0, 0, weight.rows());
        }
        if (tz.paddedOutput() > weight.cols()) {
            w = g.slice(w, 1, 0, weight.cols());
        }
        w = g.reshape(w, weight.dims());
        g.renameLastOutput(w, weight.name());
        return new LinearRewriter.Replacement(new ArrayList<>(g.nodes()), new ArrayList<>(g.initializers()), 0, plan);
    }
}
