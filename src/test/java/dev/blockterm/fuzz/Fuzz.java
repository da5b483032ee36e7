package dev.blockterm.fuzz;

import dev.blockterm.cli.CliRun;
import dev.blockterm.runtime.ModelRunner;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import onnx.Onnx;

/**
 * The fuzz campaign: mutants of the bundled models through the CLI in-process, each in a fresh
 * folder, every run held to blockterm's promise on any input:
 * <ul>
 * <li>exit 0 with an output that loads in ONNX Runtime (and passes {@code onnx.checker.check_model}
 *     where {@code /usr/bin/python3} has {@code onnx}; checked in batches, one python process each);</li>
 * <li>or exit 1 with exactly one line on stderr (2 for usage, the error and a hint), no stack trace,
 *     no output file;</li>
 * <li>never a hang (a per-case time limit), no file left in the folder besides the outputs, the
 *     input byte-identical afterwards, and no byte of a sentinel file planted outside the model's
 *     folder in any output (no read outside the folder).</li>
 * </ul>
 */
public final class Fuzz {

    /** The counts of a campaign and every violation of the promise, described. */
    public record Counts(int mutants, int valid, int refused, int usage, List<String> violations, int checkedByOnnx) {
        @Override
        public String toString() {
            return String.format("%d mutants: %d exit 0 with a valid model, %d exit 1 with one line, %d exit 2, %d violations"
                    + "%s", mutants, valid, refused, usage, violations.size(),
                    checkedByOnnx >= 0 ? " (" + checkedByOnnx + " outputs passed onnx.checker)" : " (python3 onnx missing: "
                            + "outputs checked by ONNX Runtime only)");
        }
    }

    static final List<Path> MODELS = List.of(Path.of("models/digits_mlp.onnx"), Path.of("models/digits_cnn.onnx"),
            Path.of("models/digits_lstm.onnx"));

    private final long seed;
    private final Path work;
    private final long timeoutSeconds;
    private final List<String> extraOptions;
    private final java.io.PrintStream log;

    /**
     * @param work          a folder of this campaign's own (cases are made and removed under it)
     * @param extraOptions  options appended to every compress (to keep a short run short)
     */
    public Fuzz(long seed, Path work, long timeoutSeconds, List<String> extraOptions, java.io.PrintStream log) {
        this.seed = seed;
        this.work = work;
        this.timeoutSeconds = timeoutSeconds;
        this.extraOptions = extraOptions;
        this.log = log;
    }

