package dev.blockterm.calibrate;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What blockterm reads from a Hugging Face {@code tokenizer.json} itself, checked before the native
 * tokenizers library sees the file: the pad id and pad type id of its padding section (0 and 0 where
 * it names none), and a model section the library can encode any text with. The library panics (the
 * JVM aborts, exit 134) on a vocabulary without the unknown token its model names, so such a file is
 * refused here in one line: an empty vocabulary; a WordPiece, WordLevel or BPE {@code unk_token}
 * missing from the vocabulary; a Unigram {@code unk_id} outside it.
 *
 * @param padId     the id padding positions get in {@code input_ids}
 * @param padTypeId the id padding positions get in {@code token_type_ids}
 */
public record TokenizerJson(long padId, long padTypeId) {

    /** The checked contents of {@code file}; an {@link IllegalArgumentException} naming the file if it cannot be used. */
    public static TokenizerJson read(Path file) {
        JsonElement root;
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            root = JsonParser.parseReader(in);
        } catch (MalformedInputException e) {
            throw new IllegalArgumentException(file + ": not a tokenizer.json (not UTF-8 text)", e);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(file + ": not a tokenizer.json (not JSON: " + firstLine(e) + ")", e);
        }
        if (!root.isJsonObject()) {
            throw new IllegalArgumentException(file + ": not a Hugging Face tokenizer.json (it holds "
                    + kind(root) + ", expected an object)");
        }
        JsonObject top = root.getAsJsonObject();
        checkModel(file, top.get("model"));
        JsonElement padding = top.get("padding");
        if (padding == null || !padding.isJsonObject()) {
            return new TokenizerJson(0, 0);
        }
        JsonObject p = padding.getAsJsonObject();
        return new TokenizerJson(number(p, "pad_id"), number(p, "pad_type_id"));
    }

    private static void checkModel(Path file, JsonElement model) {
        if (model == null || !model.isJsonObject()) {
            throw new IllegalArgumentException(file + ": not a Hugging Face tokenizer.json (its \"model\" is "
                    + kind(model) + ", expected an object)");
        }
        JsonObject m = model.getAsJsonObject();
        String type = string(m, "type");
        JsonElement vocab = m.get("vocab");
        if (vocab == null) {
            return; // the library reports a missing vocabulary itself, as an error it returns
        }
        int size = vocab.isJsonObject() ? vocab.getAsJsonObject().size() : vocab.isJsonArray() ? vocab.getAsJsonArray().size() : -1;
        if (size == 0) {
            throw new IllegalArgumentException(file + ": the " + (type == null ? "" : type + " ") + "model's vocabulary "
                    + "is empty; a tokenizer needs at least its unknown token");
        }
        String unk = string(m, "unk_token");
        boolean needsUnk = "WordPiece".equals(type) || "WordLevel".equals(type) || "BPE".equals(type) && unk != null;
        if (needsUnk && vocab.isJsonObject() && (unk == null || !vocab.getAsJsonObject().has(unk))) {
            throw new IllegalArgumentException(file + ": the " + type + " model's unknown token "
                    + (unk == null ? "is not named (no \"unk_token\")" : "'" + unk + "' is not in its vocabulary ("
                    + tokens(size) + ")"));
        }
        JsonElement unkId = m.get("unk_id");
        if ("Unigram".equals(type) && unkId != null && !unkId.isJsonNull()) {
            boolean inside = unkId.isJsonPrimitive() && unkId.getAsJsonPrimitive().isNumber()
                    && unkId.getAsDouble() >= 0 && unkId.getAsDouble() < size && unkId.getAsDouble() == Math.rint(unkId.getAsDouble());
            if (!inside) {
                throw new IllegalArgumentException(file + ": the Unigram model's unk_id " + unkId + " is not an index "
                        + "into its vocabulary (" + tokens(size) + ")");
            }
        }
    }

    private static String tokens(int n) {
        return n + (n == 1 ? " token" : " tokens");
    }

    private static String string(JsonObject o, String name) {
        JsonElement e = o.get(name);
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isString() ? e.getAsString() : null;
    }

    private static long number(JsonObject o, String name) {
        JsonElement e = o.get(name);
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber() ? e.getAsLong() : 0;
    }

    private static String kind(JsonElement e) {
        if (e == null) {
            return "none";
        }
        return e.isJsonObject() ? "an object" : e.isJsonArray() ? "an array" : e.isJsonNull() ? "null" : e.toString();
    }

    private static String firstLine(Exception e) {
        return e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
    }
}
