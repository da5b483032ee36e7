package dev.blockterm.rewrite;

import dev.blockterm.decompose.BlockTerm;
import dev.blockterm.decompose.Term;
import dev.blockterm.onnx.ConvLayer;
import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.Weights;
import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import onnx.Onnx;

/**
 * A Conv whose kernel {@code W (C_out x C_in x k...)} is a block term over the channels with the
 * spatial mode kept whole, {@code W[o, c, s] = sum_n sum_{p,r} C_n[p, r, s] A_n[o, p] B_n[c, r]}
 * (the spatial factor folded into the core {@code C_n}), is exactly three standard convolutions
 * (DESIGN.md section 5):
 * <pre>
 *   1x1 conv  C_in -> N R_in         weights B_n^T                  (&lt;layer&gt;.bt.factor1)
 *   k conv    N R_in -> N R_out      weights C_n, group = N, the original strides/pads/dilations (&lt;layer&gt;.bt.core)
 *   1x1 conv  N R_out -> C_out       weights A_n, the original bias (&lt;layer&gt;.bt.factor0)
 * </pre>
 * Zero padding commutes with the bias-free first 1x1 convolution, so padding in the middle one is exact.
 */
public final class ConvRewriter {

    private ConvRewriter() {
    }

    /** The kernel as the order-3 tensor {@code C_out x C_in x K} that is decomposed. */
    public static Tensor tensorize(ConvLayer layer, double[] kernel) {
        return new Tensor(new int[] {layer.outChannels(), layer.inChannels(), layer.kernelSize()}, kernel);
    }

    /** Parameters of the three convolutions. */
    public static long parameters(ConvLayer layer, int blocks, int rOut, int rIn) {
        return (long) blocks * ((long) layer.inChannels() * rIn + (long) layer.outChannels() * rOut
                + (long) rOut * rIn * layer.kernelSize());
    }

    /** FLOPs per output position; the first 1x1 convolution runs at the input's resolution. */
    public static double flopsPerPosition(ConvLayer layer, int blocks, int rOut, int rIn) {
        double strideArea = 1;
        for (int s : layer.strides()) {
            strideArea *= s;
        }
        return 2.0 * blocks * ((double) rIn * layer.inChannels() * strideArea + (double) rOut * rIn * layer.kernelSize()
                + (double) layer.outChannels() * rOut);
    }

    /** The spatial factor folded into each core: {@code C_n = G_n x_3 S_n}, shape {@code R_out x R_in x K}. */
    public static List<Tensor> foldedCores(BlockTerm bt) {
        List<Tensor> cores = new ArrayList<>();
        for (Term t : bt.terms()) {
            cores.add(t.core().modeProduct(2, t.factors().get(2)));
        }
        return cores;
    }

    public static LinearRewriter.Replacement rewrite(Onnx.ModelProto model, ConvLayer layer, BlockTerm bt) {
        Onnx.GraphProto graph = model.getGraph();
        Onnx.NodeProto node = graph.getNode(layer.nodeIndex());
        int dataType = Graphs.initializers(graph).get(layer.weightName()).getDataType();
        int blocks = bt.blocks();
        int rOut = bt.ranks()[0];
        int rIn = bt.ranks()[1];
        int cOut = layer.outChannels();
        int cIn = layer.inChannels();
        int k = layer.kernelSize();
        int spatial = layer.kernel().length;
        List<Tensor> cores = foldedCores(bt);

        double[] first = new double[blocks * rIn * cIn];
        double[] middle = new double[blocks * rOut * rIn * k];
        double[] last = new double[cOut * blocks * rOut];
        for (int n = 0; n < blocks; n++) {
            Matrix a = bt.terms().get(n).factors().get(0); // C_out x R_out
            Matrix b = bt.terms().get(n).factors().get(1); // C_in x R_in
            for (int r = 0; r < rIn; r++) {
                for (int c = 0; c < cIn; c++) {
                    first[(n * rIn + r) * cIn + c] = b.get(c, r);
                }
            }
            System.arraycopy(cores.get(n).data(), 0, middle, n * rOut * rIn * k, rOut * rIn * k);
            for (int o = 0; o < cOut; o++) {
                for (int p = 0; p < rOut; p++) {
                    last[o * blocks * rOut + n * rOut + p] = a.get(o, p);
                }
            }
        }
        GraphBuilder g = new GraphBuilder(layer.name(), Graphs.opset(model));
        String w1 = g.addInitializer(Weights.tensor(FactoredLinear.factorName(layer.name(), 1),
                convDims(blocks * rIn, cIn, ones(spatial)), first, dataType));
        String w2 = g.addInitializer(Weights.tensor(FactoredLinear.coreName(layer.name()),
                convDims(blocks * rOut, rIn, layer.kernel()), middle, dataType));
        String w3 = g.addInitializer(Weights.tensor(FactoredLinear.factorName(layer.name(), 0),
                convDims(cOut, blocks * rOut, ones(spatial)), last, dataType));

        String h1 = g.op("Conv", List.of(node.getInput(0), w1), List.of(ints("kernel_shape", ones(spatial))));
        List<Onnx.AttributeProto> attributes = new ArrayList<>();
        for (Onnx.AttributeProto a : node.getAttributeList()) {
            if (!a.getName().equals("group")) {
                attributes.add(a);
            }
        }
        attributes.add(Onnx.AttributeProto.newBuilder().setName("group").setType(Onnx.AttributeProto.AttributeType.INT)
                .setI(blocks).build());
        String h2 = g.op("Conv", List.of(h1, w2), attributes);
        List<String> lastInputs = new ArrayList<>(List.of(h2, w3));
        if (node.getInputCount() > 2 && !node.getInput(2).isEmpty()) {
            lastInputs.add(node.getInput(2));
        }
        String y = g.op("Conv", lastInputs, List.of(ints("kernel_shape", ones(spatial))));
        g.renameLastOutput(y, node.getOutput(0));
        return new LinearRewriter.Replacement(new ArrayList<>(g.nodes()), new ArrayList<>(g.initializers()),
                flopsPerPosition(layer, blocks, rOut, rIn), null);
    }

