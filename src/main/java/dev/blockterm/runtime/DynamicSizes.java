package dev.blockterm.runtime;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;
import java.util.function.Predicate;
import java.util.function.Supplier;
import onnx.Onnx;

/**
 * Sizes for the dynamic spatial axes of a convolutional model's inputs, found by running the model.
 * A chain of strided convolutions and poolings cannot take every size (a 2x2 pooling of a 1x1 map
 * fails, a flattened feature map must match the Gemm after it), so size 1 is no default there. The
 * candidates: the common image sizes that are multiples of the model's total stride {@code S} (the
 * largest product of Conv/Pool strides along any path), ascending, then {@code S, 2S, ..., 8S}; the
 * first size at which the model runs (batch 1) is kept; where none does, each axis takes its own
 * candidates from its own strides (a text recognizer's height is fixed by the network, its width is
 * free), the smallest areas first, at most {@link #MAX_TRIALS} of them. Only inputs of rank 3 or more in a model with
 * Conv or Pool nodes have spatial axes (every dynamic axis but the first, the batch); other dynamic
 * axes are left to the caller.
 */
final class DynamicSizes {

    /** Sizes images come in. */
    static final long[] COMMON = {32, 48, 64, 96, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 1024};

    private static final Set<String> STRIDED = Set.of("Conv", "ConvInteger", "QLinearConv", "MaxPool", "AveragePool",
            "LpPool");

    private DynamicSizes() {
    }

