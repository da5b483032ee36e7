package dev.blockterm.onnx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;

/**
 * Checks a model's structure and values before anything runs it, so that a malformed model is one
 * clear line and never a crash in ONNX Runtime's native code (a Conv with a stride of 0 divides by
 * zero there) nor a model written from undefined values:
 * <ul>
 * <li>IR version and default-domain opset within what ONNX Runtime loads;</li>
 * <li>initializers: unique names, dimensions {@code >= 0}, an element count that fits, data of the
 *     size the shape says ({@code raw_data} bytes {@code = count x element size}, or as many typed
 *     values), and only finite values in floating-point tensors;</li>
 * <li>nodes: every input defined before it is read (a graph input, an initializer, an earlier
 *     node's output, or {@code ""} for an optional input left out), every value produced once, every
 *     graph output produced;</li>
 * <li>attributes: convolution and pooling {@code strides}, {@code dilations}, {@code kernel_shape}
 *     {@code >= 1}, {@code pads >= 0}, their lengths consistent with the kernel, {@code group}
 *     dividing the channels; Gemm {@code alpha}/{@code beta} finite and its constant operands of rank 2.</li>
 * </ul>
 * Subgraph bodies ({@code If}, {@code Loop}, {@code Scan}) are not checked: they read outer-scope values.
 */
public final class ModelCheck {

    /** The newest IR version and default-domain opset that the bundled ONNX Runtime (1.20) loads. */
    static final long MAX_IR_VERSION = 10;
    static final long MAX_OPSET = 21;

    private static final Set<String> CONVOLUTIONS = Set.of("Conv", "ConvTranspose");
    private static final Set<String> POOLS = Set.of("MaxPool", "AveragePool", "LpPool");
    private static final Set<String> AUTO_PADS = Set.of("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID");

    private ModelCheck() {
    }

    private static void shapeGiven(Onnx.ValueInfoProto v, String where) {
        if (v.getType().hasTensorType() && !v.getType().getTensorType().hasShape()) {
            throw new ModelException(where + " has a tensor type without a shape (the ONNX checker requires one)");
        }
    }

    /** Throws a {@link ModelException} naming {@code file} and what is wrong; returns when the model is sound. */
    public static void check(Onnx.ModelProto model, String file) {
        if (model.getIrVersion() < 3 || model.getIrVersion() > MAX_IR_VERSION) {
            throw new ModelException(file + ": IR version " + model.getIrVersion() + " is not one ONNX Runtime loads (3 to "
                    + MAX_IR_VERSION + ")");
        }
        boolean defaultDomain = false;
        for (Onnx.OperatorSetIdProto id : model.getOpsetImportList()) {
            boolean isDefault = id.getDomain().isEmpty() || id.getDomain().equals("ai.onnx");
            defaultDomain |= isDefault;
            if (id.getVersion() < 1 || (isDefault && id.getVersion() > MAX_OPSET)) {
                throw new ModelException(file + ": opset " + id.getVersion() + " of domain '" + id.getDomain()
                        + "' is not one ONNX Runtime loads (1 to " + MAX_OPSET + " for the default domain)");
            }
        }
        if (!defaultDomain) {
            throw new ModelException(file + ": imports no opset of the default ONNX domain");
        }
        Onnx.GraphProto graph = model.getGraph();
        Map<String, Onnx.TensorProto> inits = new HashMap<>();
        for (Onnx.TensorProto t : graph.getInitializerList()) {
            if (t.getName().isEmpty()) {
                throw new ModelException(file + ": an initializer has no name");
            }
            if (inits.put(t.getName(), t) != null) {
                throw new ModelException(file + ": two initializers are named '" + t.getName() + "'");
            }
            tensor(t, file + ": initializer '" + t.getName() + "'");
        }
        Set<String> defined = new HashSet<>(inits.keySet());
        Map<String, Onnx.ValueInfoProto> inputs = new HashMap<>();
        for (Onnx.ValueInfoProto in : graph.getInputList()) {
            defined.add(in.getName());
            inputs.put(in.getName(), in);
        }
        if (model.getIrVersion() < 4) {
            for (Onnx.TensorProto t : graph.getInitializerList()) { // in the file's order: the first one named
                String name = t.getName();
                if (!inputs.containsKey(name)) {
                    throw new ModelException(file + ": IR version " + model.getIrVersion() + " requires every initializer "
                            + "to be a graph input too, and '" + name + "' is not");
                }
            }
        }
        // the ONNX checker requires a shape (possibly of no dimensions) on every tensor input and output of the graph
        for (Onnx.ValueInfoProto v : graph.getInputList()) {
            shapeGiven(v, file + ": graph input '" + v.getName() + "'");
        }
        for (Onnx.ValueInfoProto v : graph.getOutputList()) {
            shapeGiven(v, file + ": graph output '" + v.getName() + "'");
        }
        for (int i = 0; i < graph.getNodeCount(); i++) {
            Onnx.NodeProto node = graph.getNode(i);
            String where = file + ": node '" + (node.getName().isEmpty() ? "#" + i : node.getName()) + "' ("
                    + (node.getOpType().isEmpty() ? "no op type" : node.getOpType()) + ")";
            if (node.getOpType().isEmpty()) {
                throw new ModelException(where + ": has no operator type");
            }
            for (String in : node.getInputList()) {
                if (!in.isEmpty() && !defined.contains(in)) {
                    throw new ModelException(where + ": reads '" + in + "', which is not a graph input, an initializer "
                            + "or the output of an earlier node");
                }
            }
            attributes(node, where, inits, inputs);
            for (String out : node.getOutputList()) {
                if (!out.isEmpty() && !defined.add(out)) {
                    throw new ModelException(where + ": writes '" + out + "', which is already defined");
                }
            }
        }
        for (Onnx.ValueInfoProto out : graph.getOutputList()) {
            if (!defined.contains(out.getName())) {
                throw new ModelException(file + ": graph output '" + out.getName() + "' is produced by no node");
            }
        }
    }

