package dev.blockterm.compress;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * One compression's staging folder: the curve fits' bases ({@link StagedBases}), covariances and
 * weights shipped to other processes, and the spilled factor tensors
 * ({@link dev.blockterm.onnx.SpillFile}), made under the runner's staging root. It lives as long as
 * the compression's result ({@link Compressor.Result#close}), and is deleted at exit where a result
 * was never closed.
 */
public final class Staging implements AutoCloseable {

    private static final Set<Path> OPEN = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> OPEN.forEach(Staging::delete)));
    }

    private final Path dir;
    private final Path madeRoot; // the root, where this made it (removed again when empty), else null

    Staging(Path root) {
        try {
            madeRoot = Files.isDirectory(root) ? null : root.toAbsolutePath();
            Files.createDirectories(root);
            this.dir = Files.createTempDirectory(root.toAbsolutePath(), "blockterm-staging-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write a staging folder under " + root + " (" + e.getMessage() + ")", e);
        }
        OPEN.add(dir);
    }

    Path dir() {
        return dir;
    }

    /** Deletes the folder and what is in it (tensors still mapped from it stay readable). */
    @Override
    public void close() {
        if (OPEN.remove(dir)) {
            delete(dir);
            if (madeRoot != null) {
                try {
                    Files.deleteIfExists(madeRoot); // nothing left behind that was not there (a root in use stays)
                } catch (IOException e) {
                    // not empty: another run's folder is in it
                }
            }
        }
    }

    private static void delete(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    // the others still go; a file left behind is litter, not an error of the compression
                }
            }
        } catch (IOException | UncheckedIOException e) {
            // the folder is gone or unreadable: nothing more to do
        }
    }
}