    /**
     * {@code shapes} (name to shape, -1 where dynamic) with every dynamic spatial axis set to the first
     * candidate size at which {@code runs} says the model runs; the same when there is none to set.
     *
     * @param graph the model's graph (null where not known: nothing is sized), read only when there are
     *              spatial axes to size
     * @throws InputShapes.Unresolved when the model runs at no candidate
     */
    static Map<String, long[]> resolve(Map<String, long[]> shapes, Supplier<Onnx.GraphProto> graph,
                                       Predicate<Map<String, long[]>> runs, String label) {
        String first = null;
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            if (first == null && !spatialAxes(e.getValue()).isEmpty()) {
                first = e.getKey();
            }
        }
        if (first == null) {
            return shapes;
        }
        Onnx.GraphProto g = graph.get();
        if (g == null || !hasStridedOps(g)) {
            return shapes; // no image model (or not known): its dynamic axes are the caller's (rows, as always)
        }
        List<Long> candidates = candidates(stride(g));
        for (long size : candidates) {
            Map<String, long[]> trial = withSpatial(shapes, size);
            if (runs.test(trial)) {
                return trial;
            }
        }
        // axes that take different sizes (a text recognizer: its height fixed by the network, its width free):
        // each axis its own candidates, from its own strides, smallest areas first
        int axes = spatialAxes(shapes.get(first)).size();
        if (axes >= 2) {
            List<List<Long>> perAxis = new ArrayList<>();
            for (int k = 0; k < axes; k++) {
                perAxis.add(candidates(stride(g, k)));
            }
            for (long[] sizes : combinations(perAxis, MAX_TRIALS)) {
                Map<String, long[]> trial = withSpatial(shapes, sizes);
                if (runs.test(trial)) {
                    return trial;
                }
            }
        }
        long[] shape = shapes.get(first);
        long[] example = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            example[i] = shape[i] > 0 ? shape[i] : i == 0 ? 1 : 224;
        }
        throw new InputShapes.Unresolved(label + ": input '" + first + "' has dynamic dimensions "
                + InputShapes.describe(shape) + " and the model runs at none of the sizes tried for them ("
                + sizes(candidates) + ", and per axis); give its size with --input-shape " + first + "=" + InputShapes.join(example));
    }

    /** The axes of a shape sized here: every dynamic one but the first, in an input of rank 3 or more. */
    static List<Integer> spatialAxes(long[] shape) {
        List<Integer> axes = new ArrayList<>();
        for (int i = 1; shape.length >= 3 && i < shape.length; i++) {
            if (shape[i] < 1) {
                axes.add(i);
            }
        }
        return axes;
    }

    private static Map<String, long[]> withSpatial(Map<String, long[]> shapes, long size) {
        Map<String, long[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long[] s = e.getValue().clone();
            for (int axis : spatialAxes(s)) {
                s[axis] = size;
            }
            out.put(e.getKey(), s);
        }
        return out;
    }

    /** Per-axis sizes tried at most, after the square ones. */
    static final int MAX_TRIALS = 256;

    /** {@code shapes} with the k-th dynamic spatial axis of each input set to {@code sizes[k]} (the last for the rest). */
    private static Map<String, long[]> withSpatial(Map<String, long[]> shapes, long[] sizes) {
        Map<String, long[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long[] s = e.getValue().clone();
            List<Integer> axes = spatialAxes(s);
            for (int k = 0; k < axes.size(); k++) {
                s[axes.get(k)] = sizes[Math.min(k, sizes.length - 1)];
            }
            out.put(e.getKey(), s);
        }
        return out;
    }

    /** The combinations of one candidate per axis, smallest product first, at most {@code limit}. */
    static List<long[]> combinations(List<List<Long>> perAxis, int limit) {
        List<long[]> all = new ArrayList<>();
        int[] index = new int[perAxis.size()];
        while (true) {
            long[] c = new long[index.length];
            for (int k = 0; k < index.length; k++) {
                c[k] = perAxis.get(k).get(index[k]);
            }
            all.add(c);
            int k = index.length - 1;
            while (k >= 0 && ++index[k] == perAxis.get(k).size()) {
                index[k--] = 0;
            }
            if (k < 0 || all.size() > 4096) {
                break;
            }
        }
        all.sort(java.util.Comparator.comparingDouble(c -> {
            double p = 1;
            for (long x : c) {
                p *= x;
            }
            return p;
        }));
        return all.subList(0, Math.min(limit, all.size()));
    }


    static boolean hasStridedOps(Onnx.GraphProto graph) {
        for (Onnx.NodeProto n : graph.getNodeList()) {
            if (STRIDED.contains(n.getOpType())) {
                return true;
            }
        }
        return false;
    }

    /**
     * The total stride: the largest product of Conv/Pool strides along any path through the graph (its
     * nodes are in topological order, as ONNX requires), each node's largest stride counted.
     */
    static long stride(Onnx.GraphProto graph) {
        return stride(graph, strides -> {
            long own = 1;
            for (long s : strides.getIntsList()) {
                own = Math.max(own, s);
            }
            return own;
        });
    }

    /** The total stride along spatial axis {@code k} (the k-th entry of each node's strides). */
    static long stride(Onnx.GraphProto graph, int k) {
        return stride(graph, strides -> k < strides.getIntsCount() ? Math.max(strides.getInts(k), 1) : 1);
    }

    /** The largest product along any path of what {@code own} reads from each Conv/Pool node's strides. */
    private static long stride(Onnx.GraphProto graph, java.util.function.ToLongFunction<Onnx.AttributeProto> own) {
        Map<String, Long> reached = new HashMap<>();
        long most = 1;
        for (Onnx.NodeProto n : graph.getNodeList()) {
            long in = 1;
            for (String x : n.getInputList()) {
                in = Math.max(in, reached.getOrDefault(x, 1L));
            }
            long factor = 1;
            if (STRIDED.contains(n.getOpType())) {
                for (Onnx.AttributeProto a : n.getAttributeList()) {
                    if (a.getName().equals("strides")) {
                        factor = own.applyAsLong(a);
                    }
                }
            }
            long out = Math.min(in * factor, 1 << 12); // a deeper chain than any image takes: no candidate fits anyway
            for (String y : n.getOutputList()) {
                reached.put(y, out);
            }
            most = Math.max(most, out);
        }
        return most;
    }

    /** The common sizes that are multiples of {@code stride}, ascending, then {@code stride * 1..8}. */
    static List<Long> candidates(long stride) {
        List<Long> out = new ArrayList<>();
        for (long c : COMMON) {
            if (c % stride == 0) {
                out.add(c);
            }
        }
        for (long k = 1; k <= 8; k++) {
            if (!out.contains(stride * k)) {
                out.add(stride * k);
            }
        }
        return out;
    }

    private static String sizes(List<Long> candidates) {
        StringJoiner s = new StringJoiner(", ");
        candidates.forEach(c -> s.add(Long.toString(c)));
        return s.toString();
    }
}
