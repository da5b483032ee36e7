package dev.blockterm.compress;

import dev.blockterm.onnx.Graphs;
import dev.blockterm.onnx.Weights;
import dev.blockterm.report.LayerReport;
import dev.blockterm.rewrite.LinearRewriter;
import dev.blockterm.rewrite.QuantizedWeights;
import dev.blockterm.tensor.Matrix;
import java.util.List;
import java.util.function.Function;
import onnx.Onnx;

/**
 * The bits axis of a layer: its dense weight, or the factors of a point of its low-rank curve, stored
 * at a precision below the weight's own ({@link QuantizedPoints}: int8 per channel, int4 in groups,
 * float16), read back to float at load by standard ops ({@link QuantizedWeights}). Offered only where
 * the allocation counts bytes.
 *
 * @param layer  the layer and its curve (whose factors the factored points store)
 * @param stored the points, each with its bytes and its error in the layer's metric
 */
record BitsForm(FittedLayer layer, List<QuantizedPoints.Point> stored) implements Form {

    BitsForm {
        stored = List.copyOf(stored);
    }

    @Override
    public int points() {
        return stored.size();
    }

    @Override
    public Family family(int p) {
        return stored.get(p).rank() == 0 ? Family.DENSE : Family.LOW_RANK;
    }

    @Override
    public long size(int p, boolean inBytes) {
        return stored.get(p).bytes();
    }

    @Override
    public double error(int p) {
        return stored.get(p).error();
    }

    @Override
    public int rank(int p) {
        return stored.get(p).rank();
    }

    @Override
    public Matrix approximation(int p) {
        return QuantizedPoints.approximation(layer.weight().get(), layer.curve(), stored.get(p), layer.dataType(),
                layer.job().rowScales());
    }

    @Override
    public Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite(int p) {
        QuantizedPoints.Point b = stored.get(p);
        LayerJob job = layer.job();
        if (b.rank() == 0) {
            return job.denseRewrite(b.precision(), b.quantized());
        }
        return m -> QuantizedWeights.store(job.rewrite(layer.curve().factors(b.rank())).apply(m), job.name(),
                b.precision(), Graphs.opset(m));
    }

    /** The point storing the dense weight at {@code precision}, -1 where there is none. */
    int dense(dev.blockterm.quantize.Precision precision) {
        for (int p = 0; p < stored.size(); p++) {
            if (stored.get(p).rank() == 0 && stored.get(p).precision() == precision) {
                return p;
            }
        }
        return -1;
    }

    @Override
    public Compressor.LayerOutcome outcome(int p, String selection) {
        QuantizedPoints.Point bits = stored.get(p);
        LayerJob job = layer.job();
        FittedLayer.Distance distance = layer.distance(approximation(p));
        double outputError = Double.NaN;
        if (layer.sequential()) {
            outputError = bits.error(); // refitted: against the original outputs, from the compressed model's inputs
        } else if (layer.whitened()) {
            // the point's error is in the damped metric
            outputError = layer.outputError(bits.error() * bits.error() * layer.curve().total(), distance);
        }
        int r = bits.rank();
        String precision = bits.precision().label(Weights.width(layer.dataType()));
        String layout = r == 0 ? (layer.sequential() ? "dense sequential" : "dense") : layer.sequential()
                ? "low-rank sequential" : layer.whitened() ? "low-rank whitened" : "low-rank";
        String tensorization = r == 0 ? job.shape() : layer.tensorization(r);
        long params = r == 0 ? job.parameters() : (long) r * (job.rows() + job.cols());
        LayerReport report = new LayerReport(job.name(), job.op(), job.shape(), true, null, layout, tensorization, false,
                1, r == 0 ? "-" : Integer.toString(r), job.parameters(), params, distance.relative(), outputError, 0, true,
                layer.seconds(), job.flops(0), job.flops(r), List.of(), selection, job instanceof LayerJob.Stored, null)
                .withPrecision(precision).withBytes(layer.denseBytes(), bits.bytes());
        return new Compressor.LayerOutcome(job.nodeIndex(), job.weightName(), report, null, rewrite(p), job.timed());
    }
}
