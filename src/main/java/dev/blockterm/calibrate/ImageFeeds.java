package dev.blockterm.calibrate;

import dev.blockterm.runtime.InputShapes;
import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * An image model's input from a folder of PNG and JPEG files (read by the JDK's ImageIO, taken in
 * the order of their names so that the same folder gives the same rows): each image resized
 * (bilinear, java.awt) to the input's spatial size, its 8-bit values scaled to [0, 1] and normalized
 * per colour ({@link ImageOptions}), laid out NCHW, or NHWC where the input's last axis holds the
 * channels (1 or 3 there and not in axis 1); one channel (ITU-R 601 luma) for a grayscale model.
 * Float32 values, float16 or float64 where the input is.
 */
public final class ImageFeeds {

    private static final List<String> EXTENSIONS = List.of(".png", ".jpg", ".jpeg");

    /** Where an image input keeps its axes. */
    record Layout(int channels, int height, int width, boolean channelsLast) {
    }

    private ImageFeeds() {
    }

    /** The largest finite float16. */
    private static final double HALF_MAX = 65504;

    /**
     * The feed of the model's one input ({@code inputs}: their shapes with the user's sizes in place)
     * from the images in {@code dir}: rows x channels x height x width (or rows x height x width x channels).
     */
    public static Map<String, NpyArray> forModel(Path dir, ImageOptions options, List<ModelRunner.Input> inputs) {
        List<Path> files = files(dir);
        if (inputs.size() != 1) {
            List<String> names = inputs.stream().map(ModelRunner.Input::name).toList();
            throw new IllegalArgumentException("images feed a model with one input; the model has " + inputs.size()
                    + " (" + String.join(", ", names) + ")");
        }
        ModelRunner.Input input = inputs.get(0);
        Layout layout = layout(input);
        String descr = switch (input.type()) {
            case FLOAT -> "<f4";
            case FLOAT16 -> "<f2";
            case DOUBLE -> "<f8";
            default -> throw new IllegalArgumentException("input '" + input.name() + "' takes " + input.type()
                    + " values; images give floating-point ones");
        };
        if (descr.equals("<f2") && options.largest() > HALF_MAX) {
            throw new IllegalArgumentException("input '" + input.name() + "' takes float16 values, and the normalized "
                    + "values (v - mean) / std reach " + String.format(java.util.Locale.ROOT, "%.3g", options.largest())
                    + " in magnitude, beyond float16's 65504");
        }
        long rows = input.shape()[0];
        if (rows > 0 && rows != files.size()) {
            throw new IllegalArgumentException("the model takes " + rows + " rows at a time (input '" + input.name()
                    + "' " + InputShapes.describe(input.shape()) + "), " + dir + " holds " + files.size() + " images");
        }
        int per = layout.channels() * layout.height() * layout.width();
        double[] values = new double[Math.multiplyExact(per, files.size())];
        for (int i = 0; i < files.size(); i++) {
            BufferedImage image = resized(read(files.get(i)), layout.width(), layout.height());
            double[] one = values(image, layout, options);
            System.arraycopy(one, 0, values, i * per, per);
        }
        long[] shape = layout.channelsLast()
                ? new long[] {files.size(), layout.height(), layout.width(), layout.channels()}
                : new long[] {files.size(), layout.channels(), layout.height(), layout.width()};
        return Map.of(input.name(), new NpyArray(shape, values, descr));
    }

