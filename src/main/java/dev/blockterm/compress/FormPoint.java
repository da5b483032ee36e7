package dev.blockterm.compress;

import dev.blockterm.rewrite.LinearRewriter;
import dev.blockterm.tensor.Matrix;
import java.util.function.Function;
import java.util.function.Supplier;
import onnx.Onnx;

/**
 * A factored form of a layer other than the points of its low-rank curve (a block term on another
 * layout, a convolution's spatial SVD or block-term chain), offered to the allocation beside the curve.
 *
 * @param family        the family it belongs to
 * @param layout        the form as the report names it
 * @param tensorization its shape in words
 * @param blocks        block terms (1 for two-factor forms)
 * @param ranksText     its ranks in words
 * @param parameters    its parameters
 * @param error         its relative error in the layer's metric (the damped output metric with
 *                      calibration, else the weight's): what the allocation compares with the curve
 * @param weightError   its relative error on the weight (Frobenius)
 * @param outputError   its relative error on the layer's outputs on the calibration inputs; NaN without them
 * @param sweeps        ALS sweeps it took (0 for a closed form)
 * @param converged     whether they met the tolerance
 * @param flops         FLOPs per sample (per output position for a convolution)
 * @param approximation its dense weight as the job's {@code I x J} matrix, computed when asked
 * @param rewrite       how it replaces the layer
 * @param fit           its factors for the handoff
 */
record FormPoint(Form.Family family, String layout, String tensorization, int blocks, String ranksText, long parameters, double error,
                 double weightError, double outputError, int sweeps, boolean converged, double flops,
                 Supplier<Matrix> approximation, Function<Onnx.ModelProto, LinearRewriter.Replacement> rewrite,
                 Compressor.LayerFit fit) {
}
