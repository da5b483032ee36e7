package dev.blockterm.cnn;

import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * What a recognizer read from a set of lines: the most likely class at every time step ({@code [n][T]},
 * the top-1 of each step's 6,625-way softmax) and the text that greedy CTC decoding makes of it; and
 * how two readings agree.
 *
 * @param paths the top-1 class per line and time step
 * @param texts the decoded lines
 */
public record Readings(int[][] paths, List<String> texts) {

    /** Lines run through the model this many at a time (an output of 64 lines is 68 MB of doubles). */
    private static final int BATCH = 64;

    public Readings {
        if (paths.length != texts.size()) {
            throw new IllegalArgumentException("readings: " + paths.length + " paths for " + texts.size() + " texts");
        }
        texts = List.copyOf(texts);
    }

    /** The model's reading of {@code input} ({@code [n, 3, 48, W]}, see {@link PpOcr#input}). */
    public static Readings of(ModelRunner model, NpyArray input, List<String> classes) {
        long[] shape = input.shape();
        int n = (int) shape[0];
        int row = input.values().length / n;
        int[][] paths = new int[n][];
        List<String> texts = new ArrayList<>(n);
        for (int from = 0; from < n; from += BATCH) {
            int to = Math.min(n, from + BATCH);
            long[] part = shape.clone();
            part[0] = to - from;
            NpyArray rows = new NpyArray(part, Arrays.copyOfRange(input.values(), from * row, to * row), input.descr());
            Map<String, NpyArray> out = model.run(Map.of(PpOcr.INPUT, rows));
            int[][] best = PpOcr.argmax(out.values().iterator().next());
            for (int i = 0; i < best.length; i++) {
                paths[from + i] = best[i];
                texts.add(PpOcr.decode(best[i], classes));
            }
        }
        return new Readings(paths, texts);
    }

    /** The fraction of lines both read as the same text. */
    public double lineAgreement(Readings other) {
        requireSameLines(other);
        int same = 0;
        for (int i = 0; i < texts.size(); i++) {
            same += texts.get(i).equals(other.texts.get(i)) ? 1 : 0;
        }
        return (double) same / texts.size();
    }

    /** The fraction of time steps, over all lines, whose top-1 class is the same in both. */
    public double stepAgreement(Readings other) {
        requireSameLines(other);
        long same = 0;
        long all = 0;
        for (int i = 0; i < paths.length; i++) {
            for (int t = 0; t < paths[i].length; t++) {
                same += paths[i][t] == other.paths[i][t] ? 1 : 0;
                all++;
            }
        }
        return (double) same / all;
    }

    /** The fraction of lines read exactly as printed. */
    public double accuracy(List<TextLines.Line> truth) {
        if (truth.size() != texts.size()) {
            throw new IllegalArgumentException("readings: " + texts.size() + " lines read, " + truth.size() + " given");
        }
        int right = 0;
        for (int i = 0; i < texts.size(); i++) {
            right += texts.get(i).equals(truth.get(i).text()) ? 1 : 0;
        }
        return (double) right / texts.size();
    }

    private void requireSameLines(Readings other) {
        if (other.paths.length != paths.length) {
            throw new IllegalArgumentException("readings: " + paths.length + " lines against " + other.paths.length);
        }
    }
}
