package dev.blockterm.cli;

import dev.blockterm.compress.CompressionOptions;
import dev.blockterm.compress.Calibration;
import dev.blockterm.compress.Compressor;
import dev.blockterm.compress.Provenance;
import dev.blockterm.compress.Target;
import java.util.List;
import java.util.Map;
import dev.blockterm.runtime.InputShapes;
import dev.blockterm.runtime.NpyArray;
import dev.blockterm.compress.FormatComparison;
import dev.blockterm.compress.Plans;
import dev.blockterm.onnx.ModelFiles;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import onnx.Onnx;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Lists the layers compress would take and what it would do, without fitting; "
                + "on a compressed model, reads back what was done.")
final class InspectCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL")
    Path model;

    @Option(names = {"-v", "--verbose"}, description = "stack traces on errors")
    boolean verbose;

    @Option(names = "--compare", description = "fit every format (bt, tucker, cp, tt) at the same parameter budget "
            + "per layer and print their errors side by side")
    boolean compare;

    @Option(names = {"-q", "--quiet"}, description = "no progress on stderr")
    boolean quiet;

    @Option(names = "--calibration", paramLabel = "[NAME=]FILE.npy", split = ",",
            description = "calibration inputs, as for compress: the plan is then the one compress makes with them")
    List<String> calibration;

    @Mixin
    FitOptions fit;

    @Mixin
    InputOptions inputs;

    @Override
    public Integer call() {
        CompressionOptions options = fit.build();
        Onnx.ModelProto m = ModelFiles.read(model);
        InputShapes shapes = inputs.shapes(m);
        PrintWriter out = spec.commandLine().getOut();
        Provenance.Recorded recorded = Provenance.read(m);
        if (recorded != null) {
            out.println(model + ": compressed by blockterm " + recorded.version() + " with " + recorded.options());
            out.print(recorded.table());
        } else if (options.target().usesCurves() || options.target() instanceof Target.Default) {
            // decided as compress decides (the curves are one eigendecomposition per layer; a quality target runs the model)
            Map<String, NpyArray> feeds = inputs.feeds(model, m.getGraph(), shapes, calibration, "--calibration", 1);
            Calibration data = feeds == null ? null : new Calibration(feeds, 1);
            // the plan is a quick look: its fitting and probing progress is not printed
            Compressor planner = new Compressor(options, x -> { }, data, shapes);
            out.print(Plans.decided(m, options, planner.plan(m, model.toString())));
        } else {
            out.print(Plans.table(m, options));
        }
        if (compare) {
            out.println();
            out.print(FormatComparison.table(m, options, quiet ? x -> { } : x -> spec.commandLine().getErr().println(x)));
        }
        out.flush();
        return 0;
    }
}
