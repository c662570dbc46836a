package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Help's examples and settings are copied into shells: a line longer than the help's 80 columns is wrapped by picocli at
 * column 0, in the middle of a command (QA47a F11). Every footer line fits, and every positional parameter says what it is.
 */
class HelpWidthTest {

    private static void collect(CommandLine command, List<CommandLine> into) {
        into.add(command);
        command.getSubcommands().values().forEach(sub -> collect(sub, into));
    }

    @Test
    void everyFooterLineFitsAndEveryParameterIsDescribed() {
        List<CommandLine> all = new ArrayList<>();
        collect(new CommandLine(new FlagsCommand()), all);
        assertThat(all).hasSizeGreaterThan(40);
        List<String> problems = new ArrayList<>();
        for (CommandLine c : all) {
            String name = c.getCommandSpec().qualifiedName();
            for (String line : c.getCommandSpec().usageMessage().footer()) {
                String shown = String.format(line.replace("%n", "")); // as picocli formats it: %% is one %
                if (shown.length() > 79) {
                    problems.add(name + ": " + shown.length() + " characters: " + shown);
                }
            }
            if (!name.endsWith(" help")) {
                c.getCommandSpec().positionalParameters().stream().filter(p -> String.join("", p.description()).isBlank())
                        .forEach(p -> problems.add(name + " " + p.paramLabel() + ": no description"));
            }
        }
        assertThat(problems).isEmpty();
    }

    @Test
    void everyCommandTakesHelp() {
        List<CommandLine> all = new ArrayList<>();
        collect(new CommandLine(new FlagsCommand()), all);
        List<String> refused = new ArrayList<>();
        for (CommandLine c : all) {
            String name = c.getCommandSpec().qualifiedName();
            if (name.endsWith(" help")) {
                continue; // picocli's own: "flags help COMMAND"
            }
            List<String> args = new ArrayList<>(List.of(name.split(" ")).subList(1, name.split(" ").length));
            args.add("--help");
            java.io.StringWriter out = new java.io.StringWriter();
            java.io.StringWriter err = new java.io.StringWriter();
            int exit = FlagsCommand.run(args.toArray(String[]::new), new java.io.PrintWriter(out, true),
                    new java.io.PrintWriter(err, true));
            if (exit != 0 || !out.toString().startsWith("Usage: " + name)) {
                refused.add(name + ": exit " + exit + ", " + err.toString().strip()); // flags sdks, QA54 F2: --version is its own
            }
        }
        assertThat(refused).isEmpty();
    }
}
