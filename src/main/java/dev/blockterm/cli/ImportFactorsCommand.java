package dev.blockterm.cli;

import dev.blockterm.handoff.FactorFiles;
import dev.blockterm.handoff.SafeTensors;
import dev.blockterm.onnx.ModelFiles;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import onnx.Onnx;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "import-factors", mixinStandardHelpOptions = true,
        description = "Puts fine-tuned factors (a safetensors file written by compress --factors, then tuned) back "
                + "into the compressed model.")
final class ImportFactorsCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL.bt.onnx", description = "the compressed model")
    Path model;

    @Parameters(index = "1", paramLabel = "TUNED.safetensors", description = "the factors, names and shapes as exported")
    Path factors;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.onnx", description = "the model to write")
    Path output;

    @Option(names = {"-v", "--verbose"}, description = "stack traces on errors")
    boolean verbose;

    @Override
    public Integer call() {
        CompressCommand.requireWritable(model, List.of(factors), output);
        Onnx.ModelProto compressed = ModelFiles.read(model);
        SafeTensors tuned = SafeTensors.read(factors);
        Onnx.ModelProto out = FactorFiles.importInto(compressed, tuned, factors.toString());
        ModelFiles.write(out, output, model, CompressCommand.loadsInOnnxRuntime(out, output));
        spec.commandLine().getOut().printf("%d tensors of %s put into %s%n", tuned.tensors().size(), factors, output);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
