package dev.blockterm.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** No temporary file outlives a run: deleted on SIGTERM, swept after a SIGKILL. */
class TempFilesTest {

    @TempDir
    Path dir;

    /** Run in a child JVM: creates a temporary file beside args[0], prints its path, waits to be killed. */
    public static void main(String[] args) throws Exception {
        Path temp = TempFiles.beside(Path.of(args[0]));
        System.out.println(temp);
        System.out.flush();
        Thread.sleep(60_000);
    }

    @Test
    void aSigtermDeletesTheFileInFlight() throws Exception {
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(javaBin.toString(), "-cp", System.getProperty("java.class.path"),
                TempFilesTest.class.getName(), dir.resolve("out.onnx").toString()).start();
        Path temp;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            temp = Path.of(r.readLine());
            assertTrue(Files.exists(temp), temp + " made");
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        }
        assertTrue(temp.getFileName().toString().matches("\\.out\\.onnx[0-9]+\\.part"), temp.toString());
        assertFalse(Files.exists(temp), "deleted by the shutdown hook");
    }

    @Test
    void aKilledRunsLeftoverIsSweptByTheNextWriteOfTheSameOutput() throws Exception {
        FileTime old = FileTime.from(Instant.now().minusSeconds(3600 * 24));
        Path stale = Files.writeString(dir.resolve(".out.onnx123456.part"), "half a model");
        Path staleData = Files.writeString(dir.resolve(".out.onnx.data99.part"), "half the data");
        Path otherOutput = Files.writeString(dir.resolve(".other.onnx123.part"), "another output's");
        Path notOurs = Files.writeString(dir.resolve(".out.onnxabc.part"), "a name we never make");
        Path recent = Files.writeString(dir.resolve(".out.onnx777.part"), "another writer, in flight");
        for (Path p : new Path[] {stale, staleData, otherOutput, notOurs}) {
            Files.setLastModifiedTime(p, old);
        }
        Files.setLastModifiedTime(recent, FileTime.from(Instant.now().plusSeconds(60)));
        ModelFiles.write(TinyModels.reluOnly(), dir.resolve("out.onnx"), null);
        assertFalse(Files.exists(stale), "swept");
        assertTrue(Files.exists(staleData) && Files.exists(otherOutput) && Files.exists(notOurs) && Files.exists(recent));
        try (var files = Files.list(dir)) {
            assertEquals(5, files.count(), "out.onnx and the four others");
        }
    }
}
