package dev.blockterm.rewrite;

import dev.blockterm.onnx.Weights;
import dev.blockterm.quantize.Precision;
import dev.blockterm.quantize.Quantized;
import dev.blockterm.quantize.Quantizer;
import onnx.Onnx;

import java.util.ArrayList;
import java.util.List;

/**
 * A float weight stored at a lower precision and read back by standard ONNX ops into a value of
 * its own float type and shape, so the node that reads it is unchanged. The stored tensor is read
 * as the {@link Quantizer} matrix {@code M} (rows: the inputs an output channel reduces over;
 * columns: output channels) in one of two layouts:
 * {@link Layout#CHANNEL_LAST} (a {@code MatMul} weight {@code I x J}, a factor, any tensor whose last
 * axis is the output channel: {@code M} is the tensor flattened to {@code [N / C, C]}) or
 * {@link Layout#CHANNEL_FIRST} (a {@code Conv} kernel {@code C_out x C_in x k...}, a {@code Gemm}
 * weight with {@code transB}: {@code M} is the transpose of the tensor flattened to {@code [C, N / C]}).
 *
 * <ul>
 *   <li>float16: the values as float16, then {@code Cast} to the tensor's type (any opset).</li>
 *   <li>int8: {@code Cast(q)} then {@code Mul} by the scales broadcast along the channel axis, at every
 *       opset. Not {@code DequantizeLinear}: ONNX Runtime (1.20) treats a {@code DequantizeLinear} weight
 *       as a QDQ node group to fuse, and on a 512x1 factor reshaped before a {@code MatMul} the fused graph
 *       did not compute the dequantized weight (the digits MLP's output error 1.006 where the dequantized
 *       factors give 0.839); the {@code Cast}/{@code Mul} subgraph is folded to a float constant at load.</li>
 *   <li>int4: {@code u = q + 8} in {@code [1, 15]} packed two per uint8 (the first half of the values in
 *       the low nibbles, the second half in the high ones), read back as
 *       {@code p = Cast(bytes)}, {@code hi = Floor(p / 16)}, {@code lo = p - 16 hi},
 *       {@code Concat(lo, hi) - 8}, reshaped to {@code [groups, GROUP, C]} and multiplied by the group
 *       scales. One float path at every opset this tool writes (7 and later): {@code BitShift} needs
 *       opset 11 and {@code BitwiseAnd} 18, and ONNX Runtime has no integer {@code Sub} on uint8.</li>
 * </ul>
 * Every input of these nodes is a constant: ONNX Runtime folds them at session creation, so the file
 * is small while the weight is held as float in memory and runs at float speed.
 */
public final class QuantizedWeights {

    /** Where a stored tensor has its output channels. */
    public enum Layout {
        CHANNEL_LAST, CHANNEL_FIRST
    }

    private QuantizedWeights() {
    }

    /** The tensor's values as the {@link Quantizer} matrix of its layout (row-major {@code rows x cols}). */
    public static double[] matrix(double[] stored, long[] dims, Layout layout) {
        int[] rc = rowsCols(dims, layout);
        if (layout == Layout.CHANNEL_LAST) {
            return stored;
        }
        return transpose(stored, rc[1], rc[0]); // stored is C x R
    }

    /** {@code {rows, cols}} of the tensor's matrix: {@code cols} the channels. */
    public static int[] rowsCols(long[] dims, Layout layout) {
        if (dims.length < 2) {
            throw new IllegalArgumentException("quantized storage: expected a tensor of rank 2 or more, found rank "
                    + dims.length);
        }
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        long c = layout == Layout.CHANNEL_LAST ? dims[dims.length - 1] : dims[0];
        return new int[] {(int) (n / c), (int) c};
    }

    /** The bytes {@code t} takes stored at {@code p} in this layout (what {@link #emit} writes, shapes aside). */
    public static long bytes(long[] dims, Layout layout, Precision p, int dataType) {
        int[] rc = rowsCols(dims, layout);
        return Quantizer.bytes(rc[0], rc[1], p, Weights.width(dataType));
    }

    /**
     * Nodes (added to {@code g}) and initializers that compute the float tensor {@code name} of
     * {@code dims} and element type {@code dataType} from its values ({@code stored}, in the tensor's
     * own order) stored at {@code p}; returns the value that holds it.
     */
    public static String emit(GraphBuilder g, String name, long[] dims, double[] stored, Layout layout, Precision p,
                              int dataType) {
        return emit(g, name, dims, stored, layout, p, dataType, null);
    }

