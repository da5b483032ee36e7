package dev.blockterm.compress;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * One compression's staging folder: the curve fits' bases ({@link StagedBases}), covariances and
 * weights shipped to other processes, and the spilled factor tensors
 * ({@link dev.blockterm.onnx.SpillFile}), made under the runner's staging root. It lives as long as
 * the compression's result ({@link Compressor.Result#close}), and is deleted at exit where a result
 * was never closed. The folders of the root this made (all of them, where {@code a/b/c} did not exist)
 * go with it when empty.
 *
 * <p>A {@code SIGKILL} (or the kernel's out-of-memory kill) runs no exit hook: the folder is named
 * {@code blockterm-staging-<pid>@<host>-<digits>} after the process that made it, and the next run
 * on the same host staging under the same root deletes each such folder whose process is gone (no
 * process with that id, or one started after the folder was last written: the id was reused). A
 * folder of another host (a root on shared storage) is that host's to sweep.
 */
public final class Staging implements AutoCloseable {

    private static final Set<Path> OPEN = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> OPEN.forEach(Staging::delete)));
    }

    private static final String PREFIX = "blockterm-staging-";
    private static final Pattern NAME = Pattern.compile(Pattern.quote(PREFIX) + "([0-9]+)@([A-Za-z0-9._-]+)-[0-9]+");
    private static final String HOST = host();

    private final Path dir;
    private final List<Path> made; // the folders of the root this made, deepest first (removed again when empty)

    Staging(Path root) {
        Path absolute = root.toAbsolutePath().normalize();
        made = missingFolders(absolute);
        try {
            Files.createDirectories(absolute);
            sweep(absolute);
            this.dir = Files.createTempDirectory(absolute, prefix(ProcessHandle.current().pid()));
        } catch (IOException e) {
            removeMade();
            throw new UncheckedIOException("cannot write a staging folder under " + root + " (" + e.getMessage() + ")", e);
        }
        OPEN.add(dir);
    }

    /** The start of the name of a staging folder made by process {@code pid} of this host. */
    static String prefix(long pid) {
        return PREFIX + pid + "@" + HOST + "-";
    }

    /** This machine's name as the kernel holds it (no name lookup), in the characters a folder name takes. */
    private static String host() {
        try {
            String name = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip().replaceAll("[^A-Za-z0-9.-]", "_");
            return name.isEmpty() ? "host" : name;
        } catch (IOException | RuntimeException e) {
            return "host";
        }
    }

    /** {@code folder} and those of its parents that do not exist, deepest first. */
    private static List<Path> missingFolders(Path folder) {
        List<Path> missing = new ArrayList<>();
        for (Path p = folder; p != null && !Files.exists(p); p = p.getParent()) {
            missing.add(p);
        }
        return missing;
    }

    /**
     * Deletes the staging folders under {@code root} whose process is gone: a run killed before its
     * exit hook ran left them. A folder of a live process, or one not named by this class, stays.
     */
    static void sweep(Path root) {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(root, PREFIX + "*")) {
            for (Path p : entries) {
                Matcher m = NAME.matcher(p.getFileName().toString());
                if (m.matches() && m.group(2).equals(HOST) && Files.isDirectory(p) && !OPEN.contains(p.toAbsolutePath())
                        && ownerGone(m.group(1), p)) {
                    delete(p);
                }
            }
        } catch (IOException | RuntimeException e) {
            // an unreadable root: making the folder says so
        }
    }

    private static boolean ownerGone(String pid, Path folder) throws IOException {
        long id;
        try {
            id = Long.parseLong(pid);
        } catch (NumberFormatException e) {
            return false;
        }
        Optional<ProcessHandle> owner = ProcessHandle.of(id);
        if (owner.isEmpty() || !owner.get().isAlive()) {
            return true;
        }
        Optional<Instant> started = owner.get().info().startInstant();
        // the owner made the folder after it started, so a process started later is another one with the same id
        return started.isPresent() && started.get().isAfter(Files.getLastModifiedTime(folder).toInstant());
    }

    Path dir() {
        return dir;
    }

    /** Deletes the folder and what is in it (tensors still mapped from it stay readable). */
    @Override
    public void close() {
        if (OPEN.remove(dir)) {
            delete(dir);
            removeMade();
        }
    }

    /** Removes the folders this made for the root, deepest first, up to the first one not empty. */
    private void removeMade() {
        for (Path p : made) {
            try {
                Files.deleteIfExists(p); // nothing left behind that was not there (a root in use stays)
            } catch (IOException e) {
                return; // not empty: another run's folder is in it
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
