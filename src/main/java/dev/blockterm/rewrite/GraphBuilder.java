package dev.blockterm.rewrite;

import dev.blockterm.onnx.Weights;
import java.util.ArrayList;
import java.util.List;
import onnx.Onnx;

/**
 * Appends standard ONNX nodes for one layer, naming every value and node after the layer
 * ({@code <layer>.bt/...}), in the form the model's opset expects (Slice and Pad took attributes
 * before opsets 10 and 11).
 */
public final class GraphBuilder {

    private final String prefix;
    private final long opset;
    private final List<Onnx.NodeProto> nodes = new ArrayList<>();
    private final List<Onnx.TensorProto> initializers = new ArrayList<>();
    private int counter;

    public GraphBuilder(String prefix, long opset) {
        this.prefix = prefix;
        this.opset = opset;
    }

    public List<Onnx.NodeProto> nodes() {
        return nodes;
    }

    public List<Onnx.TensorProto> initializers() {
        return initializers;
    }

    public long opset() {
        return opset;
    }

    public String addInitializer(Onnx.TensorProto t) {
        initializers.add(t);
        return t.getName();
    }

    private String fresh(String what) {
        return prefix + ".bt/" + what + "_" + (counter++);
    }

    public String op(String type, List<String> inputs, List<Onnx.AttributeProto> attributes) {
        String out = fresh(type);
        Onnx.NodeProto.Builder b = Onnx.NodeProto.newBuilder().setOpType(type).setName(out).addAllInput(inputs).addOutput(out);
        b.addAllAttribute(attributes);
        nodes.add(b.build());
        return out;
    }

    public String transpose(String in, int[] perm) {
        Onnx.AttributeProto.Builder a = Onnx.AttributeProto.newBuilder().setName("perm")
                .setType(Onnx.AttributeProto.AttributeType.INTS);
        for (int p : perm) {
            a.addInts(p);
        }
        return op("Transpose", List.of(in), List.of(a.build()));
    }

    public String reshape(String in, long[] shape) {
        String s = addInitializer(Weights.int64s(fresh("shape"), shape));
        return op("Reshape", List.of(in, s), List.of());
    }

    public String matmul(String a, String b) {
        return op("MatMul", List.of(a, b), List.of());
    }

    /** {@code in[..., start:end]} on one axis. */
    public String slice(String in, long axis, long start, long end) {
        if (opset >= 10) {
            return op("Slice", List.of(in, addInitializer(Weights.int64s(fresh("starts"), start)),
                    addInitializer(Weights.int64s(fresh("ends"), end)),
                    addInitializer(Weights.int64s(fresh("axes"), axis))), List.of());
        }
        return op("Slice", List.of(in), List.of(ints("starts", start), ints("ends", end), ints("axes", axis)));
    }

    /** Zero padding of a 2-D value's last axis by {@code extra} columns. */
    public String padColumns(String in, long extra) {
        if (opset >= 11) {
            return op("Pad", List.of(in, addInitializer(Weights.int64s(fresh("pads"), 0, 0, 0, extra))), List.of());
        }
        String padsName = opset >= 2 ? "pads" : "paddings";
        return op("Pad", List.of(in), List.of(ints(padsName, 0, 0, 0, extra)));
    }

    private static Onnx.AttributeProto ints(String name, long... values) {
        Onnx.AttributeProto.Builder a = Onnx.AttributeProto.newBuilder().setName(name)
                .setType(Onnx.AttributeProto.AttributeType.INTS);
        for (long v : values) {
            a.addInts(v);
        }
        return a.build();
    }

    /** Makes the last node write {@code target} instead of {@code value} (which it must produce). */
    public void renameLastOutput(String value, String target) {
        Onnx.NodeProto last = nodes.get(nodes.size() - 1);
        if (!last.getOutput(0).equals(value)) {
            throw new IllegalStateException("the last node does not produce " + value);
        }
        nodes.set(nodes.size() - 1, last.toBuilder().setOutput(0, target).build());
    }
}
