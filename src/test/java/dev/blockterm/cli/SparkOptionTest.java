package dev.blockterm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --spark} in the default build (no Spark on the class path) and a {@code --staging} that is
 * not a folder: refused in one line, nothing written.
 */
class SparkOptionTest {

    @TempDir
    Path dir;

    private static boolean sparkOnClassPath() {
        try {
            Class.forName("org.apache.spark.SparkConf", false, SparkOptionTest.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    @Test
    void withoutTheSparkBuildItSaysHowToGetIt() {
        assumeFalse(sparkOnClassPath(), "Spark is on the class path (the spark profile): its own tests cover it");
        Path out = dir.resolve("out.onnx");
        CliRun run = CliRun.of("compress", "models/digits_mlp.onnx", "-o", out.toString(), "--ratio", "2", "-q",
                "--spark", "local[2]");
        assertEquals(1, run.code(), run.err());
        assertEquals(1, run.err().strip().lines().count(), run.err());
        assertTrue(run.err().contains("-Pspark"), run.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void aPerLayerTargetIsRefused() {
        Path out = dir.resolve("out.onnx");
        CliRun run = CliRun.of("compress", "models/digits_mlp.onnx", "-o", out.toString(), "--layer-ratio", "4", "-q",
                "--spark", "local[2]");
        assertEquals(2, run.code(), run.err()); // a usage error: the message, then picocli's "Try ... --help" line
        List<String> lines = run.err().strip().lines().toList();
        assertEquals(2, lines.size(), run.err());
        assertTrue(lines.get(0).contains("--spark") && lines.get(1).startsWith("Try "), run.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void aStagingPathThatIsAFileIsRefused() throws Exception {
        Path out = dir.resolve("out.onnx");
        Path file = Files.writeString(dir.resolve("file"), "x");
        CliRun run = CliRun.of("compress", "models/digits_mlp.onnx", "-o", out.toString(), "--ratio", "2", "-q",
                "--staging", file.toString());
        assertEquals(1, run.code(), run.err());
        assertEquals(1, run.err().strip().lines().count(), run.err());
        assertTrue(run.err().contains("--staging"), run.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void aStagingFolderItMadeIsGoneAfterwards() {
        Path out = dir.resolve("out.onnx");
        Path staging = dir.resolve("new/a/b/c");
        CliRun run = CliRun.of("compress", "models/digits_mlp.onnx", "-o", out.toString(), "--ratio", "2", "-q",
                "--no-latency-check", "--staging", staging.toString());
        assertEquals(0, run.code(), run.err());
        assertTrue(Files.exists(out));
        assertFalse(Files.exists(dir.resolve("new")), "a folder it made for the staging root is left behind");
    }
}
