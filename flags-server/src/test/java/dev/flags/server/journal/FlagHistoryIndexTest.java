package dev.flags.server.journal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The positions of each flag's changes: in order, older ones put in front, pruned by retention. */
class FlagHistoryIndexTest {

    @Test
    void positionsComeBackInJournalOrderPerEnvironmentAndFlagWithTheOlderOnesInFront() {
        FlagHistoryIndex index = new FlagHistoryIndex(); // what the writer adds after the open: 3 .. 13
        for (long seq = 3; seq <= 12; seq++) {
            index.add(seq % 2 == 0 ? "prod" : "staging", "billing-v2", seq, 100 * seq);
        }
        index.add("prod", "other", 13, 1300);
        assertThat(index.positions("prod", "billing-v2")).containsExactly(4, 400, 6, 600, 8, 800, 10, 1000, 12, 1200);
        assertThat(index.positions("staging", "other")).isEmpty();
        assertThat(index.changes()).isEqualTo(11);

        FlagHistoryIndex older = new FlagHistoryIndex(); // what the journal held at the open: 1 .. 2
        older.add("prod", "billing-v2", 1, 24);
        older.add("prod", "old", 2, 48);
        index.addAllBefore(older);
        assertThat(index.positions("prod", "billing-v2")).containsExactly(1, 24, 4, 400, 6, 600, 8, 800, 10, 1000, 12, 1200);
        assertThat(index.positions("prod", "old")).containsExactly(2, 48);
        assertThat(index.changes()).isEqualTo(13);
    }

    @Test
    void retentionDropsWhatItDeletedAndTheIndexGoesOnGrowing() {
        FlagHistoryIndex index = new FlagHistoryIndex();
        for (long seq = 1; seq <= 20; seq++) {
            index.add("prod", seq <= 5 ? "gone" : "kept", seq, seq * 10);
        }
        index.removeBefore(8);
        assertThat(index.positions("prod", "gone")).isEmpty();
        assertThat(index.positions("prod", "kept")).startsWith(8, 80).endsWith(20, 200).hasSize(26);
        assertThat(index.changes()).isEqualTo(13);
        index.add("prod", "kept", 21, 210);
        index.add("prod", "gone", 22, 220);
        assertThat(index.positions("prod", "kept")).endsWith(20, 200, 21, 210).hasSize(28);
        assertThat(index.positions("prod", "gone")).containsExactly(22, 220);
        index.removeBefore(1);
        assertThat(index.changes()).as("nothing before 1").isEqualTo(15);
    }
}
