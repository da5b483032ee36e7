package dev.blockterm.fuzz;

import dev.blockterm.onnx.ModelFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import onnx.Onnx;
import org.nd4j.shade.protobuf.ByteString;

/**
 * Seeded, protobuf-aware mutations of a model: each writes one mutant into a case folder (the model,
 * and its external data file where the mutation needs one) and says what it changed.
 */
final class Mutations {

    /** One mutant: the model file in its folder, and what was done to it. */
    record Mutant(Path model, String description) {
    }

    private static final long[] DIMS = {-1, -128, 0, 1L << 40, Long.MAX_VALUE, 3};
    private static final int[] TYPES = {0, 2, 3, 6, 7, 9, 10, 11, 16, 99};
    private static final long[] OPSETS = {-1, 0, 1, 6, 7, 9, 11, 13, 17, 21, 22, 99};
    private static final long[] IR_VERSIONS = {0, 1, 2, 3, 4, 7, 10, 11, 99};

    private final Random random;
    private final Path sentinel;

    /** @param sentinel a file outside every case's model folder whose bytes must never reach an output */
    Mutations(long seed, Path sentinel) {
        this.random = new Random(seed);
        this.sentinel = sentinel;
    }

    /** Writes mutant number {@code index} of {@code original} as {@code folder/m.onnx}. */
    Mutant make(Onnx.ModelProto original, Path folder) throws IOException {
        Path model = folder.resolve("m.onnx");
        int kind = random.nextInt(15);
        Onnx.ModelProto.Builder m = original.toBuilder();
        Onnx.GraphProto.Builder g = m.getGraphBuilder();
        String what;
        switch (kind) {
            case 0 -> {
                int i = random.nextInt(g.getInitializerCount());
                Onnx.TensorProto.Builder t = g.getInitializerBuilder(i);
                if (t.getDimsCount() == 0) {
                    t.addDims(2);
                } else {
                    t.setDims(random.nextInt(t.getDimsCount()), DIMS[random.nextInt(DIMS.length)]);
                }
                what = "dims of " + t.getName() + " -> " + t.getDimsList();
            }
            case 1 -> {
                Onnx.TensorProto.Builder t = g.getInitializerBuilder(random.nextInt(g.getInitializerCount()));
                t.setDataType(TYPES[random.nextInt(TYPES.length)]);
                what = "data type of " + t.getName() + " -> " + t.getDataType();
            }
            case 2 -> {
                Onnx.TensorProto.Builder t = g.getInitializerBuilder(random.nextInt(g.getInitializerCount()));
                ByteString raw = t.getRawData();
                if (random.nextBoolean() && raw.size() > 0) {
                    t.setRawData(raw.substring(0, random.nextInt(raw.size())));
                    what = "raw data of " + t.getName() + " truncated";
                } else {
                    t.setRawData(raw.concat(ByteString.copyFrom(new byte[1 + random.nextInt(16)])));
                    what = "raw data of " + t.getName() + " extended";
                }
            }
            case 3 -> what = attribute(g);
            case 4 -> {
                Onnx.NodeProto.Builder n = g.getNodeBuilder(random.nextInt(g.getNodeCount()));
                if (n.getInputCount() == 0) {
                    n.addInput("undefined_value");
                } else {
                    n.setInput(random.nextInt(n.getInputCount()), random.nextBoolean() ? "" : "undefined_value");
                }
                what = "an input of node " + n.getName() + " -> " + n.getInputList();
            }
            case 5 -> {
                return external(m.build(), folder, model);
            }
            case 6 -> {
                Onnx.TensorProto t = g.getInitializer(random.nextInt(g.getInitializerCount()));
                if (random.nextBoolean()) {
                    g.addInitializer(t);
                    what = "initializer " + t.getName() + " twice";
                } else {
                    String layer = g.getNode(random.nextInt(g.getNodeCount())).getName();
                    String name = layer + (random.nextBoolean() ? ".bt.core" : ".bt.factor0");
                    g.addInitializer(t.toBuilder().setName(name));
                    what = "an extra initializer named like ours: " + name;
                }
            }
            case 7 -> {
                if (random.nextBoolean()) {
                    long v = OPSETS[random.nextInt(OPSETS.length)];
                    m.setOpsetImport(0, m.getOpsetImport(0).toBuilder().setVersion(v));
                    what = "opset -> " + v;
                } else {
                    long v = IR_VERSIONS[random.nextInt(IR_VERSIONS.length)];
                    m.setIrVersion(v);
                    what = "IR version -> " + v;
                }
            }
            case 8, 9 -> {
                byte[] bytes = m.build().toByteArray();
                int flips = 1 + random.nextInt(8);
                for (int f = 0; f < flips; f++) {
                    bytes[random.nextInt(bytes.length)] ^= (byte) (1 << random.nextInt(8));
                }
                Files.write(model, bytes);
                return new Mutant(model, flips + " random bit flips");
            }
            case 10 -> {
                Onnx.TensorProto.Builder t = g.getInitializerBuilder(random.nextInt(g.getInitializerCount()));
                if (t.getDataType() == 1 && t.getRawData().size() >= 4) {
                    byte[] raw = t.getRawData().toByteArray();
                    int at = 4 * random.nextInt(raw.length / 4);
                    int bits = Float.floatToIntBits(random.nextBoolean() ? Float.NaN : Float.NEGATIVE_INFINITY);
                    for (int b = 0; b < 4; b++) {
                        raw[at + b] = (byte) (bits >>> (8 * b));
                    }
                    t.setRawData(ByteString.copyFrom(raw));
                }
                what = "a non-finite value in " + t.getName();
            }
            case 11 -> {
                Onnx.NodeProto.Builder n = g.getNodeBuilder(random.nextInt(g.getNodeCount()));
                String[] ops = {"MatMul", "Gemm", "Conv", "Relu", "Add", "NoSuchOp", ""};
                n.setOpType(ops[random.nextInt(ops.length)]);
                what = "op type of " + n.getName() + " -> '" + n.getOpType() + "'";
            }
            case 12 -> {
                int i = random.nextInt(g.getNodeCount());
                what = "node " + g.getNode(i).getName() + " removed";
                g.removeNode(i);
            }
            case 13 -> {
                byte[] bytes = m.build().toByteArray();
                int cut = random.nextInt(bytes.length);
                Files.write(model, java.util.Arrays.copyOf(bytes, cut));
                return new Mutant(model, "truncated to " + cut + " bytes");
            }
            default -> {
                Onnx.TensorProto.Builder t = g.getInitializerBuilder(random.nextInt(g.getInitializerCount()));
                if (t.getDimsCount() > 1) {
                    long a = t.getDims(0);
                    t.setDims(0, t.getDims(1)).setDims(1, a);
                }
                what = "dims of " + t.getName() + " swapped";
            }
        }
        Files.write(model, m.build().toByteArray());
        return new Mutant(model, what);
    }

