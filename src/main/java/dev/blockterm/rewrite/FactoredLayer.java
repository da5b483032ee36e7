package dev.blockterm.rewrite;

import java.util.List;
import onnx.Onnx;

/**
 * What a compressed layer became, for handing its factors to a training framework: the original
 * weight, how it was tensorized, the factor tensors as written in the model, and the contraction plan
 * (tensor network and pairwise order) that contracts them. {@code plan} is null for a Conv (its factors are the kernels of a
 * 1x1 / grouped / 1x1 chain) and has no batch label for a weight rebuilt at load.
 *
 * @param kind           {@code linear} (x W), {@code rebuilt} (W itself, rebuilt by a constant
 *                       subgraph) or {@code conv}
 * @param inputFactors   the input legs' sizes (their product may exceed the input size: zero padding)
 * @param bias           Gemm's C, added after the contraction (scaled by {@code biasScale}), or null
 * @param transposeInput Gemm's transA: the input is transposed before the contraction
 */
public record FactoredLayer(String name, String op, String kind, String weight, long[] weightShape, String format,
                            String layout, int blocks, int[] ranks, int inputSize, int outputSize, int[] inputFactors,
                            int[] outputFactors, ContractionPlan plan, List<Onnx.TensorProto> tensors, String bias,
                            double biasScale, boolean transposeInput) {

    public FactoredLayer {
        weightShape = weightShape.clone();
        ranks = ranks.clone();
        inputFactors = inputFactors.clone();
        outputFactors = outputFactors.clone();
        tensors = List.copyOf(tensors);
    }

    /** Whether an initializer of a replacement is one of the factors (not a bias, shape or identity). */
    public static boolean isFactor(String layer, String initializer) {
        return initializer.startsWith(layer + ".bt.factor") || initializer.equals(layer + ".bt.core")
                || initializer.startsWith(layer + ".tt.core");
    }
}
