package dev.blockterm.rewrite;

import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.Weights;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;

/**
 * Int8 compute: every float {@code MatMul} whose right operand is an int8 weight as {@link
 * QuantizedWeights} reads it ({@code Mul(Cast(q), scales)}, {@code q} a 2-D int8 initializer, one scale a
 * column) becomes what ONNX Runtime's dynamic quantizer writes:
 * <pre>
 *   a_q, a_scale, a_zero = DynamicQuantizeLinear(a)          uint8, per tensor, each call
 *   y = Cast(MatMulInteger(a_q, q, a_zero)) * (a_scale * scales)
 * </pre>
 * so the product runs on 8-bit integers instead of the weight being folded to float at load. The
 * activations' rounding adds an error the allocation does not price (it prices the weights'); the
 * model's measured quality includes it. Standard ops: {@code DynamicQuantizeLinear} needs opset 11,
 * {@code MatMulInteger} 10. A {@code Gemm} that is a product ({@code transA} 0, {@code alpha} and
 * {@code beta} 1) is rewritten the same way: its {@code transB} weight and scales turned by
 * {@code Transpose} (of constants, folded at load), its bias added after. Any other product (a float or
 * int4 weight, one read through a {@code Reshape}, a float16 model) is left as it is; a reader that no
 * other node uses is removed.
 */
public final class IntegerMatMuls {

    /** The oldest opset with {@code DynamicQuantizeLinear}. */
    public static final long MIN_OPSET = 11;

    /** The model rewritten, and how many products now run on integers. */
    public record Result(Onnx.ModelProto model, int rewritten) {
    }

    private IntegerMatMuls() {
    }

    public static Result apply(Onnx.ModelProto model) {
        long opset = Graphs.opset(model);
        if (opset < MIN_OPSET) {
            throw new IllegalArgumentException("int8 compute needs DynamicQuantizeLinear (opset " + MIN_OPSET
                    + "); this model has opset " + opset + ": store the weights at int8 without it");
        }
        Onnx.GraphProto graph = model.getGraph();
        Map<String, Onnx.TensorProto> inits = Graphs.initializers(graph);
        Map<String, Onnx.NodeProto> producers = new HashMap<>();
        for (Onnx.NodeProto n : graph.getNodeList()) {
            for (String o : n.getOutputList()) {
                producers.put(o, n);
            }
        }
        List<Onnx.NodeProto> nodes = new ArrayList<>();
        Set<Onnx.NodeProto> readers = new HashSet<>();
        int rewritten = 0;
        for (Onnx.NodeProto n : graph.getNodeList()) {
            boolean transposed = Graphs.intAttribute(n, "transB", 0) == 1;
            Reader r = integerReady(n) ? reader(producers.get(n.getInput(1)), producers, inits, transposed) : null;
            if (r == null) {
                nodes.add(n);
                continue;
            }
            String base = n.getOutput(0) + ".int8";
            String aq = base + "/a_q";
            String as = base + "/a_scale";
            String az = base + "/a_zero";
            String q = r.q();
            String scales = r.scales();
            if (transposed) { // a Gemm's transB weight, C_out x C_in: both turned at load (constants)
                q = base + "/q_t";
                nodes.add(node("Transpose", q, List.of(r.q()), List.of(q), List.of()));
                scales = base + "/scales_t";
                nodes.add(node("Transpose", scales, List.of(r.scales()), List.of(scales), List.of()));
            }
            nodes.add(node("DynamicQuantizeLinear", base + "/quantize", List.of(n.getInput(0)), List.of(aq, as, az),
                    List.of()));
            nodes.add(node("MatMulInteger", base + "/matmul", List.of(aq, q, az), List.of(base + "/y32"),
                    List.of()));
            nodes.add(node("Cast", base + "/cast", List.of(base + "/y32"), List.of(base + "/y"),
                    List.of(Onnx.AttributeProto.newBuilder().setName("to").setType(Onnx.AttributeProto.AttributeType.INT)
                            .setI(Weights.FLOAT).build())));
            nodes.add(node("Mul", base + "/scales", List.of(as, scales), List.of(base + "/s"), List.of()));
            boolean bias = n.getInputCount() > 2 && !n.getInput(2).isEmpty();
            nodes.add(node("Mul", base + "/rescale", List.of(base + "/y", base + "/s"),
                    bias ? List.of(base + "/product") : n.getOutputList(), List.of()));
            if (bias) {
                nodes.add(node("Add", base + "/bias", List.of(base + "/product", n.getInput(2)), n.getOutputList(),
                        List.of()));
            }
            readers.add(r.cast());
            readers.add(r.mul());
            rewritten++;
        }
        // the readers left without a reader of their own
        Onnx.GraphProto.Builder g = graph.toBuilder().clearNode().addAllNode(nodes);
        Map<String, Integer> uses = Graphs.uses(g.build());
        boolean removed = true;
        while (removed) {
            removed = false;
            for (int i = nodes.size() - 1; i >= 0; i--) {
                Onnx.NodeProto n = nodes.get(i);
                if (readers.contains(n) && uses.getOrDefault(n.getOutput(0), 0) == 0) {
                    nodes.remove(i);
                    for (String in : n.getInputList()) {
                        uses.merge(in, -1, Integer::sum);
                    }
                    removed = true;
                }
            }
        }
        return new Result(model.toBuilder().setGraph(graph.toBuilder().clearNode().addAllNode(nodes)).build(), rewritten);
    }

