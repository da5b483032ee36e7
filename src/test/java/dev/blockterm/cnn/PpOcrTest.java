package dev.blockterm.cnn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blockterm.compress.Calibration;
import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Compressor;
import dev.blockterm.compress.Target;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.report.LayerReport;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * PaddleOCR's PP-OCRv3 text recognizer from its Maven artifact, on printed lines: the dense model
 * reads them, and compressed with calibration it reads held-back lines as the dense model does (the
 * whole model at every ratio, weight-only and calibrated, is {@code CnnBenchmark}'s work).
 */
class PpOcrTest {

    @org.junit.jupiter.api.io.TempDir
    Path dir;


    @Test
    void theSameSeedDrawsTheSameLinesAndTwoSetsShareNone() {
        List<TextLines.Line> a = TextLines.generate(20, 1, List.of());
        List<TextLines.Line> b = TextLines.generate(20, 1, List.of());
        List<TextLines.Line> other = TextLines.generate(20, 2, a);
        for (int i = 0; i < a.size(); i++) {
            assertEquals(a.get(i).text(), b.get(i).text());
        }
        assertArrayEquals(PpOcr.input(a).values(), PpOcr.input(b).values());
        assertTrue(other.stream().noneMatch(l -> a.stream().anyMatch(e -> e.text().equals(l.text()))));
        NpyArray input = PpOcr.input(a);
        assertArrayEquals(new long[] {20, 3, PpOcr.HEIGHT, PpOcr.WIDTH}, input.shape());
        for (double v : input.values()) {
            assertTrue(v >= -1 && v <= 1, "values are (v / 255 - 0.5) / 0.5, found " + v);
        }
    }

    /**
     * The whole recognizer (its convolutions fitted in their patch covariance, its MatMuls whitened) at
     * 1.5x fewer parameters in its layers together, calibrated on 64 lines read from PNG files by
     * {@code --calibration-images}' loader, read on 100 others. Before the convolutions were fitted to
     * their outputs it read none of them; measured when written: 94% of lines read as the dense model reads
     * them, 96.8% of time steps with the same top-1 class. The thresholds leave margin.
     */
    @Test
    void calibratedCompressionReadsHeldBackLinesAsTheDenseModelDoes() {
        List<TextLines.Line> eval = TextLines.generate(100, 1, List.of());
        List<TextLines.Line> calibration = TextLines.generate(64, 2, eval);
        Path model = PpOcr.model();
        List<String> classes = PpOcr.classes();
        NpyArray input = PpOcr.input(eval);
        Readings dense;
        try (ModelRunner runner = new ModelRunner(model, 2)) {
            dense = Readings.of(runner, input, classes);
        }
        assertTrue(dense.accuracy(eval) >= 0.9, "the dense model reads " + dense.accuracy(eval) + " of the lines");

        Pattern layers = Pattern.compile(".*");
        CompressionOptions options = CompressionOptions.builder().target(new Target.Ratio(1.5)).bits(java.util.EnumSet.of(dev.blockterm.quantize.Precision.FLOAT))
                .latencyCheck(false).threads(2).build();
        Calibration data = new Calibration(images(calibration), 2);
        Compressor.Result result = new Compressor(options, m -> { }, data).compress(ModelFiles.read(model), "ppocr");
        long before = 0;
        long after = 0;
        boolean conv = false;
        for (LayerReport l : result.report().layers()) {
            if (!layers.matcher(l.name()).matches()) {
                continue;
            }
            before += l.paramsBefore();
            after += l.paramsAfter();
            conv |= l.compressed() && l.op().equals("Conv");
        }
        assertTrue((double) before / after >= 1.45, "selected layers " + before + " -> " + after);
        assertTrue(conv, "no convolution compressed");

        Readings compressed;
        try (ModelRunner runner = new ModelRunner(result.model().toByteArray(), "compressed", 2)) {
            compressed = Readings.of(runner, input, classes);
        }
        double lines = compressed.lineAgreement(dense);
        double steps = compressed.stepAgreement(dense);
        System.out.printf("PpOcrTest: lines read as dense %.3f, top-1 per step as dense %.3f%n", lines, steps);
        assertTrue(lines >= 0.75 && steps >= 0.95, "lines read as dense " + lines + ", top-1 per step as dense " + steps);
    }

    /** The lines as PNG files in a folder, read back by the loader of {@code --calibration-images}. */
    private Map<String, NpyArray> images(List<TextLines.Line> lines) {
        try {
            for (int i = 0; i < lines.size(); i++) {
                javax.imageio.ImageIO.write(PpOcr.padded(lines.get(i)), "png", dir.resolve(String.format("l%03d.png", i))
                        .toFile());
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        try (ModelRunner runner = new ModelRunner(PpOcr.model(), 1)) {
            return dev.blockterm.calibrate.ImageFeeds.forModel(dir, new dev.blockterm.calibrate.ImageOptions(
                    new double[] {0.5, 0.5, 0.5}, new double[] {0.5, 0.5, 0.5},
                    dev.blockterm.calibrate.ImageOptions.ChannelOrder.BGR),
                    dev.blockterm.runtime.InputShapes.parse(List.of("x=1x3x48x320")).apply(runner.inputs()));
        }
    }

    /** A padded line picture read by the image loader is the input PaddleOCR's preparation gives (up to the padding's gray). */
    @Test
    void picturesReadByTheImageLoaderAreThePreparedInput() {
        List<TextLines.Line> lines = TextLines.generate(3, 5, List.of());
        double[] expected = PpOcr.input(lines).values();
        double[] read = images(lines).get(PpOcr.INPUT).values();
        assertEquals(expected.length, read.length);
        for (int i = 0; i < read.length; i++) {
            assertEquals(expected[i], read[i], 0.5 / 127.5 + 1e-6, "value " + i); // gray 128 pads: 0.0039, not 0
        }
    }
}
