package dev.flags.server.journal;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * Not thread-safe. The operator's command line for a journal directory: {@code verify} reads every
 * record and checkpoint and reports damage with file and byte offset; {@code repair
 * --cut-at-damage} cuts the journal at the first damage and sets everything after it aside.
 *
 * <p>Both commands take the directory's lock, so they refuse to run while a server has the journal
 * open. Exit codes: 0 clean (or repaired), 1 damage found (or left), 2 usage error, 3 the directory
 * is in use or cannot be read. See {@code docs/journal.md} for the exact command.
 *
 * <pre>{@code
 * java -cp flags-server/target/flags-server.jar dev.flags.server.journal.JournalTool verify data/journal
 * }</pre>
 */
@Command(name = "journal-tool", mixinStandardHelpOptions = true,
        description = "Verifies or repairs a flag server journal directory.",
        subcommands = {JournalTool.Verify.class, JournalTool.Repair.class})
public final class JournalTool implements Callable<Integer> {

    static final int CLEAN = 0;
    static final int DAMAGED = 1;
    static final int USAGE = 2;
    static final int UNAVAILABLE = 3;

    @Spec
    CommandLine.Model.CommandSpec spec;

    JournalTool() {}

    /**
     * Runs the tool and exits the JVM with its exit code.
     *
     * @param args {@code verify DIR} or {@code repair DIR --cut-at-damage}
     */
    public static void main(String... args) {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Runs the tool with the given output streams and returns the exit code. */
    static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new JournalTool());
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((e, line, parsed) -> {
            line.getErr().println("error: " + e.getMessage());
            return UNAVAILABLE;
        });
        return cli.execute(args);
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return USAGE;
    }

    /** Not thread-safe. {@code verify DIR}. */
    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = "Reads every record and checkpoint; reports damage with file and byte offset.")
    static final class Verify implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "DIR", description = "the journal's directory: the server's <data-dir>/journal")
        Path dir;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        @SuppressWarnings("try") // the lock is held for the block, not used in it
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            if (!Files.isDirectory(dir)) {
                spec.commandLine().getErr().println("error: no such directory: " + dir);
                return UNAVAILABLE;
            }
            String notAJournal = notAJournal(dir);
            if (notAJournal != null) {
                spec.commandLine().getErr().println("error: " + notAJournal);
                return USAGE;
            }
            try (DirectoryLock lock = DirectoryLock.acquire(dir)) {
                JournalVerifier.Report report = JournalVerifier.verify(dir);
                report.lines().forEach(out::println);
                return summarize(out, report);
            } catch (JournalLockedException e) {
                spec.commandLine().getErr().println("error: " + e.getMessage());
                return UNAVAILABLE;
            }
        }
    }

    /** What to do with a journal of a newer format: the same words from verify and from a refused repair. */
    static final String NEWER_RELEASE = "verify and run it with that release (this one cannot read it, and a repair"
            + " would set its sound entries aside)";

    /** Not thread-safe. {@code repair DIR --cut-at-damage}. */
    @Command(name = "repair", mixinStandardHelpOptions = true,
            description = "Cuts the journal at its first damage; moves everything after it, and any"
                    + " unusable checkpoint, to DIR/damaged-<time>/. Nothing is deleted.")
    static final class Repair implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "DIR", description = "the journal's directory: the server's <data-dir>/journal")
        Path dir;

        @Option(names = "--cut-at-damage",
                description = "required: agree that entries from the first damage on leave the journal")
        boolean cutAtDamage;

        @Option(names = "--discard-checkpoint-state",
                description = "also agree that a cut sets aside sound checkpoints after it, and with them acknowledged"
                        + " state (verify says which and what the state goes back to)")
        boolean discardCheckpointState;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        @SuppressWarnings("try") // the lock is held for the block, not used in it
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            if (!cutAtDamage) {
                err.println("error: repair needs --cut-at-damage: it removes every entry from the first"
                        + " damage on from the journal (they are kept aside, not deleted)");
                return USAGE;
            }
            if (!Files.isDirectory(dir)) {
                err.println("error: no such directory: " + dir);
                return UNAVAILABLE;
            }
            String notAJournal = notAJournal(dir);
            if (notAJournal != null) {
                err.println("error: " + notAJournal);
                return USAGE;
            }
            try (DirectoryLock lock = DirectoryLock.acquire(dir)) {
                JournalVerifier.Report report = JournalVerifier.verify(dir);
                report.lines().forEach(out::println);
                if (!report.newerFormat().isEmpty()) {
                    // A cut would set a newer release's sound entries aside, and this release cannot merge them back.
                    err.println("error: not repaired, nothing changed: " + report.newerFormat().get(0).file().getFileName()
                            + " is of a format a newer release writes; " + NEWER_RELEASE);
                    return DAMAGED;
                }
                if (report.missingStart() != null) {
                    err.println("error: cannot repair by cutting, nothing changed: " + report.missingStart()
                            + "; " + report.restoreAdvice());
                    return DAMAGED;
                }
                String refusal = report.cutRefusal();
                if (refusal != null) {
                    err.println("error: cannot repair by cutting, nothing changed: " + refusal + "; "
                            + report.restoreAdvice());
                    return DAMAGED;
                }
                List<Long> lost = report.checkpointsACutSetsAside();
                if (!lost.isEmpty() && !discardCheckpointState) {
                    // A checkpoint may be the only copy of acknowledged state (its segments gone): never set
                    // it aside on the strength of --cut-at-damage alone.
                    err.println("error: not repaired, nothing changed: the cut would set aside " + checkpointNames(lost)
                            + ", which " + (lost.size() == 1 ? "holds" : "hold") + " acknowledged state up to sequence "
                            + lost.get(0) + " (" + report.cutCost() + "); " + report.restoreAdvice() + " to keep it, or"
                            + " add --discard-checkpoint-state to cut anyway (what is set aside is moved to"
                            + " DIR/damaged-<time>/, not deleted)");
                    return DAMAGED;
                }
                List<String> done = JournalVerifier.repair(dir, report, Clock.systemUTC());
                if (done.isEmpty()) {
                    out.println("nothing to repair");
                } else {
                    done.forEach(line -> out.println("repair: " + line));
                }
                JournalVerifier.Report after = JournalVerifier.verify(dir);
                return summarize(out, after);
            } catch (JournalLockedException e) {
                err.println("error: " + e.getMessage());
                return UNAVAILABLE;
            }
        }
    }

    /**
     * Why a directory is not a journal (it holds neither segments nor checkpoints), or null. Checked
     * before the lock is taken, so that a mistyped directory gets no lock file and no "ok".
     */
    static String notAJournal(Path dir) throws IOException {
        if (!Segments.list(dir).isEmpty() || !Checkpoints.list(dir).isEmpty()) {
            return null;
        }
        if (Files.isDirectory(dir.resolve("journal"))) {
            return dir + " holds no journal; a server's journal is in its data directory's journal/: "
                    + dir.resolve("journal");
        }
        return dir + " holds no journal (no segment or checkpoint files)";
    }

    private static int summarize(PrintWriter out, JournalVerifier.Report report) {
        if (report.clean()) {
            out.println("ok: " + report.segments().size() + " segments, " + report.entries()
                    + " entries, last sequence " + report.lastSequence()
                    + (report.tornTail() != null ? " (a torn tail will be cut at the next open)" : ""));
            return CLEAN;
        }
        for (JournalVerifier.Finding f : report.damages()) {
            out.println(f.kind().label + f);
        }
        for (JournalVerifier.Finding f : report.badCheckpoints()) {
            out.println(f.kind().label + f);
        }
        if (report.missingStart() != null) {
            out.println("damaged: " + report.missingStart());
        }
        if (!report.newerFormat().isEmpty()) {
            out.println("written by a newer release: " + NEWER_RELEASE);
            return DAMAGED;
        }
        String refusal = report.missingStart() != null ? report.missingStart().reason() : report.cutRefusal();
        if (refusal != null) {
            // Never recommend a repair that would refuse: say why it cannot help and what can.
            out.println("problems found: 'repair DIR --cut-at-damage' cannot repair this journal: " + refusal
                    + "; " + report.restoreAdvice() + " (see docs/journal.md)");
            return DAMAGED;
        }
        List<Long> lost = report.checkpointsACutSetsAside();
        out.println("problems found: 'repair DIR --cut-at-damage" + (lost.isEmpty() ? "" : " --discard-checkpoint-state")
                + "' cuts the journal at the first damage and sets unusable files aside in DIR/damaged-<time>/"
                + " (see docs/journal.md)");
        if (report.cutLosesEntries()) {
            // What a cut costs, before anyone agrees to it: restoring the damaged file may cost nothing.
            out.println(report.cutCost() + "; restoring " + report.toRestore() + " from a backup may keep them all");
        }
        if (!lost.isEmpty()) {
            out.println("a cut also sets aside " + checkpointNames(lost) + ", which " + (lost.size() == 1 ? "holds" : "hold")
                    + " acknowledged state up to sequence " + lost.get(0) + ": repair does that only with"
                    + " --discard-checkpoint-state");
        }
        return DAMAGED;
    }

    /** The checkpoint files of these sequences, for messages. */
    static String checkpointNames(List<Long> sequences) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < sequences.size(); i++) {
            b.append(i == 0 ? "" : i == sequences.size() - 1 ? " and " : ", ").append(Checkpoints.fileName(sequences.get(i)));
        }
        return b.toString();
    }
}
