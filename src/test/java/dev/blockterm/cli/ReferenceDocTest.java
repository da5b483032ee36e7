package dev.blockterm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * {@code docs/reference.md} against picocli's usage, so the two cannot drift: the reference holds,
 * after a marker line {@code <!-- usage: NAME -->}, each command's usage text verbatim in a fenced
 * block ({@code blockterm} itself and every subcommand), rendered at {@value #WIDTH} columns without
 * colours; every option of every command is named there, and every {@code --option} the reference,
 * the README and the other pages of {@code docs/} name exists.
 *
 * <p>After changing an option, regenerate the blocks (the prose around them stays as written):
 * {@code mvn -B -o -q test -Dtest=ReferenceDocTest -Dreference.update=true}
 */
class ReferenceDocTest {

    static final Path REFERENCE = Path.of("docs", "reference.md");
    static final int WIDTH = 80;
    static final String REGENERATE = "regenerate the usage blocks with: "
            + "mvn -B -o -q test -Dtest=ReferenceDocTest -Dreference.update=true";

    /** A marker line, then a fenced block: the block's text is group 2. */
    private static final Pattern BLOCK = Pattern.compile(
            "<!-- usage: ([a-z-]+) -->\n```text\n(.*?)```\n", Pattern.DOTALL);
    private static final Pattern OPTION = Pattern.compile("(?<![\\w-])--[a-z][a-z0-9-]*");

    /** The command line {@link Main#execute} builds, with a fixed usage width. */
    private static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Main());
        cli.setUsageHelpWidth(WIDTH);
        return cli;
    }

    /** Every command's usage, {@code blockterm} first, then the subcommands in their declared order. */
    static Map<String, String> usages() {
        CommandLine cli = commandLine();
        Map<String, String> usages = new LinkedHashMap<>();
        usages.put(cli.getCommandName(), cli.getUsageMessage(CommandLine.Help.Ansi.OFF));
        cli.getSubcommands().forEach((name, sub) -> usages.put(name, sub.getUsageMessage(CommandLine.Help.Ansi.OFF)));
        return usages;
    }

    /** Every option name (long and short) of every command. */
    static Set<String> optionNames() {
        CommandLine cli = commandLine();
        Set<String> names = new TreeSet<>();
        List<CommandLine> commands = new ArrayList<>(List.of(cli));
        commands.addAll(cli.getSubcommands().values());
        for (CommandLine c : commands) {
            for (OptionSpec o : c.getCommandSpec().options()) {
                names.addAll(List.of(o.names()));
            }
        }
        return names;
    }

    /** The reference with every usage block replaced by picocli's current text. */
    static String regenerated(String reference, Map<String, String> usages) {
        Matcher m = BLOCK.matcher(reference);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String usage = usages.get(m.group(1));
            String text = usage == null ? m.group(2) : usage.endsWith("\n") ? usage : usage + "\n";
            m.appendReplacement(out, Matcher.quoteReplacement(
                    "<!-- usage: " + m.group(1) + " -->\n```text\n" + text + "```\n"));
        }
        m.appendTail(out);
        return out.toString();
    }

    private static String reference() throws IOException {
        String text = Files.readString(REFERENCE, StandardCharsets.UTF_8);
        if (Boolean.getBoolean("reference.update")) {
            String updated = regenerated(text, usages());
            if (!updated.equals(text)) {
                Files.writeString(REFERENCE, updated, StandardCharsets.UTF_8);
            }
            return updated;
        }
        return text;
    }

    @Test
    void everyCommandsUsageIsInTheReferenceVerbatim() throws IOException {
        String reference = reference();
        Map<String, String> documented = new LinkedHashMap<>();
        Matcher m = BLOCK.matcher(reference);
        while (m.find()) {
            if (documented.put(m.group(1), m.group(2)) != null) {
                fail(REFERENCE + ": two usage blocks for '" + m.group(1) + "'");
            }
        }
        Map<String, String> usages = usages();
        for (String name : documented.keySet()) {
            assertTrue(usages.containsKey(name), REFERENCE + ": a usage block for '" + name
                    + "', which is no command; commands: " + usages.keySet());
        }
        for (Map.Entry<String, String> e : usages.entrySet()) {
            String found = documented.get(e.getKey());
            assertTrue(found != null, REFERENCE + ": no usage block for '" + e.getKey() + "' (a line '<!-- usage: "
                    + e.getKey() + " -->' then a ```text block); " + REGENERATE);
            String expected = e.getValue().endsWith("\n") ? e.getValue() : e.getValue() + "\n";
            assertEquals(expected, found, REFERENCE + ": the usage of '" + e.getKey()
                    + "' differs from picocli's; " + REGENERATE);
        }
    }

    @Test
    void everyOptionIsNamedInTheReference() throws IOException {
        String reference = reference();
        Set<String> named = new TreeSet<>();
        Matcher m = OPTION.matcher(reference);
        while (m.find()) {
            named.add(m.group());
        }
        Set<String> options = optionNames();
        for (String option : options) {
            if (option.startsWith("--")) {
                assertTrue(named.contains(option), REFERENCE + " never names " + option + "; " + REGENERATE);
            } else {
                assertTrue(Pattern.compile("(?<![\\w-])" + Pattern.quote(option) + "(?![\\w-])").matcher(reference).find(),
                        REFERENCE + " never names " + option + "; " + REGENERATE);
            }
        }
        Set<String> unknown = new TreeSet<>(named);
        unknown.removeAll(options);
        assertTrue(unknown.isEmpty(), REFERENCE + " names options no command has: " + unknown
                + " (options: " + options + ")");
    }

    /** The README and the other pages name only options that exist too (a {@code #--anchor} is no option). */
    @Test
    void everyOptionTheOtherDocsNameExists() throws IOException {
        List<Path> pages = new ArrayList<>(List.of(Path.of("README.md")));
        try (var docs = Files.list(REFERENCE.getParent())) {
            docs.filter(p -> p.toString().endsWith(".md") && !p.equals(REFERENCE)).sorted().forEach(pages::add);
        }
        Set<String> options = optionNames();
        Pattern named = Pattern.compile("(?<![\\w#-])--[a-z][a-z0-9-]*");
        for (Path page : pages) {
            Set<String> unknown = new TreeSet<>();
            Matcher m = named.matcher(Files.readString(page, StandardCharsets.UTF_8));
            while (m.find()) {
                if (!options.contains(m.group())) {
                    unknown.add(m.group());
                }
            }
            assertTrue(unknown.isEmpty(), page + " names options no command has: " + unknown);
        }
    }

    @Test
    void regeneratingAReferenceReplacesOnlyItsUsageBlocks() {
        String stale = "# prose --ratio\n<!-- usage: verify -->\n```text\nold\n```\nmore prose\n";
        String fresh = regenerated(stale, Map.of("verify", "Usage: new\n"));
        assertEquals("# prose --ratio\n<!-- usage: verify -->\n```text\nUsage: new\n```\nmore prose\n", fresh);
    }
}