    /**
     * As {@link #emit(GraphBuilder, String, long[], double[], Layout, Precision, int)}, with the values
     * already quantized ({@code given}, as the tensor's {@link Quantizer} matrix: by {@link
     * dev.blockterm.quantize.Gptq}, say), or null to quantize them here.
     */
    public static String emit(GraphBuilder g, String name, long[] dims, double[] stored, Layout layout, Precision p,
                              int dataType, Quantized given) {
        int[] rc = rowsCols(dims, layout);
        int rows = rc[0];
        int cols = rc[1];
        int rank = dims.length;
        String value;
        switch (p) {
            case FLOAT -> {
                return g.addInitializer(Weights.tensor(name, dims, stored, dataType));
            }
            case HALF -> {
                String h = g.addInitializer(Weights.tensor(name + ".fp16", dims, stored, Weights.FLOAT16));
                return g.op("Cast", List.of(h), List.of(to(dataType)));
            }
            case INT8 -> {
                Quantized q = given != null ? given : Quantizer.quantize(matrix(stored, dims, layout), rows, cols, p);
                byte[] ordered = layout == Layout.CHANNEL_LAST ? q.q() : transpose(q.q(), rows, cols);
                String qs = g.addInitializer(int8s(name + ".int8", dims, ordered));
                long[] scaleDims = new long[layout == Layout.CHANNEL_LAST ? 1 : rank];
                java.util.Arrays.fill(scaleDims, 1);
                scaleDims[0] = cols;
                String s = g.addInitializer(floats(name + ".scale", scaleDims, q.scales()));
                String f = g.op("Cast", List.of(qs), List.of(to(Weights.FLOAT)));
                value = g.op("Mul", List.of(f, s), List.of());
            }
            case INT4 -> {
                Quantized q = given != null ? given : Quantizer.quantize(matrix(stored, dims, layout), rows, cols, p);
                int padded = q.q().length / cols;
                int groups = padded / q.group();
                byte[] ordered = layout == Layout.CHANNEL_LAST ? q.q() : transpose(q.q(), padded, cols);
                String packed = g.addInitializer(packed(name + ".int4", ordered));
                String f = g.op("Cast", List.of(packed), List.of(to(Weights.FLOAT)));
                String sixteen = g.addInitializer(floats(name + ".16", new long[0], new float[] {16f}));
                String hi = g.op("Floor", List.of(g.op("Div", List.of(f, sixteen), List.of())), List.of());
                String lo = g.op("Sub", List.of(f, g.op("Mul", List.of(hi, sixteen), List.of())), List.of());
                String all = g.op("Concat", List.of(lo, hi), List.of(axis0()));
                if (ordered.length % 2 != 0) {
                    all = g.slice(all, 0, 0, ordered.length);
                }
                String eight = g.addInitializer(floats(name + ".8", new long[0], new float[] {8f}));
                String centred = g.op("Sub", List.of(all, eight), List.of());
                String scaled;
                if (layout == Layout.CHANNEL_LAST) {
                    String grouped = g.reshape(centred, new long[] {groups, q.group(), cols});
                    String s = g.addInitializer(floats(name + ".scale", new long[] {groups, 1, cols}, q.scales()));
                    scaled = g.reshape(g.op("Mul", List.of(grouped, s), List.of()), new long[] {padded, cols});
                    if (padded > rows) {
                        scaled = g.slice(scaled, 0, 0, rows);
                    }
                } else {
                    String grouped = g.reshape(centred, new long[] {cols, groups, q.group()});
                    float[] st = new float[q.scales().length];
                    for (int k = 0; k < groups; k++) {
                        for (int c = 0; c < cols; c++) {
                            st[c * groups + k] = q.scales()[k * cols + c];
                        }
                    }
                    String s = g.addInitializer(floats(name + ".scale", new long[] {cols, groups, 1}, st));
                    scaled = g.reshape(g.op("Mul", List.of(grouped, s), List.of()), new long[] {cols, padded});
                    if (padded > rows) {
                        scaled = g.slice(scaled, 1, 0, rows);
                    }
                }
                value = g.reshape(scaled, dims);
            }
            default -> throw new IllegalStateException("precision " + p);
        }
        return dataType == Weights.FLOAT ? value : g.op("Cast", List.of(value), List.of(to(dataType)));
    }

    /**
     * The replacement with its factors (the initializers {@link FactoredLayer#isFactor} names) stored
     * at {@code p}: each read back, before the replacement's own nodes, into a value of the factor's
     * name. A factor read by a {@code Conv} as its kernel, or looked up by a {@code Gather}, has its channels
     * first, every other last.
     */
    public static LinearRewriter.Replacement store(LinearRewriter.Replacement r, String layer, Precision p, long opset) {
        if (p == Precision.FLOAT) {
            return r;
        }
        GraphBuilder g = new GraphBuilder(layer + ".stored", opset); // names apart from the replacement's own
        List<Onnx.TensorProto> kept = new ArrayList<>();
        for (Onnx.TensorProto t : r.initializers()) {
            if (!FactoredLayer.isFactor(layer, t.getName()) || t.getDimsCount() < 2 || !Weights.fitted(t.getDataType())
                    || (p == Precision.HALF && t.getDataType() != Weights.FLOAT)) {
                kept.add(t);
                continue;
            }
            long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
            Layout layout = channelsFirst(r.nodes(), t.getName()) ? Layout.CHANNEL_FIRST : Layout.CHANNEL_LAST;
            String v = emit(g, t.getName(), dims, Weights.values(t), layout, p, t.getDataType());
            g.renameLastOutput(v, t.getName());
        }
        List<Onnx.NodeProto> nodes = new ArrayList<>(g.nodes());
        nodes.addAll(r.nodes());
        List<Onnx.TensorProto> inits = new ArrayList<>(g.initializers());
        inits.addAll(kept);
        return new LinearRewriter.Replacement(nodes, inits, r.flopsPerSample(), r.plan());
    }