    /** The input's channels, spatial size and layout; refused where images cannot fill it. */
    static Layout layout(ModelRunner.Input input) {
        long[] s = input.shape();
        if (s.length != 4) {
            throw new IllegalArgumentException("input '" + input.name() + "' has shape " + InputShapes.describe(s)
                    + "; images give rows x channels x height x width (or rows x height x width x channels)");
        }
        boolean last = (s[3] == 1 || s[3] == 3) && s[1] != 1 && s[1] != 3;
        long channels = last ? s[3] : s[1];
        long height = last ? s[1] : s[2];
        long width = last ? s[2] : s[3];
        if (channels > 0 && channels != 1 && channels != 3) {
            throw new IllegalArgumentException("input '" + input.name() + "' " + InputShapes.describe(s) + " takes "
                    + channels + " channels; images give 1 (grayscale) or 3 (colour)");
        }
        if (channels < 1 || height < 1 || width < 1) {
            long[] example = s.clone();
            for (int i = 0; i < example.length; i++) {
                example[i] = example[i] > 0 ? example[i] : i == 0 ? 1 : (last ? i == 3 : i == 1) ? 3 : 224;
            }
            throw new IllegalArgumentException("input '" + input.name() + "' has dynamic dimensions "
                    + InputShapes.describe(s) + " and images are resized to its size; give its size with --input-shape "
                    + input.name() + "=" + InputShapes.join(example));
        }
        return new Layout((int) channels, Math.toIntExact(height), Math.toIntExact(width), last);
    }

    /** The PNG and JPEG files in {@code dir}, sorted by name. */
    static List<Path> files(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException(dir + ": " + (Files.exists(dir) ? "not a directory" : "no such directory"));
        }
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path p : entries) {
                String name = p.getFileName().toString().toLowerCase(Locale.ROOT);
                if (Files.isRegularFile(p) && EXTENSIONS.stream().anyMatch(name::endsWith)) {
                    files.add(p);
                }
            }
        } catch (IOException e) {
            throw new IllegalArgumentException(dir + ": cannot list (" + e.getMessage() + ")", e);
        }
        if (files.isEmpty()) {
            throw new IllegalArgumentException(dir + ": holds no images (*.png, *.jpg, *.jpeg)");
        }
        files.sort((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()));
        return files;
    }

    private static BufferedImage read(Path file) {
        BufferedImage image;
        try {
            image = ImageIO.read(file.toFile());
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(file + ": not a readable PNG or JPEG image (" + e.getMessage() + ")", e);
        }
        if (image == null) {
            throw new IllegalArgumentException(file + ": not a PNG or JPEG image ImageIO can read");
        }
        return image;
    }

    /**
     * The image as 8-bit RGB at {@code width x height}: alpha dropped (as PIL's {@code convert("RGB")}),
     * gray values taken as stored (Java2D would brighten a linear-gray image on conversion), then resized
     * with bilinear interpolation.
     */
    static BufferedImage resized(BufferedImage image, int width, int height) {
        int w = image.getWidth();
        int h = image.getHeight();
        int[] rgb = new int[w * h];
        boolean gray = image.getColorModel().getColorSpace().getType() == ColorSpace.TYPE_GRAY
                && !(image.getColorModel() instanceof IndexColorModel);
        if (gray) {
            Raster raster = image.getRaster();
            int max = (1 << image.getColorModel().getComponentSize(0)) - 1;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int v = (int) Math.round(raster.getSample(x, y, 0) * 255.0 / max);
                    rgb[y * w + x] = (v << 16) | (v << 8) | v;
                }
            }
        } else {
            image.getRGB(0, 0, w, h, rgb, 0, w);
        }
        BufferedImage opaque = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        opaque.setRGB(0, 0, w, h, rgb, 0, w);
        if (w == width && h == height) {
            return opaque;
        }
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            g.drawImage(opaque, 0, 0, width, height, null);
        } finally {
            g.dispose();
        }
        return out;
    }

    /** One image's values in the layout, normalized. */
    static double[] values(BufferedImage image, Layout layout, ImageOptions options) {
        int h = layout.height();
        int w = layout.width();
        int c = layout.channels();
        double[] v = new double[c * h * w];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = image.getRGB(x, y);
                int[] colour = {(p >> 16) & 0xff, (p >> 8) & 0xff, p & 0xff};
                for (int k = 0; k < c; k++) {
                    double value;
                    if (c == 1) {
                        int luma = (int) Math.round(0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]);
                        value = options.normalize(luma, 0);
                    } else {
                        int which = options.order() == ImageOptions.ChannelOrder.RGB ? k : 2 - k;
                        value = options.normalize(colour[which], which);
                    }
                    int at = layout.channelsLast() ? (y * w + x) * c + k : (k * h + y) * w + x;
                    v[at] = value;
                }
            }
        }
        return v;
    }
}
