package dev.flags.server.journal;

import java.nio.file.Path;

/** Child JVM for {@link LockTest}: tries to open a journal and says what happened. */
final class LockChild {

    private LockChild() {}

    public static void main(String[] args) {
        try (FileJournal journal = FileJournal.builder(Path.of(args[0])).open()) {
            System.out.println("opened at sequence " + journal.lastSequence());
        } catch (JournalLockedException e) {
            System.out.println("refused: " + e.getMessage());
            System.exit(3);
        }
    }
}
