package dev.blockterm.handoff;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The same factors and metadata give the same bytes: the metadata in key order, whatever order it was given in. */
class SafeTensorsTest {

    @TempDir
    Path dir;

    @Test
    void theMetadataIsWrittenInKeyOrder() throws IOException {
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            keys.add("key" + (char) ('a' + (i * 7) % 12));
        }
        Map<String, String> given = new LinkedHashMap<>();
        Map<String, String> reversed = new LinkedHashMap<>();
        for (int i = 0; i < keys.size(); i++) {
            given.put(keys.get(i), "v" + i);
            reversed.put(keys.get(keys.size() - 1 - i), "v" + (keys.size() - 1 - i));
        }
        List<SafeTensors.Tensor> tensors = List.of(new SafeTensors.Tensor("w", "F32", new long[] {2}, new double[] {1, 2}));
        Path a = dir.resolve("a.safetensors");
        Path b = dir.resolve("b.safetensors");
        new SafeTensors(given, tensors).write(a);
        new SafeTensors(reversed, tensors).write(b);
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
        byte[] bytes = Files.readAllBytes(a);
        long length = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(bytes, 8, (int) length, StandardCharsets.UTF_8);
        List<String> written = List.copyOf(JsonParser.parseString(header).getAsJsonObject()
                .getAsJsonObject(SafeTensors.METADATA).keySet());
        assertEquals(keys.stream().sorted().toList(), written);
    }
}
