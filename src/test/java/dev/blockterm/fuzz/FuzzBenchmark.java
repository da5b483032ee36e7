package dev.blockterm.fuzz;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The long fuzz campaign: {@code mvn -B -Pbench test-compile exec:exec@fuzz} (FUZZ_COUNT, default
 * 10000; FUZZ_SEED, default 13). Prints progress every 100 mutants, then the counts and every
 * violation; exits 1 if there is any.
 */
public final class FuzzBenchmark {

    private FuzzBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int count = Integer.parseInt(System.getenv().getOrDefault("FUZZ_COUNT", "10000"));
        long seed = Long.parseLong(System.getenv().getOrDefault("FUZZ_SEED", "13"));
        Path work = Files.createTempDirectory("blockterm-fuzz");
        long start = System.nanoTime();
        Fuzz.Counts counts;
        try {
            counts = new Fuzz(seed, work, 120, List.of(), System.out).run(count);
        } finally {
            Fuzz.deleteTree(work);
        }
        System.out.println(counts + String.format(" in %.0f s (seed %d)", (System.nanoTime() - start) / 1e9, seed));
        counts.violations().forEach(v -> System.out.println("VIOLATION " + v));
        System.exit(counts.violations().isEmpty() ? 0 : 1);
    }
}
