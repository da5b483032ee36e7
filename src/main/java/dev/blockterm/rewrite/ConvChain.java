package dev.blockterm.rewrite;

import dev.blockterm.onnx.Graphs;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import onnx.Onnx;

/**
 * A convolution's replacement read back as what it is, a chain of standard convolutions
 * {@code y = conv_m(... conv_2(conv_1(x)))}, each step with its weight {@code [C_out_i, C_in_i / group_i, k...]},
 * its bias (or none) and its ONNX Conv attributes, the absent ones at their defaults (strides and
 * dilations 1, pads 0, group 1, auto_pad NOTSET). It is read from the nodes a rewriter wrote, not
 * from the form's name, so every form is the same description: channel low rank (a {@code k} conv, a
 * 1x1 conv), the block-term chain (1x1, grouped {@code k}, 1x1), spatial SVD ({@code k_h x 1},
 * {@code 1 x k_w}) or any later one.
 */
public record ConvChain(List<Step> steps) {

    /**
     * One convolution of the chain.
     *
     * @param weight      the initializer holding its kernel
     * @param weightShape {@code [C_out, C_in / group, k...]}
     * @param bias        the value added to its output (an initializer, or a value computed in the graph), or null
     * @param pads        ONNX order: every spatial axis's begin, then every end
     */
    public record Step(String weight, long[] weightShape, String bias, long[] kernelShape, long[] strides, long[] pads,
                       long[] dilations, long group, String autoPad) {

        public Step {
            int spatial = weightShape.length - 2;
            if (spatial < 1 || kernelShape.length != spatial || strides.length != spatial || dilations.length != spatial
                    || pads.length != 2 * spatial) {
                throw new IllegalArgumentException("Conv with weight '" + weight + "' " + Arrays.toString(weightShape)
                        + ": expected " + Math.max(spatial, 1) + " spatial axes in kernel_shape, strides and dilations and "
                        + 2 * Math.max(spatial, 1) + " pads, found " + Arrays.toString(kernelShape) + ", "
                        + Arrays.toString(strides) + ", " + Arrays.toString(dilations) + ", " + Arrays.toString(pads));
            }
            if (!Arrays.equals(kernelShape, Arrays.copyOfRange(weightShape, 2, weightShape.length))) {
                throw new IllegalArgumentException("Conv with weight '" + weight + "' " + Arrays.toString(weightShape)
                        + ": kernel_shape " + Arrays.toString(kernelShape) + " is not the weight's spatial shape");
            }
            weightShape = weightShape.clone();
            kernelShape = kernelShape.clone();
            strides = strides.clone();
            pads = pads.clone();
            dilations = dilations.clone();
        }

        @Override
        public long[] weightShape() {
            return weightShape.clone();
        }

        @Override
        public long[] kernelShape() {
            return kernelShape.clone();
        }

        @Override
        public long[] strides() {
            return strides.clone();
        }

        @Override
        public long[] pads() {
            return pads.clone();
        }

        @Override
        public long[] dilations() {
            return dilations.clone();
        }
    }

    public ConvChain {
        if (steps.isEmpty()) {
            throw new IllegalArgumentException("a chain of convolutions needs at least one step");
        }
        steps = List.copyOf(steps);
    }

    /**
     * The chain these nodes form: every node a Conv whose input is the previous node's output, every
     * weight one of {@code stored} (the replacement's initializers and the model's); anything else is
     * refused, naming the node.
     */
    public static ConvChain of(List<Onnx.NodeProto> nodes, Map<String, Onnx.TensorProto> stored) {
        List<Step> steps = new ArrayList<>();
        String previous = null;
        for (Onnx.NodeProto node : nodes) {
            String where = "node '" + node.getName() + "' (" + node.getOpType() + ")";
            if (!node.getOpType().equals("Conv")) {
                throw new IllegalArgumentException(where + ": a convolution's replacement must be Conv nodes only");
            }
            if (previous != null && !node.getInput(0).equals(previous)) {
                throw new IllegalArgumentException(where + " reads '" + node.getInput(0) + "', not the previous "
                        + "convolution's output '" + previous + "'");
            }
            Onnx.TensorProto w = stored.get(node.getInput(1));
            if (w == null) {
                throw new IllegalArgumentException(where + ": its weight '" + node.getInput(1) + "' is not a stored tensor");
            }
            long[] dims = w.getDimsList().stream().mapToLong(Long::longValue).toArray();
            int spatial = Math.max(dims.length - 2, 0);
            long[] kernel = Arrays.copyOfRange(dims, Math.min(2, dims.length), dims.length);
            String bias = node.getInputCount() > 2 && !node.getInput(2).isEmpty() ? node.getInput(2) : null;
            steps.add(new Step(w.getName(), dims, bias, ints(node, "kernel_shape", kernel),
                    ints(node, "strides", filled(spatial, 1)), ints(node, "pads", filled(2 * spatial, 0)),
                    ints(node, "dilations", filled(spatial, 1)), Graphs.intAttribute(node, "group", 1),
                    string(node, "auto_pad", "NOTSET")));
            previous = node.getOutput(0);
        }
        return new ConvChain(steps);
    }

    /** The stored tensors the chain reads, weights and biases, each once, in the chain's order. */
    public List<Onnx.TensorProto> tensors(Map<String, Onnx.TensorProto> stored) {
        Map<String, Onnx.TensorProto> out = new LinkedHashMap<>();
        for (Step s : steps) {
            out.put(s.weight(), stored.get(s.weight()));
            if (s.bias() != null && stored.containsKey(s.bias())) {
                out.put(s.bias(), stored.get(s.bias()));
            }
        }
        return new ArrayList<>(out.values());
    }

    private static long[] ints(Onnx.NodeProto node, String name, long[] fallback) {
        for (Onnx.AttributeProto a : node.getAttributeList()) {
            if (a.getName().equals(name)) {
                return a.getIntsList().stream().mapToLong(Long::longValue).toArray();
            }
        }
        return fallback;
    }

    private static String string(Onnx.NodeProto node, String name, String fallback) {
        for (Onnx.AttributeProto a : node.getAttributeList()) {
            if (a.getName().equals(name)) {
                return a.getS().toStringUtf8();
            }
        }
        return fallback;
    }

    private static long[] filled(int n, long value) {
        long[] a = new long[n];
        Arrays.fill(a, value);
        return a;
    }
}
