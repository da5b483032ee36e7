package dev.blockterm.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A short fuzz campaign (the long one is {@link FuzzBenchmark}): every mutant keeps the promise. */
class FuzzTest {

    @TempDir
    Path work;

    @Test
    void everyMutantKeepsThePromise() throws Exception {
        int count = Integer.getInteger("fuzz.count", 120);
        Fuzz.Counts counts = new Fuzz(Long.getLong("fuzz.seed", 13L), work, 60, List.of("--max-sweeps", "2"), null).run(count);
        System.out.println("fuzz: " + counts);
        assertEquals(List.of(), counts.violations(), counts.toString());
        assertTrue(counts.valid() > 0 && counts.refused() > 0, "both kinds of outcome: " + counts);
    }

    @Test
    void theChecksCanFail() throws Exception {
        byte[] secret = {1, 2, 3};
        assertTrue(Fuzz.contains(new byte[] {9, 1, 2, 3, 4}, secret));
        assertTrue(!Fuzz.contains(new byte[] {1, 2, 4, 3}, secret));
        java.nio.file.Path folder = java.nio.file.Files.createDirectories(work.resolve("f"));
        java.nio.file.Files.writeString(folder.resolve("left.part"), "x");
        String v = Fuzz.check(new dev.blockterm.cli.CliRun(1, "", "blockterm: no\n"), "compress", folder,
                folder.resolve("out.onnx"), java.util.Map.of(), secret);
        assertTrue(v != null && v.contains("left behind"), v);
        String trace = Fuzz.check(new dev.blockterm.cli.CliRun(1, "", "java.lang.IllegalStateException: x\n\tat a.b.C(C.java:1)\n"),
                "compress", folder, folder.resolve("out.onnx"), java.util.Map.of(), secret);
        assertTrue(trace != null && trace.contains("stack trace"), trace);
    }
}
