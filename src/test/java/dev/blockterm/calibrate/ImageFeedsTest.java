package dev.blockterm.calibrate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxJavaType;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two PNGs in a folder: {@code a.png} one colour at 7x5 (resized to the input, its value exact
 * whatever the interpolation), {@code b.png} 3x2 distinct pixels at the input's own size (every value
 * checked): order by name, resize, normalization, channel order, NCHW/NHWC, grayscale, float16.
 */
class ImageFeedsTest {

    private static final int[][] B = {{0xff0000, 0x00ff00, 0x0000ff}, {0x804020, 0x000000, 0xffffff}}; // [y][x]
    private static final int A = 0x336699;

    @TempDir
    Path dir;

    @BeforeEach
    void images() throws IOException {
        BufferedImage a = new BufferedImage(7, 5, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 5; y++) {
            for (int x = 0; x < 7; x++) {
                a.setRGB(x, y, A);
            }
        }
        BufferedImage b = new BufferedImage(3, 2, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 2; y++) {
            for (int x = 0; x < 3; x++) {
                b.setRGB(x, y, B[y][x]);
            }
        }
        ImageIO.write(b, "png", dir.resolve("b.png").toFile()); // written first: the order is the names'
        ImageIO.write(a, "png", dir.resolve("a.png").toFile());
        Files.writeString(dir.resolve("notes.txt"), "not an image: skipped");
    }

    private static List<ModelRunner.Input> input(OnnxJavaType type, long... shape) {
        return List.of(new ModelRunner.Input("x", shape, type));
    }

    private static int colour(int rgb, int c) {
        return (rgb >> (16 - 8 * c)) & 0xff;
    }

