package dev.flags.server.journal;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
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
 * record and checkpoint, reports damage with file and byte offset, and says what each repair would
 * keep and cost; {@code repair --cut-at-damage} cuts the journal at the first damage and sets
 * everything after it aside ({@code --discard-checkpoint-state} too when that sets aside a sound
 * checkpoint); {@code repair --from-checkpoint} keeps the newest sound checkpoint's state and sets
 * aside the segments that cannot follow it.
 *
 * <p>Both commands take the directory's lock, so they refuse to run while a server has the journal
 * open. Exit codes: 0 clean (or repaired), 1 damage found (or left), 2 usage error, 3 the directory
 * is in use or cannot be read. See {@code docs/journal.md} for the exact command.
 *
 * <pre>{@code
 * java -cp flags-server/target/flags-server.jar dev.flags.server.journal.JournalTool verify data/journal
 * }</pre>
 */
@Command(name = "journal-tool", mixinStandardHelpOptions = true, versionProvider = JournalTool.Version.class,
        description = "Verifies or repairs a flag server journal directory.",
        subcommands = {JournalTool.Verify.class, JournalTool.Repair.class})
public final class JournalTool implements Callable<Integer> {

    /** What {@code -V} prints: the release of the server the tool comes with (the same as {@code flags-server -V}). */
    static final String VERSION = "journal-tool (flags-server " + dev.flags.server.FlagServer.build() + ")";

