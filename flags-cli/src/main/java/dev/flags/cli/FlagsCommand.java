package dev.flags.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.core.Evaluation;
import dev.flags.core.Flag;
import dev.flags.core.FlagFormat;
import dev.flags.core.FlagSet;
import dev.flags.core.FlagValidationException;
import dev.flags.core.Problem;
import dev.flags.core.ReadableText;
import dev.flags.core.UnfitFileException;
import dev.flags.core.User;
import dev.flags.core.WriteRules;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.Period;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * The {@code flags} command: the flag server's admin API for product owners and testers, and
 * {@code validate} / {@code eval} of flag files without a server (for CI pipelines and debugging).
 *
 * <p>Exit codes: 0 done; 1 the server or the file said no (the message says why); 2 bad usage;
 * 3 the server cannot be reached, or its certificate is not trusted; 4 {@code diff --exit-code} found differences. Output is
 * JSON where a script would read it.
 */
@Command(name = "flags", mixinStandardHelpOptions = true, versionProvider = FlagsCommand.Version.class,
        description = "Change and inspect feature flags on a flag server, or check flag files offline.",
        subcommands = {FlagsCommand.ListFlags.class, FlagsCommand.Show.class, FlagsCommand.Create.class, FlagsCommand.Put.class, Edit.class,
                FlagsCommand.On.class, FlagsCommand.Off.class,
                FlagsCommand.Rollout.class, FlagsCommand.AddRole.class, FlagsCommand.AddRegion.class,
                FlagsCommand.RemoveRole.class, FlagsCommand.RemoveRegion.class, FlagsCommand.Default.class,
                FlagsCommand.TargetUser.class, FlagsCommand.UntargetUser.class, FlagsCommand.Grant.class,
                FlagsCommand.Revoke.class, FlagsCommand.ScheduleChange.class, FlagsCommand.Schedules.class,
                FlagsCommand.Unschedule.class, FlagsCommand.Archive.class, FlagsCommand.Delete.class, FlagsCommand.History.class, Audit.class, FlagsCommand.Revert.class, FlagsCommand.Evaluate.class,
                FlagsCommand.Usage.class, Stale.class, Sdks.class, Whoami.class, Promote.class, Diff.class, Apply.class, Roles.class, Environments.class,
                FlagsCommand.Validate.class, FlagsCommand.Eval.class, FlagsCommand.Export.class, FlagsCommand.Tokens.class,
                picocli.CommandLine.HelpCommand.class},
        footerHeading = "%nSettings (an option, or its environment variable):%n",
        footer = {"  --server URL  FLAGS_SERVER  where the API is; http://localhost:8080 if unset",
                "  --token T     FLAGS_TOKEN   the token (the variable: options show in ps)",
                "  -e ENV        FLAGS_ENV     the environment, changes too: production if unset",
                "", "Examples:",
                "  flags list -e staging",
                "  flags off billing-v2 -m \"incident 4711\"",
                "  flags rollout billing-v2 10 --rule \"eu canary\"",
                "  flags promote billing-v2 --from staging --dry-run",
                "", "Each command's --help has its own; docs/cli.md has them all."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:done", "1:the server or the file said no, the message says why; or --wait: SDKs have not applied the change in time", "2:bad usage",
                "3:the server cannot be reached, or its certificate is not trusted",
                "4:flags diff --exit-code: the environments differ"})
public final class FlagsCommand implements Callable<Integer> {