    /**
     * Channel low rank: a kernel read as the matrix {@code M = W^T} of shape {@code (C_in K) x C_out}
     * (rows: input channel and kernel position) and approximated as {@code A B} ({@code A: (C_in K) x r},
     * {@code B: r x C_out}) is exactly two standard convolutions: a {@code k} convolution
     * {@code C_in -> r} with weights {@code A^T} and the original strides, pads, dilations and
     * {@code auto_pad} ({@code <layer>.bt.factor0}), then a 1x1 convolution {@code r -> C_out} with
     * weights {@code B^T} and the original bias ({@code <layer>.bt.factor1}). Only for {@code group = 1}.
     */
    public static LinearRewriter.Replacement rewriteLowRank(Onnx.ModelProto model, ConvLayer layer,
                                                            Matrix a, Matrix b) {
        Onnx.GraphProto graph = model.getGraph();
        Onnx.NodeProto node = graph.getNode(layer.nodeIndex());
        int dataType = Graphs.initializers(graph).get(layer.weightName()).getDataType();
        int r = a.cols();
        int spatial = layer.kernel().length;
        GraphBuilder g = new GraphBuilder(layer.name(), Graphs.opset(model));
        String w1 = g.addInitializer(Weights.tensor(FactoredLinear.factorName(layer.name(), 0),
                convDims(r, layer.inChannels(), layer.kernel()), a.transpose().data(), dataType));
        String w2 = g.addInitializer(Weights.tensor(FactoredLinear.factorName(layer.name(), 1),
                convDims(layer.outChannels(), r, ones(spatial)), b.transpose().data(), dataType));
        String h = g.op("Conv", List.of(node.getInput(0), w1), node.getAttributeList());
        List<String> lastInputs = new ArrayList<>(List.of(h, w2));
        if (node.getInputCount() > 2 && !node.getInput(2).isEmpty()) {
            lastInputs.add(node.getInput(2));
        }
        String y = g.op("Conv", lastInputs, List.of(ints("kernel_shape", ones(spatial))));
        g.renameLastOutput(y, node.getOutput(0));
        return new LinearRewriter.Replacement(new ArrayList<>(g.nodes()), new ArrayList<>(g.initializers()),
                lowRankFlopsPerPosition(layer, r), null);
    }

