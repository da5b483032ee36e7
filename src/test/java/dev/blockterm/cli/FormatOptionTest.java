package dev.blockterm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --format} with the targets decided on curves restricts the allocation to one family: every
 * compressed layer is then of that family, the summary counts it, and what does not apply there is a
 * usage error.
 */
class FormatOptionTest {

    @TempDir
    Path dir;

    private static final Pattern LAYER = Pattern.compile("\"compressed\": (true|false), .*?\"layout\": \"([^\"]*)\"");

    private List<String> compressedLayouts(String... args) throws Exception {
        Path out = dir.resolve("out.onnx");
        Path report = dir.resolve("report.json");
        List<String> all = new ArrayList<>(List.of("compress", "models/digits_mlp.onnx", "-o", out.toString(),
                "--report", report.toString(), "-q"));
        all.addAll(List.of(args));
        CliRun run = CliRun.of(all.toArray(String[]::new));
        assertEquals(0, run.code(), run.err());
        List<String> layouts = new ArrayList<>();
        Matcher m = LAYER.matcher(Files.readString(report));
        while (m.find()) {
            if (m.group(1).equals("true")) {
                layouts.add(m.group(2));
            }
        }
        assertFalse(layouts.isEmpty(), "nothing compressed");
        return layouts;
    }

    @Test
    void blockTermsAloneWriteBlockTermLayersEverywhere() throws Exception {
        List<String> layouts = compressedLayouts("--ratio", "4", "--format", "bt");
        assertTrue(layouts.stream().allMatch(l -> l.startsWith("bt ")), layouts.toString());
        assertTrue(Files.readString(dir.resolve("report.json")).contains("layers by form: " + layouts.size()
                + " block-term"), "the summary counts them");
    }

    @Test
    void lowRankAloneWritesLowRankLayersEverywhere() throws Exception {
        List<String> layouts = compressedLayouts("--ratio", "4", "--format", "lowrank", "--calibration",
                "testdata/digits_calib_x.npy");
        assertTrue(layouts.stream().allMatch(l -> l.startsWith("low-rank")), layouts.toString());
    }

    @Test
    void withoutATargetLowRankRestrictsTheDefault() throws Exception {
        List<String> layouts = compressedLayouts("--format", "lowrank", "--calibration", "testdata/digits_calib_x.npy");
        assertTrue(layouts.stream().allMatch(l -> l.startsWith("low-rank")), layouts.toString());
        assertTrue(Files.readString(dir.resolve("report.json")).contains("--format lowrank"), "the recorded command");
    }

    @Test
    void formatsThatDoNotApplyAreUsageErrors() {
        for (String[] args : new String[][] {{"--ratio", "4", "--format", "tt"}, {"--layer-ratio", "4", "--format",
            "lowrank"}, {"--ratio", "4", "--format", "svd"}, {"--ratio", "4", "--format", "bt", "--min-speedup", "1.5"},
            {"--ratio", "4", "--format", "bt", "--sequential", "--calibration", "testdata/digits_calib_x.npy"}}) {
            Path out = dir.resolve("out.onnx");
            List<String> all = new ArrayList<>(List.of("compress", "models/digits_mlp.onnx", "-o", out.toString(), "-q"));
            all.addAll(List.of(args));
            CliRun run = CliRun.of(all.toArray(String[]::new));
            assertEquals(2, run.code(), String.join(" ", args) + ": " + run.err());
            assertTrue(run.err().contains("--format") || run.err().contains("format"), run.err());
            assertFalse(Files.exists(out));
        }
    }
}