    /**
     * A {@code MatMul}, or a {@code Gemm} that is one ({@code transA} 0, {@code alpha} and {@code beta} 1;
     * {@code transB} and a bias {@code C} are kept).
     */
    private static boolean integerReady(Onnx.NodeProto n) {
        if (!n.getDomain().isEmpty() && !n.getDomain().equals("ai.onnx")) {
            return false;
        }
        if (n.getOpType().equals("MatMul")) {
            return n.getInputCount() == 2;
        }
        return n.getOpType().equals("Gemm") && n.getInputCount() >= 2 && Graphs.intAttribute(n, "transA", 0) == 0
                && Graphs.floatAttribute(n, "alpha", 1f) == 1f && Graphs.floatAttribute(n, "beta", 1f) == 1f;
    }

    /** An int8 weight's reader: {@code mul = Mul(cast, scales)}, {@code cast = Cast(q) to float}. */
    private record Reader(Onnx.NodeProto mul, Onnx.NodeProto cast, String q, String scales) {
    }

    private static Reader reader(Onnx.NodeProto mul, Map<String, Onnx.NodeProto> producers,
                                 Map<String, Onnx.TensorProto> inits, boolean transposed) {
        if (mul == null || !mul.getOpType().equals("Mul") || mul.getInputCount() != 2) {
            return null;
        }
        Onnx.NodeProto cast = producers.get(mul.getInput(0));
        Onnx.TensorProto s = inits.get(mul.getInput(1));
        if (cast == null || !cast.getOpType().equals("Cast") || s == null || s.getDataType() != Weights.FLOAT
                || Graphs.intAttribute(cast, "to", -1) != Weights.FLOAT) {
            return null;
        }
        Onnx.TensorProto q = inits.get(cast.getInput(0));
        if (q == null || q.getDataType() != Onnx.TensorProto.DataType.INT8_VALUE || q.getDimsCount() != 2) {
            return null;
        }
        // one scale a column of the product: [J] after a weight I x J, [J, 1] after a transposed one J x I
        boolean channels = transposed ? s.getDimsCount() == 2 && s.getDims(0) == q.getDims(0) && s.getDims(1) == 1
                : s.getDimsCount() == 1 && s.getDims(0) == q.getDims(1);
        if (!channels) {
            return null;
        }
        return new Reader(mul, cast, q.getName(), s.getName());
    }

    private static Onnx.NodeProto node(String type, String name, List<String> inputs, List<String> outputs,
                                       List<Onnx.AttributeProto> attributes) {
        return Onnx.NodeProto.newBuilder().setOpType(type).setName(name).addAllInput(inputs).addAllOutput(outputs)
                .addAllAttribute(attributes).build();
    }

}
