package dev.flags.server.journal;

import static dev.flags.server.journal.Fixtures.createEnvironment;
import static dev.flags.server.journal.Fixtures.createFlag;
import static dev.flags.server.journal.Fixtures.updateFlag;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * QA91 F1: a batch's state and the durable end its reads stop at are published to readers as one. Published one after
 * the other, a reader between the two (the sync thread preempted there: the hook stands for that moment) was shown a
 * state whose newest entries no read returned: {@code lastSequence} was behind it, {@code read} returned nothing at the
 * state's sequence, and the history of a flag ended a version before the flag it was shown (and {@code stateAt}, which
 * replays up to that end, could rebuild an older state than it was asked for, without a word).
 */
class PublicationTest {

    @TempDir
    Path dir;

    @Test
    void everyStateAReaderIsShownHasItsEntriesReadable() {
        AtomicReference<FileJournal> open = new AtomicReference<>();
        List<String> problems = new CopyOnWriteArrayList<>();
        FileJournal.Hooks hooks = new FileJournal.Hooks() {
            @Override
            public void published() {
                FileJournal journal = open.get();
                if (journal == null) {
                    return;
                }
                ServerState state = journal.state();
                long sequence = state.sequence();
                if (journal.lastSequence() != sequence) {
                    problems.add("state at " + sequence + ", lastSequence " + journal.lastSequence());
                }
                if (journal.read(sequence, 1).size() != 1) {
                    problems.add("state at " + sequence + ", but no entry " + sequence + " to read");
                }
                long version = state.environment("prod").orElseThrow().version();
                List<JournalEntry> history = journal.history("prod", "a", Long.MAX_VALUE, 1);
                if (history.isEmpty() || history.get(0).version() != version) {
                    problems.add("state at version " + version + ", history of the flag it changed ends at "
                            + (history.isEmpty() ? "nothing" : "version " + history.get(0).version()));
                }
                if (sequence > 2 && journal.stateAt(sequence - 1).sequence() != sequence - 1) {
                    problems.add("stateAt(" + (sequence - 1) + ") rebuilt an older state");
                }
            }
        };
        try (FileJournal journal = FileJournal.builder(dir).hooks(hooks).open()) {
            journal.append(createEnvironment("prod"));
            journal.append(createFlag("prod", "a"));
            open.set(journal);
            for (int i = 0; i < 4; i++) {
                journal.append(updateFlag("prod", "a", i % 2 == 0));
            }
        }
        assertThat(problems).isEmpty();
    }
}