    /** {@code -V}: {@link #VERSION}. */
    static final class Version implements picocli.CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {VERSION};
        }
    }

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
     * @param args {@code verify DIR}, {@code repair DIR --cut-at-damage [--discard-checkpoint-state]} or {@code
     *     repair DIR --from-checkpoint}
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
            line.getErr().println("error: " + describe(e));
            return UNAVAILABLE;
        });
        return cli.execute(args);
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return USAGE;
    }

    /**
     * Says why a file could not be used: a file system exception's message is often only the path.
     */
    static String describe(Throwable e) {
        if (e instanceof FileSystemException fs && fs.getReason() == null) {
            String why = fs instanceof AccessDeniedException
                    ? "permission denied: run the tool as the service user, the one the server runs as, which owns the journal"
                    : fs instanceof NoSuchFileException ? "no such file or directory"
                    : fs.getClass().getSimpleName();
            return fs.getFile() + (fs.getOtherFile() == null ? "" : " (and " + fs.getOtherFile() + ")") + ": " + why;
        }
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }

    private static void warnIfNotTheOwner(Path dir, PrintWriter err) {
        String owner = FileAccess.ownerOf(dir);
        if (owner == null) {
            return; // nothing to compare with
        }
        String warning = ownerWarning(dir, owner, System.getProperty("user.name", "?"));
        if (warning != null) {
            err.println(warning);
        }
    }

    /**
     * A warning when the tool runs as another user than the journal's owner (root, say): the files it
     * creates ({@code journal.lock}, a repair's) are then that user's, and a server running as the owner
     * cannot start until they are given back.
     *
     * @return the warning, or null when the tool runs as the owner
     */
    static String ownerWarning(Path dir, String owner, String user) {
        if (owner.equals(user)) {
            return null;
        }
        return "warning: " + dir + " belongs to " + owner + ", but this tool runs as " + user + ": the files it creates"
                + " (journal.lock, and what a repair writes) will belong to " + user + ", and a server running as " + owner
                + " will not start until they are given back ('chown -R " + owner + " " + ToolCommand.quote(dir.toString())
                + "'); run the tool as " + owner + ", the service user";
    }

    /**
     * Why a path cannot be the journal's directory before anything else is looked at (it is a file, or
     * is not there), with the exit code to give, or null if it is a directory.
     */
    private static int notADirectory(Path dir, PrintWriter err) {
        if (Files.isRegularFile(dir)) {
            Path parent = dir.toAbsolutePath().getParent();
            boolean journalFile = Segments.firstSequenceOf(dir) >= 0 || Checkpoints.sequenceOf(dir) >= 0;
            err.println("error: " + dir + " is a file, not a directory: give the journal's directory, the server's"
                    + " <data-dir>/journal" + (journalFile && parent != null ? " (this file's is " + parent + ")" : ""));
            return USAGE;
        }
        if (!Files.isDirectory(dir)) {
            err.println("error: no such directory: " + dir);
            return UNAVAILABLE;
        }
        return CLEAN;
    }

    /** Not thread-safe. {@code verify DIR}. */
    @Command(name = "verify", mixinStandardHelpOptions = true, versionProvider = JournalTool.Version.class,
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
            int notADirectory = notADirectory(dir, spec.commandLine().getErr());
            if (notADirectory != CLEAN) {
                return notADirectory;
            }
            String notAJournal = notAJournal(dir);
            if (notAJournal != null) {
                spec.commandLine().getErr().println("error: " + notAJournal);
                return USAGE;
            }
            warnIfNotTheOwner(dir, spec.commandLine().getErr());
            try (DirectoryLock lock = DirectoryLock.acquireForTool(dir, "journal tool verify", true)) {
                if (lock.holderLineFailure() != null) {
                    // Only the refusal message of another process misses it; verify reads, so it goes on.
                    spec.commandLine().getErr().println("note: " + lock.holderLineFailure() + " (a full disk?); verify"
                            + " holds the journal's lock without it and goes on");
                }
                JournalVerifier.Report report = JournalVerifier.verify(dir);
                sayUnclosed(lock, out);
                report.lines().forEach(out::println);
                String aside = JournalVerifier.setAsideNote(dir);
                if (aside != null) {
                    out.println(aside);
                }
                int result = summarize(out, report);
                if (result == CLEAN && report.firstSequence() > 1 && aside == null) {
                    // The state is whole (a checkpoint covers the gap), but the history and audit of those entries are
                    // gone: on purpose with --journal-retention, or a segment lost (a backup that missed one), which this
                    // tool cannot tell. (A repair that set them aside says so above instead.)
                    out.println("note: the journal starts at sequence " + report.firstSequence() + ": entries 1.."
                            + (report.firstSequence() - 1) + " (their history and audit log) are not here. That is expected"
                            + " if the server runs with --journal-retention; if it does not, a segment is missing: restore it"
                            + " from a backup (see docs/journal.md)");
                }
                return result;
            } catch (JournalLockedException e) {
                spec.commandLine().getErr().println("error: " + e.getMessage());
                return UNAVAILABLE;
            }
        }
    }

    /**
     * The command line that runs this tool from the jar this code was loaded from, for messages an operator pastes.
     *
     * @param command {@code verify} or {@code repair}
     * @param dir the journal's directory
     * @param options the options after it
     * @return {@code java -cp /path/flags-server.jar dev.flags.server.journal.JournalTool COMMAND DIR OPTIONS}, quoted
     *     for a shell where needed
     */
    public static String commandLine(String command, Path dir, String... options) {
        return ToolCommand.journalTool(command, dir, options);
    }

    /** Says that the journal's last holder did not close it (a server killed), as the server's next start says it too. */
    private static void sayUnclosed(DirectoryLock lock, PrintWriter out) {
        if (lock.unclosedBy() != null) {
            out.println("note: the journal's last holder (" + lock.unclosedBy() + ") did not close it: it was killed,"
                    + " crashed, or its machine stopped; a torn last record, if any, is said below");
        }
    }

    /** What to do with a journal of a newer format: the same words from verify and from a refused repair. */
    static final String NEWER_RELEASE = "verify and run it with that release (this one cannot read it, and a repair"
            + " would set its sound entries aside)";

    /** Not thread-safe. {@code repair DIR --cut-at-damage} or {@code repair DIR --from-checkpoint}. */
    @Command(name = "repair", mixinStandardHelpOptions = true, versionProvider = JournalTool.Version.class,
            description = "With --cut-at-damage: cuts the journal at its first damage. With --from-checkpoint: keeps"
                    + " the newest sound checkpoint's state and sets aside the segments that cannot follow it. What"
                    + " leaves the journal is moved to DIR/damaged-<time>/; nothing is deleted. 'verify DIR' says what"
                    + " each costs.")
    static final class Repair implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "DIR", description = "the journal's directory: the server's <data-dir>/journal")
        Path dir;

        @Option(names = "--cut-at-damage",
                description = "cut at the first damage: agree that entries from there on leave the journal")
        boolean cutAtDamage;

        @Option(names = "--discard-checkpoint-state",
                description = "also agree that a cut sets aside sound checkpoints after it, and with them acknowledged"
                        + " state (verify says which and what the state goes back to)")
        boolean discardCheckpointState;

        @Option(names = "--from-checkpoint",
                description = "instead of a cut: keep the newest sound checkpoint's state, and agree that the history"
                        + " before the segments that can follow it leaves the journal")
        boolean fromCheckpoint;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        @SuppressWarnings("try") // the lock is held for the block, not used in it
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            if (cutAtDamage == fromCheckpoint) {
                err.println("error: repair needs " + (cutAtDamage ? "only one of " : "") + "--cut-at-damage (it removes"
                        + " every entry from the first damage on from the journal) or --from-checkpoint (it keeps the"
                        + " newest sound checkpoint's state and removes the history it cannot keep); what leaves the"
                        + " journal is kept aside, not deleted, and 'verify DIR' says what each costs");
                return USAGE;
            }
            if (discardCheckpointState && !cutAtDamage) {
                err.println("error: --discard-checkpoint-state goes with --cut-at-damage only");
                return USAGE;
            }
            int notADirectory = notADirectory(dir, err);
            if (notADirectory != CLEAN) {
                return notADirectory;
            }
            String notAJournal = notAJournal(dir);
            if (notAJournal != null) {
                err.println("error: " + notAJournal);
                return USAGE;
            }
            warnIfNotTheOwner(dir, err);
            try (DirectoryLock lock = DirectoryLock.acquireForTool(dir, "journal tool repair", false)) {
                JournalVerifier.Report report = JournalVerifier.verify(dir);
                sayUnclosed(lock, out);
                report.lines().forEach(out::println);
                if (!report.newerFormat().isEmpty()) {
                    // A cut would set a newer release's sound entries aside, and this release cannot merge them back.
                    err.println("error: not repaired, nothing changed: " + report.newerFormat().get(0).file().getFileName()
                            + " is of a format a newer release writes; " + NEWER_RELEASE);
                    return DAMAGED;
                }
                if (fromCheckpoint) {
                    return repairFromCheckpoint(report, out, err);
                }
                if (report.missingStart() != null) {
                    err.println("error: cannot repair by cutting, nothing changed: " + report.missingStart()
                            + "; " + report.restoreAdvice());
                    return DAMAGED;
                }
                String refusal = report.cutRefusal();
                if (refusal != null) {
                    err.println("error: cannot repair by cutting, nothing changed: " + refusal + "; "
                            + report.restoreAdvice() + (report.offersFromCheckpoint() ? ", or run 'repair DIR"
                                    + " --from-checkpoint' to keep the state (" + report.fromCheckpointCost() + ")" : ""));
                    return DAMAGED;
                }
                List<Long> lost = report.checkpointsACutSetsAside();
                if (!lost.isEmpty() && !discardCheckpointState) {
                    // A checkpoint may be the only copy of acknowledged state (its segments gone): never set
                    // it aside on the strength of --cut-at-damage alone.
                    err.println("error: not repaired, nothing changed: the cut would set aside " + checkpointNames(lost)
                            + ", which " + (lost.size() == 1 ? "holds" : "hold") + " acknowledged state up to sequence "
                            + lost.get(0) + " (" + report.cutCost() + "); " + report.restoreAdvice() + " to keep it"
                            + (report.offersFromCheckpoint() ? ", or run 'repair DIR --from-checkpoint' to keep the state ("
                                    + report.fromCheckpointCost() + ")" : "")
                            + ", or add --discard-checkpoint-state to cut anyway (what is set aside is moved to"
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

        private int repairFromCheckpoint(JournalVerifier.Report report, PrintWriter out, PrintWriter err) throws IOException {
            if (report.clean() && report.tornTail() == null) {
                out.println("nothing to repair");
                return summarize(out, report);
            }
            String refusal = report.fromCheckpoint().refusal();
            if (refusal != null) {
                err.println("error: cannot repair from a checkpoint, nothing changed: " + refusal);
                return DAMAGED;
            }
            out.println("keeping the checkpoint's state: " + report.fromCheckpointCost());
            JournalVerifier.repairFromCheckpoint(dir, report, Clock.systemUTC()).forEach(line -> out.println("repair: " + line));
            return summarize(out, JournalVerifier.verify(dir));
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
            out.println("ok: " + FileJournal.count(report.segments().size(), "segment", "segments") + ", "
                    + FileJournal.count(report.entries(), "entry", "entries") + ", last sequence " + report.lastSequence()
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
            summarizeFromCheckpoint(out, report);
            return DAMAGED;
        }
        List<Long> lost = report.checkpointsACutSetsAside();
        if (report.damages().isEmpty() && report.missingStart() == null && lost.isEmpty()) {
            // Only checkpoints are damaged: a checkpoint is a shortcut, the segments hold every entry.
            out.println("problems found: only " + (report.badCheckpoints().size() == 1 ? "a checkpoint is" : "checkpoints are")
                    + " damaged; the segments are sound, so nothing is lost: the server skips a damaged checkpoint at open"
                    + " (replaying from an older one, or from the first segment) and writes a new one at its next stop."
                    + " 'repair DIR --cut-at-damage' sets " + (report.badCheckpoints().size() == 1 ? "it" : "them")
                    + " aside in DIR/damaged-<time>/ now, cutting no entry (see docs/journal.md)");
            return DAMAGED;
        }
        out.println("problems found: 'repair DIR --cut-at-damage" + (lost.isEmpty() ? "" : " --discard-checkpoint-state")
                + "' cuts the journal at the first damage and sets unusable files aside in DIR/damaged-<time>/"
                + " (see docs/journal.md)");
        if (report.cutLosesEntries()) {
            // What a cut costs, before anyone agrees to it: restoring the damaged file may cost nothing.
            out.println(report.cutCost() + "; restoring " + report.toRestore() + " from a backup may keep them all");
        } else if (report.damageHoldsNoEntries()) {
            out.println(report.cutCost());
        }
        if (!lost.isEmpty()) {
            out.println("a cut also sets aside " + checkpointNames(lost) + ", which " + (lost.size() == 1 ? "holds" : "hold")
                    + " acknowledged state up to sequence " + lost.get(0) + ": repair does that only with"
                    + " --discard-checkpoint-state");
        }
        summarizeFromCheckpoint(out, report);
        return DAMAGED;
    }

    /** When a cut would lose the newest checkpoint's state: whether, and at what cost, a repair can keep it. */
    private static void summarizeFromCheckpoint(PrintWriter out, JournalVerifier.Report report) {
        if (report.offersFromCheckpoint()) {
            out.println("'repair DIR --from-checkpoint' keeps the state instead: " + report.fromCheckpointCost());
        } else if (report.fromCheckpoint().checkpoint() < 0 && !report.soundCheckpoints().isEmpty()
                && report.soundCheckpoints().get(0) > report.lastSequence()) {
            out.println("'repair DIR --from-checkpoint' cannot keep the state either: " + report.fromCheckpoint().refusal());
        }
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
