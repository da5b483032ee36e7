package dev.blockterm.runtime;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashSet;
import java.util.Set;

/**
 * ONNX Runtime's native libraries, loaded so that the process leaves nothing in {@code /tmp}.
 *
 * <p>ONNX Runtime's Java loader ({@code ai.onnxruntime.OnnxRuntime.init}, 1.20) creates a directory
 * {@code onnxruntime-java<N>} in {@code java.io.tmpdir} on every start, copies its two libraries
 * (16 MB) into it unless the system property {@code onnxruntime.native.path} names a directory that
 * holds them, loads them, and deletes what it can, marking the rest {@code deleteOnExit}: the empty
 * directory stays after every run, and the 16 MB stay after a kill. So the libraries are copied once
 * into a per-user cache, {@code $XDG_CACHE_HOME/blockterm/onnxruntime-<version>-<platform>} (default
 * {@code ~/.cache}), and reused by every later run through that property; the directory ORT still
 * creates is removed right after it loads, if it is empty. Where the cache cannot be written, ORT's
 * own loading is left as it is.
 */
final class NativeLibraries {

    private static final String PREFIX = "onnxruntime-java";
    private static final String[] LIBRARIES = {"libonnxruntime.so", "libonnxruntime4j_jni.so"};

    private static OrtEnvironment environment;

    private NativeLibraries() {
    }

    /** The ONNX Runtime environment, its libraries loaded from the cache on first use. */
    static synchronized OrtEnvironment environment() {
        if (environment == null) {
            if (System.getProperty("onnxruntime.native.path") == null) {
                Path cache = cache();
                if (cache != null) {
                    System.setProperty("onnxruntime.native.path", cache.toString());
                }
            }
            Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
            Set<Path> before = ortDirectories(tmp);
            // warnings (an unused initializer, a fused node) are ONNX Runtime's to log, not lines on our stderr; and
            // an error it logs (a kernel that fails) it also returns, as the exception our one line reports
            environment = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL);
            for (Path dir : ortDirectories(tmp)) {
                if (!before.contains(dir)) {
                    try {
                        Files.deleteIfExists(dir); // only an empty directory can be deleted
                    } catch (IOException ignored) {
                        // not empty (another process's, extracting): not ours to remove
                    }
                }
            }
        }
        return environment;
    }

    /**
     * Options for a session of {@code threads} intra-op threads that logs nothing below a fatal error:
     * ONNX Runtime prints a kernel's failure as a coloured line on the process's stderr before it
     * returns the same failure as an exception, and the user is to read one line, ours. (The
     * environment's level alone does not hold where another library made the environment first.)
     */
    static OrtSession.SessionOptions sessionOptions(int threads) throws OrtException {
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        try {
            options.setIntraOpNumThreads(threads);
            options.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL);
            return options;
        } catch (OrtException | RuntimeException e) {
            options.close();
            throw e;
        }
    }

    /** The cache directory holding both libraries, copied from ORT's jar if missing; null where that fails. */
    private static Path cache() {
        String version = OrtEnvironment.class.getPackage().getImplementationVersion();
        String os = System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (version == null || !os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            return null;
        }
        String home = System.getenv("XDG_CACHE_HOME");
        Path base = home != null && !home.isEmpty() ? Path.of(home) : Path.of(System.getProperty("user.home"), ".cache");
        Path dir = base.resolve("blockterm").resolve("onnxruntime-" + version + "-linux-x64");
        try {
            Files.createDirectories(dir);
            for (String library : LIBRARIES) {
                Path file = dir.resolve(library);
                if (Files.isRegularFile(file)) {
                    continue;
                }
                try (InputStream in = OrtEnvironment.class.getResourceAsStream("/ai/onnxruntime/native/linux-x64/" + library)) {
                    if (in == null) {
                        return null;
                    }
                    // copied whole to a temporary name and moved, so a concurrent run never loads half a library
                    Path temp = Files.createTempFile(dir, "." + library, ".part");
                    try {
                        Files.copy(in, temp, StandardCopyOption.REPLACE_EXISTING);
                        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                    } finally {
                        Files.deleteIfExists(temp);
                    }
                }
            }
            return dir;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static Set<Path> ortDirectories(Path tmp) {
        Set<Path> dirs = new HashSet<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(tmp, PREFIX + "*")) {
            for (Path p : entries) {
                dirs.add(p);
            }
        } catch (IOException | RuntimeException e) {
            // no temporary directory to look at
        }
        return dirs;
    }
}
