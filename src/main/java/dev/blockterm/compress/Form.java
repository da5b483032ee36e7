package dev.blockterm.compress;

import dev.blockterm.rewrite.LinearRewriter;
import dev.blockterm.tensor.Matrix;
import java.util.function.Function;
import onnx.Onnx;

/**
 * One candidate form of a layer, as the decision sees it: a list of points, each with its size and its
 * error in the layer's metric (the same metric for every form of the layer, so that the allocation
 * ranks them by one measure), and at each point the dense weight it computes, how it replaces the
 * layer in the graph, and its row of the report.
 *
 * <p>A layer offers its forms together ({@link LayerForms}); the decision (targets, allocation,
 * quality search, sensitivity) works over those lists and never asks which form a point is.
 */
sealed interface Form permits LowRankForm, FittedForms, BitsForm {

    /** The families a user restricts the forms to. */
    enum Family {
        /** Two factors {@code A B} (a convolution: a k conv to r channels, then a 1x1). */
        LOW_RANK,
        /** Block terms on a tensorization of the weight, or a convolution's block-term chain. */
        BLOCK_TERM,
        /** A convolution's spatial SVD ({@code k_h x 1}, then {@code 1 x k_w}). */
        SPATIAL,
        /** The dense weight stored at a lower precision. */
        DENSE
    }

    /** The number of points offered. */
    int points();

    /** The family of point {@code p}. */
    Family family(int p);

    /** Point {@code p}'s size: its bytes as written ({@code inBytes}), else its parameters. */
    long size(int p, boolean inBytes);

    /** Point {@code p}'s relative error in the layer's metric. */
    double error(int p);

    /** The low-rank rank point {@code p} holds (its factors'), 0 where it holds none. */
    int rank(int p);

    /** The dense weight (the job's {@code I x J} matrix) that point {@code p} computes, as the written model does. */
    Matrix approximation(int p);

    /** How point {@code p} replaces the layer. */
    Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite(int p);

    /** The layer's outcome at point {@code p}: its report row, its factors for the handoff, its rewrite. */
    Compressor.LayerOutcome outcome(int p, String selection);
}