    /**
     * Spatial SVD of a 2-D convolution (AIMET's): the kernel as {@code S[(c,i), (j,o)] ~ P Q}
     * ({@code P: (C_in k_h) x r}, {@code Q: r x (k_w C_out)}) is exactly a {@code k_h x 1} convolution
     * {@code C_in -> r} (weights {@code P^T}, the original stride, dilation and pads along the height;
     * {@code <layer>.bt.factor0}) then a {@code 1 x k_w} convolution {@code r -> C_out} (weights from
     * {@code Q}, the original stride, dilation and pads along the width, and the bias;
     * {@code <layer>.bt.factor1}). The first runs over the full input width; zero padding along the
     * width commutes with it (it has no bias), so padding in the second is exact. {@code auto_pad} is
     * kept on both: per axis it gives the original pads where the kernel spans it and none elsewhere.
     */
    public static LinearRewriter.Replacement rewriteSpatial(Onnx.ModelProto model, ConvLayer layer, Matrix p, Matrix q) {
        Onnx.GraphProto graph = model.getGraph();
        Onnx.NodeProto node = graph.getNode(layer.nodeIndex());
        int dataType = Graphs.initializers(graph).get(layer.weightName()).getDataType();
        int r = p.cols();
        int kh = layer.kernel()[0];
        int kw = layer.kernel()[1];
        int cOut = layer.outChannels();
        double[] second = new double[cOut * r * kw];
        for (int k = 0; k < r; k++) {
            for (int j = 0; j < kw; j++) {
                for (int o = 0; o < cOut; o++) {
                    second[(o * r + k) * kw + j] = q.get(k, j * cOut + o);
                }
            }
        }
        Graphs.ConvAttributes geometry = Graphs.convAttributes(node, 2);
        int[] strides = geometry.strides();
        int[] dilations = geometry.dilations();
        int[] pads = geometry.pads();
        GraphBuilder g = new GraphBuilder(layer.name(), Graphs.opset(model));
        String w1 = g.addInitializer(Weights.tensor(FactoredLinear.factorName(layer.name(), 0),
                new long[] {r, layer.inChannels(), kh, 1}, p.transpose().data(), dataType));
        String w2 = g.addInitializer(Weights.tensor(FactoredLinear.factorName(layer.name(), 1),
                new long[] {cOut, r, 1, kw}, second, dataType));
        List<Onnx.AttributeProto> first = new ArrayList<>(List.of(ints("kernel_shape", new int[] {kh, 1}),
                ints("strides", new int[] {strides[0], 1}), ints("dilations", new int[] {dilations[0], 1})));
        List<Onnx.AttributeProto> last = new ArrayList<>(List.of(ints("kernel_shape", new int[] {1, kw}),
                ints("strides", new int[] {1, strides[1]}), ints("dilations", new int[] {1, dilations[1]})));
        if (!geometry.autoPad().equals("NOTSET")) {
            Onnx.AttributeProto autoPad = Onnx.AttributeProto.newBuilder().setName("auto_pad")
                    .setType(Onnx.AttributeProto.AttributeType.STRING)
                    .setS(org.nd4j.shade.protobuf.ByteString.copyFromUtf8(geometry.autoPad())).build();
            first.add(autoPad);
            last.add(autoPad);
        } else {
            first.add(ints("pads", new int[] {pads[0], 0, pads[2], 0}));
            last.add(ints("pads", new int[] {0, pads[1], 0, pads[3]}));
        }
        String h = g.op("Conv", List.of(node.getInput(0), w1), first);
        List<String> lastInputs = new ArrayList<>(List.of(h, w2));
        if (node.getInputCount() > 2 && !node.getInput(2).isEmpty()) {
            lastInputs.add(node.getInput(2));
        }
        String y = g.op("Conv", lastInputs, last);
        g.renameLastOutput(y, node.getOutput(0));
        return new LinearRewriter.Replacement(new ArrayList<>(g.nodes()), new ArrayList<>(g.initializers()),
                spatialFlopsPerPosition(layer, r), null);
    }

    /** FLOPs per output position of spatial SVD at rank r (the first convolution runs over the input's width). */
    public static double spatialFlopsPerPosition(ConvLayer layer, int r) {
        return 2.0 * r * ((double) layer.inChannels() * layer.kernel()[0] * layer.strides()[1]
                + (double) layer.kernel()[1] * layer.outChannels());
    }

    /** The kernel as the {@code (C_in K) x C_out} matrix that channel low rank factors. */
    public static Matrix lowRankMatrix(ConvLayer layer, double[] kernel) {
        return new Matrix(layer.outChannels(), layer.inChannels() * layer.kernelSize(), kernel).transpose();
    }

    /** FLOPs per output position of channel low rank at rank r. */
    public static double lowRankFlopsPerPosition(ConvLayer layer, int r) {
        return 2.0 * r * ((double) layer.inChannels() * layer.kernelSize() + layer.outChannels());
    }

    private static int[] ones(int n) {
        int[] o = new int[n];
        java.util.Arrays.fill(o, 1);
        return o;
    }

    private static long[] convDims(int out, int in, int[] kernel) {
        long[] d = new long[2 + kernel.length];
        d[0] = out;
        d[1] = in;
        for (int i = 0; i < kernel.length; i++) {
            d[i + 2] = kernel[i];
        }
        return d;
    }

    private static Onnx.AttributeProto ints(String name, int[] values) {
        Onnx.AttributeProto.Builder a = Onnx.AttributeProto.newBuilder().setName(name)
                .setType(Onnx.AttributeProto.AttributeType.INTS);
        for (int v : values) {
            a.addInts(v);
        }
        return a.build();
    }
}
