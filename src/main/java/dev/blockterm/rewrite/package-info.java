/**
 * From factors to ONNX nodes. A compressed layer is a small tensor network (the input, the
 * factors and the cores with labelled indices); {@link dev.blockterm.rewrite.ContractionPlan}
 * searches the pairwise contraction order of least FLOPs and
 * {@link dev.blockterm.rewrite.NetworkEmitter} turns any network into standard ops
 * ({@code Transpose}, {@code Reshape}, batched {@code MatMul}). Layouts and formats differ only in
 * the network they build.
 */
package dev.blockterm.rewrite;