    @Test
    void nchwRgbNormalizedPerColour() {
        ImageOptions options = new ImageOptions(new double[] {0.5, 0.25, 0}, new double[] {0.5, 0.25, 2},
                ImageOptions.ChannelOrder.RGB);
        NpyArray x = ImageFeeds.forModel(dir, options, input(OnnxJavaType.FLOAT, -1, 3, 2, 3)).get("x");
        assertArrayEquals(new long[] {2, 3, 2, 3}, x.shape());
        assertEquals("<f4", x.descr());
        double[] v = x.values();
        double[] mean = {0.5, 0.25, 0};
        double[] std = {0.5, 0.25, 2};
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < 2; y++) {
                for (int px = 0; px < 3; px++) {
                    assertEquals((colour(A, c) / 255.0 - mean[c]) / std[c], v[(c * 2 + y) * 3 + px], 1e-12, "a.png");
                    assertEquals((colour(B[y][px], c) / 255.0 - mean[c]) / std[c], v[18 + (c * 2 + y) * 3 + px], 1e-12,
                            "b.png at channel " + c + ", y " + y + ", x " + px);
                }
            }
        }
    }

    @Test
    void nhwcBgrPlainValues() {
        ImageOptions options = new ImageOptions(new double[] {0}, new double[] {1}, ImageOptions.ChannelOrder.BGR);
        NpyArray x = ImageFeeds.forModel(dir, options, input(OnnxJavaType.FLOAT, -1, 2, 3, 3)).get("x");
        assertArrayEquals(new long[] {2, 2, 3, 3}, x.shape());
        double[] v = x.values();
        for (int y = 0; y < 2; y++) {
            for (int px = 0; px < 3; px++) {
                for (int k = 0; k < 3; k++) { // k = 0 is blue
                    assertEquals(colour(B[y][px], 2 - k) / 255.0, v[18 + (y * 3 + px) * 3 + k], 1e-12);
                }
            }
        }
    }

    @Test
    void grayscaleFloat16() {
        NpyArray x = ImageFeeds.forModel(dir, ImageOptions.DEFAULT, input(OnnxJavaType.FLOAT16, -1, 1, 2, 3)).get("x");
        assertArrayEquals(new long[] {2, 1, 2, 3}, x.shape());
        assertEquals("<f2", x.descr());
        int luma = (int) Math.round(0.299 * 0x80 + 0.587 * 0x40 + 0.114 * 0x20);
        assertEquals(luma / 255.0, x.values()[6 + 3], 1e-12, "b.png's brown pixel as luma");
        assertEquals(1.0, x.values()[6 + 5], 1e-12, "white");
    }

    @Test
    void grayPngValuesAreTakenAsStored() throws IOException {
        Path gray = Files.createDirectory(dir.resolve("gray"));
        BufferedImage g = new BufferedImage(2, 2, BufferedImage.TYPE_BYTE_GRAY);
        g.getRaster().setSample(0, 0, 0, 128);
        ImageIO.write(g, "png", gray.resolve("g.png").toFile());
        NpyArray x = ImageFeeds.forModel(gray, ImageOptions.DEFAULT, input(OnnxJavaType.FLOAT, -1, 3, 2, 2)).get("x");
        assertEquals(128 / 255.0, x.values()[0], 1e-12);
        assertEquals(128 / 255.0, x.values()[8], 1e-12);
        assertEquals(0, x.values()[1], 1e-12);
    }

    @Test
    void resizingIsBilinear() throws IOException {
        Path edge = Files.createDirectory(dir.resolve("edge"));
        BufferedImage e = new BufferedImage(2, 1, BufferedImage.TYPE_INT_RGB);
        e.setRGB(1, 0, 0xffffff); // black | white, stretched to 8 wide
        ImageIO.write(e, "png", edge.resolve("e.png").toFile());
        double[] v = ImageFeeds.forModel(edge, ImageOptions.DEFAULT, input(OnnxJavaType.FLOAT, -1, 1, 1, 8)).get("x").values();
        boolean between = false;
        for (int i = 0; i < 8; i++) {
            assertTrue(i == 0 || v[i] >= v[i - 1], "monotone from black to white");
            between |= v[i] > 0.05 && v[i] < 0.95;
        }
        assertEquals(0, v[0], 1e-12);
        assertEquals(1, v[7], 1e-12);
        assertTrue(between, "interpolated, not nearest");
    }

    @Test
    void badFoldersAndImagesAreRefused() throws IOException {
        List<ModelRunner.Input> in = input(OnnxJavaType.FLOAT, -1, 3, 4, 4);
        assertTrue(refused(dir.resolve("absent"), in).endsWith("absent: no such directory"));
        Path empty = Files.createDirectory(dir.resolve("empty"));
        assertTrue(refused(empty, in).endsWith("empty: holds no images (*.png, *.jpg, *.jpeg)"));
        Path broken = Files.createDirectory(dir.resolve("broken"));
        Files.writeString(broken.resolve("bad.png"), "not a png");
        assertTrue(refused(broken, in).contains("bad.png: not a"), refused(broken, in));
        assertEquals("input 'x' has dynamic dimensions [?, 3, ?, ?] and images are resized to its size; give its size "
                + "with --input-shape x=1x3x224x224", refused(dir, input(OnnxJavaType.FLOAT, -1, 3, -1, -1)));
        assertTrue(refused(dir, input(OnnxJavaType.FLOAT, -1, 4, 8, 8)).contains("takes 4 channels"));
        assertTrue(refused(dir, input(OnnxJavaType.INT64, -1, 3, 8, 8)).contains("images give floating-point"));
        assertTrue(refused(dir, List.of(new ModelRunner.Input("a", new long[] {-1, 3, 8, 8}, OnnxJavaType.FLOAT),
                new ModelRunner.Input("b", new long[] {-1, 2}, OnnxJavaType.FLOAT))).startsWith("images feed a model with one input"));
        assertThrows(IllegalArgumentException.class, () -> new ImageOptions(new double[] {0, 0}, new double[] {1},
                ImageOptions.ChannelOrder.RGB));
        assertThrows(IllegalArgumentException.class, () -> new ImageOptions(new double[] {0}, new double[] {0},
                ImageOptions.ChannelOrder.RGB));
        assertThrows(IllegalArgumentException.class, () -> ImageOptions.ChannelOrder.parse("rbg"));
    }

    /** Finite options whose normalized values are not numbers the input type holds: refused before any image is read. */
    @Test
    void normalizedValuesBeyondTheInputTypeAreRefused() {
        String beyond = assertThrows(IllegalArgumentException.class, () -> new ImageOptions(new double[] {0.5, 0, 0},
                new double[] {1, 1e-39, 1}, ImageOptions.ChannelOrder.RGB)).getMessage();
        assertTrue(beyond.startsWith("std: the normalized values (v - mean) / std reach 1.00e+39 in magnitude, beyond "
                + "float32's 3.40e+38"), beyond);
        ImageOptions large = new ImageOptions(new double[] {0}, new double[] {1e-5}, ImageOptions.ChannelOrder.RGB);
        assertEquals(1e5, large.largest(), 1e-6);
        assertEquals(1e5, ImageFeeds.forModel(dir, large, input(OnnxJavaType.FLOAT, -1, 1, 2, 3)).get("x").values()[11], 1e-6);
        String half = assertThrows(IllegalArgumentException.class, () -> ImageFeeds.forModel(dir, large,
                input(OnnxJavaType.FLOAT16, -1, 1, 2, 3))).getMessage();
        assertEquals("input 'x' takes float16 values, and the normalized values (v - mean) / std reach 1.00e+05 in "
                + "magnitude, beyond float16's 65504", half);
    }

    private static String refused(Path dir, List<ModelRunner.Input> inputs) {
        return assertThrows(IllegalArgumentException.class, () -> ImageFeeds.forModel(dir, ImageOptions.DEFAULT, inputs))
                .getMessage();
    }

    @Test
    void theFeedIsTheInputsOnly() {
        Map<String, NpyArray> feeds = ImageFeeds.forModel(dir, ImageOptions.DEFAULT, input(OnnxJavaType.DOUBLE, 2, 3, 2, 3));
        assertEquals(List.of("x"), List.copyOf(feeds.keySet()));
        assertEquals("<f8", feeds.get("x").descr());
    }
}
