/**
 * Dense tensors and matrices in plain Java arrays, mode products, and tensorization of weight
 * matrices into higher-order tensors (the layouts of DESIGN.md section 2).
 *
 * <p>Storage is row-major {@code double[]}. Large matrix products go to native BLAS through
 * ND4J ({@link dev.blockterm.tensor.Gemm}); everything small stays in plain loops, because an
 * ND4J call costs tens of microseconds.
 */
package dev.blockterm.tensor;
