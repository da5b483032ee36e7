package dev.blockterm.cli;

import dev.blockterm.compress.Provenance;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code blockterm}: compress dense ONNX models with block-term tensor decompositions. */
@Command(name = "blockterm", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Compresses trained ONNX models without retraining: low rank, block terms, spatial SVD and "
                + "lower precisions, chosen per weight for the whole model's target, in standard ONNX ops.",
        subcommands = {CompressCommand.class, InspectCommand.class, VerifyCommand.class,
            ImportFactorsCommand.class})
public final class Main implements Runnable {

    /** The version the build recorded. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"blockterm " + Provenance.version()};
        }
    }

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
            if (ex instanceof UsageError) {
                return usage(commandLine, ex.getMessage());
            }
            String message = outOfMemory(ex) ? OUT_OF_MEMORY : ex.getMessage() == null ? ex.toString() : ex.getMessage();
            commandLine.getErr().println("blockterm: " + message.lines().findFirst().orElse(message));
            commandLine.getErr().flush();
            return 1;
        });
        cli.setParameterExceptionHandler((ex, args1) -> usage(ex.getCommandLine(),
                ex.getMessage() == null ? ex.toString() : ex.getMessage()));
        int code;
        try {
            code = cli.execute(args);
        } catch (Error e) {
            // picocli hands errors on: the heap, or direct buffer memory, ran out (maybe in a class's initializer)
            if (!outOfMemory(e)) {
                throw e;
            }
            err.println("blockterm: " + OUT_OF_MEMORY);
            code = 1;
        }
        out.flush();
        err.flush();
        return code;
    }

    /** A usage error: its first line, then where help is; exit 2. */
    private static int usage(CommandLine command, String message) {
        command.getErr().println("blockterm: " + message.lines().findFirst().orElse(message));
        command.getErr().println("Try '" + command.getCommandSpec().qualifiedName() + " --help' for more information.");
        command.getErr().flush();
        return 2;
    }

    static final String OUT_OF_MEMORY = "out of memory: give Java more with BLOCKTERM_JAVA_OPTS (the launcher's default "
            + "is '-Xmx8g -XX:+UseParallelGC -Xmn512m'; e.g. BLOCKTERM_JAVA_OPTS='-Xmx16g -XX:+UseParallelGC -Xmn512m', "
            + "and -XX:MaxDirectMemorySize=16g for large models), or compress fewer layers at a time (--layers)";

    /** An {@link OutOfMemoryError} anywhere in the chain of causes (libraries wrap them). */
    private static boolean outOfMemory(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof OutOfMemoryError || (c.getMessage() != null && c.getMessage().contains("Direct buffer memory"))) {
                return true;
            }
            if (c.getCause() == c) {
                break;
            }
        }
        return false;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
