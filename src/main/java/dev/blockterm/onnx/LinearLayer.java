package dev.blockterm.onnx;

/**
 * A fully connected layer found in a graph: {@code Gemm} with a constant {@code B}, or
 * {@code MatMul} whose second input is a 2-D constant initializer. The weight is read in the
 * MatMul convention {@code y = x W}, {@code W} of shape {@code inputSize x outputSize}.
 *
 * @param nodeIndex   position of the node in the graph
 * @param name        the layer's name (the node's, or its weight's when the node has none)
 * @param op          {@code Gemm} or {@code MatMul}
 * @param weightName  the initializer holding the weight
 * @param inputSize   I
 * @param outputSize  J
 * @param transposed  whether the stored initializer is {@code W^T} (Gemm with transB = 1)
 * @param skipReason  why the layer cannot be compressed, or null
 */
public record LinearLayer(int nodeIndex, String name, String op, String weightName, int inputSize, int outputSize,
                          boolean transposed, String skipReason) implements java.io.Serializable {

    public long parameters() {
        return (long) inputSize * outputSize;
    }

    public boolean compressible() {
        return skipReason == null;
    }

    public String weightShape() {
        return inputSize + "x" + outputSize;
    }
}
