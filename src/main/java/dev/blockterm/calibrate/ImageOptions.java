package dev.blockterm.calibrate;

import java.util.Arrays;
import java.util.Locale;

/**
 * How pixels become a model's input values: {@code (v / 255 - mean) / std} per colour, given in
 * red, green, blue order whatever the channel order (one value: the same for every colour; a
 * grayscale model takes the first), and the order the model's channels hold the colours in.
 *
 * @param mean  per colour, R, G, B (or one for all)
 * @param std   per colour, R, G, B (or one for all), positive
 * @param order the colours' order along the model's channel axis
 */
public record ImageOptions(double[] mean, double[] std, ChannelOrder order) {

    /** The colours' order along the channel axis: RGB (PyTorch, PIL) or BGR (OpenCV, Caffe). */
    public enum ChannelOrder {
        RGB, BGR;

        public static ChannelOrder parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "rgb" -> RGB;
                case "bgr" -> BGR;
                default -> throw new IllegalArgumentException("channel order: expected rgb or bgr, found '" + s + "'");
            };
        }
    }

    /** Plain [0, 1] values in RGB order. */
    public static final ImageOptions DEFAULT = new ImageOptions(new double[] {0}, new double[] {1}, ChannelOrder.RGB);

    public ImageOptions {
        if (mean == null || (mean.length != 1 && mean.length != 3)) {
            throw new IllegalArgumentException("mean: expected 1 or 3 values (R,G,B), found "
                    + (mean == null ? 0 : mean.length));
        }
        if (std == null || (std.length != 1 && std.length != 3)) {
            throw new IllegalArgumentException("std: expected 1 or 3 values (R,G,B), found "
                    + (std == null ? 0 : std.length));
        }
        for (double m : mean) {
            if (!Double.isFinite(m)) {
                throw new IllegalArgumentException("mean: expected finite values, found " + Arrays.toString(mean));
            }
        }
        for (double s : std) {
            if (!(s > 0 && Double.isFinite(s))) {
                throw new IllegalArgumentException("std: expected positive values, found " + Arrays.toString(std));
            }
        }
        if (order == null) {
            throw new IllegalArgumentException("channel order: expected rgb or bgr, found none");
        }
        mean = mean.clone();
        std = std.clone();
        double largest = largest(mean, std);
        if (!(largest <= Float.MAX_VALUE)) {
            // finite options whose values are not: float32 inputs would hold infinities
            boolean meanTooLarge = Arrays.stream(mean).anyMatch(m -> Math.abs(m) > Float.MAX_VALUE);
            throw new IllegalArgumentException((meanTooLarge ? "mean" : "std") + ": the normalized values (v - mean) / std "
                    + "reach " + String.format(Locale.ROOT, "%.3g", largest) + " in magnitude, beyond float32's "
                    + String.format(Locale.ROOT, "%.3g", Float.MAX_VALUE) + " (mean "
                    + Arrays.toString(mean) + ", std " + Arrays.toString(std) + ")");
        }
    }

    /** The largest magnitude a normalized value takes, over the colours and the ends 0 and 1 of the scaled values. */
    public double largest() {
        return largest(mean, std);
    }

    private static double largest(double[] mean, double[] std) {
        double largest = 0;
        for (int c = 0; c < 3; c++) {
            double m = mean.length == 1 ? mean[0] : mean[c];
            double s = std.length == 1 ? std[0] : std[c];
            largest = Math.max(largest, Math.max(Math.abs(m), Math.abs(1 - m)) / s);
        }
        return largest;
    }

    @Override
    public double[] mean() {
        return mean.clone();
    }

    @Override
    public double[] std() {
        return std.clone();
    }

    /** Colour {@code c} (0 red, 1 green, 2 blue) of an 8-bit value, normalized. */
    double normalize(int value, int c) {
        double m = mean.length == 1 ? mean[0] : mean[c];
        double s = std.length == 1 ? std[0] : std[c];
        return (value / 255.0 - m) / s;
    }
}
