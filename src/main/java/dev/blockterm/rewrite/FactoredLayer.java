package dev.blockterm.rewrite;

import java.util.List;
import onnx.Onnx;

/**
 * What a compressed layer became, for handing its factors to a training framework: the original
 * weight, how it was tensorized, the factor tensors as written in the model, and the contraction plan
 * (tensor network and pairwise order) that contracts them. {@code plan} is null for a Conv and has no batch label
 * for a weight rebuilt at load; {@code convs}, the chain of convolutions that replaces a Conv, is null for the others.
 *
 * @param kind           {@code linear} (x W), {@code rebuilt} (W itself, rebuilt by a constant
 *                       subgraph) or {@code conv}
 * @param layout         for a Conv, the form: {@code lowrank-conv}, {@code tucker2-conv}, ...
 * @param inputFactors   the input legs' sizes (their product may exceed the input size: zero padding)
 * @param bias           Gemm's C, added after the contraction (scaled by {@code biasScale}), or null
 * @param transposeInput Gemm's transA: the input is transposed before the contraction
 */
public record FactoredLayer(String name, String op, String kind, String weight, long[] weightShape, String format,
                            String layout, int blocks, int[] ranks, int inputSize, int outputSize, int[] inputFactors,
                            int[] outputFactors, ContractionPlan plan, ConvChain convs, List<Onnx.TensorProto> tensors,
                            String bias, double biasScale, boolean transposeInput) {

    public FactoredLayer {
        weightShape = weightShape.clone();
        ranks = ranks.clone();
        inputFactors = inputFactors.clone();
        outputFactors = outputFactors.clone();
        tensors = List.copyOf(tensors);
        if ((convs != null) != kind.equals("conv")) {
            throw new IllegalArgumentException(name + ": a chain of convolutions goes with kind conv only, found kind "
                    + kind + (convs == null ? " without one" : " with one"));
        }
    }

    /**
     * A Conv ({@code weightShape = [C_out, C_in, k...]}) replaced by this chain, whose weights and
     * stored biases are the tensors handed over.
     */
    public static FactoredLayer conv(String name, String op, String weight, long[] weightShape, String format,
                                     String layout, int blocks, int[] ranks, ConvChain convs,
                                     java.util.Map<String, Onnx.TensorProto> stored) {
        long inputSize = 1;
        for (int i = 1; i < weightShape.length; i++) {
            inputSize *= weightShape[i];
        }
        return new FactoredLayer(name, op, "conv", weight, weightShape, format, layout, blocks, ranks, (int) inputSize,
                (int) weightShape[0], new int[0], new int[0], null, convs, convs.tensors(stored), null, 1, false);
    }

    /** Whether an initializer of a replacement is one of the factors (not a bias, shape or identity). */
    public static boolean isFactor(String layer, String initializer) {
        return initializer.startsWith(layer + ".bt.factor") || initializer.equals(layer + ".bt.core")
                || initializer.startsWith(layer + ".tt.core");
    }
}
