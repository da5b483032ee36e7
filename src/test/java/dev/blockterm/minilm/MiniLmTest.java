package dev.blockterm.minilm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.cli.Main;
import dev.blockterm.runtime.NpyArray;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * all-MiniLM-L6-v2 from its Maven artifact: tokenized sentences, {@code verify --embedding}, and
 * calibration-aware fitting of two of its layers against weight-only fitting (the whole model at
 * every ratio is the accuracy benchmark's work).
 */
class MiniLmTest {

    @TempDir
    Path dir;

    @Test
    void sentencesAreTokenizedAsBertWordPieces() {
        Map<String, NpyArray> feeds = MiniLm.tokenize(List.of("The night train.", "Why has a lost tourist never sold fresh bread?"));
        NpyArray ids = feeds.get("input_ids");
        assertEquals(2, ids.shape()[0]);
        int length = (int) ids.shape()[1];
        assertEquals(101, (int) ids.values()[0]); // [CLS]
        assertEquals(101, (int) ids.values()[length]);
        double[] mask = feeds.get("attention_mask").values();
        int first = 0;
        for (int j = 0; j < length; j++) {
            first += (int) mask[j];
        }
        assertEquals(102, (int) ids.values()[first - 1]); // [SEP] ends the shorter sentence, padding follows
        assertTrue(first < length);
        assertEquals(0, (int) ids.values()[first]);
    }

    @Test
    void calibrationKeepsTheEmbeddingsWhereWeightFittingLosesThem() {
        Path model = MiniLm.model();
        List<String> eval = Sentences.generate(200, 1, List.of());
        List<String> calibration = Sentences.generate(128, 2, eval);
        assertTrue(calibration.stream().noneMatch(eval::contains));
        List<String> evalArgs = MiniLm.write(MiniLm.tokenize(eval), dir, "eval");
        List<String> calibrationArgs = MiniLm.write(MiniLm.tokenize(calibration), dir, "calib");

        String self = run("verify", model.toString(), model.toString(), "--embedding", "--inputs",
                String.join(",", evalArgs));
        assertTrue(self.contains("last_hidden_state") && self.contains("1.000000"), self);

        // the feed-forward layers of the first block at 4x; everything else as it is
        List<String> common = List.of("--layers", "layer\\.0/(intermediate|output)/dense/MatMul", "--ratio", "4",
                "--layout", "input-whole", "--bits", "32", "-q");
        double[] cosine = new double[2];
        for (int calibrated = 0; calibrated < 2; calibrated++) {
            Path out = dir.resolve("minilm" + calibrated + ".onnx");
            List<String> args = new ArrayList<>(List.of("compress", model.toString(), "-o", out.toString(),
                    "--no-latency-check"));
            args.addAll(common);
            if (calibrated == 1) {
                args.addAll(List.of("--calibration", String.join(",", calibrationArgs)));
            }
            String report = run(args.toArray(String[]::new));
            assertTrue(report.contains("compressed 2 of 39 layers"), report); // 36 MatMuls and 3 embedding tables
            String verify = run("verify", model.toString(), out.toString(), "--embedding", "--inputs",
                    String.join(",", evalArgs));
            String row = verify.lines().filter(l -> l.startsWith("last_hidden_state")).findFirst().orElseThrow();
            cosine[calibrated] = Double.parseDouble(row.trim().split("\\s+")[2]);
        }
        assertTrue(cosine[1] > cosine[0] && cosine[1] > 0.9, "weight-only " + cosine[0] + ", calibrated " + cosine[1]);
    }

    private static String run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.execute(new PrintWriter(out), new PrintWriter(err), args);
        assertEquals(0, code, err.toString());
        return out.toString();
    }
}