    /** {@code flags -V}: the release and the commit the build was made from. */
    static final class Version implements picocli.CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"flags " + dev.flags.core.Build.describe()};
        }
    }

    /** The heading of a command's examples, after its options in its --help. */
    static final String EXAMPLES = "%nExamples:%n";

    static final int EXIT_OK = 0;
    static final int EXIT_FAILED = 1;
    static final int EXIT_USAGE = 2;
    static final int EXIT_UNREACHABLE = 3;
    /** {@code diff --exit-code}: the environments' flags differ (apart from 1, so that a check tells drift from a refusal). */
    static final int EXIT_DIFFERENT = 4;

    @Spec
    CommandSpec spec;

    /**
     * Runs the command.
     *
     * @param args the command line
     */
    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command with the given output streams; returns the exit code. */
    static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new FlagsCommand());
        cli.getSubcommands().values().forEach(sub -> sub.getCommandSpec().mixinStandardHelpOptions(true)); // --help everywhere
        cli.setOut(out);
        cli.setErr(err);
        cli.setResourceBundle(helpVariables()); // after the subcommands' --help: it is handed down to all of them
        // No "@file" arguments: picocli would read a word such as the comment "-m @oncall" from a file of that name if
        // there were one, and a token read so escapes the masking of --token's value below (FLAGS_TOKEN is the way
        // to keep a token off the command line).
        cli.setExpandAtFiles(false);
        // Bad usage (an unknown option, a missing parameter) gets the same "flags: " line as every other error and a
        // pointer to the help, not the whole usage text: in a script's log the message would drown in it.
        cli.setParameterExceptionHandler((e, arguments) -> {
            // A token typed with --token must not reach a terminal or a CI log through an echo of the command line;
            // nor one after a mistyped option (--tok flg_...), nor FLAGS_TOKEN's pasted as an argument.
            List<String> secrets = secrets(arguments);
            err.println("flags: " + masked(unknownCommand(e).orElse(e.getMessage()), secrets));
            if (e instanceof CommandLine.UnmatchedArgumentException unmatched && !unmatched.getUnmatched().isEmpty()) {
                String typed = unmatched.getUnmatched().get(0);
                String reordered = typed.startsWith("-") ? optionsAfterCommand(e.getCommandLine(), arguments, secrets) : null;
                if (reordered != null) {
                    err.println("Options go after the command's name: " + reordered);
                } else if (!typed.startsWith("-")) {
                    // A near miss of a command name is worth a line (picocli's own suggestions are looser, or none).
                    List<String> near = e.getCommandLine().getSubcommands().keySet().stream()
                            .filter(c -> typoDistance(typed, c) <= 2).toList();
                    if (!near.isEmpty()) {
                        err.println("Did you mean: " + String.join(", ", near) + "?");
                    }
                }
            }
            err.println("Try '" + e.getCommandLine().getCommandSpec().qualifiedName() + " --help'.");
            return EXIT_USAGE;
        });
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (e instanceof CliException c) {
                // A token pasted where a server address, a value or an environment goes is quoted back by the message
                // about it (or by the server's answer): masked as in a usage error.
                err.println("flags: " + masked(c.getMessage(), secrets(parseResult.originalArgs().toArray(String[]::new))));
                if (c.exitCode() == EXIT_USAGE) { // as picocli's own usage errors end: every bad usage says where help is
                    err.println("Try '" + commandLine.getCommandSpec().qualifiedName() + " --help'.");
                }
                return c.exitCode();
            }
            // Not expected, so not known to be free of the token: whatever it quotes, the token is masked.
            err.println("flags: " + masked(e.toString(), secrets(parseResult.originalArgs().toArray(String[]::new))));
            return EXIT_FAILED;
        });
        int exit = cli.execute(args);
        // PrintWriter (and System.out's PrintStream under it) keeps a failed write to itself: without this, "flags export >
        // backup.json" on a full disk would leave a cut file and end 0 (QA71 F3).
        if (out.checkError()) {
            err.println("flags: writing to standard output failed (a full disk, or a closed pipe): what the command printed"
                    + " there is incomplete or missing");
            return exit == EXIT_OK ? EXIT_FAILED : exit;
        }
        return exit;
    }

    /**
     * "unknown command 'bogus'" where picocli says "Unmatched argument at index 0: 'bogus'": a word that is no
     * option, given to a command that takes commands and no parameters, is a command that does not exist.
     */
    static java.util.Optional<String> unknownCommand(CommandLine.ParameterException e) {
        if (e instanceof CommandLine.UnmatchedArgumentException unmatched && !unmatched.getUnmatched().isEmpty()
                && !unmatched.getUnmatched().get(0).startsWith("-") && !e.getCommandLine().getSubcommands().isEmpty()
                && e.getCommandLine().getCommandSpec().positionalParameters().isEmpty()) {
            return java.util.Optional.of("unknown command '" + oneLine(unmatched.getUnmatched().get(0)) + "' of '"
                    + e.getCommandLine().getCommandSpec().qualifiedName() + "'");
        }
        return java.util.Optional.empty();
    }

    /**
     * The command line with options given before a command's name ('flags -e production tokens list') put after
     * the whole of it ('flags tokens list -e production'), tokens masked; null if no command's name follows them.
     */
    static String optionsAfterCommand(CommandLine failed, String[] arguments, List<String> secrets) {
        List<String> rest = new ArrayList<>(List.of(arguments));
        List<String> path = new ArrayList<>(List.of(failed.getCommandSpec().qualifiedName().split(" ")));
        path.subList(1, path.size()).forEach(rest::remove); // the commands picocli already took
        CommandLine command = failed;
        int at = -1;
        for (int i = 0; i < rest.size() && at < 0; i++) {
            if (command.getSubcommands().containsKey(rest.get(i)) && !rest.get(i).equals("help")) {
                at = i;
            }
        }
        if (at < 0) {
            return null;
        }
        while (at < rest.size() && command.getSubcommands().containsKey(rest.get(at))) {
            command = command.getSubcommands().get(rest.get(at));
            path.add(rest.remove(at));
        }
        rest.replaceAll(word -> masked(word, secrets));
        return String.join(" ", path) + (rest.isEmpty() ? "" : " " + String.join(" ", rest.stream().map(FlagsCommand::shellWord).toList()));
    }

    /** How every token the server makes begins. */
    static final String TOKEN_PREFIX = "flg_";

    /** @return the values given to --token on this command line */
    static List<String> tokenValues(String[] arguments) {
        List<String> values = new ArrayList<>();
        for (int i = 0; i < arguments.length; i++) {
            if (arguments[i].equals("--token") && i + 1 < arguments.length) {
                values.add(arguments[i + 1]);
            } else if (arguments[i].startsWith("--token=")) {
                values.add(arguments[i].substring("--token=".length()));
            }
        }
        values.removeIf(String::isEmpty);
        return values;
    }

    /**
     * @return what a message must not show: the values of --token, FLAGS_TOKEN's, and every argument's part from a server
     *     token's {@code flg_} on
     */
    static List<String> secrets(String[] arguments) {
        List<String> secrets = new ArrayList<>(tokenValues(arguments));
        String fromEnv = System.getenv("FLAGS_TOKEN");
        if (fromEnv != null) {
            secrets.add(fromEnv);
        }
        for (String argument : arguments) {
            if (argument.contains(TOKEN_PREFIX)) { // the server's tokens all start so
                secrets.add(argument.substring(argument.indexOf(TOKEN_PREFIX)));
            }
        }
        secrets.replaceAll(String::strip);
        secrets.removeIf(String::isEmpty);
        // A token's secret is the part after its prefix: pasted without it (a flag key, say), it must not show either
        // (QA48a F8). Masked after the whole tokens, so that those still read as one ***.
        List<String> bodies = new ArrayList<>();
        for (String secret : secrets) {
            if (secret.startsWith(TOKEN_PREFIX) && secret.length() - TOKEN_PREFIX.length() >= MIN_SECRET_BODY) {
                bodies.add(secret.substring(TOKEN_PREFIX.length()));
            }
        }
        secrets.addAll(bodies);
        return secrets;
    }

    /** The shortest part of a token after its prefix that is masked on its own: a token's secret is 43 characters. */
    private static final int MIN_SECRET_BODY = 20;

    /**
     * A server token, wherever it came from (FLAGS_SERVER's value, a server's answer quoting one): its prefix and the 43
     * characters of its secret, so that a flag key such as {@code flg_billing} is not taken for one.
     */
    private static final java.util.regex.Pattern SERVER_TOKEN = java.util.regex.Pattern.compile("(?<![A-Za-z0-9_-])"
            + TOKEN_PREFIX + "[A-Za-z0-9_-]{40,}");

    /** @return the text with every secret in it, and anything shaped as a server token, replaced by {@code ***} */
    static String masked(String text, List<String> secrets) {
        String shown = text;
        for (String secret : secrets) {
            shown = shown.replace(secret, "***");
        }
        return SERVER_TOKEN.matcher(shown).replaceAll("***");
    }

    /** A user and password in a URL's authority (or any text up to its last {@code @} before a path, query or fragment). */
    private static final java.util.regex.Pattern USER_INFO =
            java.util.regex.Pattern.compile("^([A-Za-z][A-Za-z0-9+.-]*://)?[^/?#]*@");

    /**
     * A server address as a message or the help may show it: a user and password in it ({@code https://bob:secret@host},
     * FLAGS_SERVER copied from a proxy's or a git remote's URL; or a token alone, {@code https://TOKEN@host}) written
     * {@code ***}, the rest as given. The command never sends them (the token is its credential), and every message that
     * quotes the address would otherwise put the password in a terminal or a CI log (QA88 F2).
     *
     * @param address a server address as given, which need not be a URL
     * @return the address with what comes before the {@code @} of its authority written {@code ***}; as it is if none
     */
    static String withoutUserInfo(String address) {
        return withoutUserInfo(address, "***@");
    }

    /** As {@link #withoutUserInfo(String)}, with the user and password and their {@code @} replaced by {@code mask}. */
    static String withoutUserInfo(String address, String mask) {
        if (address == null || address.indexOf('@') < 0) {
            return address;
        }
        java.util.regex.Matcher m = USER_INFO.matcher(address);
        return m.find() ? (m.group(1) == null ? "" : m.group(1)) + mask + address.substring(m.end()) : address;
    }

    /**
     * The variable the help's {@code --server} shows as its default: FLAGS_SERVER's value {@linkplain #withoutUserInfo
     * without a user and password}. Picocli's {@code ${DEFAULT-VALUE}} would show the value itself (QA88 F2).
     */
    static final String SERVER_SHOWN = "flags.server.shown";

    /** The help's variables that picocli cannot work out itself ({@code ${bundle:...}} in descriptions). */
    static java.util.ResourceBundle helpVariables() {
        String server = System.getenv("FLAGS_SERVER");
        String shown = server == null || server.isEmpty() ? "http://localhost:8080" : withoutUserInfo(server);
        return new java.util.ListResourceBundle() {
            @Override
            protected Object[][] getContents() {
                return new Object[][] {{SERVER_SHOWN, shown}};
            }
        };
    }

    /** @return the word as a shell takes it back: as it is if plain, else in single quotes */
    static String shellWord(String word) {
        return !word.isEmpty() && word.matches("[A-Za-z0-9_./:=@%+,-]+") ? word : "'" + word.replace("'", "'\\''") + "'";
    }

    /** Edits (insert, delete, replace, swap of neighbours) from one word to another: "lsit" is 1 from "list". */
    static int typoDistance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            for (int j = 0; j <= b.length(); j++) {
                if (i == 0 || j == 0) {
                    d[i][j] = i + j;
                    continue;
                }
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }

    @Override
    public Integer call() {
        // No command is a usage error (exit 2): the usage goes where errors go, not into a pipe.
        spec.commandLine().usage(spec.commandLine().getErr());
        return EXIT_USAGE;
    }

    /** Where the server is and who is asking: options, or FLAGS_* environment variables. */
    static class ConnectionOptions {
        // Not ${DEFAULT-VALUE} in the description: that is FLAGS_SERVER's value as it is, password and all (QA88 F2).
        @Option(names = "--server", defaultValue = "${env:FLAGS_SERVER:-http://localhost:8080}",
                description = "The flag server's HTTP address (env FLAGS_SERVER, default ${bundle:" + SERVER_SHOWN
                        + ":-http://localhost:8080}).")
        String server;

        @Option(names = "--token", defaultValue = "${env:FLAGS_TOKEN}",
                description = "Your token (env FLAGS_TOKEN). Prefer the variable: options show in ps.")
        String token;

        Api api(CommandSpec command) {
            return new Api(server, token, command.commandLine().getErr());
        }
    }

    /** The title of the server's 409 for a write that would switch on a flag that is off, unasked. */
    static final String SWITCHES_ON = "would switch on";

    /** The connection, and the one environment a command works in. */
    static final class ServerOptions extends ConnectionOptions {
        @Option(names = {"-e", "--env"}, defaultValue = "${env:FLAGS_ENV:-production}",
                description = "The environment (env FLAGS_ENV, default ${DEFAULT-VALUE}).")
        private String environment;

        /**
         * @return the environment given by {@code -e} or {@code FLAGS_ENV}
         * @throws CliException if it is empty ({@code -e ""}, or {@code FLAGS_ENV=} set but empty): it would make a
         *     path such as {@code /environments//flags}, which names no environment
         */
        String environment() {
            if (environment.isBlank()) {
                throw new CliException(EXIT_USAGE, "-e must not be empty" + (System.getenv("FLAGS_ENV") != null
                        && System.getenv("FLAGS_ENV").isBlank() ? " (FLAGS_ENV is set, but empty: unset it or give it an"
                        + " environment)" : ""));
            }
            return environment;
        }

        String flagPath(String key) {
            // An empty segment vanishes from the URL: ".../flags/" is the list of flags, not a flag.
            if (key.isEmpty()) {
                throw new CliException(EXIT_USAGE, "FLAG must not be empty");
            }
            return "/environments/" + Api.path(environment()) + "/flags/" + Api.path(key);
        }
    }

    /** The "why" of a change; only commands that change something take it (a read has no history to record it in). */
    static final class CommentOption {
        @Option(names = {"-m", "--comment"}, description = "Why: recorded in the journal's audit log (flags audit), and for a"
                + " change of a flag in its history (flags history).")
        String comment;
    }

    /**
     * Says on stderr where a change of one flag went and what the flag is now: {@code -e} defaults to production, and
     * the JSON on stdout does not name the environment.
     */
    static void sayWhere(CommandSpec spec, ServerOptions o, String flag, JsonNode written) {
        String state = written.path("archived").asBoolean() ? "archived" : written.path("enabled").asBoolean() ? "on" : "off";
        spec.commandLine().getErr().println("flags: " + oneLine(flag) + " in environment \"" + oneLine(o.environment()) + "\" is "
                + state + (written.hasNonNull("version") ? " (version " + written.path("version").asLong() + ")" : ""));
    }

    /**
     * {@code --json} on a command that prints lines for people: the server's answer instead, as JSON on stdout, for
     * scripts (a list's pages as one answer). Remarks still go to stderr.
     */
    static final class JsonOutput {
        @Option(names = "--json", description = "Print the server's answer as JSON, for scripts, instead of lines.")
        boolean json;
    }

    static void print(CommandSpec spec, JsonNode json) {
        spec.commandLine().getOut().println(terminalJson(json));
    }

    /**
     * JSON as a terminal may show it: pretty, and with every character that could drive the terminal or reorder what
     * it shows (C1 controls such as U+009B, DEL, line separators, bidirectional controls: what {@code unsafe} names)
     * written as a JSON escape, as JSON already writes C0 controls. The JSON means the same; a value an editor chose
     * cannot clear or rewrite the screen of whoever reads it.
     */
    static String terminalJson(JsonNode json) {
        try {
            return TERMINAL_JSON.writeValueAsString(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e); // a tree read from JSON always writes
        }
    }

    /**
     * A generator that writes as {@link #terminalJson} does, for an answer written piece by piece (a long list's
     * entries as their pages come, not all held at once); the caller flushes it.
     */
    static com.fasterxml.jackson.core.JsonGenerator terminalJsonGenerator(java.io.Writer out) {
        try {
            return TERMINAL_JSON.createGenerator(out).disable(com.fasterxml.jackson.core.JsonGenerator.Feature.AUTO_CLOSE_TARGET);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static final com.fasterxml.jackson.databind.ObjectWriter TERMINAL_JSON = new ObjectMapper()
            .writerWithDefaultPrettyPrinter().with(new TerminalEscapes());

    /** Immutable. The escapes of {@link #terminalJson}. */
    private static final class TerminalEscapes extends com.fasterxml.jackson.core.io.CharacterEscapes {
        private static final int[] ASCII = standardAsciiEscapesForJSON();

        static {
            ASCII[0x7f] = ESCAPE_STANDARD;
        }

        @Override
        public int[] getEscapeCodesForAscii() {
            return ASCII;
        }

        @Override
        public com.fasterxml.jackson.core.SerializableString getEscapeSequence(int ch) {
            return ch <= 0xffff && unsafe((char) ch)
                    ? new com.fasterxml.jackson.core.io.SerializedString(String.format("\\u%04X", ch)) : null;
        }
    }

    @Command(name = "list", description = "List the flags of an environment: key, on/off, version.")
    static final class ListFlags implements Callable<Integer> {
        @Mixin ServerOptions o;
        @Mixin JsonOutput output;
        @Spec CommandSpec spec;
        @Option(names = "--archived", description = "The archived flags instead: their last versions, which `flags revert FLAG` restores.")
        boolean archived;

        @Override
        public Integer call() {
            List<JsonNode> flags = o.api(spec).flags(o.environment(), archived);
            if (output.json) { // every page's, as one answer
                ObjectNode answer = Api.JSON.createObjectNode().put("environment", o.environment());
                answer.putArray("flags").addAll(flags);
                print(spec, answer);
                return EXIT_OK;
            }
            int width = 1; // the key column as wide as its widest key, so that the rest lines up (QA45a F15)
            for (JsonNode f : flags) {
                width = Math.max(width, Columns.width(oneLine(f.path("key").asText())));
            }
            // An archived flag is served to no SDK: its last switch is history, not "on" (QA45a F15). The state column as
            // wide as its widest, so that the versions line up too (QA47a F9).
            int stateWidth = archived ? "archived, was off".length() : "off".length();
            for (JsonNode f : flags) {
                String state = f.path("enabled").asBoolean() ? "on" : "off";
                spec.commandLine().getOut().println((Columns.pad(oneLine(f.path("key").asText()), width) + "  "
                        + Columns.pad(archived ? "archived, was " + state : state, stateWidth) + "  v"
                        + f.path("version").asText()).stripTrailing());
            }
            if (flags.isEmpty()) {
                // stdout stays empty for scripts; a person learns it is not a wrong environment or a hang
                spec.commandLine().getErr().println("flags: environment \"" + o.environment() + "\" has no "
                        + (archived ? "archived " : "") + "flags");
            }
            return EXIT_OK;
        }
    }

    @Command(name = "show", description = "Print a flag's document.")
    static final class Show implements Callable<Integer> {
        @Mixin ServerOptions o;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "FLAG", description = "The flag's key.") String flag;

        @Override
        public Integer call() {
            print(spec, o.api(spec).call("GET", o.flagPath(flag), null, null));
            return EXIT_OK;
        }
    }

    @Command(name = "create", description = "Create a flag: off, no rules; refused if the flag exists. Then `flags put` or the"
            + " rule commands shape it.")
    static final class Create implements Callable<Integer> {
        @Mixin ServerOptions o;
        @Mixin CommentOption why;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "FLAG", description = "The flag's key.") String flag;
        @Option(names = "--description", paramLabel = "TEXT", description = "What the flag is for, as lists and the SDK's"
                + " tools show it.")
        String description;

        @Override
        public Integer call() {
            ObjectNode off = Api.JSON.createObjectNode().put("key", flag).put("enabled", false);
            if (description != null) {
                off.put("description", description);
            }
            // If-None-Match: * makes "create" never overwrite a flag of the same key.
            JsonNode created;
            try {
                Api api = o.api(spec);
                created = api.flag(api.call("PUT", o.flagPath(flag), off, why.comment, Map.of("If-None-Match", "*")), flag);
            } catch (CliException e) {
                if (e.getMessage().contains("If-None-Match")) {
                    throw new CliException(EXIT_FAILED, "flag \"" + flag + "\" already exists in environment \"" + o.environment()
                            + "\"; flags put replaces a flag's document");
                }
                throw e;
            }
            print(spec, created);
            sayWhere(spec, o, flag, created);
            return EXIT_OK;
        }
    }

    @Command(name = "put", description = "Write a flag's whole document from a file (as `flags show` prints it): creates the"
            + " flag or replaces it. A document with a version is written only if the flag is still at that version.")
    static final class Put implements Callable<Integer> {
        @Mixin ServerOptions o;
        @Mixin SdkWait.WaitOption waitForSdks;
        @Mixin CommentOption why;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "FLAG", description = "The flag's key.") String flag;
        @Parameters(index = "1", paramLabel = "FILE", description = "The flag's JSON document; - for standard input.") String file;
        @Option(names = "--switch-on", description = "Write a document without a version that switches on a flag that is off"
                + " now (its kill switch?); without it, such a write is refused.")
        boolean switchOn;
        /** Set by {@code flags edit}: the version it opened, sent whatever the file says (null: the file's "version"). */
        Long openedVersion;
        /** Set by {@code flags edit}: its connection, whose {@link Api#lastEnvironmentVersion()} it waits for (null: a new one). */
        Api api;

        @Override
        public Integer call() {
            Duration wait = SdkWait.timeout(spec, waitForSdks); // a bad --wait is said before anything is written
            String text;
            try {
                // Bounded, and a regular file only: /dev/zero or a named pipe would exhaust the heap or hang before
                // the server could say no. The bound is a flag file's, not a document's: a document as `flags show`
                // prints it (indented) may be larger than the 1 MiB the server takes once it is sent compact.
                byte[] bytes;
                if (file.equals("-")) {
                    bytes = System.in.readNBytes(FlagFormat.MAX_FILE_BYTES + 1);
                    if (bytes.length > FlagFormat.MAX_FILE_BYTES) {
                        throw new CliException(EXIT_FAILED, "standard input is too large: more than "
                                + FlagFormat.MAX_FILE_BYTES + " bytes");
                    }
                } else {
                    bytes = UnfitFileException.readWhole(Path.of(file), FlagFormat.MAX_FILE_BYTES);
                }
                text = java.nio.charset.StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString();
            } catch (NoSuchFileException e) {
                throw new CliException(EXIT_USAGE, "no such file: " + file);
            } catch (java.nio.charset.CharacterCodingException e) {
                throw new CliException(EXIT_FAILED, (file.equals("-") ? "standard input" : file) + " is not UTF-8 text");
            } catch (IOException e) {
                CliException notAFile = notARegularFile(Path.of(file), "a flag's JSON document");
                if (notAFile != null) {
                    throw notAFile;
                }
                throw new CliException(EXIT_FAILED, "cannot read " + file + ": " + e.getMessage());
            }
            JsonNode document = document(text, file, flag);
            // The version `flags show` printed: whoever edits that copy must not undo a change made meanwhile.
            JsonNode version = document.get("version");
            Map<String, String> precondition = version != null && version.isIntegralNumber()
                    ? Map.of("If-Match", "\"" + version.asLong() + "\"") : Map.of();
            if (openedVersion != null) { // an edit's guard is the version it opened, not a line its user may delete
                precondition = Map.of("If-Match", "\"" + openedVersion + "\"");
            }
            try {
                Api api = this.api != null ? this.api : o.api(spec);
                JsonNode written = api.flag(api.call("PUT", o.flagPath(flag) + (switchOn ? "?switchOn=true" : ""),
                        body(document, flag), why.comment, precondition), flag);
                print(spec, written);
                sayWhere(spec, o, flag, written);
                if (wait != null) {
                    return SdkWait.await(spec, api, o.environment(), SdkWait.versionOf(api, written), wait);
                }
            } catch (CliException e) {
                if (e.httpStatus() == 412 && openedVersion != null) {
                    throw e; // flags edit says it in its own words
                }
                if (e.httpStatus() == 412 && e.getMessage().contains("but the flag does not exist")) {
                    throw new CliException(EXIT_FAILED, "flag \"" + oneLine(flag) + "\" is not in environment \""
                            + oneLine(o.environment()) + "\" (or is archived), but " + file + " has \"version\": "
                            + version.asLong() + ", as a copy of a flag that is: nothing was written; take \"version\" out of "
                            + file + " to create the flag (or restore it)", e.httpStatus(), e.title());
                }
                if (e.httpStatus() == 409 && SWITCHES_ON.equals(e.title())) {
                    throw new CliException(EXIT_FAILED, "not written: " + (file.equals("-") ? "the document" : file)
                            + " would switch \"" + oneLine(flag) + "\" on in environment \"" + oneLine(o.environment())
                            + "\", where it is " + (e.getMessage().contains("where it is archived") ? "archived (restoring it"
                            + " so would release it at once)" : "off now (its kill switch?)") + ", and it has no \"version\" to"
                            + " say it was read since."
                            + " Add --switch-on to switch it on with this document, or set \"enabled\": false in it to keep"
                            + " it off", e.httpStatus(), e.title());
                }
                if (e.httpStatus() == 412) { // the server's words name If-Match, which this command sent for the file
                    throw new CliException(EXIT_FAILED, e.getMessage().replace(" as If-Match says", " as the file's \"version\" says")
                            + " (or take \"version\" out of " + file + " to replace the flag whatever it is now)",
                            e.httpStatus(), e.title());
                }
                throw e;
            }
            return EXIT_OK;
        }

        /**
         * What is sent for a document: without its version when that is a whole number (the server ignores it, and
         * If-Match carries it), so that a document the server would store within the size limit, version aside, also
         * fits the request's (QA59 F1); and, should it still not fit (empty lists, numbers written long), as the server
         * will store it, if this release can read it (else as it is, for the server to say what is wrong).
         */
        static JsonNode body(JsonNode document, String flag) {
            ObjectNode body = ((ObjectNode) document).deepCopy();
            if (body.path("version").isIntegralNumber()) {
                body.remove("version");
            }
            try {
                if (Api.JSON.writeValueAsBytes(body).length <= FlagFormat.MAX_FLAG_BYTES) {
                    return body;
                }
                ObjectNode keyed = body.deepCopy();
                keyed.put("key", flag);
                ObjectNode stored = FlagFormat.toJson(FlagFormat.readFlag(keyed));
                stored.remove("version");
                return stored;
            } catch (JsonProcessingException | FlagValidationException e) {
                return body;
            }
        }

        /**
         * The checks this command makes of a document before sending it, for {@code flags edit} too.
         *
         * @param text the document
         * @param file where it came from, as the messages name it ({@code -} for standard input)
         * @param flag the flag it is written to
         * @return the document, a JSON object
         * @throws CliException if it is not JSON, not an object, a whole flag file, or another flag's document
         */
        static JsonNode document(String text, String file, String flag) {
            JsonNode document;
            try {
                // Strict as the server is: a second document after the first (a merge left half-done) is refused,
                // not dropped; a byte-order mark, which some editors write, is not JSON but not a mistake either.
                document = FlagFormat.readTree(Api.INPUT, (text.startsWith("\uFEFF") ? text.substring(1) : text)
                        .getBytes(java.nio.charset.StandardCharsets.UTF_8));
            } catch (JsonProcessingException e) {
                throw new CliException(EXIT_FAILED, file + " is not valid JSON" + FlagFormat.jsonErrorLocation(e) + ": "
                        + FlagFormat.jsonErrorMessage(e));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e); // bytes in memory: never
            }
            if (!document.isObject()) {
                throw new CliException(EXIT_FAILED, file + " is not a flag's document (a JSON object, as `flags show` prints it)");
            }
            if (document.has("formatVersion") && document.has("flags")) { // an export, most likely, or a file kept in git
                throw new CliException(EXIT_FAILED, (file.equals("-") ? "standard input" : file) + " is a flag file (as flags"
                        + " export writes them), not one flag's document: nothing was written; flags apply " + file
                        + " writes every flag in it that differs (--dry-run shows which)");
            }
            JsonNode key = document.get("key");
            if (key != null && !(key.isTextual() && key.asText().equals(flag))) {
                // Checked here to speak of the file, not of a request body: the likely case is a copy of another flag.
                throw new CliException(EXIT_FAILED, (file.equals("-") ? "standard input" : file) + " is the document of flag "
                        + oneLine(key.toString()) + ", not \"" + oneLine(flag) + "\": nothing was written; to make \"" + oneLine(flag)
                        + "\" from a copy of it, change its \"key\" to \"" + oneLine(flag) + "\" (or take \"key\" out)"
                        + (document.has("version") ? " and take \"version\" out" : ""));
            }
            return document;
        }
    }

    /** Sends a PATCH and prints the flag. */
    abstract static class PatchCommand implements Callable<Integer> {
        @Mixin ServerOptions o;
        @Mixin CommentOption why;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "FLAG", description = "The flag's key.") String flag;
        @Mixin SdkWait.WaitOption waitForSdks;

        abstract ObjectNode patch();

        @Override
        public Integer call() {
            Duration wait = SdkWait.timeout(spec, waitForSdks); // a bad --wait is said before anything is written
            Api api = o.api(spec);
            JsonNode written = api.flag(api.call("PATCH", o.flagPath(flag), patch(), why.comment), flag);
            print(spec, written);
            sayWhere(spec, o, flag, written);
            return wait == null ? EXIT_OK : SdkWait.await(spec, api, o.environment(), SdkWait.versionOf(api, written), wait);
        }

        /** A rule's index (any number of digits: the server says whether the flag has that rule) or its name. */
        static Object rule(String rule) {
            return rule.matches("\\d+") ? new java.math.BigInteger(rule) : rule;
        }

        static ObjectNode ruleOperation(String rule, String field, String value) {
            ObjectNode op = Api.JSON.createObjectNode();
            Object r = rule(rule);
            if (r instanceof java.math.BigInteger i) {
                op.put("rule", i);
            } else {
                op.put("rule", (String) r);
            }
            op.put(field, value);
            return op;
        }
    }

    @Command(name = "on", description = "Switch a flag on.",
        footerHeading = FlagsCommand.EXAMPLES,
        footer = {"  flags on billing-v2 -e staging -m \"ready for the testers\""})
    static final class On extends PatchCommand {
        @Override
        ObjectNode patch() {
            return Api.JSON.createObjectNode().put("enabled", true);
        }
    }

    /** What --wait waits when its value is taken for a flag: the option's default. */
    static final Duration DEFAULT_WAIT = Duration.ofSeconds(30);

    @Command(name = "off", description = "Switch a flag off for everyone: the kill switch. Several flags at once (a feature"
            + " behind more than one): each is switched off, one failing does not stop the others.",
        footerHeading = FlagsCommand.EXAMPLES,
        footer = {"  flags off billing-v2 -m \"incident 4711: double charges\"",
                "  flags off billing-v2 invoice-pdf-v2 -m \"incident 4711\"",
                "  flags off billing-v2 --wait    (then until every connected SDK has it)",
                "  (quickest: curl -X PATCH .../flags/billing-v2 -d '{\"enabled\": false}')"})
    static final class Off extends PatchCommand {
        @Parameters(index = "1..*", arity = "0..*", paramLabel = "FLAG", description = "More flags to switch off.")
        List<String> more = new ArrayList<>();

        @Override
        ObjectNode patch() {
            return Api.JSON.createObjectNode().put("enabled", false);
        }

        @Override
        public Integer call() {
            // A kill switch is thrown whatever --wait says (QA49a F4): "--wait beta" took beta for the time and switched
            // nothing off. A value that is no duration is one more flag; one out of range is said after the switch.
            String waitText = waitForSdks == null ? null : waitForSdks.timeout;
            Duration asked = waitText == null ? null : SdkWait.parse(waitText);
            boolean waitIsAFlag = waitText != null && asked == null;
            boolean waitOutOfRange = asked != null && !SdkWait.inRange(asked);
            if (more.isEmpty() && !waitIsAFlag && !waitOutOfRange) {
                return super.call();
            }
            Duration wait = waitIsAFlag ? DEFAULT_WAIT : waitOutOfRange ? null : asked;
            if (waitIsAFlag) {
                spec.commandLine().getErr().println("flags: '" + oneLine(waitText) + "' is no time: switched off as a flag"
                        + " too, and waiting " + DEFAULT_WAIT.getSeconds() + " s (give the time as --wait=10s)");
            }
            // Said once, as for one flag, not as each flag's failure: it is the command line's (QA71 F9).
            Api.checkComment(why.comment);
            List<String> keys = new ArrayList<>(List.of(flag));
            keys.addAll(more);
            if (waitIsAFlag) {
                keys.add(waitText);
            }
            Api api = o.api(spec);
            com.fasterxml.jackson.databind.node.ArrayNode written = Api.JSON.createArrayNode();
            List<String> failed = new ArrayList<>();
            long newest = -1; // the environment's version after the last of them that changed: it holds them all
            for (String key : keys.stream().distinct().toList()) {
                try {
                    JsonNode one = api.flag(api.call("PATCH", o.flagPath(key), patch(), why.comment), key);
                    newest = Math.max(newest, SdkWait.versionOf(api, one));
                    written.add(one);
                    sayWhere(spec, o, key, one);
                } catch (CliException e) {
                    if (e.exitCode() == EXIT_UNREACHABLE) {
                        throw e; // the server is gone: the rest would fail alike, and the message says so once
                    }
                    failed.add(oneLine(key) + ": " + e.getMessage()); // the others must still go off
                }
            }
            print(spec, written);
            if (!failed.isEmpty()) {
                spec.commandLine().getErr().println("flags: not switched off:");
                failed.forEach(line -> spec.commandLine().getErr().println("  " + line));
            }
            int waited = wait == null || written.isEmpty() ? EXIT_OK
                    : SdkWait.await(spec, api, o.environment(), newest, wait); // for those that went off
            if (waitOutOfRange) {
                spec.commandLine().getErr().println("flags: " + SdkWait.badValue(waitText) + ": "
                        + (written.isEmpty() ? "nothing was switched off either" : "switched off, not waited for"));
                return EXIT_USAGE;
            }
            return failed.isEmpty() ? waited : EXIT_FAILED;
        }
    }

    @Command(name = "rollout", description = "Set a rule's rollout percentage (0 to 100, three decimals at most).",
        footerHeading = FlagsCommand.EXAMPLES,
        footer = {"  flags rollout billing-v2 10 --rule \"eu canary\" -m \"canary at 10%%\""})
    static final class Rollout extends PatchCommand {
        @Parameters(index = "1", paramLabel = "PERCENT", description = "0 to 100, such as 10, 2.5 or 50%%.") String percent;
        @Option(names = "--rule", required = true, description = "The rule: its index (from 0) or its name.") String rule;

        @Override
        ObjectNode patch() {
            ObjectNode op = ruleOperation(rule, "value", "");
            String text = percent.endsWith("%") ? percent.substring(0, percent.length() - 1) : percent;
            try {
                number(text, "PERCENT", "such as 10, 2.5 or 50%"); // checked: a number, and a finite one
            } catch (CliException e) { // said of what was typed, its % included
                throw new CliException(EXIT_USAGE, "PERCENT must be a number, such as 10, 2.5 or 50%, was '" + percent + "'");
            }
            if (text.indexOf('e') >= 0 || text.indexOf('E') >= 0) { // 1e1 is 10: surely not what a ramp meant
                throw new CliException(EXIT_USAGE, "PERCENT must be a plain number, such as 10, 2.5 or 50% (no exponent), was '"
                        + percent + "'");
            }
            // As typed, in plain digits: a schedule keeps the change as sent, and lists would show 70.0 beside 90, or
            // 1.0E-4 for 0.0001.
            java.math.BigDecimal value = new java.math.BigDecimal(text.strip()).stripTrailingZeros();
            if (value.signum() < 0 || value.compareTo(java.math.BigDecimal.valueOf(100)) > 0) { // bad usage, as for abc
                throw new CliException(EXIT_USAGE, "PERCENT must be from 0 to 100, was '" + percent + "'");
            }
            if (value.scale() <= 0) {
                op.put("value", value.toBigIntegerExact());
            } else {
                op.put("value", value);
            }
            return Api.JSON.createObjectNode().set("percentage", op);
        }
    }

    @Command(name = "add-role", description = "Add a role to a rule's roles condition.")
    static final class AddRole extends PatchCommand {
        @Parameters(index = "1", paramLabel = "ROLE", description = "The role's name.") String role;
        @Option(names = "--rule", required = true, description = "The rule: its index (from 0) or its name.") String rule;

        @Override
        ObjectNode patch() {
            return Api.JSON.createObjectNode().set("addRole", ruleOperation(rule, "role", role));
        }
    }

    @Command(name = "add-region", description = "Add a region to a rule's regions condition.")
    static final class AddRegion extends PatchCommand {
        @Parameters(index = "1", paramLabel = "REGION", description = "The region, as the rule's regions condition names it.") String region;
        @Option(names = "--rule", required = true, description = "The rule: its index (from 0) or its name.") String rule;

        @Override
        ObjectNode patch() {
            return Api.JSON.createObjectNode().set("addRegion", ruleOperation(rule, "region", region));
        }
    }

    @Command(name = "remove-role", description = "Remove a role from a rule's roles condition (not its last: a rule without"
            + " conditions would match everyone).")
    static final class RemoveRole extends PatchCommand {
        @Parameters(index = "1", paramLabel = "ROLE", description = "The role's name.") String role;
        @Option(names = "--rule", required = true, description = "The rule: its index (from 0) or its name.") String rule;

        @Override
        ObjectNode patch() {
            return Api.JSON.createObjectNode().set("removeRole", ruleOperation(rule, "role", role));
        }
    }

    @Command(name = "remove-region", description = "Remove a region from a rule's regions condition (not its last).")
    static final class RemoveRegion extends PatchCommand {
        @Parameters(index = "1", paramLabel = "REGION", description = "The region, as the rule's regions condition names it.") String region;
        @Option(names = "--rule", required = true, description = "The rule: its index (from 0) or its name.") String rule;

        @Override
        ObjectNode patch() {
            return Api.JSON.createObjectNode().set("removeRegion", ruleOperation(rule, "region", region));
        }
    }

    @Command(name = "default", description = "Set the answer for everyone no target or rule matches (while the flag is on).")
    static final class Default extends PatchCommand {
        @Parameters(index = "1", paramLabel = "true|false", description = "What the flag answers where no target or rule decides.") String value;

        @Override
        ObjectNode patch() {
            if (!value.equals("true") && !value.equals("false")) {
                throw new CliException(EXIT_USAGE, "the default must be true or false, was '" + oneLine(value) + "'");
            }
            return Api.JSON.createObjectNode().put("default", Boolean.parseBoolean(value));
        }
    }

    @Command(name = "target", description = "Target one user: they get this answer before any rule is tried (true unless"
            + " --serve false; with --variant, that variant). A user already in another target of the flag is moved.")
    static final class TargetUser extends PatchCommand {
        @Parameters(index = "1", paramLabel = "USER-ID", description = "The user's id, as the application gives it to the SDK.") String user;
        @Option(names = "--serve", paramLabel = "true|false", description = "What the user gets; default: true.") String serve;
        @Option(names = "--variant", paramLabel = "VARIANT", description = "The variant the user gets (with true).") String variant;

        @Override
        ObjectNode patch() {
            if (serve != null && !serve.equals("true") && !serve.equals("false")) {
                throw new ParameterException(spec.commandLine(), "--serve must be true or false, was '" + oneLine(serve) + "'");
            }
            if ("false".equals(serve) && variant != null) { // a mistake in the command line, known before asking the server
                throw new ParameterException(spec.commandLine(), "--variant is what a user served true gets; with --serve false"
                        + " the user gets false and no variant: leave one of them out");
            }
            ObjectNode op = Api.JSON.createObjectNode().put("user", user);
            if (serve != null) {
                op.put("serve", Boolean.parseBoolean(serve));
            }
            if (variant != null) {
                op.put("variant", variant);
            }
            return Api.JSON.createObjectNode().set("addTarget", op);
        }
    }

    @Command(name = "untarget", description = "Stop targeting one user: the flag's rules and default decide for them again.")
    static final class UntargetUser extends PatchCommand {
        @Parameters(index = "1", paramLabel = "USER-ID", description = "The user's id, as the application gives it to the SDK.") String user;

        @Override
        ObjectNode patch() {
            return Api.JSON.createObjectNode().set("removeTarget", Api.JSON.createObjectNode().put("user", user));
        }
    }

    @Command(name = "schedule", description = "Schedule a change of a flag: the server applies it at --at, as the command of"
            + " that name would now (on, off, rollout PERCENT --rule R, add-role ROLE --rule R, add-region REGION --rule R,"
            + " target USER-ID [--serve] [--variant], untarget USER-ID).",
        footerHeading = FlagsCommand.EXAMPLES,
        footer = {"  flags schedule billing-v2 rollout 50 --rule \"eu canary\" \\",
                "      --at 2026-12-07T09:00:00+01:00",
                "  flags schedule promo off --at 2026-12-08T00:00:00Z -m \"the promo ends\""})
    static final class ScheduleChange implements Callable<Integer> {
        @Mixin ServerOptions o;
        @Mixin CommentOption why;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "FLAG", description = "The flag's key.") String flag;
        @Parameters(index = "1", paramLabel = "CHANGE", description = "on, off, rollout, add-role, add-region, target or"
                + " untarget.") String change;
        @Parameters(index = "2", arity = "0..1", paramLabel = "VALUE", description = "rollout: the PERCENT; add-role: the ROLE;"
                + " add-region: the REGION; target, untarget: the USER-ID.") String value;
        @Option(names = "--at", required = true, paramLabel = "INSTANT", description = "When: an ISO-8601 instant with its offset,"
                + " such as 2026-12-07T09:00:00+01:00 (in the future, at most a year ahead).") String at;
        @Option(names = "--rule", description = "For rollout, add-role, add-region: the rule, by its index (from 0) or its name.")
        String rule;
        @Option(names = "--serve", paramLabel = "true|false", description = "For target: what the user gets; default: true.")
        String serve;
        @Option(names = "--variant", paramLabel = "VARIANT", description = "For target: the variant the user gets.") String variant;

        @Override
        public Integer call() {
            ObjectNode body = Api.JSON.createObjectNode().put("at", instant(spec, "--at", at));
            body.set("patch", patch());
            try {
                print(spec, o.api(spec).call("POST", o.flagPath(flag) + "/schedules", body, why.comment));
            } catch (CliException e) {
                throw optionNamed(e, "at", "--at");
            }
            return EXIT_OK;
        }

        /** The PATCH body the change's own command sends: built by that command, so that the two never differ. */
        private ObjectNode patch() {
            if (!List.of("on", "off", "rollout", "add-role", "add-region", "target", "untarget").contains(change)) {
                throw new ParameterException(spec.commandLine(), "CHANGE must be on, off, rollout, add-role, add-region, target or"
                        + " untarget, was '" + oneLine(change) + "'");
            }
            boolean takesValue = !change.equals("on") && !change.equals("off");
            boolean ofAUser = change.equals("target") || change.equals("untarget");
            if (ofAUser && (value == null || rule != null)) {
                throw new ParameterException(spec.commandLine(), change + " takes a USER-ID and no --rule, as 'flags " + change
                        + "' does");
            }
            if (takesValue && !ofAUser && (value == null || rule == null)) {
                throw new ParameterException(spec.commandLine(), change + " takes a value and --rule, as 'flags " + change + "' does");
            }
            if (!takesValue && (value != null || rule != null)) {
                throw new ParameterException(spec.commandLine(), change + " takes no value and no --rule");
            }
            if (!change.equals("target") && (serve != null || variant != null)) {
                throw new ParameterException(spec.commandLine(), "--serve and --variant are for target only");
            }
            PatchCommand command = switch (change) {
                case "on" -> new On();
                case "off" -> new Off();
                case "rollout" -> {
                    Rollout r = new Rollout();
                    r.percent = value;
                    r.rule = rule;
                    yield r;
                }
                case "add-role" -> {
                    AddRole r = new AddRole();
                    r.role = value;
                    r.rule = rule;
                    yield r;
                }
                case "add-region" -> {
                    AddRegion r = new AddRegion();
                    r.region = value;
                    r.rule = rule;
                    yield r;
                }
                case "target" -> {
                    TargetUser t = new TargetUser();
                    t.spec = spec; // its usage errors point to this command's help
                    t.user = value;
                    t.serve = serve;
                    t.variant = variant;
                    yield t;
                }
                case "untarget" -> {
                    UntargetUser u = new UntargetUser();
                    u.user = value;
                    yield u;
                }
                default -> throw new IllegalStateException(change); // checked above
            };
            return command.patch();
        }
    }

    @Command(name = "schedules", description = "List scheduled changes, one line each: id, when, flag, change, who made it,"
            + " why; an ended one also how it ended. The pending ones, soonest first, unless --status says otherwise.")
    static final class Schedules implements Callable<Integer> {
        /** What --status takes, as the server does. */
        private static final List<String> SCHEDULE_STATUSES = List.of("pending", "applied", "failed", "cancelled", "ended", "all");
        @Mixin ServerOptions o;
        @Spec CommandSpec spec;
        @Parameters(index = "0", arity = "0..1", paramLabel = "FLAG", description = "Only this flag's.") String flag;
        @Mixin JsonOutput output;
        @Option(names = "--status", paramLabel = "STATUS", description = "pending (the default), applied, failed, cancelled,"
                + " ended (those three: the newest that the server keeps, latest end first) or all (pending, then ended).")
        String status;

        @Override
        public Integer call() {
            if (flag != null && flag.isEmpty()) {
                throw new ParameterException(spec.commandLine(), "FLAG must not be empty; leave it out for every flag's schedules");
            }
            if (status != null && !SCHEDULE_STATUSES.contains(status)) {
                throw new ParameterException(spec.commandLine(), "--status must be " + String.join(", ", SCHEDULE_STATUSES)
                        + ", was '" + oneLine(status) + "'");
            }
            StringBuilder query = new StringBuilder();
            if (flag != null) {
                query.append("?flag=").append(java.net.URLEncoder.encode(flag, java.nio.charset.StandardCharsets.UTF_8));
            }
            if (status != null) {
                query.append(query.length() == 0 ? "?" : "&").append("status=")
                        .append(java.net.URLEncoder.encode(status, java.nio.charset.StandardCharsets.UTF_8));
            }
            String path = "/environments/" + Api.path(o.environment()) + "/schedules" + query;
            Api api = o.api(spec);
            JsonNode answer = api.call("GET", path, null, null);
            JsonNode schedules = answer.path("schedules");
            if (output.json) {
                print(spec, answer);
            } else {
                for (JsonNode s : schedules) {
                    spec.commandLine().getOut().println(scheduleLine(s));
                }
            }
            String missing = schedules.isEmpty() && flag != null ? missingFlag(api, o, flag) : null;
            if (missing != null) {
                // "No scheduled changes" of a misspelt key would read as an all-clear.
                throw new CliException(EXIT_FAILED, missing);
            }
            if (schedules.isEmpty()) {
                String which = status == null || status.equals("pending") ? "" : " (" + oneLine(status) + ")";
                // The server keeps only the newest ended ones: "none" of those is not "none ever" (QA71 F9).
                String kept = which.isEmpty() ? "" : " among the 100 that ended last, which the server keeps (flags audit"
                        + " has every one)";
                spec.commandLine().getErr().println("flags: no scheduled changes" + which + (flag == null ? "" : " of flag \""
                        + oneLine(flag) + "\"") + " in environment \"" + oneLine(o.environment()) + "\"" + kept);
            }
            return EXIT_OK;
        }
    }

    /**
     * @return null if the environment has the flag, archived or not; else what to say of it, with the server's "did you
     *     mean" for a key an edit or two away from a flag's (biling-v2)
     */
    private static String missingFlag(Api api, ServerOptions o, String key) {
        try {
            api.call("GET", o.flagPath(key), null, null);
            return null;
        } catch (CliException e) {
            if (e.httpStatus() == 404 && e.title().equals("flag not found")) {
                if (api.archivedFlag(o.environment(), key) != null) {
                    return null;
                }
                int near = e.getMessage().indexOf("; did you mean \"");
                return "no flag \"" + oneLine(key) + "\" in environment \"" + oneLine(o.environment()) + "\", archived or not"
                        + (near >= 0 ? e.getMessage().substring(near) : " (flags list shows its flags)");
            }
            throw e;
        }
    }

    /**
     * A schedule as one line: {@code sch-4f2a9c01d3e7  2026-12-07T08:00:00Z  billing-v2  {"enabled":false}  by alice
     * (tok-1a2b3c4d)  ramp on Monday}; one that ended goes on with how: {@code  -> failed at 2026-12-07T08:00:00Z:
     * flag "billing-v2" ... is archived}. Names, actors and comments are escaped: they cannot drive the terminal.
     */
    static String scheduleLine(JsonNode s) {
        String line = String.format("%-16s  %s  %s  %s  by %s  %s", oneLine(s, "id"), oneLine(s, "at"), oneLine(s, "flag"),
                oneLine(s.path("patch").toString()), oneLine(s, "createdBy"), oneLine(s, "comment")).stripTrailing();
        String status = s.path("status").asText("pending");
        if (status.equals("pending")) {
            // Known before its time (its maker's token was revoked): not a plan like the others.
            return s.hasNonNull("willFail") ? line + "  (will fail: " + oneLine(s, "willFail") + ")" : line;
        }
        // How it ended, after the plan: "applied at ... (v12)", "failed at ...: why", "cancelled at ... by bob: why".
        StringBuilder ended = new StringBuilder(line).append("  -> ").append(oneLine(status)).append(" at ")
                .append(toTheSecond(oneLine(s, "endedAt")));
        if (status.equals("applied")) {
            ended.append(s.path("flagVersion").asLong() > 0 ? " (v" + s.path("flagVersion").asLong() + ")" : " (no change)");
        } else if (status.equals("cancelled")) {
            ended.append(" by ").append(oneLine(s, "endedBy"));
        }
        if (s.hasNonNull("reason") && !s.path("reason").asText().isEmpty()) {
            ended.append(": ").append(oneLine(s, "reason"));
        }
        return ended.toString();
    }

    /** An instant as the other times of a line show it, to the second; anything else as it is. */
    static String toTheSecond(String instant) {
        try {
            return Instant.parse(instant).truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
        } catch (java.time.format.DateTimeParseException e) {
            return instant;
        }
    }

    @Command(name = "usage", description = "Which flags the applications still evaluate: when each was last evaluated, last"
            + " served true and false, and by which applications, as their SDKs report it; then the keys code asked for that"
            + " are not flags (they get their default).")
    static final class Usage implements Callable<Integer> {
        /** The most application names shown in a row; the API lists them all (up to 20). */
        static final int SHOWN_APPLICATIONS = 5;

        @Mixin ServerOptions o;
        @Mixin JsonOutput output;
        @Spec CommandSpec spec;
        @Parameters(index = "0", arity = "0..1", paramLabel = "FLAG", description = "Only this flag's.") String flag;

        @Override
        public Integer call() {
            if (flag != null && flag.isBlank()) {
                throw new ParameterException(spec.commandLine(), "FLAG must not be empty; leave it out for every flag's usage");
            }
            Api api = o.api(spec);
            String path = "/environments/" + Api.path(o.environment()) + "/usage" + (flag == null ? "" : "?flag=" + Api.path(flag));
            JsonNode usage;
            try {
                usage = api.call("GET", path, null, null);
            } catch (CliException e) {
                JsonNode asked = flag != null && e.exitCode() == EXIT_FAILED ? askedFor(api) : null;
                if (asked == null) {
                    throw e;
                }
                // Not a flag, but code asks for it: that is what someone typing its key wants to know.
                spec.commandLine().getErr().println("flags: " + e.getMessage());
                String apps = applications(asked.path("applications"));
                spec.commandLine().getErr().println("flags: code last asked for \"" + oneLine(flag) + "\" at "
                        + oneLine(asked, "lastAskedAt") + (apps.isEmpty() ? "" : " (by " + apps + ")") + ", and got its default");
                return EXIT_FAILED;
            }
            if (output.json) {
                print(spec, usage);
                return EXIT_OK;
            }
            JsonNode flags = usage.path("flags");
            if (flags.isEmpty()) {
                spec.commandLine().getErr().println("flags: environment \"" + oneLine(o.environment()) + "\" has no flags");
                printUnknown(usage.path("unknownFlags"), false);
                return EXIT_OK;
            }
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"FLAG", "LAST EVALUATED", "SERVED TRUE", "SERVED FALSE", "APPLICATIONS"});
            for (JsonNode f : flags) {
                rows.add(new String[] {oneLine(f, "flag"), time(f, "lastEvaluatedAt"), time(f, "lastServedTrueAt"),
                        time(f, "lastServedFalseAt"), applications(f.path("applications"))});
            }
            int width = rows.stream().mapToInt(r -> r[0].length()).max().orElse(4);
            for (String[] r : rows) {
                spec.commandLine().getOut().println(String.format("%-" + width + "s  %-20s  %-20s  %-20s  %s", (Object[]) r)
                        .stripTrailing());
            }
            printUnknown(usage.path("unknownFlags"), true);
            // On stderr, as other remarks: stdout stays the table for scripts.
            spec.commandLine().getErr().println(usage.hasNonNull("since")
                    ? "flags: usage recorded since " + oneLine(usage, "since") + " (SDKs report every "
                            + oneLine(usage, "reportInterval") + "); \"never\": not since then"
                    : archived(api, o.environment())
                    ? "flags: environment \"" + oneLine(o.environment()) + "\" is archived: no usage is recorded while it is"
                    : "flags: no usage recorded in environment \"" + oneLine(o.environment()) + "\" yet: no SDK has reported"
                            + " (SDKs report every " + oneLine(usage, "reportInterval") + ")");
            return EXIT_OK;
        }


        /**
         * The keys code asked for that are not flags, one line each, columns as the table's; nothing if there are
         * none (or the server is from before it listed them).
         */
        private void printUnknown(JsonNode unknown, boolean afterTable) {
            if (unknown.isEmpty()) {
                return;
            }
            PrintWriter out = spec.commandLine().getOut();
            if (afterTable) {
                out.println();
            }
            out.println("asked for, but not flags of environment \"" + oneLine(o.environment()) + "\" (a typo in the code, or archived"
                    + " while code still asks for it: it gets its default):");
            int width = 0;
            for (JsonNode u : unknown) {
                width = Math.max(width, oneLine(u, "flag").length());
            }
            for (JsonNode u : unknown) {
                out.println(String.format("  %-" + width + "s  %-20s  %s", oneLine(u, "flag"), time(u, "lastAskedAt"),
                        applications(u.path("applications"))).stripTrailing());
            }
        }

        /**
         * The environment's unknownFlags entry of the flag, or null if it has none (or the environment's usage
         * cannot be read either: the first answer's error is the one to show).
         */
        private JsonNode askedFor(Api api) {
            JsonNode usage;
            try {
                usage = api.call("GET", "/environments/" + Api.path(o.environment()) + "/usage", null, null);
            } catch (CliException e) {
                return null;
            }
            for (JsonNode u : usage.path("unknownFlags")) {
                if (flag.equals(u.path("flag").asText())) {
                    return u;
                }
            }
            return null;
        }

        /** A time as the API gives it (UTC, to the second), or "never". */
        private static String time(JsonNode f, String field) {
            return f.hasNonNull(field) ? oneLine(f, field) : "never";
        }

        /** The applications' names, most recent first, each once: {@code checkout, billing-worker, +3 more}. */
        static String applications(JsonNode apps) {
            List<String> names = new ArrayList<>();
            apps.forEach(a -> {
                String name = oneLine(a, "name");
                if (!names.contains(name)) {
                    names.add(name);
                }
            });
            if (names.size() <= SHOWN_APPLICATIONS) {
                return String.join(", ", names);
            }
            return String.join(", ", names.subList(0, SHOWN_APPLICATIONS)) + ", +" + (names.size() - SHOWN_APPLICATIONS) + " more";
        }
    }

    @Command(name = "unschedule", description = "Cancel a pending scheduled change (its id as `flags schedules` prints it).")
    static final class Unschedule implements Callable<Integer> {
        @Mixin ServerOptions o;
        @Mixin CommentOption why;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "SCHEDULE-ID", description = "Such as sch-4f2a9c01d3e7.") String id;

        @Override
        public Integer call() {
            print(spec, o.api(spec).call("DELETE", "/environments/" + Api.path(o.environment()) + "/schedules/" + Api.path(id), null,
                    why.comment));
            return EXIT_OK;
        }
    }

    /** Grants or revokes a role. */
    abstract static class RoleCommand implements Callable<Integer> {
        @Mixin ServerOptions o;
        @Mixin CommentOption why;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "ROLE", description = "The role's name.") String role;
        @Parameters(index = "1", paramLabel = "USER-ID", description = "The user's id, as the application gives it to the SDK.") String user;

        abstract String method();

        /** @return the request's body, or null for none */
        ObjectNode body() {
            return null;
        }

        /** @return the server's refusal, in this command's option names where it names a field of the body */
        CliException inOptionNames(CliException e) {
            return e;
        }

        @Override
        public Integer call() {
            if (role.isBlank() || user.isBlank()) {
                // An empty id would make the path end in "/members/", which the server knows as no endpoint at all.
                throw new CliException(EXIT_USAGE, (role.isBlank() ? "ROLE" : "USER-ID") + " must not be empty");
            }
            try {
                Api api = o.api(spec);
                JsonNode answer = api.expect(api.call(method(), "/environments/" + Api.path(o.environment()) + "/roles/"
                        + Api.path(role) + "/members/" + Api.path(user), body(), why.comment), "changed", "a grant's answer");
                print(spec, answer);
                boolean granted = method().equals("PUT");
                if (!answer.path("changed").asBoolean(true)) {
                    return EXIT_OK; // "nothing changed" was said, by Api
                }
                spec.commandLine().getErr().println("flags: role \"" + oneLine(role) + "\" " + (granted ? "granted to " : "revoked"
                        + " from ") + quoted(user) + " in environment \"" + oneLine(o.environment()) + "\""
                        + (granted && answer.hasNonNull("expiresAt") ? " until " + oneLine(answer.path("expiresAt").asText()) : ""));
            } catch (CliException e) {
                throw inOptionNames(e);
            }
            return EXIT_OK;
        }
    }

    @Command(name = "grant", description = "Grant a role to a user id (testers: self-service roles such as beta-tester)."
            + " Granting a role the user has again sets its expiry; without --for and --until, the grant is permanent,"
            + " or as long as the role's longest grant (maxGrantDuration) for anyone but an admin (a grant held for longer,"
            + " an admin's, stays as it is).",
        footerHeading = FlagsCommand.EXAMPLES,
        footer = {"  flags grant beta-tester tess --for 14d -m \"testing the new checkout\""})
    static final class Grant extends RoleCommand {
        @Option(names = "--for", paramLabel = "DURATION", description = "The grant expires after this long: 90m, 8h, 30d, 2w, or an"
                + " ISO-8601 duration such as PT8H. The server revokes it then.")
        String duration;
        @Option(names = "--until", paramLabel = "INSTANT", description = "The grant expires at this ISO-8601 instant, such as"
                + " 2026-12-31T18:00:00Z.")
        String until;

        @Override
        String method() {
            return "PUT";
        }

        @Override
        ObjectNode body() {
            if (duration != null && until != null) {
                throw new ParameterException(spec.commandLine(), "give --for or --until, not both");
            }
            if (duration != null) {
                return Api.JSON.createObjectNode().put("expiresIn", positiveDuration(spec, "--for", duration));
            }
            return until == null ? null : Api.JSON.createObjectNode().put("expiresAt", instant(spec, "--until", until));
        }

        @Override
        CliException inOptionNames(CliException e) {
            return asTyped(optionNamed(optionNamed(e, "expiresAt", "--until"), "expiresIn", "--for"), duration);
        }
    }

    /**
     * The server's refusal of a body field that a command's option set, in the option's name: "expiresAt must be in
     * the future" reads "--until must be in the future" to someone who typed {@code --until}.
     *
     * @return a refusal whose message starts with the field (as the server's checks of values do), renamed; any other as it is
     */
    /**
     * The server's refusal of a duration with the value as it was typed ({@code '0s'}), not as it was sent
     * ({@code PT0S}): the server echoes what it got, which the person never wrote.
     */
    static CliException asTyped(CliException e, String typed) {
        String sent = typed == null ? null : isoDuration(typed);
        if (sent == null || sent.equals(typed.trim()) || !e.getMessage().endsWith("was " + sent)) {
            return e;
        }
        String message = e.getMessage();
        return new CliException(e.exitCode(), message.substring(0, message.length() - sent.length()) + "'" + oneLine(typed.trim())
                + "' (" + sent + ")", e.httpStatus(), e.title());
    }

    static CliException optionNamed(CliException e, String field, String option) {
        for (String named : List.of(field + " ", "\"" + field + "\" ")) {
            if (e.httpStatus() == 400 && e.getMessage().startsWith(named)) {
                return new CliException(e.exitCode(), option + " " + e.getMessage().substring(named.length()), e.httpStatus(),
                        e.title());
            }
        }
        return e;
    }

    /**
     * An instant as the server takes it (ISO-8601 with its offset), checked before any request: a value the option
     * cannot take is a usage error (exit 2), as a bad duration is. Whether it is in the future is the server's to say.
     *
     * @return the text, trimmed
     */
    static String instant(CommandSpec spec, String option, String text) {
        try {
            java.time.OffsetDateTime.parse(text.trim());
            return text.trim();
        } catch (java.time.format.DateTimeParseException e) {
            throw new ParameterException(spec.commandLine(), option + " must be an ISO-8601 instant with its offset, such as"
                    + " 2027-01-31T09:00:00Z or 2027-01-31T09:00:00+01:00, was '" + oneLine(text) + "'");
        }
    }

    /** Units in either case but M: 1M could be a minute or a month (ISO-8601's P1M), so only m (minutes) is taken. */
    private static final java.util.regex.Pattern SHORT_DURATION = java.util.regex.Pattern.compile("(\\d{1,9})\\s*([smhdwySHDWY])");

    /**
     * 15s, 90m, 8h, 30d, 2w, 1y as ISO-8601 (the server's form: PT15S, PT90M, PT8H, P30D, P2W, P1Y); an ISO-8601
     * duration as it is, for the server to judge.
     *
     * @return the ISO-8601 form, or null if the text is neither
     */
    static String isoDuration(String text) {
        String t = text.trim();
        java.util.regex.Matcher m = SHORT_DURATION.matcher(t);
        if (m.matches()) {
            String unit = m.group(2).toUpperCase(java.util.Locale.ROOT);
            return "DWY".contains(unit) ? "P" + m.group(1) + unit : "PT" + m.group(1) + unit;
        }
        return t.startsWith("P") || t.startsWith("p") || t.startsWith("-P") || t.startsWith("-p") ? t : null;
    }

    /**
     * The instant a duration option reaches back to from now (this machine's clock).
     *
     * @param text the option's value: 30d, 2w, PT8H, P1M, ...
     * @throws ParameterException naming the option, for anything but a positive duration
     */
    static Instant cutoff(CommandSpec spec, String option, String text) {
        return cutoff(spec, option, text, Instant.now());
    }

    /** As {@link #cutoff(CommandSpec, String, String)}, back from {@code now} (the server's time, where it says). */
    static Instant cutoff(CommandSpec spec, String option, String text, Instant now) {
        String iso = isoDuration(spec, option, text);
        try {
            Duration d = Duration.parse(iso);
            if (!d.isNegative() && !d.isZero()) {
                return now.minus(d);
            }
        } catch (DateTimeParseException notADuration) {
            try {
                Period p = Period.parse(iso);
                if (!p.isNegative() && !p.isZero()) {
                    return now.atZone(ZoneOffset.UTC).minus(p).toInstant();
                }
            } catch (DateTimeParseException notAPeriodEither) {
                // said below
            } catch (java.time.DateTimeException | ArithmeticException beforeTime) {
                throw new ParameterException(spec.commandLine(), option + " '" + text + "' reaches back before any time"
                        + " there is; give a period of at most a few years");
            }
        } catch (java.time.DateTimeException | ArithmeticException beforeTime) {
            throw new ParameterException(spec.commandLine(), option + " '" + text + "' reaches back before any time"
                    + " there is; give a period of at most a few years");
        }
        throw new ParameterException(spec.commandLine(), option + " must be a positive duration such as 30d, 2w or PT8H; was '"
                + text + "'");
    }

    /** {@link #isoDuration(String)}, or a usage error that names the option. */
    static String isoDuration(CommandSpec spec, String option, String text) {
        String iso = isoDuration(text);
        if (iso == null && text.trim().matches("\\d{1,9}\\s*M")) {
            throw new ParameterException(spec.commandLine(), option + " '" + text + "' could be minutes or months: write "
                    + text.trim().replaceAll("\\s*M$", "m") + " for minutes, or P" + text.trim().replaceAll("\\s*M$", "M")
                    + " for months");
        }
        if (iso == null) {
            throw new ParameterException(spec.commandLine(), option + " must be a duration such as 90m, 8h, 30d, 2w or 1y, or"
                    + " ISO-8601 such as PT8H; was '" + text + "'");
        }
        return iso;
    }

    /**
     * As {@link #isoDuration(CommandSpec, String, String)}, for an option that must be a positive duration (how long
     * a grant or a token lasts): zero or less is bad usage (exit 2) here, not the server's refusal (exit 1).
     */
    static String positiveDuration(CommandSpec spec, String option, String text) {
        String iso = isoDuration(spec, option, text);
        boolean positive;
        try {
            Duration d = Duration.parse(iso);
            positive = !d.isNegative() && !d.isZero();
        } catch (DateTimeParseException notADuration) {
            try {
                Period p = Period.parse(iso);
                positive = !p.isNegative() && !p.isZero();
            } catch (DateTimeParseException neither) {
                return iso; // not ISO-8601 either: the server's words say how it is read
            }
        }
        if (!positive) {
            throw new ParameterException(spec.commandLine(), option + " must be a positive duration, such as 90m, 8h, 30d,"
                    + " 2w or 1y; was '" + text + "'");
        }
        return iso;
    }

    /**
     * A token's lifetime, which the server holds to 10 years: longer is bad usage (exit 2) here, as a lifetime of zero
     * is, not the server's refusal (exit 1).
     *
     * @param iso the ISO-8601 form of what was typed
     */
    static String atMostTenYears(CommandSpec spec, String option, String iso, String typed) {
        java.time.temporal.TemporalAmount amount;
        try {
            amount = Duration.parse(iso);
        } catch (DateTimeParseException notADuration) {
            try {
                amount = Period.parse(iso);
            } catch (DateTimeParseException neither) {
                return iso; // the server's words say how it is read
            }
        }
        java.time.ZonedDateTime start = java.time.ZonedDateTime.now(ZoneOffset.UTC);
        java.time.ZonedDateTime end;
        try {
            end = start.plus(amount);
        } catch (ArithmeticException | java.time.DateTimeException tooLong) {
            end = java.time.ZonedDateTime.of(9999, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC);
        }
        if (end.isAfter(start.plusYears(10))) {
            throw new ParameterException(spec.commandLine(), option + " must be at most 10 years (such as 1y, 90d or P10Y);"
                    + " was '" + typed + "'");
        }
        return iso;
    }

    @Command(name = "revoke", description = "Take a role back from a user id.")
    static final class Revoke extends RoleCommand {
        @Override
        String method() {
            return "DELETE";
        }
    }

    @Command(name = "delete", description = "Delete an archived flag for good: the server no longer keeps its last"
            + " document, and frees the memory it took (the way out of a server that answers `server full`). Its history"
            + " stays while the journal keeps it, and `flags revert FLAG VERSION` still brings it back from there. A served"
            + " flag is refused: archive it first (`flags archive`). Admin token.")
    static final class Delete implements Callable<Integer> {
        @Mixin ServerOptions o;
        @Mixin CommentOption why;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "FLAG", description = "The flag's key.") String flag;

        @Override
        public Integer call() {
            JsonNode deleted = o.api(spec).call("DELETE", o.flagPath(flag) + "?archived=true", null, why.comment);
            print(spec, deleted);
            spec.commandLine().getErr().println("flags: " + oneLine(flag) + " in environment \"" + oneLine(o.environment())
                    + "\" is deleted; flags history " + oneLine(flag) + " lists its versions, which flags revert brings back");
            return EXIT_OK;
        }
    }

    @Command(name = "archive", description = "Archive a flag: no longer served; its history stays. `flags revert FLAG VERSION`"
            + " (or a PUT) restores it. Refused while the flag's usage shows code still evaluating it (see `flags usage`),"
            + " unless --force.")
    static final class Archive implements Callable<Integer> {
        /** The quiet time a flag needs before it is archived, unless --unused-for says otherwise. */
        static final String DEFAULT_UNUSED_FOR = "7d";

        @Mixin ServerOptions o;
        @Mixin CommentOption why;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "FLAG", description = "The flag's key.") String flag;
        @Option(names = "--unused-for", paramLabel = "DURATION", description = "How long no SDK may have evaluated the"
                + " flag (15s, 90m, 8h, 30d, 2w, 1y or ISO-8601). Default: " + DEFAULT_UNUSED_FOR + ".")
        String unusedFor = DEFAULT_UNUSED_FOR;
        @Option(names = "--force", description = "Archive even if code evaluated the flag lately: that code then gets its default.")
        boolean force;

        @Override
        public Integer call() {
            Api api = o.api(spec);
            String path = o.flagPath(flag);
            if (!force) {
                checkUnused(api);
                // And the server checks again as it archives: a report may have come since the look above.
                path += "?unusedFor=" + Api.path(isoDuration(spec, "--unused-for", unusedFor));
            }
            JsonNode archived = api.expect(api.call("DELETE", path, null, why.comment), "archived", "an archive's answer");
            print(spec, archived);
            sayWhere(spec, o, flag, archived);
            spec.commandLine().getErr().println("flags: to bring it back, flags revert " + oneLine(flag) + " VERSION (flags"
                    + " history " + oneLine(flag) + " lists its versions)");
            return EXIT_OK;
        }

        /**
         * Refuses if an SDK reported the flag within --unused-for: an archived flag is unknown to the SDK, which
         * then answers the code's default, so archiving a flag the code still asks for changes what users get.
         */
        private void checkUnused(Api api) {
            Instant cutoff = cutoff(spec, "--unused-for", unusedFor);
            JsonNode usage;
            try {
                usage = api.call("GET", "/environments/" + Api.path(o.environment()) + "/usage?flag=" + Api.path(flag), null, null);
            } catch (CliException e) {
                if (e.exitCode() == EXIT_UNREACHABLE) {
                    throw e;
                }
                // A flag that is not there, a token that may not read, a server from before usage reports: the
                // archive itself answers the first two with the server's own words, and the last has nothing to check.
                return;
            }
            JsonNode use = usage.path("flags").path(0);
            if (use.hasNonNull("lastEvaluatedAt")) {
                Instant last = Instant.parse(use.get("lastEvaluatedAt").asText());
                if (last.isAfter(cutoff)) {
                    String apps = Usage.applications(use.path("applications"));
                    throw new CliException(EXIT_FAILED, "flag \"" + oneLine(flag) + "\" was evaluated at " + last
                            + (apps.isEmpty() ? "" : " (by " + apps + ")") + ": code still asks for it, and archived it"
                            + " would get its default there. Archive it once `flags usage " + oneLine(flag) + "` shows no"
                            + " evaluation for " + unusedFor.trim() + ", or now with --force");
                }
            }
            if (usage.hasNonNull("since") && Instant.parse(usage.get("since").asText()).isAfter(cutoff)) {
                spec.commandLine().getErr().println("flags: usage is recorded only since " + oneLine(usage, "since")
                        + ", less than " + unusedFor.trim() + " ago: an application that evaluates the flag rarely may not have"
                        + " reported it yet");
            } else if (!usage.hasNonNull("since")) {
                spec.commandLine().getErr().println("flags: no usage recorded in environment \"" + oneLine(o.environment())
                        + "\": no SDK has reported, so whether code still asks for the flag is not known");
            }
        }

        /** Now minus an ISO-8601 duration (PT8H, P30D) or period (P2W, P1Y, counted in UTC). */
    }

    @Command(name = "history", description = "Every version of a flag, oldest first: who, when, why.",
        footerHeading = FlagsCommand.EXAMPLES,
        footer = {"  flags history billing-v2 --last 10 --changes"})
    static final class History implements Callable<Integer> {
        /**
         * Room for a schedule's actor, which names the schedule and its maker ({@code flags-server (schedule
         * sch-4f2a9c01d3e7 by alice (tok-1a2b3c4d))}); a longer actor pushes only its own row's comment out.
         */
        private static final int MAX_ACTOR_COLUMN = 64;

        @Mixin ServerOptions o;
        @Mixin JsonOutput output;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "FLAG", description = "The flag's key.") String flag;
        @Option(names = "--last", paramLabel = "N", description = "Only the newest N versions.")
        Integer last;
        @Option(names = "--changes", description = "Under each version, what it changed: one indented line per changed value.")
        boolean changes;

        @Override
        public Integer call() {
            if (last != null && last < 1) {
                throw new CliException(EXIT_USAGE, "--last must be 1 or more, was " + last);
            }
            // The oldest version shown is compared with the newest document before it, for its (on)/(off) marker and
            // its --changes: read on until one (an archive in between has none) or the start of the history.
            Integer wanted = last;
            // The server answers a page of the newest versions, and where the earlier ones start.
            Api api = o.api(spec);
            Deque<JsonNode> newestFirst = new ArrayDeque<>();
            String query = "";
            long before = Long.MAX_VALUE;
            while (true) {
                JsonNode page = api.call("GET", o.flagPath(flag) + "/history" + query, null, null);
                List<JsonNode> versions = new ArrayList<>();
                page.path("versions").forEach(versions::add);
                for (int i = versions.size() - 1; i >= 0
                        && (wanted == null || newestFirst.size() < wanted || !hasBaseline(newestFirst, wanted)); i--) {
                    newestFirst.addLast(output.json || changes ? versions.get(i) : withoutDocument(versions.get(i)));
                }
                if (wanted != null && newestFirst.size() >= wanted && hasBaseline(newestFirst, wanted)) {
                    break;
                }
                if (!page.hasNonNull("earlier")) {
                    // The oldest retained version: say if retention removed older ones, or the history looks complete.
                    String retention = page.path("retention").path("detail").asText("");
                    // Only when it cut what was asked for: the version before the oldest asked for, read only for its
                    // (on)/(off) marker, is no loss worth a line.
                    if (!retention.isEmpty() && (wanted == null || newestFirst.size() < wanted || changes)) {
                        spec.commandLine().getErr().println("flags: " + oneLine(page.path("retention"), "detail"));
                    }
                    break;
                }
                long earlier = page.get("earlier").asLong();
                if (earlier >= before) {
                    throw new CliException(EXIT_FAILED, "the server's history pages do not go back (earlier " + earlier
                            + " after before " + before + ")");
                }
                before = earlier;
                query = "?before=" + before;
            }
            PrintWriter out = spec.commandLine().getOut();
            JsonNode previous = null; // the newest document before the version being printed
            int baselineOnly = last == null ? 0 : Math.max(0, newestFirst.size() - last); // read to compare with, not shown
            if (output.json) { // the versions shown, oldest first, as the API's pages give them
                ObjectNode answer = Api.JSON.createObjectNode().put("environment", o.environment()).put("flag", flag);
                com.fasterxml.jackson.databind.node.ArrayNode versions = answer.putArray("versions");
                int skip = baselineOnly;
                for (Iterator<JsonNode> it = newestFirst.descendingIterator(); it.hasNext(); ) {
                    JsonNode v = it.next();
                    if (skip-- <= 0) {
                        versions.add(v);
                    }
                }
                print(spec, answer);
                return EXIT_OK;
            }
            // The comments line up: the actor column is as wide as the longest actor shown, up to a point.
            int actorWidth = 1;
            int shown = 0;
            for (JsonNode v : newestFirst) {
                if (shown++ < newestFirst.size() - baselineOnly) {
                    actorWidth = Math.max(actorWidth, Math.min(MAX_ACTOR_COLUMN, Columns.width(oneLine(v, "actor"))));
                }
            }
            // Rows first, then printed with the "what" column as wide as its widest (a revert's "to v12", a marker).
            List<String[]> rows = new ArrayList<>();
            List<List<String>> changed = new ArrayList<>();
            int changeWidth = 18;
            for (Iterator<JsonNode> it = newestFirst.descendingIterator(); it.hasNext(); ) {
                JsonNode v = it.next();
                JsonNode document = v.get("flag");
                if (baselineOnly > 0) {
                    baselineOnly--;
                    if (document != null) {
                        previous = document;
                    }
                    continue;
                }
                // A revert says to which version, and whether it brought an archived flag back: its comment may not.
                String what = oneLine(v, "change") + (v.has("revertedTo") ? " to v" + v.path("revertedTo").asLong() : "")
                        + (v.path("restored").asBoolean(false) ? (v.has("revertedTo") ? ", " : " ") + "restored" : "")
                        + switched(previous, document);
                changeWidth = Math.max(changeWidth, Columns.width(what));
                rows.add(new String[] {oneLine(v, "version"), toTheSecond(oneLine(v, "timestamp")), what,
                        Columns.pad(oneLine(v, "actor"), actorWidth), oneLine(v, "comment")});
                changed.add(changes && document != null && previous != null ? FlagChanges.between(previous, document) : List.of());
                if (document != null) {
                    previous = document;
                }
            }
            for (int i = 0; i < rows.size(); i++) {
                String[] r = rows.get(i);
                out.println(String.format("v%-6s %s  %s  %s  %s", r[0], r[1], Columns.pad(r[2], changeWidth), r[3], r[4])
                        .stripTrailing()); // no blanks after a row without a comment
                changed.get(i).forEach(line -> out.println("         " + line));
            }
            return EXIT_OK;
        }
    }

    /**
     * " (off)" or " (on)" for a version that threw the flag's switch: in an incident review, when it was turned off and
     * by whom must show at a glance, not only under --changes or in a comment someone may not have written.
     */
    private static String switched(JsonNode previous, JsonNode document) {
        if (previous == null || document == null) {
            return "";
        }
        boolean was = previous.path("enabled").asBoolean(false);
        boolean is = document.path("enabled").asBoolean(false);
        return was == is ? "" : is ? " (on)" : " (off)";
    }

    /**
     * A version as its line needs it: its document cut to its switch, which the line's (on)/(off) marker compares. A
     * history of thousands of versions is read whole before its oldest is printed (the pages come newest first), and
     * with every document kept it took more memory than the command has (QA71 F5).
     */
    private static JsonNode withoutDocument(JsonNode version) {
        if (!version.hasNonNull("flag") || !(version instanceof ObjectNode lean)) {
            return version;
        }
        lean.set("flag", Api.JSON.createObjectNode().put("enabled", version.get("flag").path("enabled").asBoolean(false)));
        return lean;
    }

    /** Whether, past the newest {@code shown} entries, one with a document was read: the baseline of --changes. */
    private static boolean hasBaseline(Deque<JsonNode> newestFirst, int shown) {
        int i = 0;
        for (JsonNode v : newestFirst) {
            if (i++ >= shown && v.hasNonNull("flag")) {
                return true;
            }
        }
        return false;
    }

    /** Whether the environment is archived (readable, but it takes no change); false if that cannot be read. */
    static boolean archived(Api api, String environment) {
        try {
            return api.call("GET", "/environments/" + Api.path(environment), null, null).path("archived").asBoolean(false);
        } catch (CliException e) {
            return false;
        }
    }

    /**
     * A field of a history entry as text on one line: a missing or null field is empty (not "null"), and line breaks
     * and other control characters are escaped (a backslash too, so that the escapes are unambiguous), so that a
     * comment of several lines cannot break the one line per version that scripts read.
     */
    static String oneLine(JsonNode entry, String field) {
        JsonNode value = entry.path(field);
        return oneLine(value.isValueNode() && !value.isNull() ? value.asText() : "");
    }

    /**
     * Whether a character must not reach the terminal as it is: C0 and C1 controls, DEL, the Unicode line
     * and paragraph separators some terminals break at, and the bidirectional controls that reorder
     * what is shown: flags-core's {@link ReadableText#unsafe(char)}, the server's rule too.
     */
    static boolean unsafe(char c) {
        return ReadableText.unsafe(c);
    }

    /** Text as one line that cannot drive the terminal: line breaks and other control characters escaped. */
    static String oneLine(String text) {
        return escaped(text, true);
    }

    /**
     * Text in double quotes, as one line, a quote in it escaped as JSON escapes it: a user id may hold one (q"x), and
     * {@code "q"x"} would not say where it ends. {@code flags roles} shows ids so.
     */
    static String quoted(String text) {
        return "\"" + oneLine(text).replace("\"", "\\\"") + "\"";
    }

    /** Text that cannot drive the terminal, for people: as {@link #oneLine(String)}, backslashes left as they are. */
    static String shown(String text) {
        return escaped(text, false);
    }

    private static String escaped(String text, boolean backslashes) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '\\' -> out.append(backslashes ? "\\\\" : "\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (unsafe(c)) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.toString();
    }

    @Command(name = "revert", description = "Make a new version of a flag equal to an earlier one; without VERSION, bring an"
            + " archived flag back as it was last.")
    static final class Revert implements Callable<Integer> {
        @Mixin ServerOptions o;
        @Mixin SdkWait.WaitOption waitForSdks;
        @Mixin CommentOption why;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "FLAG", description = "The flag's key.") String flag;
        @Parameters(index = "1", arity = "0..1", paramLabel = "VERSION", description = "A version from the flag's history: 4"
                + " or v4; for an archived flag, its last version if left out.") String version;
        @Option(names = "--switch-on", description = "Revert even though the version is switched on and the flag is off now"
                + " (its kill switch?), archived or deleted: the revert switches it on.")
        boolean switchOn;
        @Option(names = "--keep-off", description = "Bring back everything of the version but its switch: the flag stays off"
                + " (or comes back off).")
        boolean keepOff;

        @Override
        public Integer call() {
            if (switchOn && keepOff) {
                throw new ParameterException(spec.commandLine(), "--switch-on and --keep-off ask for opposite things; give one");
            }
            Duration wait = SdkWait.timeout(spec, waitForSdks); // a bad --wait is said before anything is written
            Api api = o.api(spec);
            if (version == null) {
                version = lastArchivedVersion(api);
            }
            String digits = version.startsWith("v") || version.startsWith("V") ? version.substring(1) : version;
            if (!digits.matches("[0-9]{1,18}")) {
                throw new CliException(EXIT_USAGE, "VERSION must be a version number from the flag's history, such as 4 or v4"
                        + " (as `flags history` prints it), was '" + version + "'");
            }
            ObjectNode body = Api.JSON.createObjectNode().put("version", Long.parseLong(digits));
            if (why.comment != null) {
                body.put("comment", why.comment);
            }
            if (switchOn) {
                body.put("switchOn", true);
            }
            if (keepOff) {
                body.put("keepOff", true);
            }
            JsonNode reverted;
            try {
                reverted = api.call("POST", o.flagPath(flag) + "/revert", body, null);
            } catch (CliException e) {
                if (e.httpStatus() == 409 && SWITCHES_ON.equals(e.title())) {
                    boolean served = !e.getMessage().contains("not served");
                    throw new CliException(EXIT_FAILED, "not reverted: version " + digits + " of \"" + oneLine(flag)
                            + "\" is switched on, and in environment \"" + oneLine(o.environment()) + "\" the flag is "
                            + (served ? "off now (its kill switch?)" : "not served (archived or deleted): the revert would"
                            + " release it at once") + "; nothing was written. Add --switch-on to switch it on with the revert,"
                            + " or --keep-off to bring back the rest and keep it off", e.httpStatus(), e.title());
                }
                if (e.httpStatus() == 409 && keepOff && e.getMessage().startsWith("\"keepOff\"")) {
                    throw new CliException(EXIT_FAILED, "not reverted: --keep-off keeps off a flag that is off, and \""
                            + oneLine(flag) + "\" is on in environment \"" + oneLine(o.environment()) + "\" (version " + digits
                            + " is on too); nothing was written. Revert without it, or flags off " + oneLine(flag) + " first",
                            e.httpStatus(), e.title());
                }
                throw e;
            }
            api.flag(reverted, flag);
            print(spec, reverted);
            sayWhere(spec, o, flag, reverted);
            return wait == null ? EXIT_OK : SdkWait.await(spec, api, o.environment(), SdkWait.versionOf(api, reverted), wait);
        }

        /** Whether the flag has versions in the environment's history: neither served nor archived, it was deleted. */
        private boolean hasHistory(Api api) {
            try {
                return !api.call("GET", o.flagPath(flag) + "/history?limit=1", null, null).path("versions").isEmpty();
            } catch (CliException e) {
                if (e.httpStatus() == 404) {
                    return false;
                }
                throw e;
            }
        }

        /** The version an archived flag had last, which restoring it brings back: versions are the environment's. */
        private String lastArchivedVersion(Api api) {
            JsonNode archived = api.archivedFlag(o.environment(), flag);
            if (archived != null) {
                return archived.path("version").asText();
            }
            String missing = missingFlag(api, o, flag);
            if (missing != null) {
                if (hasHistory(api)) {
                    throw new CliException(EXIT_FAILED, "flag \"" + oneLine(flag) + "\" in environment \"" + oneLine(o.environment())
                            + "\" was deleted: flags history " + oneLine(flag) + " lists its versions, and flags revert "
                            + oneLine(flag) + " VERSION brings one back");
                }
                throw new CliException(EXIT_FAILED, missing);
            }
            throw new CliException(EXIT_USAGE, "VERSION is needed: flag \"" + oneLine(flag) + "\" is not archived in"
                    + " environment \"" + oneLine(o.environment()) + "\" (flags history " + oneLine(flag) + " lists its versions)");
        }
    }

    /**
     * A flag as the format writes it, its key first (a list from the server has each document's fields by name); one
     * that does not read is left as it came, for the file check to name.
     */
    private static JsonNode asWritten(JsonNode flag) {
        try {
            return FlagFormat.toJson(FlagFormat.readFlag(flag));
        } catch (FlagValidationException e) {
            return flag;
        }
    }

    /**
     * A time to the second as the end of that second: {@code flags history} shows a version's time to the second, and
     * the state at its start is the one before that version. Not for a second that ended less than a few seconds ago
     * (the server refuses a time in its future, and clocks differ): that one is sent as given.
     *
     * @param text an ISO-8601 instant with its offset, checked
     * @return the text, or the end of its second if it has no fraction
     */
    static String throughItsSecond(String text) {
        java.time.OffsetDateTime time = java.time.OffsetDateTime.parse(text);
        if (text.contains(".") || time.getNano() != 0
                || !time.toInstant().plusSeconds(5).isBefore(java.time.Instant.now())) {
            return text;
        }
        return time.plusSeconds(1).minusNanos(1).toString();
    }

    @Command(name = "export", description = "Print the environment's flags and role grants as a flag file, for the"
            + " SDK's offline mode (offlineFile) or flags eval: flags export -e staging > flags.json; with --at, as they"
            + " were then.",
        footerHeading = FlagsCommand.EXAMPLES,
        footer = {"  flags export -e staging > staging.json",
                "  flags export --as-code -e production > production-flags.json   # for git"})
    static final class Export implements Callable<Integer> {
        @Mixin ServerOptions o;
        @Spec CommandSpec spec;
        @Option(names = "--at", paramLabel = "INSTANT", description = "The flags and grants as they were at that time, an"
                + " ISO-8601 instant with its offset (what was live last Friday, for flags eval or a diff; an editor,"
                + " operator, viewer or admin token).")
        String at;
        @Option(names = "--as-code", description = "For a file kept in git and applied with flags apply: without the flags'"
                + " versions (this environment's numbers: they differ between environments and move with every change) and"
                + " without role grants (people's, not code's).")
        boolean asCode;

        @Override
        public Integer call() {
            String when = at == null ? null : throughItsSecond(instant(spec, "--at", at)); // bad usage before any request
            Api api = o.api(spec);
            String environment = "/environments/" + Api.path(o.environment());
            ArrayNode flags = Api.JSON.createArrayNode();
            JsonNode roles;
            if (when == null) {
                for (JsonNode f : api.flags(o.environment(), false)) {
                    flags.add(asWritten(f));
                }
                roles = api.call("GET", environment + "/roles", null, null);
            } else {
                // The server's past state: the flags as stored then, and the grants then (members, expiresAt).
                roles = api.call("GET", environment + "/state?at=" + java.net.URLEncoder.encode(when,
                        java.nio.charset.StandardCharsets.UTF_8), null, null);
                roles.path("flags").forEach(f -> flags.add(asWritten(f)));
                spec.commandLine().getErr().println("flags: environment \"" + oneLine(o.environment()) + "\" as it was at "
                        + oneLine(roles.path("at").asText(when)) + " (its version " + roles.path("version").asLong() + ")");
            }
            ObjectNode file = Api.JSON.createObjectNode().put("formatVersion", FlagFormat.FORMAT_VERSION);
            if (asCode) {
                flags.forEach(f -> ((ObjectNode) f).remove("version"));
            }
            file.set("flags", flags);
            int ending = 0;
            if (!asCode) {
                file.set("roleGrants", roles.path("members"));
                for (JsonNode byUser : roles.path("expiresAt")) {
                    ending += byUser.size();
                }
            }
            if (ending > 0 && when != null) { // of a past state: whether they ended since is not the file's business
                spec.commandLine().getErr().println("flags: " + ending + (ending == 1 ? " role grant" : " role grants") + " had an"
                        + " end then, which the file cannot hold: an SDK reading the file grants " + (ending == 1 ? "it" : "them")
                        + " for good");
            } else if (ending > 0) {
                // The format has no end for a grant: offline, the SDK would grant these for good.
                spec.commandLine().getErr().println("flags: " + ending + (ending == 1 ? " role grant ends" : " role grants end")
                        + " at a time the file cannot hold (flags roles shows when): an SDK reading the file grants "
                        + (ending == 1 ? "it" : "them") + " for good; export again, or edit the file, when one ends");
            }
            String text = terminalJson(file);
            try {
                // What an SDK will read, read here first, as it is printed: a file that does not load must not be written.
                FlagFormat.readFile(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            } catch (FlagValidationException e) {
                throw new CliException(EXIT_FAILED, "the environment's flags do not make a flag file this release reads: "
                        + oneLine(e.problems().get(0).toString())); // it quotes what the server sent
            }
            if (roles.hasNonNull("onlyUser") && !asCode) {
                // A tester's token sees only its own user's grants: the file would answer others as if they had none.
                spec.commandLine().getErr().println("flags: this token sees only the role grants of \""
                        + oneLine(roles.get("onlyUser").asText()) + "\": the file holds those only, and answers other users"
                        + " as if they had no grant on the server");
            }
            spec.commandLine().getOut().println(text);
            return EXIT_OK;
        }
    }

    @Command(name = "evaluate", description = "Ask the server what a flag (or every flag) gives a user, and why.",
        footerHeading = FlagsCommand.EXAMPLES,
        footer = {"  flags evaluate '{\"id\": \"u-42\", \"region\": \"eu-west\"}' billing-v2 --explain"})
    static final class Evaluate implements Callable<Integer> {
        @Mixin ServerOptions o;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "USER-JSON", description = "The user, e.g. '{\"id\": \"u-42\", \"roles\": [\"beta-tester\"]}';"
                + " - for standard input.")
        String user;
        @Parameters(index = "1", arity = "0..1", paramLabel = "FLAG", description = "The flag's key.") String flag;
        @Option(names = "--explain", description = "Say step by step why: each rule tried, the first condition that did"
                + " not hold and the user's own value (region, roles, rollout bucket), as text.")
        boolean explain;

        @Override
        public Integer call() {
            ObjectNode body = Api.JSON.createObjectNode();
            JsonNode userNode = userFirst(user, flag, "flags evaluate '" + oneLine(flag == null ? "" : flag) + "' "
                    + oneLine(user));
            user(userNode); // the server's reader (flags-core's): a user it would refuse is bad usage, as for flags eval
            body.set("user", userNode);
            if (flag != null) {
                body.put("flag", flag);
            }
            if (explain) {
                body.put("explain", true);
            }
            JsonNode answer = o.api(spec).call("POST", "/environments/" + Api.path(o.environment()) + "/evaluate", body, null);
            if (flag != null && "FLAG_NOT_FOUND".equals(answer.at("/results/0/reason/kind").asText())) {
                // As `eval` of a file: a mistyped flag name must not read as "false" for this user.
                String near = answer.at("/results/0/didYouMean").asText("");
                throw new CliException(EXIT_FAILED, "there is no flag \"" + flag + "\" in environment \"" + o.environment() + "\""
                        + (near.isEmpty() ? "" : "; did you mean \"" + near + "\"?"));
            }
            if (explain) {
                if (answer.has("note")) {
                    spec.commandLine().getOut().println("note: " + shown(answer.get("note").asText()));
                }
                answer.path("results").forEach(r -> printExplanation(spec, r));
            } else {
                print(spec, answer);
            }
            return EXIT_OK;
        }
    }

    /**
     * An explained evaluation as lines for people: the answer, then each step the evaluator took,
     * the one that decided last.
     * <pre>
     * billing-v2 = false (DEFAULT, flag version 3)
     *   - switch: the flag is on
     *   - rule 1 "eu canary": not matched: conditions[1]: percentage 10%: the user's bucket is 70201 of ...
     *   - default: decided: no target or rule matched: the flag's default, false
     * </pre>
     */
    static void printExplanation(CommandSpec spec, JsonNode result) {
        PrintWriter out = spec.commandLine().getOut();
        JsonNode reason = result.path("reason");
        // Rule names and details hold what an editor typed: escaped, so that none can drive the terminal.
        out.println(shown(result.path("flag").asText()) + " = " + result.path("value").asBoolean()
                + (result.has("variant") ? ", variant \"" + shown(result.get("variant").asText()) + "\"" : "")
                + " (" + reason.path("kind").asText()
                + (reason.has("detail") ? ": " + shown(reason.get("detail").asText()) : "")
                + (result.path("flagVersion").asLong() >= 0 ? ", flag version " + result.get("flagVersion").asLong() : "") + ")");
        if (result.has("mayDiffer")) { // a tester's view of another user: the answer above is not certain
            out.println("  ! may differ: " + shown(result.get("mayDiffer").asText()));
        }
        JsonNode steps = result.path("explanation");
        for (int i = 0; i < steps.size(); i++) {
            JsonNode step = steps.get(i);
            String kind = step.path("step").asText();
            String subject = switch (kind) {
                case "rule" -> "rule " + step.path("index").asInt()
                        + (step.hasNonNull("ruleName") ? " \"" + shown(step.get("ruleName").asText()) + "\"" : "");
                case "targets" -> step.has("index") ? "targets[" + step.get("index").asInt() + "]" : "targets";
                default -> shown(kind); // a step this release does not know, as the server named it
            };
            boolean last = i == steps.size() - 1;
            String verdict = last ? "decided: " : kind.equals("switch") ? "" : "not matched: ";
            out.println("  - " + subject + ": " + verdict + shown(step.path("detail").asText()));
        }
    }

    @Command(name = "tokens", mixinStandardHelpOptions = true, description = "Make, list and revoke API tokens (an admin token's work).",
            subcommands = {TokensList.class, TokensShow.class, TokensCreate.class, TokensRevoke.class})
    static final class Tokens implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Override
        public Integer call() {
            spec.commandLine().usage(spec.commandLine().getErr());
            return EXIT_USAGE;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List the live tokens, one line each: id, name,"
            + " scope, environments, when and by whom made, expiry (EXPIRED once past), last use since the server started.")
    static final class TokensList implements Callable<Integer> {
        @Mixin ConnectionOptions o;
        @Mixin JsonOutput output;
        @Spec CommandSpec spec;

        @Override
        public Integer call() {
            JsonNode answer = o.api(spec).call("GET", "/tokens", null, null);
            if (output.json) {
                print(spec, answer);
                return EXIT_OK;
            }
            JsonNode tokens = answer.path("tokens");
            for (JsonNode t : tokens) {
                spec.commandLine().getOut().println(tokenLine(t));
            }
            if (tokens.isEmpty()) {
                spec.commandLine().getErr().println("flags: the server has no tokens (but the bootstrap admin token)");
            }
            return EXIT_OK;
        }
    }

    /**
     * A token as one line: {@code tok-1a2b3c4d5e6f  alice  editor  [production]  made 2026-12-01T09:00:00Z by admin
     * (admin)  expires 2027-03-01T09:00:00Z  last used 2026-12-01T09:05:00Z}; "never" for no expiry, "EXPIRED" after it
     * passed, "not since the server started" for no use; then {@code  3 sync streams open} for a token with open streams.
     * Names and actors are escaped: they cannot drive the terminal.
     */
    static String tokenLine(JsonNode t) {
        List<String> envs = new ArrayList<>();
        t.path("environments").forEach(e -> envs.add(oneLine(e.asText())));
        String user = t.hasNonNull("userId") ? " user " + oneLine(t, "userId") : "";
        String made = t.hasNonNull("createdAt") ? oneLine(t, "createdAt") + " by " + oneLine(t, "createdBy") : "(no longer in the journal)";
        String expires = !t.hasNonNull("expiresAt") ? "never"
                : oneLine(t, "expiresAt") + (t.path("expired").asBoolean() ? " EXPIRED" : "");
        String used = t.hasNonNull("lastUsedAt") ? oneLine(t, "lastUsedAt") : "not since the server started";
        int streams = t.path("openStreams").asInt(0);
        // An SDK's token is in use while its streams are open, whenever they opened.
        String open = streams == 0 ? "" : "  " + streams + (streams == 1 ? " sync stream" : " sync streams") + " open";
        return String.format("%-17s %s %-8s %s%s  made %s  expires %s  last used %s%s", oneLine(t, "id"),
                Columns.pad(oneLine(t, "name"), 20),
                oneLine(t, "scope"), envs, user, made, expires, used, open);
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Print a live token's metadata (never its secret).")
    static final class TokensShow implements Callable<Integer> {
        @Mixin ConnectionOptions o;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "TOKEN-ID", description = "The token's id, such as tok-1a2b3c4d5e6f.") String id;

        @Override
        public Integer call() {
            print(spec, o.api(spec).call("GET", "/tokens/" + Api.path(id), null, null));
            return EXIT_OK;
        }
    }

    /** The scopes a token may have, as this release's server knows them. */
    static final List<String> SCOPES = List.of("admin", "editor", "operator", "tester", "viewer", "sdk");

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Make a token; prints it with its secret, shown"
            + " this once.")
    static final class TokensCreate implements Callable<Integer> {
        @Mixin ConnectionOptions o;
        @Mixin CommentOption why;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "NAME", description = "Who or what it is for, such as alice or billing-service.") String name;
        @Option(names = "--scope", required = true, paramLabel = "SCOPE", description = "admin, editor, operator (reads, and"
                + " switches flags off: nothing else), tester, viewer (reads only) or sdk.") String scope;
        @Option(names = {"-e", "--env"}, paramLabel = "ENV", description = "An environment it is for; repeat for more (sdk: exactly one;"
                + " admin: none).") List<String> environments = new ArrayList<>();
        @Option(names = "--user-id", paramLabel = "USER-ID", description = "For a tester token: the one user whose roles it may grant.")
        String userId;
        @Option(names = "--expires-in", paramLabel = "DURATION", description = "It stops working after this long: 8h, 90d, 1y, or an"
                + " ISO-8601 duration such as PT8H, P90D or P1Y (at most P10Y).") String expiresIn;
        @Option(names = "--expires-at", paramLabel = "INSTANT", description = "It stops working at this time: an ISO-8601 instant with"
                + " its offset, such as 2027-01-31T00:00:00Z.") String expiresAt;

        @Override
        public Integer call() {
            if (expiresIn != null && expiresAt != null) {
                throw new ParameterException(spec.commandLine(), "give --expires-in or --expires-at, not both");
            }
            if (userId != null && userId.isBlank()) {
                throw new ParameterException(spec.commandLine(), "--user-id must not be empty or blank");
            }
            if (!SCOPES.contains(scope)) {
                throw new ParameterException(spec.commandLine(), "--scope must be one of " + String.join(", ", SCOPES)
                        + ", was '" + scope + "'");
            }
            if (scope.equals("admin") && !environments.isEmpty()) {
                throw new ParameterException(spec.commandLine(), "an admin token is for every environment: give no -e");
            }
            if (!scope.equals("admin") && !scope.equals("sdk") && environments.isEmpty()) {
                throw new ParameterException(spec.commandLine(), "a token of scope " + scope + " is for the environments"
                        + " given with -e: give at least one");
            }
            if (scope.equals("tester") && userId == null) {
                throw new ParameterException(spec.commandLine(), "a tester token is for one user, the one whose roles it may"
                        + " grant and revoke: give --user-id");
            }
            if (!scope.equals("tester") && userId != null) {
                throw new ParameterException(spec.commandLine(), "only a tester token is for one user: a token of scope "
                        + scope + " takes no --user-id");
            }
            if (scope.equals("sdk") && environments.size() != 1) {
                throw new ParameterException(spec.commandLine(), "an sdk token is for exactly one environment: give it with -e,"
                        + " once (was given " + environments.size() + ")");
            }
            ObjectNode body = Api.JSON.createObjectNode().put("name", name).put("scope", scope);
            environments.forEach(body.putArray("environments")::add);
            if (userId != null) {
                body.put("userId", userId);
            }
            if (expiresIn != null) {
                body.put("expiresIn", atMostTenYears(spec, "--expires-in", positiveDuration(spec, "--expires-in", expiresIn),
                        expiresIn));
            }
            if (expiresAt != null) {
                body.put("expiresAt", instant(spec, "--expires-at", expiresAt));
            }
            JsonNode made;
            try {
                made = o.api(spec).call("POST", "/tokens", body, why.comment);
            } catch (CliException e) {
                throw asTyped(optionNamed(optionNamed(e, "expiresAt", "--expires-at"), "expiresIn", "--expires-in"), expiresIn);
            }
            if (expiresIn == null && expiresAt == null && made.hasNonNull("expiresAt")) {
                // Asked for none, it got its maker's: a token that stops working unannounced is worse than a note.
                spec.commandLine().getErr().println("flags: the token expires at " + oneLine(made.get("expiresAt").asText())
                        + ", as the token that made it does: a token lives no longer than its maker (make it with a token"
                        + " that does not expire to give it no expiry)");
            }
            print(spec, made);
            if (spec.commandLine().getOut().checkError()) {
                // The secret is shown once: lost on the way out, the token is one nobody holds, and should not live on.
                String id = oneLine(made.path("id").asText("(no id)"));
                spec.commandLine().getErr().println("flags: token " + id + " was created, but writing it to standard output"
                        + " failed (a full disk, or a closed pipe): its secret is lost; revoke it (flags tokens revoke " + id
                        + ") and make another");
                return EXIT_FAILED;
            }
            spec.commandLine().getErr().println("flags: \"token\" above is the secret, shown this once: store it now (a secret"
                    + " store, not a file in git); the server keeps only its hash");
            return EXIT_OK;
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Revoke a token at once: its next request gets 401, and"
            + " an sdk token's open sync streams are closed.")
    static final class TokensRevoke implements Callable<Integer> {
        @Mixin ConnectionOptions o;
        @Mixin CommentOption why;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "TOKEN-ID", description = "The token's id, such as tok-1a2b3c4d5e6f (flags tokens list).") String id;
        @Option(names = "--force", description = "Revoke it even while SDKs are syncing with it: they are cut off, and serve"
                + " the flags they hold, stale, until they are given another token.")
        boolean force;

        @Override
        public Integer call() {
            Api api = o.api(spec);
            JsonNode token = api.call("GET", "/tokens/" + Api.path(id), null, null);
            if (!token.path("id").asText("").equals(id)) {
                throw api.notTheApi("token " + oneLine(id) + "'s metadata");
            }
            int streams = token.path("openStreams").asInt(0);
            String which = "token " + oneLine(id) + " (" + oneLine(token.path("name").asText()) + ", "
                    + oneLine(token.path("scope").asText()) + ")";
            if (streams > 0 && !force) { // a mistyped id could cut a whole fleet off: said, and asked for again
                throw new CliException(EXIT_FAILED, which + " has " + streams + (streams == 1 ? " sync stream" : " sync streams")
                        + " open: revoking it cuts those SDKs off, and they serve stale flags until given another token;"
                        + " nothing was revoked. Add --force to revoke it anyway");
            }
            print(spec, api.expect(api.call("DELETE", "/tokens/" + Api.path(id), null, why.comment), "revoked",
                    "a revocation's answer"));
            spec.commandLine().getErr().println("flags: " + which + " is revoked: its next request is refused"
                    + (streams > 0 ? ", and its " + streams + (streams == 1 ? " sync stream was" : " sync streams were") + " closed"
                    : "") + "; this cannot be undone (make a new token)");
            return EXIT_OK;
        }
    }

    @Command(name = "validate", description = "Check a flag file, or one flag's document as `flags show` prints it (no server):"
            + " exit 0 if valid, 1 with every problem if not.")
    static final class Validate implements Callable<Integer> {
        /** Strict as the server: a field twice, or a second document after the first, is a mistake to show. */
        private static final ObjectMapper STRICT = new ObjectMapper()
                .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
                .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "FILE", description = "A flag file (as flags export writes it).") Path file;
        /** Problems listed before the rest are only counted, as flags-core lists the format's. */
        private static final int MAX_LISTED = 100;
        /** A flag's document without a key: its problems are said without the stand-in key it is read with. */
        private boolean keyless;

        @Override
        public Integer call() {
            try {
                ObjectNode document = flagDocument(file);
                if (document != null) {
                    keyless = !document.has("key");
                    if (keyless) { // `flags put FLAG` gives it FLAG's key
                        document.put("key", "FLAG"); // the name its problems go by, as in the usage line
                    }
                    Flag flag = FlagFormat.readFlag(document);
                    if (refusedByTheServer(List.of(flag), false, List.of(), "its fields are valid")) {
                        return EXIT_FAILED;
                    }
                    spec.commandLine().getOut().println(shown(file.toString()) + ": a valid flag document, " + (keyless
                            ? "without a key (flags put FLAG gives it FLAG's)" : "of flag \"" + oneLine(flag.key()) + "\""));
                    return EXIT_OK;
                }
                FlagFormat.FlagFile parsed = parseFlagFile(file);
                FlagSet set = FlagSet.of(parsed.flags(), parsed.roleGrants(), 0); // checks the rest of the format
                if (refusedByTheServer(parsed.flags(), true, WriteRules.grants(set.roleGrants()), "the SDKs can read it")) {
                    return EXIT_FAILED;
                }
                spec.commandLine().getOut().println(shown(file.toString()) + ": valid, " + set.size() + (set.size() == 1 ? " flag" : " flags"));
                return EXIT_OK;
            } catch (FlagValidationException e) {
                spec.commandLine().getErr().println(shown(file.toString()) + ": " + e.count() + (e.count() == 1 ? " problem" : " problems"));
                for (Problem p : e.problems()) {
                    spec.commandLine().getErr().println("  " + shown(said(p))); // quotes the file's values: escaped
                }
                return EXIT_FAILED;
            }
        }

        /**
         * The server's rules locate a problem within its flag's document ({@code rules[0].name}); in a flag file the
         * format's own problems are located from the file's root ({@code flags[1].rules[0].name}), and so are these
         * (QA57 F10). A flag's document alone is its own root.
         */
        private static List<Problem> locatedInFile(List<Problem> problems, List<Flag> flags) {
            Map<String, Integer> index = new HashMap<>();
            for (int i = 0; i < flags.size(); i++) {
                index.put(flags.get(i).key(), i);
            }
            List<Problem> located = new ArrayList<>(problems.size());
            for (Problem p : problems) {
                Integer i = p.flagKey() == null ? null : index.get(p.flagKey());
                located.add(i == null ? p : new Problem(p.flagKey(), "flags[" + i + "]" + (p.path().isEmpty() ? "" : "." + p.path()),
                        p.message()));
            }
            // Flag by flag, in the file's order (a stable sort: each flag's problems in the order the rules found them).
            located.sort(java.util.Comparator.comparingInt(p -> index.getOrDefault(p.flagKey() == null ? "" : p.flagKey(),
                    Integer.MAX_VALUE)));
            return located;
        }

        /** A problem as the file's author reads it: a keyless document's without the stand-in key. */
        private String said(Problem p) {
            return keyless ? new Problem(null, p.path(), p.message()).toString() : p.toString();
        }

        /**
         * Says what a write of these flags to a flag server would be refused for, beyond the format the SDKs read
         * (two rules of one name, a name of digits only, control or invisible characters, a document over the size
         * limit as the server stores it, keys that differ only in case): the server's own rules.
         *
         * @param flags the flags, in the order of the file
         * @param aFile whether they are a flag file's (located from its root), not one flag's document
         * @param grantProblems what the server would refuse of the file's role grants
         * @param readable what holds of the file all the same, for the heading
         * @return true if there is anything to say
         */
        private boolean refusedByTheServer(List<Flag> flags, boolean aFile, List<Problem> grantProblems, String readable) {
            List<Problem> problems = new ArrayList<>();
            for (Flag f : flags) {
                problems.addAll(WriteRules.added(null, f));
                // A keyless document goes by the stand-in key "FLAG": counted with the shortest key instead (QA59 F2),
                // so that only a document too large whatever its key is refused here.
                long bytes = WriteRules.storedBytes(f) - (keyless ? "FLAG".length() - 1 : 0);
                Problem tooLarge = WriteRules.tooLarge(f.key(), bytes);
                if (tooLarge != null) {
                    problems.add(tooLarge);
                }
            }
            problems.addAll(WriteRules.caseTwins(flags));
            if (aFile) {
                problems = locatedInFile(problems, flags);
            }
            problems.addAll(grantProblems);
            if (problems.isEmpty()) {
                return false;
            }
            spec.commandLine().getErr().println(shown(file.toString()) + ": " + readable + ", but a flag server refuses to take it: " + problems.size()
                    + (problems.size() == 1 ? " problem" : " problems"));
            for (Problem p : problems.subList(0, Math.min(problems.size(), MAX_LISTED))) {
                spec.commandLine().getErr().println("  " + shown(said(p))); // escaped as the server's answer is
            }
            if (problems.size() > MAX_LISTED) { // as the format's own problems are (QA59 F7)
                int rest = problems.size() - MAX_LISTED;
                spec.commandLine().getErr().println("  and " + rest + " more " + (rest == 1 ? "problem" : "problems")
                        + " after these " + MAX_LISTED + ", not listed: mend these and validate again");
            }
            return true;
        }
    }

    /**
     * One flag's document, as {@code flags show} prints it and {@code flags put} takes it: a JSON object with a flag's
     * fields and none of a flag file's.
     *
     * @return the document, or null if the file is something else (a flag file, or not JSON: read as a flag file, which
     *         says what is wrong)
     */
    private static ObjectNode flagDocument(Path file) {
        JsonNode node;
        try {
            node = Validate.STRICT.readTree(UnfitFileException.readWhole(file, FlagFormat.MAX_FILE_BYTES));
        } catch (IOException e) {
            return null;
        }
        boolean aFlag = node instanceof ObjectNode && !node.has("formatVersion") && !node.has("flags")
                && (node.has("key") || node.has("enabled") || node.has("rules"));
        return aFlag ? (ObjectNode) node : null;
    }

    /**
     * Reads a flag file; a missing file, or a path that is no regular file (a directory, a device, a named pipe), is a
     * usage error (2), an unreadable one a failure (1).
     */
    static FlagSet readFlagFile(Path file) {
        FlagFormat.FlagFile parsed = parseFlagFile(file);
        return FlagSet.of(parsed.flags(), parsed.roleGrants(), 0);
    }

    /** Reads a flag file's flags in the file's order, without the checks across flags that {@link FlagSet#of} makes. */
    static FlagFormat.FlagFile parseFlagFile(Path file) {
        try {
            return FlagFormat.readFile(UnfitFileException.readWhole(file, FlagFormat.MAX_FILE_BYTES));
        } catch (NoSuchFileException e) {
            throw new CliException(EXIT_USAGE, "no such file: " + file);
        } catch (IOException e) {
            CliException notAFile = notARegularFile(file, "a flag file");
            if (notAFile != null) {
                throw notAFile;
            }
            throw new CliException(EXIT_FAILED, "cannot read " + file + ": " + e.getMessage());
        }
    }

    /**
     * What to say of a path given as a file that could not be read: a directory, a device ({@code /dev/null}), a named
     * pipe or a socket is bad usage (2), as a file that is not there is, told from its attributes alone: a named pipe
     * is never opened, which would block the command until a writer came. A device or a pipe was a failure (1), and
     * scripts could not tell it from a file they may mend (QA90 O7).
     *
     * @param file the path given
     * @param give what to give instead, such as {@code "a flag file"}
     * @return the usage error to throw, or null if the path is a regular file (or is not there): the read's own failure
     *     is what to say then
     */
    static CliException notARegularFile(Path file, String give) {
        if (Files.isDirectory(file)) {
            return new CliException(EXIT_USAGE, file + " is a directory; give " + give);
        }
        if (Files.isRegularFile(file) || !Files.exists(file)) {
            return null;
        }
        return new CliException(EXIT_USAGE, file + " is not a regular file (" + kindOfFile(file) + "); give " + give);
    }

    /** @return what a path that is neither a regular file nor a directory is, from its mode where the system says it */
    private static String kindOfFile(Path file) {
        int type;
        try {
            type = (Integer) Files.getAttribute(file, "unix:mode") & 0170000; // its S_IFMT bits
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException | ClassCastException e) {
            type = 0; // no unix view of the file (another system): said in general
        }
        return switch (type) {
            case 0010000 -> "a named pipe";
            case 0020000 -> "a character device";
            case 0060000 -> "a block device";
            case 0140000 -> "a socket";
            default -> "a device, a named pipe or a socket";
        };
    }

    @Command(name = "eval", description = "Evaluate a flag of a flag file for a user (no server), and say why.")
    static final class Eval implements Callable<Integer> {
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "FILE", description = "A flag file (as flags export writes it).") Path file;
        @Parameters(index = "1", paramLabel = "FLAG", description = "The flag's key.") String flag;
        @Parameters(index = "2", paramLabel = "USER-JSON", description = "The user, e.g. '{\"id\": \"u-42\", \"region\": \"eu-west\"}';"
                + " - for standard input.")
        String user;
        @Option(names = "--explain", description = "Say step by step why, as text (as `flags evaluate --explain`).")
        boolean explain;

        @Override
        public Integer call() {
            FlagSet set;
            try {
                set = readFlagFile(file);
            } catch (FlagValidationException e) {
                throw new CliException(EXIT_FAILED, file + " is not valid; run: flags validate " + file);
            }
            User u = user(userFirst(user, flag, "flags eval " + file + " " + oneLine(user) + " '" + oneLine(flag) + "'"));
            // The evaluator answers an unknown flag with false and flagVersion -1, as an application needs; here it is
            // a typo or the wrong file, and a script checking the exit code must not take it for an answer.
            if (set.flag(flag).isEmpty()) {
                java.util.TreeSet<String> keys = new java.util.TreeSet<>();
                set.flags().forEach(f -> keys.add(f.key()));
                throw new CliException(EXIT_FAILED, "there is no flag \"" + oneLine(flag) + "\" in " + file
                        + dev.flags.core.Suggestions.closest(flag, keys, 2).map(near -> "; did you mean \"" + oneLine(near)
                        + "\"?").orElse(""));
            }
            if (explain) {
                printExplanation(spec, FlagFormat.toJson(set.explain(flag, u)));
                return EXIT_OK;
            }
            Evaluation e = set.evaluate(flag, u);
            ObjectNode n = FlagFormat.toJson(e);
            print(spec, n);
            return EXIT_OK;
        }
    }

    /** A decimal number argument, or a usage error that names it and shows the expected form. */
    static double number(String text, String what, String example) {
        try {
            double value = Double.parseDouble(text.strip());
            if (Double.isFinite(value) && text.strip().matches("[-+]?[0-9.eE+-]+")) {
                return value;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw new CliException(EXIT_USAGE, what + " must be a number, " + example + ", was '" + text + "'");
    }

    /**
     * USER-JSON, parsed; when it is not JSON and the flag argument is, the two were swapped (flags evaluate takes the
     * user first, flags eval the flag first): the error says so, with the command in the right order.
     *
     * @param meant the command as it should have been typed
     */
    private static JsonNode userFirst(String user, String flag, String meant) {
        try {
            return parseJson(user, "USER-JSON");
        } catch (CliException e) {
            if (flag != null && flag.strip().startsWith("{") && !user.strip().startsWith("{")) {
                throw new CliException(EXIT_USAGE, "USER-JSON is not valid JSON, and FLAG looks like JSON: swapped? "
                        + meant);
            }
            throw e;
        }
    }

    private static JsonNode parseJson(String text, String what) {
        if (text.equals("-")) { // as FILE of flags put: standard input
            try {
                byte[] in = System.in.readNBytes(FlagFormat.MAX_FILE_BYTES + 1);
                if (in.length > FlagFormat.MAX_FILE_BYTES) {
                    throw new CliException(EXIT_USAGE, what + " on standard input is over " + FlagFormat.MAX_FILE_BYTES + " bytes");
                }
                text = new String(in, java.nio.charset.StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new CliException(EXIT_FAILED, "cannot read " + what + " from standard input: " + e.getMessage());
            }
        }
        try {
            JsonNode node = FlagFormat.readTree(Api.INPUT, text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            if (!node.isObject()) {
                throw new CliException(EXIT_USAGE, what + " must be a JSON object, such as '{\"id\": \"u-42\"}'");
            }
            return node;
        } catch (JsonProcessingException e) {
            throw new CliException(EXIT_USAGE, what + " is not valid JSON" + FlagFormat.jsonErrorLocation(e) + ": "
                    + FlagFormat.jsonErrorMessage(e));
        } catch (IOException e) {
            throw new CliException(EXIT_USAGE, what + " is not valid JSON: " + e.getMessage());
        }
    }

    /** The same user shape as the server's playground: id, roles, region, attributes. */
    static User user(JsonNode node) {
        try {
            return FlagFormat.readUser(node);
        } catch (IllegalArgumentException e) {
            throw new CliException(EXIT_USAGE, "USER-JSON: " + e.getMessage());
        }
    }
}
