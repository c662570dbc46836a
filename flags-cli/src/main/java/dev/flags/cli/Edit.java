package dev.flags.cli;

import static dev.flags.cli.FlagsCommand.EXIT_FAILED;
import static dev.flags.cli.FlagsCommand.EXIT_OK;
import static dev.flags.cli.FlagsCommand.EXIT_USAGE;
import static dev.flags.cli.FlagsCommand.oneLine;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code flags edit FLAG}: the flag's document in the user's editor, written back as {@code flags put} writes a file. The
 * rules, variants and attributes that no other command changes, without a copy to keep track of: the document keeps its
 * {@code version}, so an edit made while someone else changed the flag is refused (412), not written over their change.
 * An edit the server or the format refuses goes back to the editor with the reason on top, as {@code kubectl edit} does
 * (at a terminal, or with {@code --reopen}); given up, or without a terminal, it is kept in its file, for
 * {@code flags put} once it is mended.
 */
@Command(name = "edit", description = "Edit a flag's document in your editor ($VISUAL, else $EDITOR, else vi), then write it"
        + " as `flags put` does: only if the flag is still at the version you opened. A refused edit opens again with the"
        + " reason on top; given up, it is kept in its file.")
final class Edit implements Callable<Integer> {

    @Mixin FlagsCommand.ServerOptions o;
    @Mixin FlagsCommand.CommentOption why;
    @Mixin SdkWait.WaitOption waitForSdks;
    @Spec CommandSpec spec;
    @Parameters(index = "0", paramLabel = "FLAG", description = "The flag's key.") String flag;
    @Option(names = "--editor", paramLabel = "COMMAND", description = "The editor to run, with the file's path after it (such"
            + " as \"code --wait\"); default: $VISUAL, else $EDITOR, else vi.")
    String editor;
    @Option(names = "--reopen", negatable = true, description = "Open the editor again after a refused edit (not JSON, or"
            + " rules the server refuses), with the reason on top, until it is written or given up; default: when input and"
            + " output are a terminal.")
    Boolean reopen;

    @Override
    public Integer call() {
        String command = editorCommand(editor, System::getenv, System.console() != null);
        Duration wait = SdkWait.timeout(spec, waitForSdks); // a bad --wait is said before the editor opens
        boolean mayReopen = reopen != null ? reopen : System.console() != null;
        Api api = o.api(spec);
        JsonNode current = api.call("GET", o.flagPath(flag), null, null);
        long version = current.path("version").asLong();
        String opened = FlagsCommand.terminalJson(current) + "\n";
        Path file = fileFor(opened);
        String given = opened; // the document as the editor last had it, without the lines of a refusal on top
        String refusal = null; // why the document as given was refused, if it was
        while (true) {
            int exit = run(command, file);
            if (exit != 0 && refusal != null) { // a reopened round: kept as every other kept edit, without the notes
                write(file, withoutNotes(read(file)));
                throw new CliException(EXIT_FAILED, "the editor (" + oneLine(command) + ") exited with " + exit + ": nothing"
                        + " was written; your edit is kept: flags put " + flag + " " + file + " writes it once it is mended");
            }
            if (exit != 0) {
                throw new CliException(EXIT_FAILED, "the editor (" + oneLine(command) + ") exited with " + exit + ": nothing"
                        + " was written; the document is in " + file);
            }
            String edited = withoutNotes(read(file));
            if (edited.equals(given) && refusal == null) {
                spec.commandLine().getErr().println("flags: the document is as it was: nothing was written");
                delete(file);
                // As a flag that already was so: the SDKs are waited for at the flag's version.
                return wait == null ? EXIT_OK : SdkWait.await(spec, api, o.environment(), version, wait);
            }
            if (edited.isBlank()) { // as an emptied commit message does for git: the way to change one's mind in the editor
                delete(file);
                throw new CliException(EXIT_FAILED, "the document was emptied, which abandons the edit: nothing was written");
            }
            write(file, edited); // without the refusal's lines: what flags put reads, and what is kept
            if (edited.equals(given)) { // given back as it was refused: the way to give up at a refusal
                throw new CliException(EXIT_FAILED, refusal + "; the edit was saved as it was, not mended: nothing was"
                        + " written; your edit is kept: flags put " + flag + " " + file + " writes it once it is mended");
            }
            refusal = mendableRefusal(edited, file, version, api, mayReopen);
            if (refusal == null) {
                break;
            }
            given = edited;
            write(file, notes(refusal) + edited);
        }
        delete(file);
        // Written over the version opened (If-Match): if the server found nothing changed, that version is the flag's still.
        long made = api.lastEnvironmentVersion();
        return wait == null ? EXIT_OK : SdkWait.await(spec, api, o.environment(), made > 0 ? made : version, wait);
    }

