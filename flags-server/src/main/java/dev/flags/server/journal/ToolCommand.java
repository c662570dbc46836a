package dev.flags.server.journal;

import java.net.URISyntaxException;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.regex.Pattern;

/**
 * Immutable (stateless). The command line that runs {@link JournalTool}, for the messages that tell an
 * operator to run it: with the path of the jar this code was loaded from, so that the command can be
 * pasted on a deployed host, where the jar is not in a build's {@code flags-server/target/}.
 */
final class ToolCommand {

    /** The jar as a build leaves it: said when this code does not run from a jar (tests, an IDE). */
    static final String BUILT_JAR = "flags-server/target/flags-server.jar";

    /** The tool's class ({@link JournalTool}), by name: this class loads nothing else, so it can say where it runs from anywhere. */
    static final String MAIN_CLASS = "dev.flags.server.journal.JournalTool";

    /** Words a POSIX shell takes as they are; anything else is quoted. */
    private static final Pattern PLAIN = Pattern.compile("[A-Za-z0-9_./:@%+=,-]+");

    private ToolCommand() {}

    /**
     * Returns the command that runs the tool, without its arguments.
     *
     * @return {@code java -cp <jar> dev.flags.server.journal.JournalTool}
     */
    static String journalTool() {
        return "java -cp " + quote(jar()) + " " + MAIN_CLASS;
    }

    /**
     * Returns the journal tool's command with its arguments, each quoted for a shell as needed.
     *
     * @param command {@code verify} or {@code repair}
     * @param dir the journal's directory
     * @param options the options that follow it
     * @return the whole command line
     */
    static String journalTool(String command, Path dir, String... options) {
        StringBuilder line = new StringBuilder(journalTool()).append(' ').append(command).append(' ')
                .append(quote(dir.toString()));
        for (String option : options) {
            line.append(' ').append(option);
        }
        return line.toString();
    }

    /** The absolute path of the jar this class was loaded from, or {@link #BUILT_JAR} if it was not loaded from one. */
    static String jar() {
        try {
            CodeSource source = ToolCommand.class.getProtectionDomain().getCodeSource();
            if (source != null && source.getLocation() != null) {
                Path path = Path.of(source.getLocation().toURI()).toAbsolutePath();
                if (Files.isRegularFile(path) && path.getFileName().toString().endsWith(".jar")) {
                    return path.toString();
                }
            }
        } catch (URISyntaxException | IllegalArgumentException | FileSystemNotFoundException | SecurityException e) {
            // not a file on the default file system: the build's path is the best advice left
        }
        return BUILT_JAR;
    }

    /** Quotes a word for a POSIX shell when it needs it: {@code it's} becomes {@code 'it'\''s'}. */
    static String quote(String word) {
        if (PLAIN.matcher(word).matches()) {
            return word;
        }
        return "'" + word.replace("'", "'\\''") + "'";
    }
}
