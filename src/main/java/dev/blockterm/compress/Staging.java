package dev.blockterm.compress;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * One compression's staging folder: the curve fits' bases ({@link StagedBases}) and the spilled
 * factor tensors ({@link dev.blockterm.onnx.SpillFile}), made under the runner's staging root and
 * deleted when the compression ends (tensors still mapped from it stay readable: the mappings
 * keep their pages).
 */
final class Staging implements AutoCloseable {

    private final Path dir;

    Staging(Path root) {
        try {
            Files.createDirectories(root);
            this.dir = Files.createTempDirectory(root, "blockterm-staging-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot make a staging folder under " + root + " (" + e.getMessage() + ")", e);
        }
    }

    Path dir() {
        return dir;
    }

    @Override
    public void close() {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // a staging folder left behind is litter, not an error of the compression
        }
    }
}