    /** Bytes per element of a fixed-width type; 0 for strings, -1 for 4-bit types (two per byte), -2 when unknown. */
    static int elementSize(int dataType) {
        return switch (dataType) {
            case 2, 3, 9, 17, 18, 19, 20 -> 1; // uint8, int8, bool, float8 variants
            case 4, 5, 10, 16 -> 2; // uint16, int16, float16, bfloat16
            case 1, 6, 12 -> 4; // float, int32, uint32
            case 7, 11, 13, 14 -> 8; // int64, double, uint64, complex64
            case 15 -> 16; // complex128
            case 8 -> 0; // string
            case 21, 22, 23 -> -1; // uint4, int4, float4e2m1
            default -> -2;
        };
    }

    /** The byte size of a fixed-width tensor's data, or -1 for strings. */
    static long byteSize(Onnx.TensorProto t, String what) {
        long count = elementCount(t, what);
        int size = elementSize(t.getDataType());
        if (size == -2) {
            throw new ModelException(what + ": unknown element type " + t.getDataType());
        }
        if (size == 0) {
            return -1;
        }
        if (size == -1) {
            return (count + 1) / 2;
        }
        try {
            return Math.multiplyExact(count, size);
        } catch (ArithmeticException e) {
            throw new ModelException(what + ": shape " + t.getDimsList() + " has too many elements");
        }
    }

    static long elementCount(Onnx.TensorProto t, String what) {
        long count = 1;
        for (long d : t.getDimsList()) {
            if (d < 0) {
                throw new ModelException(what + ": negative dimension " + d + " in shape " + t.getDimsList());
            }
            try {
                count = Math.multiplyExact(count, d);
            } catch (ArithmeticException e) {
                throw new ModelException(what + ": shape " + t.getDimsList() + " has too many elements");
            }
        }
        return count;
    }

    /** Shape, data size and finiteness of one tensor whose data is in the message ({@code raw_data} or typed). */
    static void tensor(Onnx.TensorProto t, String what) {
        if (t.getDataType() == 0) {
            throw new ModelException(what + ": no element type");
        }
        long count = elementCount(t, what);
        long bytes = byteSize(t, what);
        if (t.getDataLocation() == Onnx.TensorProto.DataLocation.EXTERNAL) {
            throw new ModelException(what + ": external data not loaded");
        }
        if (bytes < 0) {
            if (t.getStringDataCount() != count) {
                throw new ModelException(what + ": holds " + t.getStringDataCount() + " strings, its shape "
                        + t.getDimsList() + " says " + count);
            }
            return;
        }
        if (!t.getRawData().isEmpty() || count == 0) {
            if (t.getRawData().size() != bytes) {
                throw new ModelException(what + ": raw data holds " + t.getRawData().size() + " bytes, its shape "
                        + t.getDimsList() + " and type need " + bytes);
            }
        } else {
            long found = typedCount(t);
            long expected = switch (t.getDataType()) {
                case 14, 15 -> 2 * count; // complex: real and imaginary parts
                case 21, 22, 23 -> (count + 1) / 2; // two 4-bit values per int32
                default -> count;
            };
            if (found != expected) {
                throw new ModelException(what + ": holds " + found + " values, its shape " + t.getDimsList() + " says "
                        + expected);
            }
        }
        finite(t, what);
    }

