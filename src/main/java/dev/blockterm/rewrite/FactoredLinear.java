package dev.blockterm.rewrite;

import dev.blockterm.decompose.BlockTerm;
import dev.blockterm.decompose.Term;
import dev.blockterm.onnx.Weights;
import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Tensorization;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import onnx.Onnx;

/**
 * A block-term weight as a tensor network (DESIGN.md section 5):
 * <pre>
 *   y[b, j_1..j_q] = sum x[b, i_1..i_p] * prod_k A_k[n, legs of mode k, r_k] * G[n, r_1..r_d]
 * </pre>
 * with initializers {@code <layer>.bt.factor<k>} of shape {@code [N, legs..., R_k]} and
 * {@code <layer>.bt.core} of shape {@code [N, R_1, ..., R_d]}. The block index n is shared by all
 * factors and the core. Every layout gives a network of this form; only the legs of each mode differ.
 */
public final class FactoredLinear {

    public static final String BATCH = "b";

    private FactoredLinear() {
    }

    public static String factorName(String layer, int k) {
        return layer + ".bt.factor" + k;
    }

    public static String coreName(String layer) {
        return layer + ".bt.core";
    }

    /** The initializers of the factored weight; {@code scale} multiplies the cores (Gemm's alpha). */
    public static List<Onnx.TensorProto> initializers(String layer, Tensorization tz, BlockTerm bt, double scale,
                                                     int dataType) {
        List<Onnx.TensorProto> out = new ArrayList<>();
        int blocks = bt.blocks();
        int[] ranks = bt.ranks();
        for (int k = 0; k < tz.order(); k++) {
            int[] legs = tz.modes().get(k);
            long[] dims = new long[legs.length + 2];
            dims[0] = blocks;
            for (int l = 0; l < legs.length; l++) {
                dims[l + 1] = tz.legSize(legs[l]);
            }
            dims[legs.length + 1] = ranks[k];
            int per = bt.terms().get(0).factors().get(k).data().length;
            double[] values = new double[blocks * per];
            for (int n = 0; n < blocks; n++) {
                Matrix a = bt.terms().get(n).factors().get(k);
                System.arraycopy(a.data(), 0, values, n * per, per);
            }
            out.add(Weights.tensor(factorName(layer, k), dims, values, dataType));
        }
        int coreSize = bt.terms().get(0).core().length();
        double[] core = new double[blocks * coreSize];
        for (int n = 0; n < blocks; n++) {
            Term t = bt.terms().get(n);
            for (int i = 0; i < coreSize; i++) {
                core[n * coreSize + i] = scale * t.core().data()[i];
            }
        }
        long[] coreDims = new long[ranks.length + 1];
        coreDims[0] = blocks;
        for (int k = 0; k < ranks.length; k++) {
            coreDims[k + 1] = ranks[k];
        }
        out.add(Weights.tensor(coreName(layer), coreDims, core, dataType));
        return out;
    }

    /** The network for input value {@code x} of shape {@code [batch, I_1, ..., I_p]}. */
    public static TensorNetwork network(String layer, String x, Tensorization tz, int blocks, int[] ranks,
                                        long expectedBatch) {
        Map<String, Long> sizes = new HashMap<>();
        sizes.put("n", (long) blocks);
        List<TensorNetwork.Operand> operands = new ArrayList<>();
        List<String> output = openLegs(tz, x, expectedBatch, sizes, operands);
        List<String> coreLabels = new ArrayList<>(List.of("n"));
        for (int k = 0; k < tz.order(); k++) {
            List<String> labels = new ArrayList<>(List.of("n"));
            for (int legIndex : tz.modes().get(k)) {
                labels.add(leg(tz, legIndex));
            }
            labels.add("r" + k);
            sizes.put("r" + k, (long) ranks[k]);
            coreLabels.add("r" + k);
            operands.add(new TensorNetwork.Operand(factorName(layer, k), labels));
        }
        operands.add(new TensorNetwork.Operand(coreName(layer), coreLabels));
        return new TensorNetwork(operands, output, sizes, x == null ? null : BATCH);
    }

    /**
     * Adds the input operand (when {@code x} is given) and the legs' sizes; returns the output
     * labels: {@code [b, j...]} for a layer, {@code [i..., j...]} for a weight rebuilt without input.
     */
    static List<String> openLegs(Tensorization tz, String x, long expectedBatch, Map<String, Long> sizes,
                                 List<TensorNetwork.Operand> operands) {
        List<String> output = new ArrayList<>();
        List<String> inputLegs = new ArrayList<>();
        for (int l = 0; l < tz.inputLegs() + tz.outputLegs(); l++) {
            sizes.put(leg(tz, l), (long) tz.legSize(l));
            if (l < tz.inputLegs()) {
                inputLegs.add(leg(tz, l));
            }
        }
        if (x != null) {
            List<String> xLabels = new ArrayList<>(List.of(BATCH));
            xLabels.addAll(inputLegs);
            operands.add(new TensorNetwork.Operand(x, xLabels));
            output.add(BATCH);
            sizes.put(BATCH, expectedBatch);
        } else {
            output.addAll(inputLegs); // rebuilding the weight itself: the input legs stay open
        }
        for (int l = tz.inputLegs(); l < tz.inputLegs() + tz.outputLegs(); l++) {
            output.add(leg(tz, l));
        }
        return output;
    }

    static String leg(Tensorization tz, int l) {
        return l < tz.inputLegs() ? "i" + l : "j" + (l - tz.inputLegs());
    }
}
