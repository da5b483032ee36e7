package dev.blockterm.bench;

import dev.blockterm.minilm.MiniLm;
import dev.blockterm.minilm.Sentences;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Not a unit test: writes all-MiniLM-L6-v2 and its tokenized evaluation and calibration sentences
 * (the accuracy benchmark's: 200 and 256 generated sentences, none in both) as .npy files and as text
 * files (one sentence per line) under {@code target/minilm-data}, for trying the command line on a
 * real transformer.
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
        // the same sentences as a user holds them: text files, one per line, for --calibration-text and verify
        Files.write(dir.resolve("eval.txt"), eval);
        Files.write(dir.resolve("calibration.txt"), calibration);
        System.out.println("--calibration-text " + dir.resolve("calibration.txt") + " --tokenizer " + MiniLm.tokenizer());
    }

    private MiniLmFiles() {
    }
}
