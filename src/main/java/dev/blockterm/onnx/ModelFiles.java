package dev.blockterm.onnx;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import onnx.Onnx;
import org.nd4j.shade.protobuf.CodedInputStream;
import org.nd4j.shade.protobuf.CodedOutputStream;
import org.nd4j.shade.protobuf.InvalidProtocolBufferException;

/** Reads ONNX models and writes them atomically. */
public final class ModelFiles {

    /** protobuf's default message limit is 64 MB; ONNX files may be up to 2 GB. */
    private static final int SIZE_LIMIT = Integer.MAX_VALUE;

    private ModelFiles() {
    }

    /**
     * The model's size serialized with every weight inline, counted in a long: protobuf's own count
     * is an int and overflows past 2 GB, which models with external data reach.
     */
    public static long serializedBytes(Onnx.ModelProto model) {
        Onnx.GraphProto graph = model.getGraph();
        long bytes = model.toBuilder().setGraph(graph.toBuilder().clearInitializer()).build().getSerializedSize();
        for (Onnx.TensorProto t : graph.getInitializerList()) {
            bytes += CodedOutputStream.computeMessageSize(Onnx.GraphProto.INITIALIZER_FIELD_NUMBER, t);
        }
        return bytes;
    }

    public static Onnx.ModelProto read(Path path) {
        if (!Files.exists(path)) {
            throw new ModelException(path + ": no such file");
        }
        if (Files.isDirectory(path)) {
            throw new ModelException(path + ": is a directory, not an ONNX model");
        }
        if (!Files.isRegularFile(path)) {
            throw new ModelException(path + ": is not a regular file (a FIFO, device or socket), not an ONNX model");
        }
        Onnx.ModelProto model = parse(path);
        if (!model.hasGraph() || model.getGraph().getNodeCount() == 0 || model.getIrVersion() == 0) {
            throw new ModelException(path + ": not an ONNX model (no graph or no IR version)");
        }
        Onnx.ModelProto loaded = ExternalData.load(model, path.toAbsolutePath().normalize().getParent());
        ModelCheck.check(loaded, path.toString());
        return loaded;
    }

    /**
     * The model's external weights by reference (file, offset, length), for fits in other processes;
     * weights stored in the model file itself are not listed. Reads only the model file.
     */
    public static java.util.Map<String, WeightSource.Mapped> externalWeights(Path path) {
        return ExternalData.sources(parse(path), path.toAbsolutePath().normalize().getParent());
    }

    /** The model file's protobuf as stored (external data not read), or a one-line error. */
    private static Onnx.ModelProto parse(Path path) {
        try (InputStream in = Files.newInputStream(path)) {
            CodedInputStream coded = CodedInputStream.newInstance(in);
            coded.setSizeLimit(SIZE_LIMIT);
            return Onnx.ModelProto.parseFrom(coded);
        } catch (InvalidProtocolBufferException e) {
            throw new ModelException(path + ": not a valid ONNX model (" + e.getMessage() + ")", e);
        } catch (IllegalStateException | IllegalArgumentException | IndexOutOfBoundsException e) {
            // protobuf's own checks on a length it read from the file (refillBuffer, negative sizes)
            throw new ModelException(path + ": not a valid ONNX model (a damaged length field in the protobuf)", e);
        } catch (AccessDeniedException e) {
            throw new ModelException(path + ": permission denied", e);
        } catch (IOException e) {
            throw new ModelException(path + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    /** The external data files that the model file at {@code path} names (none when it names none or cannot be parsed). */
    public static java.util.List<Path> dataFiles(Path path) {
        return ExternalData.files(path);
    }

    /** What a written model must pass before it is moved into place (loading in ONNX Runtime, say). */
    @FunctionalInterface
    public interface Check {
        /** Throws, with a message for the user, when the complete file at {@code written} is not fit to publish. */
        void accept(Path written);
    }

    /**
     * Writes {@code model} to a temporary file beside {@code path} and moves it into place, so a
     * failure leaves no partial file. Refuses to overwrite {@code protect} (the input model).
     */
    public static void write(Onnx.ModelProto model, Path path, Path protect) {
        write(model, path, protect, ExternalData.INLINE_LIMIT);
    }

    /**
     * As {@link #write(Onnx.ModelProto, Path, Path)}; a model whose serialized size exceeds
     * {@code inlineLimit} bytes gets its large initializers in an external data file
     * {@code <name>.data} beside it (ONNX files must stay under 2 GB).
     */
    public static void write(Onnx.ModelProto model, Path path, Path protect, long inlineLimit) {
        write(model, path, protect, inlineLimit, null);
    }

    /** As {@link #write(Onnx.ModelProto, Path, Path)}; {@code check} runs on the complete file before it is moved into place. */
    public static void write(Onnx.ModelProto model, Path path, Path protect, Check check) {
        write(model, path, protect, ExternalData.INLINE_LIMIT, check);
    }

    /**
     * As {@link #write(Onnx.ModelProto, Path, Path, long)}; {@code check} (null: none) runs on the
     * complete temporary file, its data file already in place, before the model is moved into place.
     */
    public static void write(Onnx.ModelProto model, Path path, Path protect, long inlineLimit, Check check) {
        Path target = path.toAbsolutePath().normalize();
        if (protect != null && sameFile(target, protect.toAbsolutePath().normalize())) {
            throw new ModelException(path + ": output path is the input model; choose another with -o");
        }
        Path dir = target.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new ModelException(path + ": output directory does not exist");
        }
        if (!Files.isWritable(dir)) {
            throw new ModelException(path + ": output directory is not writable");
        }
        Path temp = null;
        Path tempData = null;
        Path data = null;
        try {
            Onnx.ModelProto toWrite = model;
            if (serializedBytes(model) > inlineLimit) {
                data = target.resolveSibling(target.getFileName() + ".data");
                tempData = TempFiles.beside(data);
                toWrite = ExternalData.store(model, tempData, data.getFileName().toString());
            }
            temp = TempFiles.beside(target);
            try (OutputStream out = Files.newOutputStream(temp)) {
                toWrite.writeTo(out);
            }
            if (tempData != null) {
                TempFiles.register(data); // in flight until the model beside it is in place
                publish(tempData, data);
                tempData = null;
            }
            if (check != null) {
                check.accept(temp);
            }
            publish(temp, target);
            temp = null;
            TempFiles.done(data);
        } catch (IOException e) {
            throw new ModelException(path + ": cannot write (" + e.getMessage() + ")", e);
        } finally {
            if (data != null && tempData == null && temp != null) {
                TempFiles.delete(data); // the data file was moved, the model was not
            }
            TempFiles.delete(temp);
            TempFiles.delete(tempData);
        }
    }

    /**
     * Moves a complete temporary file into place with ordinary permissions (temporary files are
     * created readable by their owner only).
     */
    public static void publish(Path temp, Path target) throws IOException {
        try {
            Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-r--r--"));
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system: keep what it gave
        }
        Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        TempFiles.done(temp);
    }


    private static boolean sameFile(Path a, Path b) {
        if (a.equals(b)) {
            return true;
        }
        try {
            return Files.exists(a) && Files.exists(b) && Files.isSameFile(a, b);
        } catch (NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            return false;
        }
    }
}
