package dev.blockterm.onnx;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The temporary files of this process's writes, so that none outlives it. Each is registered while it
 * is in flight; a shutdown hook deletes those still registered when the JVM ends (normally, by
 * {@code SIGTERM}/{@code SIGINT} or by {@code System.exit}). A {@code SIGKILL} runs no hook: the
 * leftover {@code .<name><digits>.part} beside an output is swept by the next run that writes the
 * same output, if it is older than that run (a newer one may be another writer's, still in flight).
 */
public final class TempFiles {

    private static final Set<Path> IN_FLIGHT = ConcurrentHashMap.newKeySet();
    private static final Instant START = ProcessHandle.current().info().startInstant().orElse(Instant.now());

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(TempFiles::deleteInFlight, "blockterm-temp-files"));
    }

    private TempFiles() {
    }

    /**
     * A new empty file {@code .<name><digits>.part} beside {@code target} (its name as
     * {@link Files#createTempFile(Path, String, String)} makes it), after sweeping stale ones.
     */
    public static Path beside(Path target) throws IOException {
        Path absolute = target.toAbsolutePath().normalize();
        sweep(absolute);
        return register(Files.createTempFile(absolute.getParent(), "." + absolute.getFileName(), ".part"));
    }

    /** A new empty file in the system's temporary directory, deleted at exit if still there. */
    public static Path create(String prefix, String suffix) throws IOException {
        return register(Files.createTempFile(prefix, suffix));
    }

    /** Registers a file this process is about to create, to be deleted at exit unless {@link #done} is called. */
    public static Path register(Path p) {
        IN_FLIGHT.add(p.toAbsolutePath());
        return p;
    }

    /** The file was moved into place (or deleted): nothing to clean up any more. */
    public static void done(Path p) {
        if (p != null) {
            IN_FLIGHT.remove(p.toAbsolutePath());
        }
    }

    /** Deletes the file if it exists and forgets it. */
    public static void delete(Path p) {
        if (p != null) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // gone already, or never made
            }
            done(p);
        }
    }

    /** The temporary files of {@code target} left by a killed run: {@code .<name><digits>.part}, older than this process. */
    static void sweep(Path target) {
        Path dir = target.getParent();
        if (dir == null) {
            return;
        }
        Pattern ours = Pattern.compile("\\." + Pattern.quote(target.getFileName().toString()) + "[0-9]+\\.part");
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, "." + globSafe(target) + "*.part")) {
            for (Path p : entries) {
                if (ours.matcher(p.getFileName().toString()).matches() && Files.isRegularFile(p)
                        && Files.getLastModifiedTime(p).toInstant().isBefore(START) && !IN_FLIGHT.contains(p)) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // an unreadable directory: the write itself will say so
        }
    }

    private static String globSafe(Path target) {
        return target.getFileName().toString().replaceAll("[\\\\*?\\[\\]{}]", "?");
    }

    private static void deleteInFlight() {
        for (Path p : IN_FLIGHT) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // nothing more to do while the JVM ends
            }
        }
    }
}