    private static long typedCount(Onnx.TensorProto t) {
        return switch (t.getDataType()) {
            case 1, 14 -> t.getFloatDataCount();
            case 7 -> t.getInt64DataCount();
            case 11, 15 -> t.getDoubleDataCount();
            case 12, 13 -> t.getUint64DataCount();
            default -> t.getInt32DataCount();
        };
    }

    /** Refuses NaN and infinities in float, double, float16 and bfloat16 tensors. */
    private static void finite(Onnx.TensorProto t, String what) {
        int type = t.getDataType();
        boolean raw = !t.getRawData().isEmpty();
        ByteBuffer buf = raw ? t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN) : null;
        if (type == Weights.FLOAT) {
            int n = raw ? buf.remaining() / 4 : t.getFloatDataCount();
            for (int i = 0; i < n; i++) {
                float v = raw ? buf.getFloat(4 * i) : t.getFloatData(i);
                if (!Float.isFinite(v)) {
                    throw nonFinite(what, v, i);
                }
            }
        } else if (type == Weights.DOUBLE) {
            int n = raw ? buf.remaining() / 8 : t.getDoubleDataCount();
            for (int i = 0; i < n; i++) {
                double v = raw ? buf.getDouble(8 * i) : t.getDoubleData(i);
                if (!Double.isFinite(v)) {
                    throw nonFinite(what, v, i);
                }
            }
        } else if (type == 10 || type == 16) { // float16, bfloat16: all exponent bits set is Inf or NaN
            int mask = type == 10 ? 0x7C00 : 0x7F80;
            int n = raw ? buf.remaining() / 2 : t.getInt32DataCount();
            for (int i = 0; i < n; i++) {
                int bits = raw ? buf.getShort(2 * i) & 0xFFFF : t.getInt32Data(i) & 0xFFFF;
                if ((bits & mask) == mask) {
                    throw new ModelException(what + ": non-finite value (Inf or NaN) at index " + i);
                }
            }
        }
    }

    private static ModelException nonFinite(String what, double v, int index) {
        return new ModelException(what + ": non-finite value " + v + " at index " + index);
    }

    private static void attributes(Onnx.NodeProto node, String where, Map<String, Onnx.TensorProto> inits,
                                   Map<String, Onnx.ValueInfoProto> inputs) {
        String op = node.getOpType();
        if (!node.getDomain().isEmpty() && !node.getDomain().equals("ai.onnx")) {
            return;
        }
        if (CONVOLUTIONS.contains(op) || POOLS.contains(op)) {
            window(node, where, inits, inputs);
        } else if (op.equals("Gemm")) {
            for (String name : List.of("alpha", "beta")) {
                Onnx.AttributeProto a = attribute(node, name);
                if (a != null && !Float.isFinite(a.getF())) {
                    throw new ModelException(where + ": attribute " + name + " = " + a.getF() + " is not finite");
                }
            }
            for (String name : List.of("transA", "transB")) {
                Onnx.AttributeProto a = attribute(node, name);
                if (a != null && a.getI() != 0 && a.getI() != 1) {
                    throw new ModelException(where + ": attribute " + name + " = " + a.getI() + ", expected 0 or 1");
                }
            }
            for (int i = 0; i < Math.min(2, node.getInputCount()); i++) {
                Onnx.TensorProto t = inits.get(node.getInput(i));
                if (t != null && t.getDimsCount() != 2) {
                    throw new ModelException(where + ": operand '" + t.getName() + "' has rank " + t.getDimsCount()
                            + ", Gemm needs a matrix");
                }
            }
            if (node.getInputCount() > 2) {
                Onnx.TensorProto c = inits.get(node.getInput(2));
                if (c != null && c.getDimsCount() > 2) {
                    throw new ModelException(where + ": bias '" + c.getName() + "' has rank " + c.getDimsCount()
                            + ", Gemm takes at most 2");
                }
            }
        } else if (op.equals("MatMul")) {
            for (int i = 0; i < Math.min(2, node.getInputCount()); i++) {
                Onnx.TensorProto t = inits.get(node.getInput(i));
                if (t != null && t.getDimsCount() == 0) {
                    throw new ModelException(where + ": operand '" + t.getName() + "' is a scalar, MatMul needs rank >= 1");
                }
            }
        }
    }

    /** Convolution and pooling windows: the attributes whose bad values crash ONNX Runtime's kernels. */
    private static void window(Onnx.NodeProto node, String where, Map<String, Onnx.TensorProto> inits,
                               Map<String, Onnx.ValueInfoProto> inputs) {
        boolean conv = CONVOLUTIONS.contains(node.getOpType());
        long[] kernel = ints(node, "kernel_shape", where);
        int spatial = kernel != null ? kernel.length : -1;
        Onnx.TensorProto weight = conv && node.getInputCount() > 1 ? inits.get(node.getInput(1)) : null;
        if (weight != null) {
            if (weight.getDimsCount() < 3) {
                throw new ModelException(where + ": kernel '" + weight.getName() + "' has rank " + weight.getDimsCount()
                        + ", a convolution needs at least 3 (channels out, channels in, one spatial axis)");
            }
            long[] dims = weight.getDimsList().stream().mapToLong(Long::longValue).toArray();
            long[] spatialDims = Arrays.copyOfRange(dims, 2, dims.length);
            if (kernel != null && !Arrays.equals(kernel, spatialDims)) {
                throw new ModelException(where + ": attribute kernel_shape " + Arrays.toString(kernel)
                        + " does not match the kernel '" + weight.getName() + "' of shape " + Arrays.toString(dims));
            }
            spatial = spatialDims.length;
            for (long d : dims) {
                if (d == 0) {
                    throw new ModelException(where + ": kernel '" + weight.getName() + "' has an empty dimension, shape "
                            + Arrays.toString(dims));
                }
            }
        }
        if (!conv && kernel == null) {
            throw new ModelException(where + ": attribute kernel_shape is missing");
        }
        atLeast(kernel, "kernel_shape", 1, spatial, where);
        atLeast(ints(node, "strides", where), "strides", 1, spatial, where);
        atLeast(ints(node, "dilations", where), "dilations", 1, spatial, where);
        atLeast(ints(node, "pads", where), "pads", 0, spatial < 0 ? -1 : 2 * spatial, where);
        Onnx.AttributeProto autoPad = attribute(node, "auto_pad");
        if (autoPad != null && !AUTO_PADS.contains(autoPad.getS().toStringUtf8())) {
            throw new ModelException(where + ": attribute auto_pad '" + autoPad.getS().toStringUtf8()
                    + "' is not one of " + AUTO_PADS);
        }
        if (!conv) {
            return;
        }
        Onnx.AttributeProto groupAttr = attribute(node, "group");
        long group = groupAttr == null ? 1 : groupAttr.getI();
        if (group < 1) {
            throw new ModelException(where + ": attribute group = " + group + ", expected >= 1");
        }
        if (weight == null) {
            return;
        }
        boolean transpose = node.getOpType().equals("ConvTranspose");
        long first = weight.getDims(0);
        long second = weight.getDims(1);
        if (first % group != 0) {
            throw new ModelException(where + ": attribute group = " + group + " does not divide the kernel's "
                    + (transpose ? "input" : "output") + " channels (" + first + ")");
        }
        long channelsIn = transpose ? first : second * group;
        long channelsOut = transpose ? second * group : first;
        Onnx.ValueInfoProto x = inputs.get(node.getInput(0));
        if (x != null && x.getType().getTensorType().getShape().getDimCount() >= 2) {
            Onnx.TensorShapeProto.Dimension c = x.getType().getTensorType().getShape().getDim(1);
            if (c.hasDimValue() && c.getDimValue() != channelsIn) {
                throw new ModelException(where + ": input '" + x.getName() + "' has " + c.getDimValue()
                        + " channels, the kernel '" + weight.getName() + "' with group " + group + " reads " + channelsIn);
            }
        }
        if (node.getInputCount() > 2) {
            Onnx.TensorProto bias = inits.get(node.getInput(2));
            if (bias != null && (bias.getDimsCount() != 1 || bias.getDims(0) != channelsOut)) {
                throw new ModelException(where + ": bias '" + bias.getName() + "' has shape " + bias.getDimsList()
                        + ", expected [" + channelsOut + "]");
            }
        }
    }

    private static void atLeast(long[] values, String name, long min, int length, String where) {
        if (values == null) {
            return;
        }
        if (length >= 0 && values.length != length) {
            throw new ModelException(where + ": attribute " + name + " has " + values.length + " values, expected "
                    + length);
        }
        for (long v : values) {
            if (v < min) {
                throw new ModelException(where + ": attribute " + name + " = " + Arrays.toString(values)
                        + ", every value must be >= " + min);
            }
        }
    }

    private static long[] ints(Onnx.NodeProto node, String name, String where) {
        Onnx.AttributeProto a = attribute(node, name);
        if (a == null) {
            return null;
        }
        if (a.getType() != Onnx.AttributeProto.AttributeType.INTS) {
            throw new ModelException(where + ": attribute " + name + " is of type " + a.getType() + ", expected INTS");
        }
        return a.getIntsList().stream().mapToLong(Long::longValue).toArray();
    }

    private static Onnx.AttributeProto attribute(Onnx.NodeProto node, String name) {
        for (Onnx.AttributeProto a : node.getAttributeList()) {
            if (a.getName().equals(name)) {
                return a;
            }
        }
        return null;
    }
}
