/**
 * Reading and writing ONNX models with the protobuf message classes shipped in nd4j-api
 * (package {@code onnx}), weights in and out of {@code TensorProto}s, and finding the layers
 * that can be compressed. Files are written to a temporary file and moved into place only when
 * complete.
 */
package dev.blockterm.onnx;
