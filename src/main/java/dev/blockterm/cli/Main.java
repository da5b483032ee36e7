package dev.blockterm.cli;

import dev.blockterm.compress.Compressor;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code blockterm}: compress dense ONNX models with block-term tensor decompositions. */
@Command(name = "blockterm", mixinStandardHelpOptions = true, version = "blockterm " + Compressor.VERSION,
        description = "Compresses the fully connected layers of ONNX models with block-term tensor decompositions.",
        subcommands = {CompressCommand.class, InspectCommand.class, VerifyCommand.class,
            ImportFactorsCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(execute(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Runs the command line with the given writers; returns the exit code (0 ok, 1 failure, 2 usage). */
    public static int execute(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            boolean verbose = parseResult.subcommand() != null && parseResult.subcommand().hasMatchedOption("-v");
            if (verbose) {
                ex.printStackTrace(commandLine.getErr());
            }
            String message = ex.getMessage() == null ? ex.toString() : ex.getMessage();
            commandLine.getErr().println("blockterm: " + message.lines().findFirst().orElse(message));
            commandLine.getErr().flush();
            return 1;
        });
        int code = cli.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
