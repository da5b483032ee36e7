/**
 * The compression job: for every candidate layer, choose the tensorization, fit the block-term
 * factors, keep the layer dense where the factored form would be no smaller or no cheaper, and
 * rewrite the graph. Uses {@code onnx}, {@code decompose} and {@code rewrite}; produces a
 * {@code report}. Usable without the CLI.
 */
package dev.blockterm.compress;
