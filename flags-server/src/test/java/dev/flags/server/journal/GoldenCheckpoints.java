package dev.flags.server.journal;

import static dev.flags.server.journal.Fixtures.json;
import static dev.flags.server.journal.Fixtures.role;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes the golden checkpoints of format versions 2 and 3 (QA89: version 2's layout grew twice without a new number,
 * unnoticed, because only version 1 had golden files): the golden journal's changes, then an expiring grant, a
 * self-service role's longest grant and schedules of every end, and a checkpoint (version 2); then an environment
 * deleted for good, and the checkpoint of the close (version 3). Deterministic (fixed clock, canonical JSON, sorted
 * checkpoints), so the same code always writes the same bytes.
 *
 * <p>Run {@code main} only to create the golden files of a NEW format version (in a new folder); never to overwrite
 * an old version's files.
 */
final class GoldenCheckpoints {

    static final String RESOURCE = "/journal/golden-checkpoints";

    private GoldenCheckpoints() {}

    /** The changes up to the version-2 checkpoint. */
    static List<Change> versionTwo() {
        List<Change> changes = new ArrayList<>(RoundTripTest.goldenTypes());
        changes.add(Change.of(EntryType.ROLE_MARKED_SELF_SERVICE, "staging", "bob",
                json("{\"role\":\"beta\",\"maxGrantDuration\":\"P7D\"}")));
        changes.add(Change.of(EntryType.ROLE_GRANTED, "staging", "bob",
                json("{\"user\":\"u-3\",\"role\":\"beta\",\"expiresAt\":\"2026-12-31T18:00:00Z\"}")));
        changes.addAll(RoundTripTest.scheduleTypes("staging"));
        changes.add(RoundTripTest.schedule("staging", "sch-000000000004", "promo", "{\"enabled\":false}")
                .withComment("still pending"));
        return changes;
    }

    /** The changes after the version-2 checkpoint, up to the version-3 one. */
    static List<Change> versionThree() {
        return List.of(
                Fixtures.createEnvironment("pr-7"),
                role(EntryType.ROLE_GRANTED, "pr-7", "u-1", "beta"),
                Change.of(EntryType.ENVIRONMENT_ARCHIVED, "pr-7", "admin", json("{}")),
                Change.of(EntryType.ENVIRONMENT_DELETED, "pr-7", "admin", json("{\"reason\":\"preview merged\"}")));
    }

    static void write(Path dir) {
        MutableClock clock = new MutableClock(Fixtures.T0);
        try (FileJournal journal = FileJournal.builder(dir).clock(clock).checkpointInterval(1_000_000).open()) {
            for (Change change : versionTwo()) {
                clock.advance(Duration.ofSeconds(1));
                journal.append(change);
            }
            journal.checkpoint();
            for (Change change : versionThree()) {
                clock.advance(Duration.ofSeconds(1));
                journal.append(change);
            }
        } // the close writes the version-3 checkpoint
    }

    public static void main(String[] args) {
        write(Path.of(args[0]));
    }
}