    /**
     * Writes the edited document as {@code flags put} does, over the version opened.
     *
     * @return null once written; why it was refused, if the edit is to be mended in the editor (a document the format or
     *         the server refuses, with {@code mayReopen})
     * @throws CliException for any other failure, or any refusal without {@code mayReopen}, saying where the edit is kept
     */
    private String mendableRefusal(String edited, Path file, long version, Api api, boolean mayReopen) {
        JsonNode key = keyOf(edited);
        if (key != null && !(key.isTextual() && key.asText().equals(flag))) {
            String refusal = "the document's \"key\" was changed to " + oneLine(key.toString()) + ": an edit changes the flag"
                    + " it opened, \"" + oneLine(flag) + "\"";
            if (mayReopen) {
                return refusal;
            }
            throw new CliException(EXIT_FAILED, refusal + "; nothing was written; your edit is kept in " + file + " (to make"
                    + " another flag from it, give it that key and flags put KEY " + file + ")");
        }
        FlagsCommand.Put put = new FlagsCommand.Put();
        put.o = o;
        put.why = why;
        put.spec = spec;
        put.flag = flag;
        put.file = file.toString();
        put.openedVersion = version; // whatever the document's "version" says now: its user may have taken it out
        put.api = api; // no --wait of its own: a wait that fails must not read as a refused edit, kept for flags put
        try {
            FlagsCommand.Put.document(edited, file.toString(), flag); // the format's refusals, told from the network's
        } catch (CliException e) {
            return refused(e, file, mayReopen, true);
        }
        try {
            put.call();
            return null;
        } catch (CliException e) {
            if (e.httpStatus() == 412) {
                throw new CliException(EXIT_FAILED, "flag \"" + oneLine(flag) + "\" changed while the editor was open (it was"
                        + " at version " + version + "; someone else's change, such as a kill switch, must not be written"
                        + " over): nothing was written; your edit is kept in " + file + ": flags edit " + flag + " again to"
                        + " make it on the flag as it is now", e.httpStatus(), e.title());
            }
            if (aboutTheComment(e)) {
                // The document is not at fault: reopened, it would be "mended" in vain, and the way out is another -m.
                throw new CliException(EXIT_FAILED, "the server refused the comment (-m), not the document: " + e.getMessage()
                        + "; nothing was written; your edit is kept: flags put " + flag + " " + file + " -m \"...\" writes it"
                        + " with another comment", e.httpStatus(), e.title());
            }
            // The server's validation refuses what the document says; not the token's, the network's or the server's fault.
            return refused(e, file, mayReopen, MENDABLE.contains(e.httpStatus()));
        }
    }

    /** @return the refusal's words, to mend in the editor; else throws it, saying where the edit is kept */
    private String refused(CliException e, Path file, boolean mayReopen, boolean documentsFault) {
        if (mayReopen && documentsFault) {
            return e.getMessage();
        }
        throw new CliException(e.exitCode(), e.getMessage() + "; your edit is kept: flags put " + flag + " " + file
                + (documentsFault ? " writes it once it is mended" : " writes it, once that is put right"), e.httpStatus(),
                e.title());
    }

    /**
     * Whether a refusal is of the write's comment (a token in it, a control character, too long), which the server says in
     * a 400 as a document's faults are (QA71 F7).
     */
    static boolean aboutTheComment(CliException e) {
        return e.httpStatus() == 400 && (e.getMessage().startsWith("the comment ") || e.getMessage().startsWith("comment "));
    }

    /** The server's answers that refuse a document for what it says: bad request, too large, unprocessable. */
    private static final java.util.Set<Integer> MENDABLE = java.util.Set.of(400, 413, 422);

    /** The first lines of a document given back after a refusal: why, and what to do. */
    static String notes(String refusal) {
        String instructions = wrapped("Mend the document below and save it to try again. To give up, save it as it is (it"
                + " is kept for flags put) or empty it. These lines at the top, which start with " + NOTE.strip() + ", are"
                + " left out of what is written.");
        // A JSON error's line is the document's: in the file the editor shows, it is below these lines (QA55 F3).
        String reason = refusal;
        for (int tries = 0; tries < 3; tries++) {
            String notes = reasonLines(reason) + instructions;
            int shift = (int) notes.lines().count();
            String shifted = shiftLine(refusal, shift);
            if (shifted.equals(reason)) {
                return notes;
            }
            reason = shifted;
        }
        return reasonLines(reason) + instructions;
    }

    /** The refusal as notes: one paragraph for each of its lines (a server lists one problem a line), each wrapped. */
    private static String reasonLines(String refusal) {
        StringBuilder b = new StringBuilder();
        boolean first = true;
        for (String line : refusal.split("\n")) {
            if (!line.isBlank()) {
                b.append(wrapped((first ? "flags edit: not written: " : "") + oneLine(line.strip())));
                first = false;
            }
        }
        return b.toString();
    }

    private static final java.util.regex.Pattern JSON_LINE = java.util.regex.Pattern.compile("\\(line (\\d+), column ");

    /** @return the text with its first "(line N, column" at N + shift */
    private static String shiftLine(String text, int shift) {
        java.util.regex.Matcher m = JSON_LINE.matcher(text);
        if (!m.find()) {
            return text;
        }
        return text.substring(0, m.start(1)) + (Long.parseLong(m.group(1)) + shift) + text.substring(m.end(1));
    }

