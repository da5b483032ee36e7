package dev.blockterm.onnx;

import java.io.IOException;
import java.io.Serializable;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import onnx.Onnx;
import org.nd4j.shade.protobuf.UnsafeByteOperations;

/**
 * Where a layer's weight is read from by a fit that may run in another process: the tensor itself
 * ({@link Held}, shipped whole: small weights), or a reference to its bytes in an external data
 * file ({@link Mapped}: path, offset, length, element type and shape), which the fit maps itself,
 * so that a cluster task is sent a few hundred bytes, never the model.
 */
public sealed interface WeightSource extends Serializable permits WeightSource.Held, WeightSource.Mapped {

    /** The weight as a tensor (raw data mapped from its file for {@link Mapped}). */
    Onnx.TensorProto read();

    /** The tensor itself. */
    record Held(Onnx.TensorProto tensor) implements WeightSource {
        public Onnx.TensorProto read() {
            return tensor;
        }
    }

    /** {@code length} bytes at {@code offset} of {@code file}, a tensor of {@code dataType} and {@code dims}. */
    record Mapped(String name, int dataType, long[] dims, String file, long offset, long length) implements WeightSource {
        public Onnx.TensorProto read() {
            try (FileChannel channel = FileChannel.open(Path.of(file), StandardOpenOption.READ)) {
                if (offset + length > channel.size()) {
                    throw new ModelException("initializer '" + name + "': external data " + file + " holds "
                            + channel.size() + " bytes, the tensor needs bytes " + offset + " to " + (offset + length));
                }
                Onnx.TensorProto.Builder b = Onnx.TensorProto.newBuilder().setName(name).setDataType(dataType)
                        .setRawData(UnsafeByteOperations.unsafeWrap(channel.map(FileChannel.MapMode.READ_ONLY, offset,
                                length)));
                for (long d : dims) {
                    b.addDims(d);
                }
                return b.build();
            } catch (IOException e) {
                throw new ModelException("initializer '" + name + "': cannot read external data " + file + " ("
                        + e.getMessage() + ")", e);
            }
        }
    }
}
