package dev.blockterm.spark;

import dev.blockterm.compress.CurveFit;
import dev.blockterm.compress.CurveTask;
import dev.blockterm.compress.FitRunner;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.WeightSource;
import dev.blockterm.tensor.BlasThreads;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * The layers' curve fits as Apache Spark tasks. The driver (this process) ships each task a
 * reference to its weight ({@link WeightSource.Mapped}: the external data file, offset and length)
 * where the model stores it externally, else the small tensor itself, and its input covariance as a
 * file in the staging folder; the tasks, one per Spark partition, largest first, map their weight,
 * fit ({@link CurveTask#run}, the code the local runner runs), set their BLAS threads to their
 * task's cpus ({@code spark.task.cpus}), write their bases to the staging folder and send back the
 * curve (kilobytes). The curve fits hold no randomness, so a retried or speculative task writes
 * the same bytes, and the model assembled from them is byte for byte the one a local run writes.
 *
 * <p>On a cluster the model and the staging folder must be on storage every executor reads at the
 * same path (NFS, a shared volume); the driver's master is {@code master}, unless {@code
 * spark-submit} already set one ({@code spark.master}), which wins.
 */
final class SparkFitRunner implements FitRunner {

    private final String master;
    private final Path model;
    private final Path staging;

    SparkFitRunner(String master, Path model, Path staging) {
        this.master = master;
        this.model = model;
        this.staging = staging;
    }

    @Override
    public Path stagingRoot() {
        return staging;
    }

    @Override
    public List<CurveFit> run(List<CurveTask> tasks, Consumer<String> progress) {
        if (tasks.isEmpty()) {
            return List.of();
        }
        List<CurveTask> shipped = shipped(FitRunner.largestFirst(tasks));
        SparkConf conf = new SparkConf().setAppName("blockterm").set("spark.ui.enabled", "false");
        if (!conf.contains("spark.master")) {
            conf.setMaster(master);
        }
        int driverThreads = BlasThreads.get(); // local mode runs the tasks in this process: put it back after
        progress.accept(String.format(Locale.ROOT, "fitting %d layers' curves as Spark tasks on %s, largest first",
                tasks.size(), conf.get("spark.master")));
        long started = System.nanoTime();
        try (JavaSparkContext spark = JavaSparkContext.fromSparkContext(SparkContext.getOrCreate(conf))) {
            spark.setLogLevel("WARN");
            List<CurveFit> fits = spark.parallelize(shipped, shipped.size()).map(SparkFitRunner::fit).collect();
            progress.accept(String.format(Locale.ROOT, "  %d Spark tasks done in %.1f s", fits.size(),
                    (System.nanoTime() - started) / 1e9));
            return FitRunner.inTaskOrder(tasks, fits);
        } finally {
            BlasThreads.set(driverThreads);
        }
    }

    /** One task, on an executor: BLAS on the task's cpus, then the fit. */
    private static CurveFit fit(CurveTask task) {
        TaskContext context = TaskContext.get();
        BlasThreads.set(context == null ? 1 : context.cpus());
        return task.run();
    }

    /**
     * The tasks as they travel: an external weight by reference, a held covariance written to the
     * staging folder (the executors read it there).
     */
    List<CurveTask> shipped(List<CurveTask> tasks) {
        Map<String, WeightSource.Mapped> external = ModelFiles.externalWeights(model);
        List<CurveTask> out = new ArrayList<>();
        for (CurveTask t : tasks) {
            WeightSource weight = t.weight();
            if (weight instanceof WeightSource.Held held && external.containsKey(held.tensor().getName())) {
                weight = external.get(held.tensor().getName());
            }
            CurveTask.Covariance covariance = t.covariance();
            if (covariance instanceof CurveTask.Held h) {
                Path file = Path.of(t.staging()).resolve(String.format(Locale.ROOT, "covariance-%05d.bin", t.index()));
                covariance = CurveTask.stage(h.gram(), file);
            }
            out.add(t.with(weight, covariance));
        }
        return out;
    }
}
