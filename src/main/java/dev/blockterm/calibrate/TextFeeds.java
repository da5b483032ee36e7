package dev.blockterm.calibrate;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.onnxruntime.OnnxJavaType;
import dev.blockterm.runtime.InputShapes;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A transformer's inputs from lines of text: each line tokenized by a Hugging Face
 * {@code tokenizer.json} (DJL's binding of the Rust tokenizers library, so the ids are exactly those
 * the model was trained with: special tokens, truncation to the longest allowed, type ids), then
 * {@code input_ids}, {@code attention_mask} and {@code token_type_ids} (those the model takes) padded
 * on the right to the longest text, or to the model's fixed sequence length, with the tokenizer's pad
 * id, the mask 0 on padding positions.
 */
public final class TextFeeds {

    /** The longest sequence kept when neither the user nor the model says. */
    public static final int DEFAULT_MAX_LENGTH = 128;

    /** The model inputs text gives, by the names Hugging Face exports use. */
    static final List<String> NAMES = List.of("input_ids", "attention_mask", "token_type_ids");

    /** Each text's token ids, attention mask and type ids, not padded. */
    public record Tokens(long[][] ids, long[][] mask, long[][] types, long padId, long padTypeId) {

        /** The longest text, in tokens. */
        public int longest() {
            int n = 0;
            for (long[] t : ids) {
                n = Math.max(n, t.length);
            }
            return n;
        }

