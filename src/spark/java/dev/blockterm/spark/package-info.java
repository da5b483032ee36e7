/**
 * The optional Apache Spark runner (Maven profile {@code spark}): the layers' curve fits
 * ({@link dev.blockterm.compress.CurveTask}) as Spark tasks, each sent a reference to its weight,
 * never the model; found by the command line through {@link java.util.ServiceLoader}. Nothing
 * outside this package knows Spark.
 */
package dev.blockterm.spark;
