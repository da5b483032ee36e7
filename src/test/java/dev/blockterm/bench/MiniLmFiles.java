package dev.blockterm.bench;

import dev.blockterm.minilm.MiniLm;
import dev.blockterm.minilm.Sentences;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Not a unit test: writes all-MiniLM-L6-v2 and its tokenized evaluation and calibration sentences
 * (the accuracy benchmark's: 200 and 256 generated sentences, none in both) as .npy files under
 * {@code target/minilm-data}, for trying the command line on a real transformer.
 * {@code mvn -B -Pbench test-compile exec:exec@minilm-files}
 */
public final class MiniLmFiles {

    public static void main(String[] args) throws Exception {
        Path dir = Path.of("target", "minilm-data");
        Files.createDirectories(dir);
        List<String> eval = Sentences.generate(200, 1, List.of());
        List<String> calibration = Sentences.generate(256, 2, eval);
        System.out.println("model: " + MiniLm.model());
        System.out.println("--inputs " + String.join(",", MiniLm.write(MiniLm.tokenize(eval), dir, "eval")));
        System.out.println("--calibration " + String.join(",", MiniLm.write(MiniLm.tokenize(calibration), dir, "calib")));
    }

    private MiniLmFiles() {
    }
}
