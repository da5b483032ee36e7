package dev.blockterm.compress;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * Where the layers' curve fits run: on threads of this process ({@link #local}), or on a cluster
 * (the optional Spark runner, found by {@link java.util.ServiceLoader} as a {@link Provider}). Every
 * runner runs the same {@link CurveTask#run}, so the model assembled from its results is the same.
 */
public interface FitRunner {

    /** Runs each task (largest first), and returns their results in the tasks' order; {@code progress} hears of them. */
    List<CurveFit> run(List<CurveTask> tasks, java.util.function.Consumer<String> progress);

    /** The folder under which each compression makes its staging folder (shared with the tasks). */
    Path stagingRoot();

    /** Fits here, staging under the system's temporary folder. */
    static FitRunner local() {
        return local(Path.of(System.getProperty("java.io.tmpdir")));
    }

    /**
     * Fits here, as many at once as the machine has cores and the heap holds ({@link CurveTask#bytes}
     * of the largest), each with its BLAS on one thread, as a Spark task with one cpu (the default)
     * runs it: the thread count changes the last bits of a sum, so with one thread a fit gives the
     * same bytes here and on Spark, whatever the number of cores. Staging under {@code root}. The
     * BLAS thread count is the process's: one process's curve fits run one compression at a time.
     */
    static FitRunner local(Path root) {
        return new FitRunner() {
            @Override
            public List<CurveFit> run(List<CurveTask> tasks, java.util.function.Consumer<String> progress) {
                synchronized (FitRunner.class) {
                    int before = dev.blockterm.tensor.BlasThreads.get();
                    dev.blockterm.tensor.BlasThreads.set(1);
                    try {
                        return fit(tasks, progress);
                    } finally {
                        dev.blockterm.tensor.BlasThreads.set(before);
                    }
                }
            }

            private List<CurveFit> fit(List<CurveTask> tasks, java.util.function.Consumer<String> progress) {
                List<CurveTask> order = largestFirst(tasks);
                List<Callable<CurveFit>> calls = new ArrayList<>();
                for (CurveTask t : order) {
                    calls.add(() -> {
                        progress.accept("error-versus-rank curve of " + t.name() + " (" + t.job().shape() + ")");
                        return t.run();
                    });
                }
                long largest = tasks.stream().mapToLong(CurveTask::bytes).max().orElse(1);
                long fitting = Math.max(1, Runtime.getRuntime().maxMemory() * 3 / 4 / Math.max(1, largest));
                int cores = Runtime.getRuntime().availableProcessors();
                return inTaskOrder(tasks, Parallel.run(calls, (int) Math.max(1, Math.min(Math.min(cores, fitting),
                        tasks.size()))));
            }

            @Override
            public Path stagingRoot() {
                return root;
            }
        };
    }

    /** The tasks by decreasing cost (ties by index): the order every runner submits them in. */
    static List<CurveTask> largestFirst(List<CurveTask> tasks) {
        List<CurveTask> order = new ArrayList<>(tasks);
        order.sort(Comparator.comparingDouble(CurveTask::flops).reversed().thenComparingInt(CurveTask::index));
        return order;
    }

    /** Results put back in the order of {@code tasks} (by index). */
    static List<CurveFit> inTaskOrder(List<CurveTask> tasks, List<CurveFit> results) {
        java.util.Map<Integer, CurveFit> byIndex = new java.util.HashMap<>();
        for (CurveFit f : results) {
            byIndex.put(f.index(), f);
        }
        List<CurveFit> out = new ArrayList<>();
        for (CurveTask t : tasks) {
            CurveFit f = byIndex.get(t.index());
            if (f == null) {
                throw new IllegalStateException("no result for the curve of " + t.name());
            }
            out.add(f);
        }
        return out;
    }

    /** A runner that another module provides (the Spark runner), chosen by name. */
    interface Provider {
        /** Its name, as the command line gives it ({@code spark}). */
        String name();

        /**
         * The runner for {@code master} (a cluster address), reading external weights of the model at
         * {@code model} by reference, staging under {@code staging} (shared storage on a cluster).
         */
        FitRunner create(String master, Path model, Path staging);
    }

    /** The provider named {@code name} on the class path, or null where that module is not built. */
    static Provider provider(String name) {
        try {
            for (Provider p : java.util.ServiceLoader.load(Provider.class)) {
                if (p.name().equals(name)) {
                    return p;
                }
            }
        } catch (java.util.ServiceConfigurationError | LinkageError e) {
            return null; // its classes are here but not its libraries (built once with the profile, then without)
        }
        return null;
    }
}
