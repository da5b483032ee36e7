package dev.blockterm.spark;

import dev.blockterm.compress.FitRunner;
import java.nio.file.Path;

/** The {@code spark} runner, for {@link java.util.ServiceLoader} (META-INF/services). */
public final class SparkRunnerProvider implements FitRunner.Provider {

    @Override
    public String name() {
        return "spark";
    }

    @Override
    public FitRunner create(String master, Path model, Path staging) {
        return new SparkFitRunner(master, model, staging);
    }
}
