/**
 * Running models in ONNX Runtime (sessions and tensors closed by construction), reading and
 * writing NumPy {@code .npy} arrays, and comparing a compressed model with its original.
 */
package dev.blockterm.runtime;
