package dev.blockterm.compress;

import dev.blockterm.decompose.LowRank;
import dev.blockterm.tensor.Matrix;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * What a {@link CurveTask} returns: the layer's curve ({@code tails[r]}, the least squared error at
 * rank r in its metric), which side was decomposed, whether in the metric of its outputs (and the
 * damping {@code delta} added), the file its bases were staged in, and its seconds.
 */
public record CurveFit(int index, LowRank.Side side, double[] tails, boolean whitened, double delta, String bases,
                       double seconds) implements Serializable {

    /** The curve, its factors read from the staged bases and {@code weight} (read again when asked). */
    LowRank curve(int rows, int cols, Supplier<Matrix> weight) {
        return LowRank.restored(rows, cols, side, tails, StagedBases.open(Path.of(bases)), weight);
    }
}
