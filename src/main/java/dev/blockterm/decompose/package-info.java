/**
 * Block-term tensor decomposition (DESIGN.md sections 3-4): the format, its initializations and
 * the alternating least-squares fit. Tucker ({@code N = 1}) and CP (all ranks 1) are the same code
 * path. Nothing here knows about ONNX or neural networks: it fits tensors.
 */
package dev.blockterm.decompose;
