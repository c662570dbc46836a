package dev.flags.server.journal;

import java.nio.file.Path;
import java.time.Duration;

/**
 * Writes the golden journal of format version 1: every entry type three times over, in 4 KiB
 * segments, with a checkpoint after the first round and one at close. Deterministic (fixed clock,
 * canonical JSON, sorted checkpoints), so the same code always writes the same bytes.
 *
 * <p>Run {@code main} only to create the golden files of a NEW format version (in a new folder);
 * never to overwrite an old version's files.
 */
final class GoldenJournal {

    static final String RESOURCE = "/journal/golden-v1";
    static final int ROUNDS = 3;

    private GoldenJournal() {}

    static void write(Path dir) {
        MutableClock clock = new MutableClock(Fixtures.T0);
        try (FileJournal journal = FileJournal.builder(dir).clock(clock).segmentSize(4096)
                .checkpointInterval(1_000_000).open()) {
            for (int round = 0; round < ROUNDS; round++) {
                for (Change change : RoundTripTest.goldenTypes()) {
                    clock.advance(Duration.ofSeconds(1));
                    journal.append(RoundTripTest.renamed(change, round).withComment(
                            change.comment().isEmpty() ? "round " + round : change.comment()));
                }
                if (round == 0) {
                    journal.checkpoint();
                }
            }
        }
    }

    public static void main(String[] args) {
        write(Path.of(args[0]));
    }
}