    /** @return the text as lines of notes, broken at spaces, of {@value #NOTE_WIDTH} characters at most where it can */
    private static String wrapped(String text) {
        StringBuilder b = new StringBuilder();
        StringBuilder line = new StringBuilder(NOTE);
        for (String word : text.split(" ")) {
            if (line.length() + word.length() > NOTE_WIDTH && line.length() > NOTE.length()) {
                b.append(line.toString().stripTrailing()).append('\n');
                line = new StringBuilder(NOTE);
            }
            line.append(word).append(' ');
        }
        return b.append(line.toString().stripTrailing()).append('\n').toString();
    }

    /** How a line of {@link #notes} starts; no JSON document does. */
    static final String NOTE = "// ";
    private static final int NOTE_WIDTH = 100;

    /** @return the document without the lines of notes on top (a byte-order mark before them goes too) */
    static String withoutNotes(String text) {
        String rest = text.startsWith("\uFEFF") && text.substring(1).stripLeading().startsWith("//") ? text.substring(1) : text;
        while (rest.stripLeading().startsWith("//")) {
            int end = rest.indexOf('\n');
            rest = end < 0 ? "" : rest.substring(end + 1);
        }
        return rest;
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (java.nio.file.NoSuchFileException e) {
            delete(file);
            throw new CliException(EXIT_FAILED, "the editor removed the document it was given: nothing was written");
        } catch (IOException e) { // no longer UTF-8, say: flags put would say the same of it
            throw new CliException(EXIT_FAILED, "cannot read the edited document " + file + ": " + e.getMessage()
                    + "; nothing was written");
        }
    }

    private static void write(Path file, String text) {
        try {
            Files.writeString(file, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CliException(EXIT_FAILED, "cannot write the edited document " + file + ": " + e.getMessage()
                    + "; nothing was written");
        }
    }

    /** @return the edited document's "key", or null if it has none or is not JSON (flags put says what is wrong then) */
    private static JsonNode keyOf(String edited) {
        try {
            return dev.flags.core.FlagFormat.readTree(Api.INPUT, edited.getBytes(java.nio.charset.StandardCharsets.UTF_8)).get("key");
        } catch (java.io.IOException e) {
            return null;
        }
    }

    /**
     * The editor to run, decided before anything is read, so that a command line that cannot edit says so first.
     *
     * @param option {@code --editor}, or null
     * @param environment the process's environment variables
     * @param terminal whether the command runs at a terminal
     */
    static String editorCommand(String option, java.util.function.UnaryOperator<String> environment, boolean terminal) {
        for (String candidate : new String[] {option, environment.apply("VISUAL"), environment.apply("EDITOR")}) {
            if (candidate != null && !candidate.isBlank()) {
                return candidate.strip();
            }
        }
        if (!terminal) { // a script or a pipe: vi would wait for a terminal that is not there
            throw new CliException(EXIT_USAGE, "no editor: set VISUAL or EDITOR, or give --editor (flags show and flags put"
                    + " do the same without one)");
        }
        return "vi";
    }

    /** A file only its owner can read (a flag's rules may name users), in a directory of its own, named after the flag. */
    private Path fileFor(String document) {
        try {
            Path dir = Files.createTempDirectory("flags-edit-"); // owner-only on POSIX systems
            // The key is the server's (a flag that exists): letters, digits, '.', '_' and '-' only, fit for a file name.
            Path file = dir.resolve(flag + ".json");
            if (dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
                // Owner-only itself too: a refused edit is kept in it, and may be moved out of its directory.
                Files.createFile(file, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                        java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
            }
            Files.writeString(file, document, StandardCharsets.UTF_8);
            return file;
        } catch (IOException e) {
            throw new CliException(EXIT_FAILED, "cannot write the document to edit in the temporary directory: " + e.getMessage());
        }
    }

    /**
     * Runs the editor on the file with the terminal's input and output, as git does: through the shell, so that
     * "code --wait" or an editor with options works as the user would type it.
     */
    private static int run(String command, Path file) {
        boolean windows = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows");
        List<String> argv = windows ? List.of("cmd", "/c", command + " \"" + file + "\"")
                : List.of("sh", "-c", command + " \"$1\"", "flags-edit", file.toString());
        try {
            return new ProcessBuilder(argv).inheritIO().start().waitFor();
        } catch (IOException e) {
            throw new CliException(EXIT_FAILED, "cannot start the editor (" + oneLine(command) + "): " + e.getMessage()
                    + "; nothing was written, the document is in " + file);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException(EXIT_FAILED, "interrupted while the editor was open: nothing was written; the document is"
                    + " in " + file);
        }
    }

    private static void delete(Path file) {
        try {
            Files.deleteIfExists(file);
            Files.deleteIfExists(file.getParent());
        } catch (java.nio.file.DirectoryNotEmptyException e) {
            // An editor's backup beside it (file~): the system's temporary directory cleans up after it.
        } catch (IOException e) {
            // A temporary file left behind (an editor's backup beside it, say) is the system's to clean up.
        }
    }
}
