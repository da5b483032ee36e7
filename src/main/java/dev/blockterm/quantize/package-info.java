/**
 * Storage precision of a weight or a factor: its own float type, float16, int8 with one symmetric
 * scale per output channel, or int4 with one symmetric scale per group of {@link Quantizer#GROUP}
 * consecutive inputs of an output channel. The mathematics only; {@code rewrite.QuantizedWeights}
 * writes the ONNX nodes that read the values back, and {@code compress} offers every precision to
 * the one allocation beside every form and rank, each with its bytes and its measured error.
 */
package dev.blockterm.quantize;
