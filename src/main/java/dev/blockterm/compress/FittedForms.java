package dev.blockterm.compress;

import dev.blockterm.onnx.Weights;
import dev.blockterm.report.LayerReport;
import dev.blockterm.rewrite.LinearRewriter;
import dev.blockterm.tensor.Matrix;
import java.util.List;
import java.util.function.Function;
import onnx.Onnx;

/**
 * The points of a layer's forms fitted one by one rather than read off a curve: block terms on other
 * tensorizations of the weight ({@link BlockTermPoints}), a convolution's spatial SVD and block-term
 * chain ({@link ConvForms}), each at the weight's own float type.
 *
 * @param layer  the layer they were fitted for
 * @param fitted the points, each with its report's words, error, factors and rewrite
 */
record FittedForms(FittedLayer layer, List<FormPoint> fitted) implements Form {

    FittedForms {
        fitted = List.copyOf(fitted);
    }

    @Override
    public int points() {
        return fitted.size();
    }

    @Override
    public Family family(int p) {
        return fitted.get(p).family();
    }

    @Override
    public long size(int p, boolean inBytes) {
        return fitted.get(p).parameters() * (inBytes ? Weights.width(layer.dataType()) : 1);
    }

    @Override
    public double error(int p) {
        return fitted.get(p).error();
    }

    @Override
    public int rank(int p) {
        return 0;
    }

    @Override
    public Matrix approximation(int p) {
        return fitted.get(p).approximation().get();
    }

    @Override
    public Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite(int p) {
        return fitted.get(p).rewrite();
    }

    @Override
    public Compressor.LayerOutcome outcome(int p, String selection) {
        LayerJob job = layer.job();
        FormPoint point = fitted.get(p);
        LayerReport report = new LayerReport(job.name(), job.op(), job.shape(), true, null, point.layout(),
                point.tensorization(), false, point.blocks(), point.ranksText(), job.parameters(), point.parameters(),
                point.weightError(), point.outputError(), point.sweeps(), point.converged(), layer.seconds(),
                job.flops(0), point.flops(), List.of(), selection, job instanceof LayerJob.Stored, null);
        return new Compressor.LayerOutcome(job.nodeIndex(), job.weightName(), report, point.fit(), point.rewrite(),
                job.timed());
    }
}
