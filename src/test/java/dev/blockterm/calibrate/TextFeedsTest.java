package dev.blockterm.calibrate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.onnxruntime.OnnxJavaType;
import dev.blockterm.minilm.MiniLm;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Text to all-MiniLM-L6-v2's inputs, against the tokenizers library's own padded encodings. */
class TextFeedsTest {

    private static final List<String> TEXTS = List.of("The night train.",
            "Why has a lost tourist never sold fresh bread to the museum guide?", "A stray dog.");

    @TempDir
    Path dir;

    private Path textFile(String... lines) throws IOException {
        Path p = Files.createTempFile(dir, "texts", ".txt");
        Files.write(p, List.of(lines));
        return p;
    }

    private static List<ModelRunner.Input> bert(OnnxJavaType type, long length) {
        return List.of(new ModelRunner.Input("input_ids", new long[] {-1, length}, type),
                new ModelRunner.Input("attention_mask", new long[] {-1, length}, type),
                new ModelRunner.Input("token_type_ids", new long[] {-1, length}, type));
    }

    @Test
    void feedsAreTheTokenizersOwnPaddedEncodings() throws IOException {
        List<ModelRunner.Input> inputs;
        try (ModelRunner runner = new ModelRunner(MiniLm.model(), 1)) {
            inputs = runner.inputs();
        }
        Path texts = textFile("The night train.", "", "Why has a lost tourist never sold fresh bread to the museum guide?",
                "  A stray dog.  ");
        Map<String, NpyArray> feeds = TextFeeds.forModel(texts, MiniLm.tokenizer(), null, inputs);
        assertEquals(List.of("input_ids", "attention_mask", "token_type_ids"), List.copyOf(feeds.keySet()));
        try (HuggingFaceTokenizer reference = HuggingFaceTokenizer.builder().optTokenizerPath(MiniLm.tokenizer())
                .optPadding(true).optTruncation(true).optMaxLength(128).build()) {
            Encoding[] e = reference.batchEncode(TEXTS);
            int length = e[0].getIds().length;
            assertArrayEquals(new long[] {3, length}, feeds.get("input_ids").shape());
            for (int i = 0; i < e.length; i++) {
                assertArrayEquals(e[i].getIds(), row(feeds.get("input_ids"), i), "ids of text " + i);
                assertArrayEquals(e[i].getAttentionMask(), row(feeds.get("attention_mask"), i), "mask of text " + i);
                assertArrayEquals(e[i].getTypeIds(), row(feeds.get("token_type_ids"), i), "types of text " + i);
            }
        }
        assertEquals("<i8", feeds.get("input_ids").descr());
        // the test helper tokenizes the same way
        assertArrayEquals(feeds.get("input_ids").values(), MiniLm.tokenize(TEXTS).get("input_ids").values());
    }

    @Test
    void paddingIsMaskedOut() throws IOException {
        Map<String, NpyArray> feeds = TextFeeds.forModel(textFile("Hi.", "The old fisherman repaired a broken bicycle."),
                MiniLm.tokenizer(), null, bert(OnnxJavaType.INT64, -1));
        long[] ids = row(feeds.get("input_ids"), 0);
        long[] mask = row(feeds.get("attention_mask"), 0);
        long[] full = row(feeds.get("attention_mask"), 1);
        int tokens = 4; // [CLS] hi . [SEP]
        for (int j = 0; j < ids.length; j++) {
            assertEquals(j < tokens ? 1 : 0, mask[j], "mask at " + j);
            assertEquals(1, full[j], "the longest text has no padding");
            if (j >= tokens) {
                assertEquals(0, ids[j], "[PAD] at " + j);
            }
        }
        assertEquals(102, ids[tokens - 1]); // [SEP]
    }

    @Test
    void onlyTheModelsInputsInItsTypeAndItsFixedLength() throws IOException {
        List<ModelRunner.Input> inputs = List.of(new ModelRunner.Input("attention_mask", new long[] {-1, 16}, OnnxJavaType.INT32),
                new ModelRunner.Input("input_ids", new long[] {-1, 16}, OnnxJavaType.INT32));
        Map<String, NpyArray> feeds = TextFeeds.forModel(textFile("The night train.",
                "a very long text that goes on and on well past sixteen tokens, as texts sometimes do"),
                MiniLm.tokenizer(), null, inputs);
        assertEquals(List.of("attention_mask", "input_ids"), List.copyOf(feeds.keySet()));
        assertArrayEquals(new long[] {2, 16}, feeds.get("input_ids").shape());
        assertEquals("<i4", feeds.get("input_ids").descr());
        assertEquals(102, row(feeds.get("input_ids"), 1)[15], "truncated to 16, [SEP] kept");
        Map<String, NpyArray> capped = TextFeeds.forModel(textFile("a very long text that goes on and on well past "
                + "eight tokens"), MiniLm.tokenizer(), 8, bert(OnnxJavaType.INT64, -1));
        assertArrayEquals(new long[] {1, 8}, capped.get("input_ids").shape());
    }

