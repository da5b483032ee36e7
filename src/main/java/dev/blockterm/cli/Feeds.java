package dev.blockterm.cli;

import dev.blockterm.runtime.ModelRunner;
import dev.blockterm.runtime.NpyArray;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Model inputs from {@code [NAME=]FILE.npy} arguments ({@code NAME=} may be left out for a single-input model). */
final class Feeds {

    private Feeds() {
    }

    static Map<String, NpyArray> read(Path model, List<String> specs, String option, int threads) {
        Map<String, NpyArray> feeds = new LinkedHashMap<>();
        try (ModelRunner runner = new ModelRunner(model, threads)) {
            for (String spec : specs) {
                int eq = spec.indexOf('=');
                String name;
                if (eq > 0) {
                    name = spec.substring(0, eq);
                } else if (runner.inputs().size() == 1) {
                    name = runner.inputs().get(0).name();
                } else {
                    throw new IllegalArgumentException(option + ": the model has " + runner.inputs().size()
                            + " inputs; name them as NAME=FILE.npy");
                }
                String file = eq > 0 ? spec.substring(eq + 1) : spec;
                NpyArray array = NpyArray.read(Path.of(file));
                if (array.shape().length == 0 || array.shape()[0] == 0) {
                    throw new IllegalArgumentException(option + ": " + file + " holds no rows (shape "
                            + java.util.Arrays.toString(array.shape()) + "); give at least one input row");
                }
                feeds.put(name, array);
            }
        }
        return feeds;
    }
}