    public Counts run(int count) throws Exception {
        Path sentinel = work.resolve("sentinel.bin");
        byte[] secret = new byte[48];
        new Random(seed ^ 0x5EC12E7L).nextBytes(secret);
        byte[] planted = new byte[256 * 1024]; // large enough to stand in for any external tensor
        for (int i = 0; i < planted.length; i++) {
            planted[i] = secret[i % secret.length];
        }
        Files.write(sentinel, planted);
        Map<Path, Onnx.ModelProto> originals = new HashMap<>();
        for (Path p : MODELS) {
            originals.put(p, Onnx.ModelProto.parseFrom(Files.readAllBytes(p)));
        }
        Mutations mutations = new Mutations(seed, sentinel);
        ExecutorService runner = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz-case");
            t.setDaemon(true);
            return t;
        });
        List<String> violations = new ArrayList<>();
        List<Path> toCheck = new ArrayList<>();
        int valid = 0;
        int refused = 0;
        int usage = 0;
        int checked = 0;
        boolean python = PythonChecker.available();
        try {
            for (int i = 0; i < count; i++) {
                Path folder = Files.createDirectories(work.resolve("case" + i).resolve("m"));
                Path original = MODELS.get(i % MODELS.size());
                Mutations.Mutant mutant = mutations.make(originals.get(original), folder);
                Map<Path, byte[]> before = snapshot(folder);
                Path out = folder.resolve("out.onnx");
                String[] args = command(i, mutant.model(), out);
                String label = "case " + i + " (" + original.getFileName() + ", " + mutant.description() + ", "
                        + String.join(" ", args).replace(folder.toString(), "DIR") + ")";
                Future<CliRun> future = runner.submit(() -> CliRun.of(args));
                CliRun run;
                try {
                    run = future.get(timeoutSeconds, TimeUnit.SECONDS);
                } catch (TimeoutException e) {
                    violations.add(label + ": no answer within " + timeoutSeconds + " s (a hang)");
                    future.cancel(true);
                    runner.shutdownNow();
                    runner = Executors.newSingleThreadExecutor(r -> {
                        Thread t = new Thread(r, "fuzz-case");
                        t.setDaemon(true);
                        return t;
                    });
                    continue;
                } catch (ExecutionException e) {
                    violations.add(label + ": escaped the CLI: " + e.getCause());
                    continue;
                }
                String violation = check(run, args[0], folder, out, before, secret);
                if (violation != null) {
                    violations.add(label + ": " + violation);
                } else if (run.code() == 0) {
                    valid++;
                    if (args[0].equals("compress")) {
                        toCheck.add(out);
                    }
                } else if (run.code() == 1) {
                    refused++;
                } else {
                    usage++;
                }
                if (log != null && (i + 1) % 100 == 0) {
                    log.printf("%d mutants: %d exit 0, %d exit 1, %d exit 2, %d violations%n", i + 1, valid, refused, usage,
                            violations.size());
                }
                if (python && toCheck.size() >= 200) {
                    checked += pythonCheck(toCheck, violations);
                }
                if (!python || run.code() != 0) {
                    deleteTree(folder.getParent());
                }
            }
            if (python) {
                checked += pythonCheck(toCheck, violations);
            }
        } finally {
            runner.shutdownNow();
        }
        return new Counts(count, valid, refused, usage, violations, python ? checked : -1);
    }

    private int pythonCheck(List<Path> outputs, List<String> violations) throws IOException, InterruptedException {
        Map<Path, String> failures = PythonChecker.check(outputs);
        int passed = outputs.size() - failures.size();
        for (Map.Entry<Path, String> f : failures.entrySet()) {
            if (f.getValue().contains("higher than the checker's")) {
                continue; // an IR version or opset that ONNX Runtime loads but this python's onnx predates: unchecked
            }
            violations.add(f.getKey() + ": exit 0 but onnx.checker refuses it: " + f.getValue());
        }
        for (Path p : outputs) {
            deleteTree(p.getParent().getParent());
        }
        outputs.clear();
        return passed;
    }

    /** Mostly compress; some inspect and verify (verify runs the mutant in ONNX Runtime). */
    private String[] command(int i, Path model, Path out) {
        if (i % 10 == 3) {
            return new String[] {"inspect", model.toString()};
        }
        if (i % 10 == 7) {
            return new String[] {"verify", model.toString(), model.toString(), "--random-batch", "2"};
        }
        List<String> args = new ArrayList<>(List.of("compress", model.toString(), "-o", out.toString(),
                "--no-latency-check", "-q"));
        args.addAll(extraOptions);
        return args.toArray(String[]::new);
    }

    /** Null when the run kept the promise, else what it broke. */
    static String check(CliRun run, String command, Path folder, Path out, Map<Path, byte[]> before, byte[] secret)
            throws IOException {
        String err = run.err();
        if (err.contains("\tat ") || err.contains("Exception in thread") || err.matches("(?s).*\\bat [a-z]+\\.[\\w.$]+\\(.*")) {
            return "a stack trace on stderr: " + firstLines(err);
        }
        for (Map.Entry<Path, byte[]> e : before.entrySet()) {
            if (!Arrays.equals(e.getValue(), contents(e.getKey()))) {
                return "the input " + e.getKey().getFileName() + " changed";
            }
        }
        Set<String> expected = new TreeSet<>();
        before.keySet().forEach(p -> expected.add(p.getFileName().toString()));
        Set<String> found = new TreeSet<>();
        try (Stream<Path> files = Files.list(folder)) {
            files.forEach(p -> found.add(p.getFileName().toString()));
        }
        switch (run.code()) {
            case 0 -> {
                if (command.equals("compress")) {
                    if (!Files.isRegularFile(out)) {
                        return "exit 0 without an output";
                    }
                    expected.add("out.onnx");
                    if (Files.exists(folder.resolve("out.onnx.data"))) {
                        expected.add("out.onnx.data");
                    }
                    for (String name : expected) {
                        Path p = folder.resolve(name);
                        if (!before.containsKey(p) && contains(Files.readAllBytes(p), secret)) {
                            return "the output holds the sentinel's bytes (a read outside the model's folder)";
                        }
                    }
                    try (ModelRunner r = new ModelRunner(out, 1)) {
                        r.inputs();
                    } catch (RuntimeException e) {
                        return "exit 0 but ONNX Runtime cannot load the output: " + firstLines(String.valueOf(e.getMessage()));
                    }
                }
            }
            case 1 -> {
                if (err.lines().count() != 1) {
                    return "exit 1 with " + err.lines().count() + " lines on stderr: " + firstLines(err);
                }
            }
            case 2 -> {
                if (err.lines().count() > 2 || err.isBlank()) {
                    return "exit 2 with " + err.lines().count() + " lines on stderr";
                }
            }
            default -> {
                return "exit " + run.code() + ": " + firstLines(err);
            }
        }
        if (!found.equals(expected)) {
            Set<String> extra = new TreeSet<>(found);
            extra.removeAll(expected);
            return "files left behind: " + extra + (extra.isEmpty() ? " (missing: " + expected + ")" : "");
        }
        return null;
    }

    static boolean contains(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    private static Map<Path, byte[]> snapshot(Path folder) throws IOException {
        Map<Path, byte[]> files = new HashMap<>();
        try (Stream<Path> list = Files.list(folder)) {
            for (Path p : list.toList()) {
                files.put(p, contents(p));
            }
        }
        return files;
    }

    /** A file's bytes; for a symbolic link, "link:" and its target (it must stay the same link); null when gone. */
    private static byte[] contents(Path p) throws IOException {
        if (Files.isSymbolicLink(p)) {
            return ("link:" + Files.readSymbolicLink(p)).getBytes(StandardCharsets.UTF_8);
        }
        return Files.isRegularFile(p) ? Files.readAllBytes(p) : null;
    }

    private static String firstLines(String s) {
        String one = s.lines().limit(3).reduce((a, b) -> a + " | " + b).orElse("");
        return one.length() > 300 ? one.substring(0, 300) + "..." : one;
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : all.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}