    private String attribute(Onnx.GraphProto.Builder g) {
        List<Integer> windows = new ArrayList<>();
        List<Integer> gemms = new ArrayList<>();
        for (int i = 0; i < g.getNodeCount(); i++) {
            String op = g.getNode(i).getOpType();
            if (op.equals("Conv") || op.endsWith("Pool")) {
                windows.add(i);
            } else if (op.equals("Gemm")) {
                gemms.add(i);
            }
        }
        if (!windows.isEmpty() && (gemms.isEmpty() || random.nextBoolean())) {
            Onnx.NodeProto.Builder n = g.getNodeBuilder(windows.get(random.nextInt(windows.size())));
            Onnx.AttributeProto a = switch (random.nextInt(6)) {
                case 0 -> ints("strides", 0, 1);
                case 1 -> ints("dilations", 1, 0);
                case 2 -> ints("pads", 0, -1, 0, 0);
                case 3 -> ints("kernel_shape", 7, 7);
                case 4 -> Onnx.AttributeProto.newBuilder().setName("group").setType(Onnx.AttributeProto.AttributeType.INT)
                        .setI(random.nextInt(3) - 1 + (random.nextBoolean() ? 0 : 3)).build();
                default -> ints("strides", 1, 1, 1);
            };
            set(n, a);
            return "attribute " + a.getName() + " of " + n.getName() + " -> " + (a.getIntsCount() > 0 ? a.getIntsList() : a.getI());
        }
        if (gemms.isEmpty()) {
            return "no attribute to change";
        }
        Onnx.NodeProto.Builder n = g.getNodeBuilder(gemms.get(random.nextInt(gemms.size())));
        float[] values = {Float.NaN, Float.POSITIVE_INFINITY, 0f, -1f, 1e38f};
        Onnx.AttributeProto a = random.nextInt(3) == 0
                ? Onnx.AttributeProto.newBuilder().setName(random.nextBoolean() ? "transA" : "transB")
                        .setType(Onnx.AttributeProto.AttributeType.INT).setI(random.nextInt(4)).build()
                : Onnx.AttributeProto.newBuilder().setName(random.nextBoolean() ? "alpha" : "beta")
                        .setType(Onnx.AttributeProto.AttributeType.FLOAT).setF(values[random.nextInt(values.length)]).build();
        set(n, a);
        return "attribute " + a.getName() + " of " + n.getName() + " -> " + (a.getType() == Onnx.AttributeProto.AttributeType.FLOAT ? a.getF() : a.getI());
    }

