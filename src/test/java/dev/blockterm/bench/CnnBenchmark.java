package dev.blockterm.bench;

import dev.blockterm.cnn.PpOcr;
import dev.blockterm.cnn.Readings;
import dev.blockterm.cnn.TextLines;
import dev.blockterm.compress.Calibration;
import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Compressor;
import dev.blockterm.compress.Target;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import onnx.Onnx;

/**
 * Not a unit test: PaddleOCR's PP-OCRv3 text recognizer (see {@link PpOcr}) compressed at
 * {@code --ratio} 1.5, 2 and 4 (one allocation over all its eligible layers: the pointwise and 3x3
 * convolutions, the transformer's MatMuls and the CTC head), weight-only and calibrated on 128 printed
 * lines, and read back on 200 other printed lines (see {@link TextLines}): the size (parameters of the
 * compressed layers and of the model, file bytes) and how the compressed model's reading agrees with
 * the dense one's (lines read as the same text; top-1 class per time step), and the lines read exactly
 * as printed. Writes the first evaluation lines as PNG under {@code target/ppocr/lines} to look at.
 * {@code mvn -B -Pbench test-compile exec:exec@cnn}
 */
public final class CnnBenchmark {

    private static final int THREADS = 2;

    public static void main(String[] args) throws IOException {
        List<TextLines.Line> eval = TextLines.generate(200, 1, List.of());
        List<TextLines.Line> calibration = TextLines.generate(128, 2, eval);
        writeSamples(eval.subList(0, 12), Path.of("target", "ppocr", "lines"));
        Path model = PpOcr.model();
        List<String> classes = PpOcr.classes();
        NpyArray input = PpOcr.input(eval);
        // the calibration lines as a user holds them, pictures in a folder, read by --calibration-images' own loader
        Path pictures = Path.of("target", "ppocr", "calibration");
        Files.createDirectories(pictures);
        for (int i = 0; i < calibration.size(); i++) {
            ImageIO.write(PpOcr.padded(calibration.get(i)), "png",
                    pictures.resolve(String.format(Locale.ROOT, "line%03d.png", i)).toFile());
        }
        Map<String, NpyArray> calibrationFeeds;
        try (ModelRunner runner = new ModelRunner(model, THREADS)) {
            calibrationFeeds = dev.blockterm.calibrate.ImageFeeds.forModel(pictures,
                    new dev.blockterm.calibrate.ImageOptions(new double[] {0.5, 0.5, 0.5}, new double[] {0.5, 0.5, 0.5},
                            dev.blockterm.calibrate.ImageOptions.ChannelOrder.BGR),
                    dev.blockterm.runtime.InputShapes.parse(List.of("x=1x3x48x320")).apply(runner.inputs()));
        }
        Onnx.ModelProto dense = ModelFiles.read(model);
        Readings reference;
        try (ModelRunner runner = new ModelRunner(model, THREADS)) {
            reference = Readings.of(runner, input, classes);
        }
        System.out.printf(Locale.ROOT, "%s: %d lines, dense reads %.1f%% exactly as printed; file %d bytes%n%n",
                model.getFileName(), eval.size(), 100 * reference.accuracy(eval), ModelFiles.serializedBytes(dense));
        System.out.println("| target | calibration | compressed layers | layer params | model params | file bytes "
                + "| lines read as dense | top-1 per step as dense | read as printed | seconds |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|");
        // RATIOS=1.5,2 CALIBRATED=1 (0: weight-only, 1: calibrated) SEQUENTIAL=1 FORMS=channel,spatial EXCLUDE=regex
        double[] ratios = java.util.Arrays.stream(System.getenv().getOrDefault("RATIOS", "1.5,2,4").split(","))
                .mapToDouble(Double::parseDouble).toArray();
        List<Integer> modes = java.util.Arrays.stream(System.getenv().getOrDefault("CALIBRATED", "0,1").split(","))
                .map(Integer::parseInt).toList();
        java.util.Set<dev.blockterm.compress.ConvForm> forms = java.util.EnumSet.noneOf(dev.blockterm.compress.ConvForm.class);
        for (String f : System.getenv().getOrDefault("FORMS", "channel,spatial,chain").split(",")) {
            forms.add(dev.blockterm.compress.ConvForm.of(f));
        }
        String exclude = System.getenv("EXCLUDE");
        for (double ratio : ratios) {
            for (int calibrated : modes) {
                CompressionOptions options = CompressionOptions.builder().target(new Target.Ratio(ratio))
                        .latencyCheck(false).threads(THREADS).convForms(forms)
                        .exclude(exclude == null ? null : java.util.regex.Pattern.compile(exclude))
                        .sequential(calibrated == 1 && System.getenv("SEQUENTIAL") != null).build();
                Calibration data = calibrated == 1 ? new Calibration(calibrationFeeds, THREADS) : null;
                Compressor.Result r = new Compressor(options, m -> { }, data,
                        dev.blockterm.runtime.InputShapes.parse(List.of("x=1x3x48x320"))).compress(dense, model.toString());
                Readings read;
                try (ModelRunner runner = new ModelRunner(r.model().toByteArray(), "compressed", THREADS)) {
                    read = Readings.of(runner, input, classes);
                }
                long before = 0;
                long after = 0;
                for (var l : r.report().layers()) {
                    before += l.paramsBefore();
                    after += l.paramsAfter();
                }
                var report = r.report();
                System.out.printf(Locale.ROOT, "| --ratio %s | %s | %d of %d | %d -> %d (%.2fx) | %d -> %d | %d -> %d "
                                + "| %.1f%% | %.1f%% | %.1f%% | %.0f |%n",
                        trim(ratio), calibrated == 1 ? "128 lines" : "none", report.compressedLayers(),
                        report.layers().size(), before, after, (double) before / after, report.modelParamsBefore(),
                        report.modelParamsAfter(), report.fileBytesBefore(), ModelFiles.serializedBytes(r.model()),
                        100 * read.lineAgreement(reference), 100 * read.stepAgreement(reference),
                        100 * read.accuracy(eval), report.seconds());
            }
        }
    }

    private static void writeSamples(List<TextLines.Line> lines, Path dir) throws IOException {
        Files.createDirectories(dir);
        for (int i = 0; i < lines.size(); i++) {
            ImageIO.write(lines.get(i).image(), "png", dir.resolve(String.format(Locale.ROOT, "line%02d.png", i)).toFile());
        }
    }

    private static String trim(double ratio) {
        return ratio == Math.rint(ratio) ? String.valueOf((long) ratio) : String.valueOf(ratio);
    }

    private CnnBenchmark() {
    }
}
