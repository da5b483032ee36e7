package dev.blockterm.onnx;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import onnx.Onnx;
import org.nd4j.shade.protobuf.UnsafeByteOperations;

/**
 * A file that large new initializers are moved into as they are made, each then read through a
 * mapping of its bytes: the written model's weights are file-backed pages the kernel can drop, not
 * heap, until the model is written (as the input's external data is read, {@link ExternalData}).
 * Tensors under {@link #MIN_BYTES} stay where they are. The file may be deleted while its tensors
 * are in use (the mappings keep the data).
 */
public final class SpillFile implements AutoCloseable {

    /** Tensors of at least this many raw bytes are moved to the file. */
    public static final int MIN_BYTES = 1 << 20;

    private final FileChannel channel;

    public SpillFile(Path file) throws IOException {
        this.channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
    }

    /** The tensors, the large ones' raw data now mapped from this file (same bytes). */
    public synchronized List<Onnx.TensorProto> spill(List<Onnx.TensorProto> tensors) {
        List<Onnx.TensorProto> out = new ArrayList<>(tensors.size());
        for (Onnx.TensorProto t : tensors) {
            out.add(t.getRawData().size() < MIN_BYTES ? t : spill(t));
        }
        return out;
    }

    private Onnx.TensorProto spill(Onnx.TensorProto t) {
        try {
            long offset = channel.size();
            ByteBuffer data = t.getRawData().asReadOnlyByteBuffer();
            long at = offset;
            while (data.hasRemaining()) {
                at += channel.write(data, at);
            }
            ByteBuffer mapped = channel.map(FileChannel.MapMode.READ_ONLY, offset, t.getRawData().size());
            return t.toBuilder().setRawData(UnsafeByteOperations.unsafeWrap(mapped)).build();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the staging file (" + e.getMessage() + ")", e);
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
