/**
 * The compression job: every selected layer's candidate forms ({@link dev.blockterm.compress.Form}: its
 * exact low-rank curve, block terms on its tensorizations fitted in the same metric, a convolution's
 * spatial SVD and chain, the weight or its factors at a lower precision), the decision over them
 * (the targets, one allocation in bytes or parameters, the quality search, the layers' measured
 * sensitivities), or, for the per-layer targets, each layer's fit on its own; then the graph
 * rewritten and measured. Uses {@code onnx}, {@code decompose}, {@code quantize} and {@code rewrite};
 * produces a {@code report}. Usable without the CLI.
 */
package dev.blockterm.compress;
