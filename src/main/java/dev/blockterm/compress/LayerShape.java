package dev.blockterm.compress;

import java.util.Arrays;
import java.util.regex.Pattern;

/**
 * Factor sizes given for the layers whose name matches {@code layers}: the input size as
 * {@code inputFactors}, the output size as {@code outputFactors} (products may exceed the sizes:
 * the weight is then zero-padded). Written {@code REGEX=8x8x8:8x8x8} on the command line.
 */
public record LayerShape(Pattern layers, int[] inputFactors, int[] outputFactors) {

    public LayerShape {
        if (inputFactors.length == 0 || outputFactors.length == 0) {
            throw new IllegalArgumentException("--shape: expected input and output factors, e.g. fc1=8x8x8:16x16x2");
        }
        inputFactors = inputFactors.clone();
        outputFactors = outputFactors.clone();
    }

    /** Parses {@code REGEX=I1xI2...:J1xJ2...}. */
    public static LayerShape parse(String text) {
        int eq = text.lastIndexOf('=');
        int colon = text.lastIndexOf(':');
        if (eq < 1 || colon < eq) {
            throw new IllegalArgumentException("--shape: expected REGEX=I1xI2...:J1xJ2..., found '" + text + "'");
        }
        return new LayerShape(Pattern.compile(text.substring(0, eq)), factors(text.substring(eq + 1, colon), text),
                factors(text.substring(colon + 1), text));
    }

    private static int[] factors(String part, String text) {
        try {
            return Arrays.stream(part.split("x")).mapToInt(Integer::parseInt).toArray();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--shape: expected factors like 8x8x8, found '" + part + "' in '" + text + "'");
        }
    }

    @Override
    public int[] inputFactors() {
        return inputFactors.clone();
    }

    @Override
    public int[] outputFactors() {
        return outputFactors.clone();
    }

    public String describe() {
        return layers.pattern() + "=" + join(inputFactors) + ":" + join(outputFactors);
    }

    private static String join(int[] f) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < f.length; i++) {
            sb.append(i == 0 ? "" : "x").append(f[i]);
        }
        return sb.toString();
    }
}
