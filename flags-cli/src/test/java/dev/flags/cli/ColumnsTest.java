package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** How many terminal cells text takes, as terminals count them. */
class ColumnsTest {

    @Test
    void latinTextTakesACellPerLetterAndEastAsianWideCharactersTwo() {
        assertThat(Columns.width("alice (tok-1a2b)")).isEqualTo(16);
        assertThat(Columns.width("山田太郎")).as("CJK ideographs").isEqualTo(8);
        assertThat(Columns.width("やまだ")).as("Hiragana").isEqualTo(6);
        assertThat(Columns.width("김민준")).as("Hangul syllables").isEqualTo(6);
        assertThat(Columns.width("ＡＢ")).as("fullwidth forms").isEqualTo(4);
        assertThat(Columns.width("🚀 launch")).as("an emoji, outside the BMP").isEqualTo(9);
        assertThat(Columns.width("𠀋")).as("CJK extension B, outside the BMP").isEqualTo(2);
        assertThat(Columns.width("Ωmega ünïcode")).as("narrow letters of other scripts").isEqualTo(13);
    }

    @Test
    void combiningMarksAndZeroWidthCharactersTakeNone() {
        assertThat(Columns.width("e\u0301")).as("e and a combining acute accent").isEqualTo(1);
        assertThat(Columns.width("a\u200Bb\u200Dc")).as("zero width space and joiner").isEqualTo(3);
        assertThat(Columns.width("\u1100\u1161\u11A8")).as("a Hangul syllable of conjoining Jamo").isEqualTo(2);
    }

    @Test
    void anEmojiSequenceTakesTheTwoCellsOfThePictureTerminalsDraw() {
        assertThat(Columns.width("👍🏽")).as("with a skin tone").isEqualTo(2);
        assertThat(Columns.width("👩\u200D💻")).as("joined by a zero width joiner").isEqualTo(2);
        assertThat(Columns.width("❤\uFE0F")).as("a narrow symbol shown as an emoji").isEqualTo(2);
        assertThat(Columns.width("❤")).as("the same symbol as text").isEqualTo(1);
        assertThat(Columns.width("a\u200Db")).as("a joiner between letters joins nothing a terminal draws").isEqualTo(2);
    }

    @Test
    void padFillsUpToTheWidthInCellsAndLeavesWiderTextAsItIs() {
        assertThat(Columns.pad("山田", 6)).isEqualTo("山田  ");
        assertThat(Columns.pad("bob", 6)).isEqualTo("bob   ");
        assertThat(Columns.pad("山田太郎", 6)).isEqualTo("山田太郎");
    }
}
