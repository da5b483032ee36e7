package dev.blockterm.onnx;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks the files a command will write before it does any work: none may be the input model or
 * one of its external data files (writing would destroy the input), two outputs may not be the same
 * file (one would overwrite the other), an existing output must be a regular file (a device node or
 * FIFO would be replaced, or block), and each output's folder must exist and be writable.
 */
public final class OutputPaths {

    private OutputPaths() {
    }

    /** As {@link #check(Path, List, List)}, the input's external data files found from the model file. */
    public static void check(Path input, List<Path> outputs) {
        check(input, ExternalData.files(input), outputs);
    }

    /**
     * @param input     the model read
     * @param dataFiles its external data files, and any other file the command reads
     * @param outputs   every file to be written (null entries, options not given, are skipped)
     */
    public static void check(Path input, List<Path> dataFiles, List<Path> outputs) {
        List<Path> seen = new ArrayList<>();
        for (Path out : outputs) {
            if (out == null) {
                continue;
            }
            Path target = out.toAbsolutePath().normalize();
            if (sameFile(target, input)) {
                throw new ModelException(out + ": output path is the input model; choose another");
            }
            for (Path data : dataFiles) {
                if (sameFile(target, data) || sameFile(target.resolveSibling(target.getFileName() + ".data"), data)) {
                    throw new ModelException(out + ": output path is an input file (" + data
                            + ", the model's external data or another input); writing it would destroy the input; choose another");
                }
            }
            for (Path other : seen) {
                if (sameFile(target, other)) {
                    throw new ModelException(out + ": named twice as an output (-o, --report, --factors must differ)");
                }
            }
            seen.add(out);
            if (Files.isDirectory(target)) {
                throw new ModelException(out + ": is a directory; name a file");
            }
            if (Files.exists(target) && !Files.isRegularFile(target)) {
                throw new ModelException(out + ": exists and is not a regular file (a device, FIFO or socket); "
                        + "choose another path");
            }
            Path dir = target.getParent();
            if (dir == null || !Files.isDirectory(dir)) {
                throw new ModelException(out + ": output directory does not exist");
            }
            if (!Files.isWritable(dir)) {
                throw new ModelException(out + ": output directory is not writable");
            }
        }
    }

    static boolean sameFile(Path a, Path b) {
        Path x = a.toAbsolutePath().normalize();
        Path y = b.toAbsolutePath().normalize();
        if (x.equals(y)) {
            return true;
        }
        try {
            return Files.exists(x) && Files.exists(y) && Files.isSameFile(x, y);
        } catch (IOException e) {
            return false;
        }
    }
}
