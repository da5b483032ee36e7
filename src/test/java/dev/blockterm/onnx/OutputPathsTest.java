package dev.blockterm.onnx;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Outputs that would destroy an input or each other, or replace a non-regular file, are refused before any work. */
class OutputPathsTest {

    @TempDir
    Path dir;

    private void assertRefused(Path input, String expected, Path... outputs) {
        ModelException e = assertThrows(ModelException.class, () -> OutputPaths.check(input, Arrays.asList(outputs)));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void theInputsExternalDataFile() throws Exception {
        Path model = dir.resolve("m.onnx");
        ModelFiles.write(ModelFiles.read(Path.of("models/digits_mlp.onnx")), model, null, 0);
        Path data = dir.resolve("m.onnx.data");
        assertTrue(ModelFiles.dataFiles(model).contains(data), ModelFiles.dataFiles(model).toString());
        assertRefused(model, "is an input file", data);
        assertRefused(model, "is an input file", dir.resolve("sub/../m.onnx.data"));
        assertRefused(model, "input model", model);
        // the data file written beside an output named m.onnx.data.onnx would not hit it, but "m.onnx" itself would
        Files.createSymbolicLink(dir.resolve("link.data"), data);
        assertRefused(model, "is an input file", dir.resolve("link.data"));
        assertDoesNotThrow(() -> OutputPaths.check(model, List.of(dir.resolve("out.onnx"), dir.resolve("r.json"))));
    }

    @Test
    void twoOutputsTheSame() {
        Path model = Path.of("models/digits_mlp.onnx");
        assertRefused(model, "named twice", dir.resolve("out.onnx"), dir.resolve("./out.onnx"));
        assertRefused(model, "named twice", dir.resolve("out.onnx"), null, dir.resolve("out.onnx"));
    }

    @Test
    void directoriesAndDevices() throws Exception {
        Path model = Path.of("models/digits_mlp.onnx");
        assertRefused(model, "is a directory", Files.createDirectory(dir.resolve("report.json")));
        assertRefused(model, "not a regular file", Path.of("/dev/null"));
        assertRefused(model, "output directory does not exist", dir.resolve("no/such/out.onnx"));
    }
}
