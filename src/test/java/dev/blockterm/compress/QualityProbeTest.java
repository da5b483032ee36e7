package dev.blockterm.compress;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.onnx.TinyModels;
import dev.blockterm.runtime.ModelRunner;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Generated probe rows are bounded by the values they hold: a model whose input is large runs on
 * fewer rows (the issue: 64 rows of a 1500x1500 image grew ONNX Runtime's memory past 21 GB), a small
 * one on all of them.
 */
class QualityProbeTest {

    @Test
    void generatedRowsShrinkWithTheInputSize() {
        try (ModelRunner large = new ModelRunner(TinyModels.conv(2, 3, new int[] {1, 1}, 1500, null, List.of())
                .toByteArray(), "large", 1);
             ModelRunner small = new ModelRunner(TinyModels.conv(2, 3, new int[] {1, 1}, 8, null, List.of())
                     .toByteArray(), "small", 1)) {
            String few = QualityProbe.generated(large, 1, 64, 1).inputs();
            assertTrue(few.startsWith("1 rows of generated inputs"), few);
            String all = QualityProbe.generated(small, 1, 64, 1).inputs();
            assertTrue(all.startsWith("64 rows of generated inputs"), all);
        }
    }
}
