package dev.blockterm.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

/** ONNX Runtime latency of a model with one float input, measured on random data. */
public final class Latency {

    private Latency() {
    }

    /** The timed input: seeded N(0,1) values of {@code shape}, the same for every layer timed. */
    private static float[] randomInput(long[] shape) {
        double n = 1; // in a double: the product of the sizes may overflow a long
        for (long d : shape) {
            n *= d;
        }
        if (n > InputShapes.MAX_VALUES) {
            throw new IllegalArgumentException("the input timed " + InputShapes.describe(shape) + ": "
                    + String.format(java.util.Locale.ROOT, "%.3g", n) + " values, more than the " + InputShapes.MAX_VALUES
                    + " a tensor holds here; give smaller sizes with --input-shape, or --no-latency-check");
        }
        float[] x = new float[(int) n];
        Random random = new Random(3);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return x;
    }

    /**
     * Median milliseconds of one run of each of two models on the same random input, the runs
     * interleaved (a, b, a, b, ...) so that a machine busy with something else slows both alike and
     * does not flip which is faster from one call to the next.
     */
    public static double[] pairedMedianMillis(byte[] a, byte[] b, String input, long[] shape, int threads, int warmup,
                                              int runs) {
        OrtEnvironment env = NativeLibraries.environment();
        float[] x = randomInput(shape);
        try (OrtSession.SessionOptions options = NativeLibraries.sessionOptions(threads)) {
            try (OrtSession first = env.createSession(a, options); OrtSession second = env.createSession(b, options);
                 OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), shape)) {
                Map<String, OnnxTensor> feeds = Map.of(input, t);
                for (int i = 0; i < warmup; i++) {
                    first.run(feeds).close();
                    second.run(feeds).close();
                }
                double[] ta = new double[runs];
                double[] tb = new double[runs];
                for (int i = 0; i < runs; i++) {
                    long started = System.nanoTime();
                    first.run(feeds).close();
                    long middle = System.nanoTime();
                    second.run(feeds).close();
                    ta[i] = (middle - started) / 1e6;
                    tb[i] = (System.nanoTime() - middle) / 1e6;
                }
                Arrays.sort(ta);
                Arrays.sort(tb);
                return new double[] {ta[runs / 2], tb[runs / 2]};
            }
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime could not time a layer: " + e.getMessage(), e);
        }
    }

    /**
     * Median milliseconds of one run of {@code model} (serialized ONNX) on a random input of
     * {@code shape}, after {@code warmup} runs, with {@code threads} intra-op threads.
     */
    public static double medianMillis(byte[] model, String input, long[] shape, int threads, int warmup, int runs) {
        OrtEnvironment env = NativeLibraries.environment();
        float[] x = randomInput(shape);
        try (OrtSession.SessionOptions options = NativeLibraries.sessionOptions(threads)) {
            try (OrtSession session = env.createSession(model, options);
                 OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), shape)) {
                Map<String, OnnxTensor> feeds = Map.of(input, t);
                for (int i = 0; i < warmup; i++) {
                    session.run(feeds).close();
                }
                double[] times = new double[runs];
                for (int i = 0; i < runs; i++) {
                    long started = System.nanoTime();
                    session.run(feeds).close();
                    times[i] = (System.nanoTime() - started) / 1e6;
                }
                Arrays.sort(times);
                return times[runs / 2];
            }
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime could not time a layer: " + e.getMessage(), e);
        }
    }
}