    @Test
    void whatTextCannotFeedIsRefused() throws IOException {
        Path texts = textFile("The night train.");
        assertTrue(refused(texts, List.of(new ModelRunner.Input("x", new long[] {-1, 4}, OnnxJavaType.FLOAT)))
                .startsWith("the model takes 'x', which text does not give"));
        assertTrue(refused(texts, List.of(new ModelRunner.Input("attention_mask", new long[] {-1, -1},
                OnnxJavaType.INT64))).startsWith("the model has no input named input_ids"));
        String fixed = assertThrows(IllegalArgumentException.class,
                () -> TextFeeds.forModel(texts, MiniLm.tokenizer(), 32, bert(OnnxJavaType.INT64, 16))).getMessage();
        assertTrue(fixed.startsWith("the model's sequence length is fixed at 16"), fixed);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TextFeeds.forModel(textFile("", "  "),
                MiniLm.tokenizer(), null, bert(OnnxJavaType.INT64, -1))).getMessage().endsWith("holds no text (one text per line)"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TextFeeds.forModel(texts,
                dir.resolve("absent.json"), null, bert(OnnxJavaType.INT64, -1))).getMessage().endsWith("absent.json: no such file"));
        Path junk = Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": 3}");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TextFeeds.forModel(texts, junk, null,
                bert(OnnxJavaType.INT64, -1))).getMessage().contains("not a Hugging Face tokenizer.json"));
    }

    /** A tokenizer.json with a whitespace pre-tokenizer and this model section. */
    private Path tokenizerWith(String model) throws IOException {
        return Files.writeString(Files.createTempFile(dir, "tokenizer", ".json"), "{\"version\": \"1.0\", "
                + "\"truncation\": null, \"padding\": null, \"added_tokens\": [], \"normalizer\": null, "
                + "\"pre_tokenizer\": {\"type\": \"Whitespace\"}, \"post_processor\": null, \"decoder\": null, "
                + "\"model\": " + model + "}");
    }

    /** Files on which the library's batch encode panics (the JVM aborts): refused by their JSON, in one line naming the file. */
    @Test
    void aTokenizerTheLibraryWouldAbortOnIsRefusedBeforeItLoads() throws IOException {
        List<String> texts = List.of("hello unseen world");
        String wordPiece = "{\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"continuing_subword_prefix\": \"##\", "
                + "\"max_input_chars_per_word\": 100, \"vocab\": ";
        Path noUnk = tokenizerWith(wordPiece + "{\"hello\": 0, \"world\": 1}}");
        Path empty = tokenizerWith(wordPiece + "{}}");
        Path wordLevel = tokenizerWith("{\"type\": \"WordLevel\", \"unk_token\": \"<unk>\", \"vocab\": {\"hello\": 0}}");
        Path unigram = tokenizerWith("{\"type\": \"Unigram\", \"unk_id\": 5, \"vocab\": [[\"hello\", -1.0]]}");
        assertEquals(noUnk + ": the WordPiece model's unknown token '[UNK]' is not in its vocabulary (2 tokens)",
                tokenizeRefused(noUnk, texts));
        assertEquals(empty + ": the WordPiece model's vocabulary is empty; a tokenizer needs at least its unknown token",
                tokenizeRefused(empty, texts));
        assertEquals(wordLevel + ": the WordLevel model's unknown token '<unk>' is not in its vocabulary (1 token)",
                tokenizeRefused(wordLevel, texts));
        assertEquals(unigram + ": the Unigram model's unk_id 5 is not an index into its vocabulary (1 token)",
                tokenizeRefused(unigram, texts));
        Path notObject = Files.writeString(dir.resolve("list.json"), "[1, 2]");
        assertTrue(tokenizeRefused(notObject, texts).endsWith("list.json: not a Hugging Face tokenizer.json (it holds "
                + "an array, expected an object)"));
    }

    /** An encoding error the JSON does not show (a Unigram with no unk_id meeting an unknown word) is one line too. */
    @Test
    void anEncodingErrorIsOneLineNamingTheFileAndTheText() throws IOException {
        Path unigram = tokenizerWith("{\"type\": \"Unigram\", \"unk_id\": null, \"vocab\": [[\"hello\", -1.0]]}");
        String why = tokenizeRefused(unigram, List.of("unseen"));
        assertTrue(why.startsWith(unigram + ": cannot tokenize text 1 ("), why);
        assertEquals(1, why.lines().count(), why);
        Path ok = tokenizerWith("{\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"continuing_subword_prefix\": \"##\", "
                + "\"max_input_chars_per_word\": 100, \"vocab\": {\"[UNK]\": 0, \"hello\": 1, \"world\": 2}}");
        assertArrayEquals(new long[] {1, 0, 2}, TextFeeds.tokenize(ok, List.of("hello unseen world"), 16).ids()[0]);
    }

    private static String tokenizeRefused(Path tokenizer, List<String> texts) {
        return assertThrows(IllegalArgumentException.class, () -> TextFeeds.tokenize(tokenizer, texts, 16)).getMessage();
    }

    private static String refused(Path texts, List<ModelRunner.Input> inputs) {
        return assertThrows(IllegalArgumentException.class, () -> TextFeeds.forModel(texts, MiniLm.tokenizer(), null,
                inputs)).getMessage();
    }

    private static long[] row(NpyArray a, int i) {
        int width = (int) a.shape()[1];
        long[] out = new long[width];
        for (int j = 0; j < width; j++) {
            out[j] = (long) a.values()[i * width + j];
        }
        return out;
    }
}
