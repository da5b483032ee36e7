package dev.blockterm.onnx;

import java.util.List;
import java.util.Random;
import onnx.Onnx;

/** Small models built in code for the tests. */
public final class TinyModels {

    private TinyModels() {
    }

    public static Onnx.ValueInfoProto input(String name, long... dims) {
        Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
        for (long d : dims) {
            shape.addDim(d < 0 ? Onnx.TensorShapeProto.Dimension.newBuilder().setDimParam("batch" + (-d))
                    : Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        }
        return Onnx.ValueInfoProto.newBuilder().setName(name).setType(Onnx.TypeProto.newBuilder()
                .setTensorType(Onnx.TypeProto.Tensor.newBuilder().setElemType(Weights.FLOAT).setShape(shape))).build();
    }

    public static Onnx.AttributeProto intAttr(String name, long v) {
        return Onnx.AttributeProto.newBuilder().setName(name).setType(Onnx.AttributeProto.AttributeType.INT).setI(v).build();
    }

    public static Onnx.AttributeProto floatAttr(String name, float v) {
        return Onnx.AttributeProto.newBuilder().setName(name).setType(Onnx.AttributeProto.AttributeType.FLOAT).setF(v).build();
    }

    public static double[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextGaussian();
        }
        return v;
    }

    public static Onnx.ModelProto model(long opset, List<Onnx.ValueInfoProto> inputs, List<Onnx.ValueInfoProto> outputs,
                                        List<Onnx.NodeProto> nodes, List<Onnx.TensorProto> inits) {
        Onnx.GraphProto g = Onnx.GraphProto.newBuilder().setName("tiny").addAllInput(inputs).addAllOutput(outputs)
                .addAllNode(nodes).addAllInitializer(inits).build();
        return Onnx.ModelProto.newBuilder().setIrVersion(opset >= 13 ? 7 : 6).setProducerName("blockterm-tests")
                .addOpsetImport(Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset)).setGraph(g).build();
    }

    /** {@code Y = alpha * A^T * W + beta * C}, A of shape [I, batch] (transA = 1), W of shape [I, J]. */
    public static Onnx.ModelProto gemm(int inputSize, int outputSize, float alpha, float beta, long opset) {
        Onnx.NodeProto node = Onnx.NodeProto.newBuilder().setOpType("Gemm").setName("fc").addInput("a").addInput("w")
                .addInput("c").addOutput("y").addAttribute(intAttr("transA", 1)).addAttribute(floatAttr("alpha", alpha))
                .addAttribute(floatAttr("beta", beta)).build();
        return model(opset, List.of(input("a", inputSize, -1)), List.of(input("y", -1, outputSize)), List.of(node),
                List.of(Weights.tensor("w", new long[] {inputSize, outputSize}, gaussian(inputSize * outputSize, 1), Weights.FLOAT),
                        Weights.tensor("c", new long[] {1, outputSize}, gaussian(outputSize, 2), Weights.FLOAT)));
    }

    /** {@code y = relu(x W)} with x of shape [batch, seq, I] (leading dimensions as in transformers). */
    public static Onnx.ModelProto matmul3d(int inputSize, int outputSize, long opset) {
        Onnx.NodeProto mm = Onnx.NodeProto.newBuilder().setOpType("MatMul").setName("proj").addInput("x").addInput("w")
                .addOutput("h").build();
        Onnx.NodeProto relu = Onnx.NodeProto.newBuilder().setOpType("Relu").setName("act").addInput("h").addOutput("y").build();
        return model(opset, List.of(input("x", -1, -2, inputSize)), List.of(input("y", -1, -2, outputSize)),
                List.of(mm, relu),
                List.of(Weights.tensor("w", new long[] {inputSize, outputSize}, gaussian(inputSize * outputSize, 3), Weights.FLOAT)));
    }

    public static Onnx.AttributeProto intsAttr(String name, long... v) {
        Onnx.AttributeProto.Builder a = Onnx.AttributeProto.newBuilder().setName(name)
                .setType(Onnx.AttributeProto.AttributeType.INTS);
        for (long x : v) {
            a.addInts(x);
        }
        return a.build();
    }

    public static Onnx.AttributeProto stringAttr(String name, String v) {
        return Onnx.AttributeProto.newBuilder().setName(name).setType(Onnx.AttributeProto.AttributeType.STRING)
                .setS(org.nd4j.shade.protobuf.ByteString.copyFromUtf8(v)).build();
    }

    /**
     * One Conv {@code y = conv(x, w) + b} with kernel {@code [cOut, cIn, kernel...]} and the given attributes;
     * x is {@code [batch, cIn, size, ...]}.
     */
    public static Onnx.ModelProto conv(int cOut, int cIn, int[] kernel, int size, double[] weights,
                                       List<Onnx.AttributeProto> attributes) {
        long[] dims = new long[2 + kernel.length];
        dims[0] = cOut;
        dims[1] = cIn;
        long[] xDims = new long[2 + kernel.length];
        xDims[0] = -1;
        xDims[1] = cIn;
        int n = cOut * cIn;
        for (int i = 0; i < kernel.length; i++) {
            dims[i + 2] = kernel[i];
            xDims[i + 2] = size;
            n *= kernel[i];
        }
        double[] w = weights != null ? weights : gaussian(n, 11);
        Onnx.NodeProto node = Onnx.NodeProto.newBuilder().setOpType("Conv").setName("conv").addInput("x").addInput("w")
                .addInput("b").addOutput("y").addAllAttribute(attributes).build();
        Onnx.TensorShapeProto.Builder yShape = Onnx.TensorShapeProto.newBuilder();
        for (int i = 0; i < 2 + kernel.length; i++) { // [batch, C_out, spatial...], each left to the model
            yShape.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimParam("y" + i));
        }
        Onnx.ValueInfoProto y = Onnx.ValueInfoProto.newBuilder().setName("y").setType(Onnx.TypeProto.newBuilder()
                .setTensorType(Onnx.TypeProto.Tensor.newBuilder().setElemType(Weights.FLOAT).setShape(yShape))).build();
        return model(13, List.of(input("x", xDims)), List.of(y), List.of(node),
                List.of(Weights.tensor("w", dims, w, Weights.FLOAT),
                        Weights.tensor("b", new long[] {cOut}, gaussian(cOut, 12), Weights.FLOAT)));
    }

    /** Only a Relu: nothing to compress. */
    public static Onnx.ModelProto reluOnly() {
        Onnx.NodeProto relu = Onnx.NodeProto.newBuilder().setOpType("Relu").setName("act").addInput("x").addOutput("y").build();
        return model(13, List.of(input("x", -1, 4)), List.of(input("y", -1, 4)), List.of(relu), List.of());
    }
}
