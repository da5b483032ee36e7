package dev.blockterm.compress;

import dev.blockterm.decompose.BlockTerm;
import dev.blockterm.decompose.TensorTrain;
import dev.blockterm.onnx.ConvLayer;
import dev.blockterm.onnx.LinearLayer;
import dev.blockterm.onnx.StoredWeight;
import dev.blockterm.rewrite.ConvRewriter;
import dev.blockterm.rewrite.LinearRewriter;
import dev.blockterm.rewrite.QuantizedWeights;
import dev.blockterm.rewrite.WeightRebuilder;
import dev.blockterm.tensor.Matrix;
import dev.blockterm.tensor.Tensorization;
import java.util.List;
import java.util.function.Function;
import onnx.Onnx;

/**
 * A selected layer read as a matrix {@code I x J} (what {@link CurveCompression} decides over), with
 * the way a low-rank or block-term form of it replaces it in the graph. One kind per record.
 */
sealed interface LayerJob extends java.io.Serializable permits LayerJob.Linear, LayerJob.Conv, LayerJob.Stored,
        LayerJob.Embedding {
    String name();

    String op();

    String shape();

    int rows();

    int cols();

    int nodeIndex();

    String weightName();

    default long parameters() {
        return (long) rows() * cols();
    }

    /** FLOPs per sample (per output position for a convolution; 0 for a weight rebuilt at load). */
    double flops(int rank);

    Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite(Matrix[] factors);

    /** The rewrite for a block term on another tensorization of the matrix; null where the kind has none. */
    Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite(Tensorization tz, BlockTerm bt);

    /** Whether the weight's rows are its channels at lower precision (a looked-up table: one scale a row). */
    default boolean rowScales() {
        return false;
    }

    /**
     * The rewrite that keeps the layer dense with its weight stored at {@code p} (read back at load), its
     * values as {@code given} where they were quantized already (else null).
     */
    Function<Onnx.ModelProto, LinearRewriter.Replacement> denseRewrite(dev.blockterm.quantize.Precision p,
                                                                       dev.blockterm.quantize.Quantized given);

    /** FLOPs per sample of a block term on another tensorization (0 for a weight rebuilt at load). */
    double flops(Tensorization tz, Candidates.Candidate c);

    Compressor.Timed timed();

    /** The layer's weight as the matrix {@code I x J} decided over, read from its tensor. */
    Matrix matrix(Onnx.TensorProto tensor);

    /** A fully connected layer: its weight as it multiplies, {@code I x J}. */
    record Linear(LinearLayer layer, long batch) implements LayerJob {
        public String name() {
            return layer.name();
        }

        public String op() {
            return layer.op();
        }

        public String shape() {
            return layer.weightShape();
        }

        public int rows() {
            return layer.inputSize();
        }

        public int cols() {
            return layer.outputSize();
        }

        public int nodeIndex() {
            return layer.nodeIndex();
        }

        public String weightName() {
            return layer.weightName();
        }

        public double flops(int rank) {
            return rank == 0 ? 2.0 * parameters() : 2.0 * rank * (rows() + cols());
        }

        public Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite(Matrix[] f) {
            return m -> LinearRewriter.rewrite(m, layer, plain(layer.inputSize(), layer.outputSize()), train(f), batch);
        }

        public Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite(Tensorization tz, BlockTerm bt) {
            return m -> LinearRewriter.rewrite(m, layer, tz, bt, batch);
        }

        public Function<Onnx.ModelProto, LinearRewriter.Replacement> denseRewrite(dev.blockterm.quantize.Precision p,
                                                                              dev.blockterm.quantize.Quantized given) {
            QuantizedWeights.Layout layout = layer.transposed() ? QuantizedWeights.Layout.CHANNEL_FIRST
                    : QuantizedWeights.Layout.CHANNEL_LAST;
            return m -> denseNode(m, layer.nodeIndex(), layer.weightName(), layout, p, given);
        }

        public double flops(Tensorization tz, Candidates.Candidate c) {
            return LinearRewriter.plan(layer, tz, false, c.blocks(), c.ranks(), batch).flopsPerSample();
        }

        public Matrix matrix(Onnx.TensorProto tensor) {
            return new Matrix(rows(), cols(), dev.blockterm.onnx.Graphs.weightMatrix(layer, tensor));
        }

        public Compressor.Timed timed() {
            return new Compressor.Timed(layer, null);
        }
    }

    /** A convolution: its kernel as {@code (C_in K) x C_out}; channel low rank. */
    record Conv(ConvLayer layer) implements LayerJob {
        public String name() {
            return layer.name();
        }

        public String op() {
            return "Conv";
        }

        public String shape() {
            return layer.weightShape();
        }

        public int rows() {
            return layer.inChannels() * layer.kernelSize();
        }

        public int cols() {
            return layer.outChannels();
        }

        public int nodeIndex() {
            return layer.nodeIndex();
        }

        public String weightName() {
            return layer.weightName();
        }

        public double flops(int rank) {
            return rank == 0 ? layer.flopsPerPosition() : ConvRewriter.lowRankFlopsPerPosition(layer, rank);
        }

        public Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite(Matrix[] f) {
            return m -> ConvRewriter.rewriteLowRank(m, layer, f[0], f[1]);
        }

        public Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite(Tensorization tz, BlockTerm bt) {
            return null;
        }

        public Function<Onnx.ModelProto, LinearRewriter.Replacement> denseRewrite(dev.blockterm.quantize.Precision p,
                                                                              dev.blockterm.quantize.Quantized given) {
            return m -> denseNode(m, layer.nodeIndex(), layer.weightName(), QuantizedWeights.Layout.CHANNEL_FIRST, p,
                    given);
        }

        public double flops(Tensorization tz, Candidates.Candidate c) {
            return Double.POSITIVE_INFINITY;
        }

        public Matrix matrix(Onnx.TensorProto tensor) {
            return ConvRewriter.lowRankMatrix(layer, dev.blockterm.onnx.Weights.values(tensor));
        }

        public Compressor.Timed timed() {
            return new Compressor.Timed(null, layer);
        }
    }

    /** A weight rebuilt at load ({@code index}: where it goes, before every node), as {@code rows x cols}. */
    record Stored(StoredWeight weight, int index, int dataType) implements LayerJob {
        public String name() {
            return weight.name();
        }

        public String op() {
            return weight.label();
        }

        public String shape() {
            return weight.shape();
        }

        public int rows() {
            return weight.rows();
        }

        public int cols() {
            return weight.cols();
        }

        public int nodeIndex() {
            return index;
        }

        public String weightName() {
            return weight.name();
        }

        public double flops(int rank) {
            return 0;
        }

        public Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite(Matrix[] f) {
            return m -> WeightRebuilder.rewrite(m, weight, plain(weight.rows(), weight.cols()), train(f), dataType);
        }

        public Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite(Tensorization tz, BlockTerm bt) {
            return m -> WeightRebuilder.rewrite(m, weight, tz, bt, dataType);
        }

        public Function<Onnx.ModelProto, LinearRewriter.Replacement> denseRewrite(dev.blockterm.quantize.Precision p,
                                                                              dev.blockterm.quantize.Quantized given) {
            return m -> QuantizedWeights.storedDense(dev.blockterm.onnx.Graphs.initializers(m.getGraph()).get(weight.name()),
                    QuantizedWeights.Layout.CHANNEL_LAST, p, dev.blockterm.onnx.Graphs.opset(m));
        }

        public double flops(Tensorization tz, Candidates.Candidate c) {
            return 0;
        }

        public Matrix matrix(Onnx.TensorProto tensor) {
            return new Matrix(rows(), cols(), dev.blockterm.onnx.Weights.values(tensor));
        }

        public Compressor.Timed timed() {
            return null;
        }
    }

    /** The plain-matrix tensorization (input whole, one output mode). */
    /**
     * An embedding table under a {@code Gather}: its matrix is the table ({@code V x H}); low rank is
     * looked up factored ({@link dev.blockterm.rewrite.EmbeddingRewriter}), exact and smaller at run
     * time too; a lower precision has one scale per row.
     */
    record Embedding(dev.blockterm.onnx.EmbeddingTable table) implements LayerJob {
        public String name() {
            return table.name();
        }

        public String op() {
            return "Gather";
        }

        public String shape() {
            return table.weightShape();
        }

        public int rows() {
            return table.rows();
        }

        public int cols() {
            return table.cols();
        }

        public int nodeIndex() {
            return table.nodeIndex();
        }

        public String weightName() {
            return table.weightName();
        }

        /** FLOPs per looked-up token: none for a lookup, {@code 2 r H} for the product after a factored one. */
        public double flops(int rank) {
            return rank == 0 ? 0 : 2.0 * rank * table.cols();
        }

        public Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite(Matrix[] f) {
            return m -> dev.blockterm.rewrite.EmbeddingRewriter.rewrite(m, table, f[0], f[1]);
        }

        public Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite(Tensorization tz, BlockTerm bt) {
            return null;
        }

        public Function<Onnx.ModelProto, LinearRewriter.Replacement> denseRewrite(dev.blockterm.quantize.Precision p,
                                                                              dev.blockterm.quantize.Quantized given) {
            return m -> denseNode(m, table.nodeIndex(), table.weightName(), QuantizedWeights.Layout.CHANNEL_FIRST, p,
                    given);
        }

        @Override
        public boolean rowScales() {
            return true;
        }

        public double flops(Tensorization tz, Candidates.Candidate c) {
            return Double.POSITIVE_INFINITY;
        }

        public Matrix matrix(Onnx.TensorProto tensor) {
            return new Matrix(rows(), cols(), dev.blockterm.onnx.Weights.values(tensor));
        }

        public Compressor.Timed timed() {
            return null;
        }
    }

    /** Node {@code index} unchanged but for its weight {@code weight}, stored at {@code p} and read back first. */
    private static LinearRewriter.Replacement denseNode(Onnx.ModelProto m, int index, String weight,
                                                        QuantizedWeights.Layout layout, dev.blockterm.quantize.Precision p,
                                                        dev.blockterm.quantize.Quantized given) {
        Onnx.NodeProto node = m.getGraph().getNode(index);
        int input = node.getInputList().lastIndexOf(weight);
        return QuantizedWeights.dense(node, input, dev.blockterm.onnx.Graphs.initializers(m.getGraph()).get(weight), layout,
                p, dev.blockterm.onnx.Graphs.opset(m), given);
    }

    static Tensorization plain(int rows, int cols) {
        return Tensorization.inputWhole(rows, cols, 1);
    }

    /** {@code A B} as a two-core tensor train over {@code I x J}. */
    static TensorTrain train(Matrix[] f) {
        return new TensorTrain(List.of(new dev.blockterm.tensor.Tensor(new int[] {1, f[0].rows(), f[0].cols()},
                f[0].data()), new dev.blockterm.tensor.Tensor(new int[] {f[1].rows(), f[1].cols(), 1}, f[1].data())));
    }
}