    private static void set(Onnx.NodeProto.Builder n, Onnx.AttributeProto a) {
        for (int i = 0; i < n.getAttributeCount(); i++) {
            if (n.getAttribute(i).getName().equals(a.getName())) {
                n.setAttribute(i, a);
                return;
            }
        }
        n.addAttribute(a);
    }

    private static Onnx.AttributeProto ints(String name, long... v) {
        Onnx.AttributeProto.Builder a = Onnx.AttributeProto.newBuilder().setName(name).setType(Onnx.AttributeProto.AttributeType.INTS);
        for (long x : v) {
            a.addInts(x);
        }
        return a.build();
    }

    /** The model with its weights in m.onnx.data, one entry of one tensor damaged (or none: a valid external model). */
    private Mutant external(Onnx.ModelProto model, Path folder, Path file) throws IOException {
        ModelFiles.write(model, file, null, 0);
        Onnx.ModelProto.Builder m = Onnx.ModelProto.parseFrom(Files.readAllBytes(file)).toBuilder();
        Onnx.GraphProto.Builder g = m.getGraphBuilder();
        List<Integer> external = new ArrayList<>();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            if (g.getInitializer(i).getExternalDataCount() > 0) {
                external.add(i);
            }
        }
        if (external.isEmpty()) {
            return new Mutant(file, "external data (nothing large enough)");
        }
        Onnx.TensorProto.Builder t = g.getInitializerBuilder(external.get(random.nextInt(external.size())));
        String what;
        int choice = random.nextInt(10);
        switch (choice) {
            case 0 -> what = entry(t, "location", "../" + sentinel.getFileName());
            case 1 -> what = entry(t, "location", sentinel.toAbsolutePath().toString());
            case 2 -> {
                Files.createSymbolicLink(folder.resolve("link.data"), sentinel.toAbsolutePath());
                what = entry(t, "location", "link.data");
            }
            case 3 -> what = entry(t, "location", "missing.data");
            case 4 -> what = entry(t, "offset", "abc");
            case 5 -> what = entry(t, "offset", Long.toString(1L << 40));
            case 6 -> {
                for (int i : external) { // every length left out: valid, each tensor its own size
                    Onnx.TensorProto.Builder e = g.getInitializerBuilder(i);
                    List<Onnx.StringStringEntryProto> keep = new ArrayList<>();
                    for (Onnx.StringStringEntryProto x : e.getExternalDataList()) {
                        if (!x.getKey().equals("length")) {
                            keep.add(x);
                        }
                    }
                    e.clearExternalData().addAllExternalData(keep);
                }
                what = "external data without lengths";
            }
            case 7 -> what = entry(t, "length", Long.toString(random.nextInt(5000)));
            case 8 -> what = entry(t, "location", "");
            default -> what = "external data, unchanged";
        }
        Files.write(file, m.build().toByteArray());
        return new Mutant(file, "external data: " + what + " (" + t.getName() + ")");
    }

    private static String entry(Onnx.TensorProto.Builder t, String key, String value) {
        for (int i = 0; i < t.getExternalDataCount(); i++) {
            if (t.getExternalData(i).getKey().equals(key)) {
                t.setExternalData(i, t.getExternalData(i).toBuilder().setValue(value));
                return key + " = '" + value + "'";
            }
        }
        t.addExternalData(Onnx.StringStringEntryProto.newBuilder().setKey(key).setValue(value));
        return key + " = '" + value + "' (added)";
    }
}
