package dev.blockterm.rewrite;

import dev.blockterm.decompose.TensorTrain;
import dev.blockterm.onnx.Weights;
import dev.blockterm.tensor.Tensor;
import dev.blockterm.tensor.Tensorization;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import onnx.Onnx;

/**
 * A tensor-train weight as a tensor network (the TT-matrix layer of Novikov et al. 2015 when the
 * layout is merged):
 * <pre>
 *   y[b, j...] = sum x[b, i...] G_1[legs_1, t_1] G_2[t_1, legs_2, t_2] ... G_d[t_{d-1}, legs_d]
 * </pre>
 * with initializers {@code <layer>.tt.core<k>} of shape {@code [r_{k-1}, legs of mode k..., r_k]}
 * (the boundary ranks of 1 left out). The same emitter as every other format contracts it.
 */
public final class TensorTrainLinear {

    private TensorTrainLinear() {
    }

    public static String coreName(String layer, int k) {
        return layer + ".tt.core" + k;
    }

    public static List<Onnx.TensorProto> initializers(String layer, Tensorization tz, TensorTrain tt, double scale,
                                                     int dataType) {
        List<Onnx.TensorProto> out = new ArrayList<>();
        for (int k = 0; k < tt.order(); k++) {
            Tensor core = tt.cores().get(k);
            List<Long> dims = new ArrayList<>();
            if (k > 0) {
                dims.add((long) core.size(0));
            }
            for (int leg : tz.modes().get(k)) {
                dims.add((long) tz.legSize(leg));
            }
            if (k < tt.order() - 1) {
                dims.add((long) core.size(2));
            }
            double[] values = core.data();
            if (k == 0 && scale != 1.0) {
                values = core.scale(scale).data();
            }
            out.add(Weights.tensor(coreName(layer, k), dims.stream().mapToLong(Long::longValue).toArray(), values, dataType));
        }
        return out;
    }

    public static TensorNetwork network(String layer, String x, Tensorization tz, int[] ranks, long expectedBatch) {
        Map<String, Long> sizes = new HashMap<>();
        List<TensorNetwork.Operand> operands = new ArrayList<>();
        List<String> output = FactoredLinear.openLegs(tz, x, expectedBatch, sizes, operands);
        int d = tz.order();
        for (int k = 0; k < d; k++) {
            List<String> labels = new ArrayList<>();
            if (k > 0) {
                labels.add("t" + k);
            }
            for (int leg : tz.modes().get(k)) {
                labels.add(FactoredLinear.leg(tz, leg));
            }
            if (k < d - 1) {
                labels.add("t" + (k + 1));
                sizes.put("t" + (k + 1), (long) ranks[k]);
            }
            operands.add(new TensorNetwork.Operand(coreName(layer, k), labels));
        }
        return new TensorNetwork(operands, output, sizes, x == null ? null : FactoredLinear.BATCH);
    }
}
