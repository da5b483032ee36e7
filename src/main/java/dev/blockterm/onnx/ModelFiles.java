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
        Onnx.ModelProto model;
        try (InputStream in = Files.newInputStream(path)) {
            CodedInputStream coded = CodedInputStream.newInstance(in);
            coded.setSizeLimit(SIZE_LIMIT);
            model = Onnx.ModelProto.parseFrom(coded);
        } catch (InvalidProtocolBufferException e) {
            throw new ModelException(path + ": not a valid ONNX model (" + e.getMessage() + ")", e);
        } catch (AccessDeniedException e) {
            throw new ModelException(path + ": permission denied", e);
        } catch (IOException e) {
            throw new ModelException(path + ": cannot read (" + e.getMessage() + ")", e);
        }
        if (!model.hasGraph() || model.getGraph().getNodeCount() == 0 || model.getIrVersion() == 0) {
            throw new ModelException(path + ": not an ONNX model (no graph or no IR version)");
        }
        return ExternalData.load(model, path.toAbsolutePath().getParent());
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
                tempData = Files.createTempFile(dir, "." + data.getFileName(), ".part");
                toWrite = ExternalData.store(model, tempData, data.getFileName().toString());
            }
            temp = Files.createTempFile(dir, "." + target.getFileName(), ".part");
            try (OutputStream out = Files.newOutputStream(temp)) {
                toWrite.writeTo(out);
            }
            if (tempData != null) {
                publish(tempData, data);
                tempData = null;
            }
            publish(temp, target);
            temp = null;
        } catch (IOException e) {
            if (data != null && tempData == null && temp != null) {
                deleteQuietly(data); // the data file was moved, the model was not
            }
            throw new ModelException(path + ": cannot write (" + e.getMessage() + ")", e);
        } finally {
            deleteQuietly(temp);
            deleteQuietly(tempData);
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
    }

    private static void deleteQuietly(Path p) {
        if (p != null) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // gone already, or never made
            }
        }
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
