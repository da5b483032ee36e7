package dev.blockterm.runtime;

import dev.blockterm.onnx.TinyModels;
import dev.blockterm.onnx.Weights;
import java.util.ArrayList;
import java.util.List;
import onnx.Onnx;

/**
 * A small CNN with dynamic spatial axes that cannot run at size 1: {@code x [?, 1, ?, ?]} through a
 * 3x3 convolution of stride 2 (no padding) and a 2x2 max pooling of stride 2 (total stride 4), then,
 * with a head, flattened into a {@code MatMul} whose weight fixes the one spatial size it runs at.
 */
public final class StridedModels {

    private StridedModels() {
    }

    /** The pooled map's side for an input of side {@code n}. */
    public static int pooled(int n) {
        return ((n - 3) / 2 + 1) / 2;
    }

    /**
     * The CNN; {@code side > 0}: with a head of 10 outputs that runs only at inputs of side {@code side}
     * (and the sides that pool to the same size), 0: without a head (any side of 6 or more runs).
     */
    public static Onnx.ModelProto cnn(int side) {
        List<Onnx.NodeProto> nodes = new ArrayList<>();
        List<Onnx.TensorProto> inits = new ArrayList<>();
        nodes.add(Onnx.NodeProto.newBuilder().setOpType("Conv").setName("conv").addInput("x").addInput("w")
                .addOutput("c").addAttribute(TinyModels.intsAttr("kernel_shape", 3, 3))
                .addAttribute(TinyModels.intsAttr("strides", 2, 2)).build());
        inits.add(Weights.tensor("w", new long[] {4, 1, 3, 3}, TinyModels.gaussian(36, 5), Weights.FLOAT));
        nodes.add(Onnx.NodeProto.newBuilder().setOpType("MaxPool").setName("pool").addInput("c").addOutput("p")
                .addAttribute(TinyModels.intsAttr("kernel_shape", 2, 2))
                .addAttribute(TinyModels.intsAttr("strides", 2, 2)).build());
        if (side > 0) {
            int features = 4 * pooled(side) * pooled(side);
            nodes.add(Onnx.NodeProto.newBuilder().setOpType("Flatten").setName("flat").addInput("p").addOutput("f")
                    .addAttribute(TinyModels.intAttr("axis", 1)).build());
            nodes.add(Onnx.NodeProto.newBuilder().setOpType("MatMul").setName("head").addInput("f").addInput("m")
                    .addOutput("y").build());
            inits.add(Weights.tensor("m", new long[] {features, 10}, TinyModels.gaussian(features * 10, 6),
                    Weights.FLOAT));
        }
        Onnx.ValueInfoProto y = side > 0 ? TinyModels.input("y", -1, 10) : TinyModels.input("p", -1, 4, -4, -5);
        return TinyModels.model(13, List.of(TinyModels.input("x", -1, 1, -2, -3)), List.of(y), nodes, inits);
    }
}
