package dev.blockterm.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.blockterm.cli.CompressEndToEndTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import onnx.Onnx;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Large new tensors moved to a spill file keep their bytes (also once the file is deleted), small
 * ones stay; an external weight read by reference is the weight the model reader maps.
 */
class SpillFileTest {

    @TempDir
    Path dir;

    @Test
    void spilledTensorsKeepTheirBytesAfterTheFileIsGone() throws Exception {
        double[] big = TinyModels.gaussian(300_000, 1); // 1.2 MB as float
        double[] small = TinyModels.gaussian(100, 2);
        Onnx.TensorProto a = Weights.tensor("a", new long[] {big.length}, big, Weights.FLOAT);
        Onnx.TensorProto b = Weights.tensor("b", new long[] {small.length}, small, Weights.FLOAT);
        Path file = dir.resolve("spill.bin");
        List<Onnx.TensorProto> out;
        try (SpillFile spill = new SpillFile(file)) {
            out = spill.spill(List.of(a, b));
        }
        assertEquals(a.getRawData().size(), Files.size(file));
        Files.delete(file);
        assertEquals(a, out.get(0));
        assertSame(b, out.get(1));
    }

    @Test
    void anExternalWeightByReferenceIsTheMappedWeight() {
        Path model = dir.resolve("mlp.onnx");
        ModelFiles.write(ModelFiles.read(CompressEndToEndTest.MLP), model, null, 0);
        Map<String, WeightSource.Mapped> refs = ModelFiles.externalWeights(model);
        Map<String, Onnx.TensorProto> read = Graphs.initializers(ModelFiles.read(model).getGraph());
        assertFalse(refs.isEmpty());
        for (WeightSource.Mapped ref : refs.values()) {
            Onnx.TensorProto t = ref.read();
            assertEquals(read.get(ref.name()).getRawData(), t.getRawData(), ref.name());
            assertEquals(read.get(ref.name()).getDimsList(), t.getDimsList());
            assertEquals(read.get(ref.name()).getDataType(), t.getDataType());
        }
    }
}
