package dev.blockterm.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A run that loads ONNX Runtime leaves nothing in the temporary directory; its libraries live in the user's cache. */
class NativeLibrariesTest {

    @TempDir
    Path dir;

    @Test
    void nothingLeftInTheTemporaryDirectory() throws Exception {
        Path tmp = Files.createDirectory(dir.resolve("tmp"));
        Path cache = dir.resolve("cache");
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        for (int run = 0; run < 2; run++) { // the first copies the libraries, the second reuses them
            ProcessBuilder pb = new ProcessBuilder(javaBin.toString(), "-Djava.io.tmpdir=" + tmp, "-cp",
                    System.getProperty("java.class.path"), "dev.blockterm.cli.Main", "verify", "models/digits_mlp.onnx",
                    "models/digits_mlp.onnx").redirectOutput(ProcessBuilder.Redirect.DISCARD);
            pb.environment().put("XDG_CACHE_HOME", cache.toString());
            Process p = pb.start();
            String err = new String(p.getErrorStream().readAllBytes());
            assertTrue(p.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), err);
            try (Stream<Path> left = Files.list(tmp)) {
                List<String> names = left.map(x -> x.getFileName().toString()).filter(n -> n.startsWith("onnxruntime")
                        || n.startsWith("blockterm")).toList();
                assertEquals(List.of(), names, "left in java.io.tmpdir after run " + run);
            }
        }
        try (Stream<Path> libs = Files.walk(cache.resolve("blockterm"))) {
            assertEquals(2, libs.filter(p -> p.getFileName().toString().endsWith(".so")).count());
        }
    }
}
