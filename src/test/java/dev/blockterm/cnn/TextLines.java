package dev.blockterm.cnn;

import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;

/**
 * Printed text lines, seeded: the images of the PP-OCR checks, made with Java2D (the JDK's
 * fonts through fontconfig, no file read). Each line is a short phrase of English words, a number,
 * a price, a date or a code, drawn in one of the JDK's logical fonts (sans, serif, monospaced;
 * plain, bold or italic) at a random size, ink and paper shade, margin and slight slant, so that two
 * lines differ in layout as well as in text. Two seeds give two different sets; {@link #generate}
 * leaves out any text of {@code exclude}, so a calibration set never shares a line with an
 * evaluation set.
 */
public final class TextLines {

    /** A line's text and its picture (RGB, any width, the text filling most of the height). */
    public record Line(String text, BufferedImage image) {
    }

    private static final String[] WORDS = {"river", "station", "garden", "window", "market", "winter", "coffee",
        "ticket", "harbour", "letter", "orange", "silver", "bridge", "forest", "museum", "school", "doctor",
        "engine", "summer", "number", "street", "office", "library", "kitchen", "planet", "village", "record",
        "print", "paper", "light", "north", "south", "green", "stone", "water", "bread", "clock", "house",
        "total", "price", "order", "model", "input", "value", "check", "level", "point", "table", "night",
        "open", "from", "with", "road", "city", "park", "west", "east", "gate", "room", "line", "page", "date",
        "Monday", "Friday", "London", "Paris", "Berlin", "Tokyo", "Oslo", "Madrid", "Lisbon", "Vienna"};
    private static final String[] FONTS = {Font.SANS_SERIF, Font.SERIF, Font.MONOSPACED};
    private static final int[] STYLES = {Font.PLAIN, Font.BOLD, Font.ITALIC};

    private TextLines() {
    }

    /** {@code n} distinct lines from {@code seed}, none whose text is in {@code exclude}. */
    public static List<Line> generate(int n, long seed, Collection<Line> exclude) {
        Set<String> taken = new LinkedHashSet<>();
        for (Line l : exclude) {
            taken.add(l.text());
        }
        Random random = new Random(seed);
        List<Line> lines = new ArrayList<>(n);
        while (lines.size() < n) {
            String text = text(random);
            if (taken.add(text)) {
                lines.add(new Line(text, draw(text, random)));
            }
        }
        return lines;
    }

    /** A phrase of 1-3 words or a word and a number, price, date or code: up to about 20 characters. */
    static String text(Random random) {
        String a = WORDS[random.nextInt(WORDS.length)];
        String b = WORDS[random.nextInt(WORDS.length)];
        return switch (random.nextInt(7)) {
            case 0 -> a;
            case 1 -> a + " " + b;
            case 2 -> capitalize(a) + " " + b + " " + WORDS[random.nextInt(WORDS.length)];
            case 3 -> capitalize(a) + " " + (1 + random.nextInt(999));
            case 4 -> String.format(Locale.ROOT, "%s $%d.%02d", a, 1 + random.nextInt(500), random.nextInt(100));
            case 5 -> String.format(Locale.ROOT, "%04d-%02d-%02d", 1990 + random.nextInt(40), 1 + random.nextInt(12),
                    1 + random.nextInt(28));
            default -> String.format(Locale.ROOT, "%s-%d%c", a.substring(0, Math.min(3, a.length())).toUpperCase(Locale.ROOT),
                    10 + random.nextInt(990), (char) ('A' + random.nextInt(26)));
        };
    }

    private static String capitalize(String word) {
        return Character.toUpperCase(word.charAt(0)) + word.substring(1);
    }

    /** The text in dark ink on light paper, the glyphs 60-80% of the image's height. */
    static BufferedImage draw(String text, Random random) {
        Font font = new Font(FONTS[random.nextInt(FONTS.length)], STYLES[random.nextInt(STYLES.length)],
                28 + random.nextInt(17));
        BufferedImage probe = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        Graphics2D pg = probe.createGraphics();
        FontMetrics metrics = pg.getFontMetrics(font);
        pg.dispose();
        int margin = 2 + random.nextInt(12);
        int width = metrics.stringWidth(text) + 2 * margin;
        int height = metrics.getAscent() + metrics.getDescent() + 2 + random.nextInt(8);
        int paper = 200 + random.nextInt(56);
        int ink = random.nextInt(90);
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(new Color(paper, paper - random.nextInt(20), paper - random.nextInt(30)));
        g.fillRect(0, 0, width, height);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_FRACTIONALMETRICS, RenderingHints.VALUE_FRACTIONALMETRICS_ON);
        g.setColor(new Color(ink, ink + random.nextInt(40), ink + random.nextInt(60)));
        double slant = (random.nextDouble() - 0.5) * 0.04; // at most about one degree either way
        g.setFont(font.deriveFont(AffineTransform.getRotateInstance(slant)));
        int baseline = (height - metrics.getAscent() - metrics.getDescent()) / 2 + metrics.getAscent();
        g.drawString(text, margin, baseline);
        g.dispose();
        return image;
    }
}
