package dev.blockterm.rewrite;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.onnx.TinyModels;
import dev.blockterm.onnx.Weights;
import dev.blockterm.quantize.Precision;
import dev.blockterm.quantize.Quantizer;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import onnx.Onnx;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A weight stored at each precision and read back by the emitted nodes: what ONNX Runtime computes
 * with it equals {@code x} times the dequantized matrix computed here by plain loops from the
 * quantized values and scales, at an opset with DequantizeLinear and one without, in both layouts,
 * with sizes that need int4 padding (70 inputs: a group of 64 and one of 6) and an odd value count;
 * each graph passes the ONNX checker where Debian's python3-onnx is installed.
 */
class QuantizedWeightsTest {

    @ParameterizedTest
    @CsvSource({"13,INT8,false,1", "7,INT8,false,", "13,INT8,false,", "13,INT8,true,", "11,INT8,true,", "11,INT4,false,",
            "13,INT4,true,", "7,INT4,false,", "17,INT4,false,1", "11,HALF,false,", "13,HALF,true,"})
    void onnxRuntimeComputesTheDequantizedWeight(long opset, Precision p, boolean transB, Integer outputs) {
        int in = 70;
        int out = outputs == null ? 9 : outputs;
        double[] w = TinyModels.gaussian(in * out, 5); // the matrix I x J, row-major
        long[] dims = transB ? new long[] {out, in} : new long[] {in, out};
        double[] stored = transB ? transpose(w, in, out) : w;
        QuantizedWeights.Layout layout = transB ? QuantizedWeights.Layout.CHANNEL_FIRST
                : QuantizedWeights.Layout.CHANNEL_LAST;
        GraphBuilder g = new GraphBuilder("fc", opset);
        String v = QuantizedWeights.emit(g, "w", dims, stored, layout, p, Weights.FLOAT);
        List<Onnx.NodeProto> nodes = new ArrayList<>(g.nodes());
        nodes.add(transB ? Onnx.NodeProto.newBuilder().setOpType("Gemm").setName("fc").addInput("x").addInput(v)
                .addOutput("y").addAttribute(TinyModels.intAttr("transB", 1)).build()
                : Onnx.NodeProto.newBuilder().setOpType("MatMul").setName("fc").addInput("x").addInput(v).addOutput("y")
                .build());
        Onnx.ModelProto model = TinyModels.model(opset, List.of(TinyModels.input("x", 3, in)),
                List.of(TinyModels.input("y", 3, out)), nodes, g.initializers());

        double[] deq = Quantizer.roundTrip(w, in, out, p);
        double[] x = TinyModels.gaussian(3 * in, 9);
        double[] expected = new double[3 * out];
        for (int b = 0; b < 3; b++) {
            for (int j = 0; j < out; j++) {
                double s = 0;
                for (int i = 0; i < in; i++) {
                    s += x[b * in + i] * deq[i * out + j];
                }
                expected[b * out + j] = s;
            }
        }
        double[] got;
        try (ModelRunner r = new ModelRunner(model.toByteArray(), "quantized", 1)) {
            got = r.run(Map.of("x", new NpyArray(new long[] {3, in}, x, "<f4"))).get("y").values();
        }
        for (int k = 0; k < expected.length; k++) {
            assertEquals(expected[k], got[k], 1e-4 * (1 + Math.abs(expected[k])), "output " + k);
        }
        // and the ONNX checker (full check, shape inference) takes the graph at its opset
        try {
            java.nio.file.Path file = java.nio.file.Files.createTempFile("quantized", ".onnx");
            try {
                java.nio.file.Files.write(file, model.toByteArray());
                dev.blockterm.cli.CompressEndToEndTest.assertChecked(file);
            } finally {
                java.nio.file.Files.deleteIfExists(file);
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        // the storage is what the byte count says (shapes and scalars aside), and far from the float weight's
        long bytes = g.initializers().stream().filter(t -> t.getDataType() != Weights.INT64 && t.getDimsCount() > 0)
                .mapToLong(t -> t.getRawData().size()).sum();
        assertEquals(QuantizedWeights.bytes(dims, layout, p, Weights.FLOAT), bytes);
        double err = 0;
        double norm = 0;
        for (int k = 0; k < w.length; k++) {
            err += (w[k] - deq[k]) * (w[k] - deq[k]);
            norm += w[k] * w[k];
        }
        double bound = p == Precision.INT4 ? 0.15 : p == Precision.INT8 ? 0.01 : 1e-3;
        assertTrue(Math.sqrt(err / norm) < bound, p + ": relative error " + Math.sqrt(err / norm));
        assertTrue(Math.sqrt(err / norm) > 0, "a lower precision changes the values");
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
}
