package dev.blockterm.spark;

import dev.blockterm.compress.CurveFit;
import dev.blockterm.compress.CurveTask;
import dev.blockterm.compress.FitRunner;
import dev.blockterm.onnx.ModelFiles;
import dev.blockterm.onnx.SpillFile;
import dev.blockterm.onnx.WeightSource;
import dev.blockterm.tensor.BlasThreads;
import dev.blockterm.tensor.Matrix;
import java.nio.file.Files;
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
import onnx.Onnx;

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
        new SparkConf(false); // Spark's classes are here (else a LinkageError now, before any work)
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
        quietLogs();
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

    /**
     * Spark's own log lines off on the driver's console (its failures reach the user as one error
     * line, the stack trace with {@code -v}); {@code BLOCKTERM_SPARK_LOG=LEVEL} keeps them at that level.
     */
    private static void quietLogs() {
        String level = System.getenv("BLOCKTERM_SPARK_LOG");
        org.apache.logging.log4j.core.config.Configurator.setRootLevel(
                org.apache.logging.log4j.Level.toLevel(level == null ? "OFF" : level, org.apache.logging.log4j.Level.OFF));
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
        // layers reading one value (q, k, v) have equal covariances: each is written once
        Map<Integer, List<Map.Entry<Matrix, CurveTask.Covariance>>> staged = new java.util.HashMap<>();
        List<CurveTask> out = new ArrayList<>();
        for (CurveTask t : tasks) {
            WeightSource weight = t.weight();
            if (weight instanceof WeightSource.Held held) {
                Onnx.TensorProto tensor = held.tensor();
                if (external.containsKey(tensor.getName())) {
                    weight = external.get(tensor.getName());
                } else if (tensor.getRawData().size() >= SpillFile.MIN_BYTES) {
                    weight = stage(tensor, Path.of(t.staging()).resolve(String.format(Locale.ROOT, "weight-%05d.bin",
                            t.index())));
                }
            }
            CurveTask.Covariance covariance = t.covariance();
            if (covariance instanceof CurveTask.Held h) {
                Path file = Path.of(t.staging()).resolve(String.format(Locale.ROOT, "covariance-%05d.bin", t.index()));
                List<Map.Entry<Matrix, CurveTask.Covariance>> same = staged.computeIfAbsent(
                        java.util.Arrays.hashCode(h.gram().data()), k -> new ArrayList<>());
                CurveTask.Covariance found = null;
                for (Map.Entry<Matrix, CurveTask.Covariance> e : same) {
                    if (java.util.Arrays.equals(e.getKey().data(), h.gram().data())) {
                        found = e.getValue();
                    }
                }
                if (found == null) {
                    found = CurveTask.stage(h.gram(), file);
                    same.add(Map.entry(h.gram(), found));
                }
                covariance = found;
            }
            out.add(t.with(weight, covariance));
        }
        return out;
    }

    /** A weight stored in the model file itself, written to the staging folder and shipped by reference. */
    private static WeightSource.Mapped stage(Onnx.TensorProto tensor, Path file) {
        try {
            try (java.io.OutputStream o = Files.newOutputStream(file)) {
                tensor.getRawData().writeTo(o);
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot write " + file + " (" + e.getMessage() + ")", e);
        }
        return new WeightSource.Mapped(tensor.getName(), tensor.getDataType(),
                tensor.getDimsList().stream().mapToLong(Long::longValue).toArray(), file.toString(), 0,
                tensor.getRawData().size());
    }
}