        /** The three inputs, {@code texts x length}, int64, padded on the right (mask 0 there). */
        public Map<String, NpyArray> padded(int length) {
            int n = ids.length;
            double[] id = new double[n * length];
            double[] m = new double[n * length];
            double[] type = new double[n * length];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < length; j++) {
                    boolean token = j < ids[i].length;
                    id[i * length + j] = token ? ids[i][j] : padId;
                    m[i * length + j] = token ? mask[i][j] : 0;
                    type[i * length + j] = token ? types[i][j] : padTypeId;
                }
            }
            long[] shape = {n, length};
            Map<String, NpyArray> feeds = new LinkedHashMap<>();
            feeds.put("input_ids", new NpyArray(shape, id, "<i8"));
            feeds.put("attention_mask", new NpyArray(shape, m, "<i8"));
            feeds.put("token_type_ids", new NpyArray(shape, type, "<i8"));
            return feeds;
        }
    }

    private TextFeeds() {
    }

    /**
     * The feeds for the model whose inputs are {@code inputs} (their shapes with the user's sizes in
     * place) from the texts in {@code textFile}, one per non-blank line.
     *
     * @param maxLength the longest sequence kept, or null: the model's fixed sequence length, else
     *                  {@link #DEFAULT_MAX_LENGTH}
     */
    public static Map<String, NpyArray> forModel(Path textFile, Path tokenizer, Integer maxLength,
                                                 List<ModelRunner.Input> inputs) {
        List<String> texts = lines(textFile);
        requireFile(tokenizer);
        Map<String, ModelRunner.Input> byName = new LinkedHashMap<>();
        for (ModelRunner.Input in : inputs) {
            if (!NAMES.contains(in.name())) {
                throw new IllegalArgumentException("the model takes '" + in.name() + "', which text does not give "
                        + "(text gives " + String.join(", ", NAMES) + "); give .npy arrays instead");
            }
            byName.put(in.name(), in);
        }
        ModelRunner.Input ids = byName.get("input_ids");
        if (ids == null) {
            throw new IllegalArgumentException("the model has no input named input_ids (its inputs: "
                    + String.join(", ", byName.keySet()) + ")");
        }
        long[] shape = ids.shape();
        if (shape.length != 2) {
            throw new IllegalArgumentException("input 'input_ids' has shape " + InputShapes.describe(shape)
                    + "; text gives rows x tokens");
        }
        if (maxLength != null && maxLength < 1) {
            throw new IllegalArgumentException("the longest sequence must be at least 1 token, found " + maxLength);
        }
        if (maxLength != null && shape[1] > 0 && maxLength != shape[1]) {
            throw new IllegalArgumentException("the model's sequence length is fixed at " + shape[1] + " (input "
                    + "'input_ids' " + InputShapes.describe(shape) + "), found a longest sequence of " + maxLength);
        }
        int cap = shape[1] > 0 ? Math.toIntExact(shape[1]) : maxLength != null ? maxLength : DEFAULT_MAX_LENGTH;
        if (shape[0] > 0 && shape[0] != texts.size()) {
            throw new IllegalArgumentException("the model takes " + shape[0] + " rows at a time (input 'input_ids' "
                    + InputShapes.describe(shape) + "), " + textFile + " holds " + texts.size() + " texts");
        }
        Tokens tokens = tokenize(tokenizer, texts, cap);
        Map<String, NpyArray> all = tokens.padded(shape[1] > 0 ? cap : tokens.longest());
        Map<String, NpyArray> feeds = new LinkedHashMap<>();
        for (ModelRunner.Input in : inputs) {
            NpyArray a = all.get(in.name());
            feeds.put(in.name(), new NpyArray(a.shape(), a.values(), descr(in.type())));
        }
        return feeds;
    }

    /**
     * Checks that every id of feed {@code input} indexes the {@code rows} of the embedding table
     * {@code table} that the model looks it up in: ONNX Runtime would refuse it mid-run, naming its
     * own files, where the user is to hear which tokenizer gave which id.
     */
    public static void requireInVocabulary(Map<String, NpyArray> feeds, Path tokenizer, String input, long rows,
                                           String table) {
        NpyArray a = feeds.get(input);
        if (a == null) {
            return;
        }
        double[] v = a.values();
        int width = a.shape().length == 2 ? (int) a.shape()[1] : Math.max(v.length, 1);
        for (int i = 0; i < v.length; i++) {
            if (v[i] < 0 || v[i] >= rows) {
                throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "%s id %d (text %d) from %s is "
                        + "outside %s' vocabulary (%d rows in '%s')", input.equals("input_ids") ? "token" : input,
                        (long) v[i], i / width + 1, tokenizer, input, rows, table));
            }
        }
    }

    /** The non-blank lines of {@code file}, each a text. */
    public static List<String> lines(Path file) {
        requireFile(file);
        List<String> texts = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    texts.add(line.strip());
                }
            }
        } catch (MalformedInputException e) {
            throw new IllegalArgumentException(file + ": not UTF-8 text", e);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
        if (texts.isEmpty()) {
            throw new IllegalArgumentException(file + ": holds no text (one text per line)");
        }
        return texts;
    }

    /**
     * Each text tokenized by the tokenizer file, truncated to {@code maxLength} tokens (special ones
     * included). The file is checked ({@link TokenizerJson}) before the native library reads it, and
     * the texts are encoded one at a time: the library's batch call aborts the JVM on an encoding
     * error, its single call returns it.
     */
    public static Tokens tokenize(Path tokenizer, List<String> texts, int maxLength) {
        requireFile(tokenizer);
        TokenizerJson checked = TokenizerJson.read(tokenizer);
        HuggingFaceTokenizer t;
        try {
            t = HuggingFaceTokenizer.builder().optTokenizerPath(tokenizer)
                    .optPadding(false).optTruncation(true).optMaxLength(maxLength).build();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(tokenizer + ": not a Hugging Face tokenizer.json the tokenizers "
                    + "library can load (" + firstLine(e) + ")", e);
        }
        try (t) {
            long[][] ids = new long[texts.size()][];
            long[][] mask = new long[texts.size()][];
            long[][] types = new long[texts.size()][];
            for (int i = 0; i < texts.size(); i++) {
                Encoding encoding;
                try {
                    encoding = t.encode(texts.get(i));
                } catch (RuntimeException e) {
                    throw new IllegalArgumentException(tokenizer + ": cannot tokenize text " + (i + 1) + " ("
                            + firstLine(e) + ")", e);
                }
                ids[i] = encoding.getIds();
                mask[i] = encoding.getAttentionMask();
                types[i] = encoding.getTypeIds();
            }
            return new Tokens(ids, mask, types, checked.padId(), checked.padTypeId());
        }
    }

    private static String firstLine(Exception e) {
        return e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
    }

    private static void requireFile(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(file + ": " + (Files.exists(file) ? "not a regular file" : "no such file"));
        }
    }

    /** The {@code .npy} type label of an input of this element type. */
    static String descr(OnnxJavaType type) {
        return switch (type) {
            case INT32 -> "<i4";
            case FLOAT -> "<f4";
            case DOUBLE -> "<f8";
            case FLOAT16 -> "<f2";
            default -> "<i8";
        };
    }
}