    /**
     * A layer left dense with its weight (input {@code input} of node {@code node}) stored at {@code p}
     * (its values quantized already where {@code given} is not null): the weight read back first, then
     * the node itself reading it.
     */
    public static LinearRewriter.Replacement dense(Onnx.NodeProto node, int input, Onnx.TensorProto weight,
                                                   Layout layout, Precision p, long opset, Quantized given) {
        GraphBuilder g = new GraphBuilder((node.getName().isEmpty() ? weight.getName() : node.getName()) + ".stored", opset);
        long[] dims = weight.getDimsList().stream().mapToLong(Long::longValue).toArray();
        String v = emit(g, weight.getName(), dims, Weights.values(weight), layout, p, weight.getDataType(), given);
        List<Onnx.NodeProto> nodes = new ArrayList<>(g.nodes());
        nodes.add(node.toBuilder().setInput(input, v).build());
        return new LinearRewriter.Replacement(nodes, new ArrayList<>(g.initializers()), 0, null);
    }

    /** A weight rebuilt at load, stored at {@code p}: nodes that write the value {@code weight.getName()}. */
    public static LinearRewriter.Replacement storedDense(Onnx.TensorProto weight, Layout layout, Precision p, long opset) {
        GraphBuilder g = new GraphBuilder(weight.getName(), opset);
        long[] dims = weight.getDimsList().stream().mapToLong(Long::longValue).toArray();
        String v = emit(g, weight.getName() + ".stored", dims, Weights.values(weight), layout, p, weight.getDataType());
        g.renameLastOutput(v, weight.getName());
        return new LinearRewriter.Replacement(new ArrayList<>(g.nodes()), new ArrayList<>(g.initializers()), 0, null);
    }

    /** Whether a factor has its channels first: a Conv's kernel, or a table a Gather looks rows up in (one scale a row). */
    private static boolean channelsFirst(List<Onnx.NodeProto> nodes, String name) {
        for (Onnx.NodeProto n : nodes) {
            if (n.getOpType().equals("Conv") && n.getInputCount() > 1 && n.getInput(1).equals(name)) {
                return true;
            }
            if (n.getOpType().equals("Gather") && n.getInput(0).equals(name)) {
                return true;
            }
        }
        return false;
    }

    private static double[] transpose(double[] m, int rows, int cols) {
        double[] t = new double[m.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t[j * rows + i] = m[i * cols + j];
            }
        }
        return t;
    }

    private static byte[] transpose(byte[] m, int rows, int cols) {
        byte[] t = new byte[m.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t[j * rows + i] = m[i * cols + j];
            }
        }
        return t;
    }

    private static Onnx.AttributeProto to(int dataType) {
        return Onnx.AttributeProto.newBuilder().setName("to").setType(Onnx.AttributeProto.AttributeType.INT)
                .setI(dataType).build();
    }

    private static Onnx.AttributeProto axis0() {
        return Onnx.AttributeProto.newBuilder().setName("axis").setType(Onnx.AttributeProto.AttributeType.INT).setI(0)
                .build();
    }

    private static Onnx.TensorProto int8s(String name, long[] dims, byte[] q) {
        return raw(name, dims, Onnx.TensorProto.DataType.INT8_VALUE, q);
    }

    /** {@code u = q + 8}, the first half in the low nibbles, the second half in the high ones. */
    private static Onnx.TensorProto packed(String name, byte[] q) {
        int half = (q.length + 1) / 2;
        byte[] b = new byte[half];
        for (int k = 0; k < half; k++) {
            int lo = q[k] + 8;
            int hi = k + half < q.length ? q[k + half] + 8 : 0;
            b[k] = (byte) (lo | (hi << 4));
        }
        return raw(name, new long[] {half}, Onnx.TensorProto.DataType.UINT8_VALUE, b);
    }

    private static Onnx.TensorProto floats(String name, long[] dims, float[] v) {
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(v.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            buf.putFloat(f);
        }
        return raw(name, dims, Weights.FLOAT, buf.array());
    }

    private static Onnx.TensorProto raw(String name, long[] dims, int type, byte[] bytes) {
        Onnx.TensorProto.Builder b = Onnx.TensorProto.newBuilder().setName(name).setDataType(type)
                .setRawData(org.nd4j.shade.protobuf.ByteString.copyFrom(bytes));
        for (long d : dims) {
            b.addDims(d);
        }
        return b.build();
    }
}
