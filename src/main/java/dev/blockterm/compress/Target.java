package dev.blockterm.compress;

import java.util.Locale;

/**
 * What the user asks of the compressed model. Per-layer targets decide each layer alone; whole-model
 * targets spread one total over every selected layer's error-versus-parameters curve
 * ({@link Allocation}); the quality target searches that allocation with the model run on held-out
 * inputs ({@link QualitySearch}).
 */
public sealed interface Target {

    /**
     * No target given: the safe default, a quality target resolved by {@link #resolve(boolean)}:
     * {@link #CALIBRATED_ERROR} on held-out calibration inputs, {@link #GENERATED_ERROR} on generated
     * ones (which can hide damage, so it is tighter).
     */
    record Default() implements Target {
        @Override
        public String describe() {
            return "the default";
        }
    }

    /** The default's output error with calibration inputs (measured: docs/results.md, every target on the bundled models). */
    double CALIBRATED_ERROR = 0.02;
    /** The default's output error on generated inputs. */
    double GENERATED_ERROR = 0.01;

    /** This target, the default resolved for a run with or without calibration inputs. */
    default Target resolve(boolean calibrated) {
        return this instanceof Default ? new MaxOutputError(calibrated ? CALIBRATED_ERROR : GENERATED_ERROR, true) : this;
    }

    /** Every layer at the configured blocks and ranks (per layer, every layout fitted by ALS). */
    record Ranks() implements Target {
        @Override
        public String describe() {
            return "the configured blocks and ranks on every layer";
        }
    }

    /** Per layer: the least error with at least {@code ratio} times fewer parameters (every layout fitted). */
    record LayerRatio(double ratio) implements Target {
        public LayerRatio {
            requireAbove("layer ratio", ratio, 1);
        }

        @Override
        public String describe() {
            return String.format(Locale.ROOT, "%.4gx fewer parameters in every layer", ratio);
        }
    }

    /**
     * Per layer: the fewest parameters with relative error at most {@code error}, of the weight, or of
     * the layer's output on the calibration inputs (damped) where they were given.
     */
    record MaxError(double error) implements Target {
        public MaxError {
            requireFraction("max error", error);
        }

        @Override
        public String describe() {
            return String.format(Locale.ROOT, "relative error at most %.4g in every layer", error);
        }
    }

    /** Whole model: the selected layers together get {@code ratio} times fewer parameters. */
    record Ratio(double ratio) implements Target {
        public Ratio {
            requireAbove("ratio", ratio, 1);
        }

        @Override
        public String describe() {
            return String.format(Locale.ROOT, "%.4gx fewer bytes in the selected layers together", ratio);
        }
    }

    /** Whole model: at most {@code parameters} initializer elements in the written model. */
    record Budget(long parameters) implements Target {
        public Budget {
            if (parameters < 1) {
                throw new IllegalArgumentException("budget: expected a positive parameter count, found " + parameters);
            }
        }

        @Override
        public String describe() {
            return "at most " + parameters + " parameters in the model";
        }
    }

    /**
     * Whole model: the smallest model whose outputs, on inputs held out from the fits, are within
     * relative error {@code error} of the original's.
     *
     * @param chosenByDefault no target was given: this is the safe default, and the report says so
     */
    /** At most {@code bytes} in the whole written file. */
    record Size(long bytes) implements Target {
        public Size {
            if (bytes < 1) {
                throw new IllegalArgumentException("size: expected a positive byte count, found " + bytes);
            }
        }

        @Override
        public String describe() {
            return "at most " + text(bytes) + " in the file";
        }

        /**
         * A size as the user writes it: a byte count, or a number with a unit (kB, MB, GB: powers of 1000;
         * KiB, MiB, GiB: powers of 1024; B).
         */
        public static long parse(String text) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\s*([0-9]+(?:\\.[0-9]+)?)\\s*([a-zA-Z]*)\\s*")
                    .matcher(text);
            if (!m.matches()) {
                throw new IllegalArgumentException("size: expected a byte count or a number with a unit (20MB, 1.5GiB), "
                        + "found '" + text + "'");
            }
            double scale = switch (m.group(2).toLowerCase(Locale.ROOT)) {
                case "", "b" -> 1;
                case "k", "kb" -> 1e3;
                case "m", "mb" -> 1e6;
                case "g", "gb" -> 1e9;
                case "kib" -> 1024;
                case "mib" -> 1024.0 * 1024;
                case "gib" -> 1024.0 * 1024 * 1024;
                default -> throw new IllegalArgumentException("size: unknown unit '" + m.group(2) + "' (expected B, kB, "
                        + "MB, GB, KiB, MiB or GiB)");
            };
            double bytes = Double.parseDouble(m.group(1)) * scale;
            if (!(bytes >= 1 && bytes < 9e18)) {
                throw new IllegalArgumentException("size: expected at least 1 byte, found '" + text + "'");
            }
            return (long) Math.floor(bytes);
        }

        /** A byte count in words: {@code 23.0 MB (22982144 bytes)}. */
        public static String text(long bytes) {
            return bytes >= 1e6 ? String.format(Locale.ROOT, "%.1f MB (%d bytes)", bytes / 1e6, bytes)
                    : bytes >= 1e3 ? String.format(Locale.ROOT, "%.1f kB (%d bytes)", bytes / 1e3, bytes)
                    : bytes + " bytes";
        }
    }

    record MaxOutputError(double error, boolean chosenByDefault) implements Target {
        public MaxOutputError {
            requireFraction("max output error", error);
        }

        @Override
        public String describe() {
            return String.format(Locale.ROOT, "relative error of the model's outputs at most %.4g%s", error,
                    chosenByDefault ? " (the default)" : "");
        }
    }

    /** The target in words, for the report. */
    String describe();

    /** Whether the target spreads one total over all layers (rather than deciding each layer alone). */
    default boolean wholeModel() {
        return this instanceof Ratio || this instanceof Budget || this instanceof Size || this instanceof MaxOutputError;
    }

    /** Whether the target decides each layer from its exact low-rank curve (rather than fitting every layout). */
    default boolean usesCurves() {
        return wholeModel() || this instanceof MaxError;
    }

    /** Whether the user asked for a size (which the latency check then must not undo). */
    default boolean sizeRequest() {
        return this instanceof Ranks || this instanceof LayerRatio || this instanceof Ratio || this instanceof Budget
                || this instanceof Size;
    }

    private static void requireAbove(String what, double value, double bound) {
        if (!(value > bound) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(what + ": expected a number above " + bound + ", found " + value);
        }
    }

    private static void requireFraction(String what, double value) {
        if (!(value > 0 && value < 1)) {
            throw new IllegalArgumentException(what + ": expected a number between 0 and 1, found " + value);
        }
    }
}
