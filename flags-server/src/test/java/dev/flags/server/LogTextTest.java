package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** What makes text unfit for a name or for free text, and how a log line shows it: by code point, beyond U+FFFF too. */
class LogTextTest {

    private static final String TAG_A = new String(Character.toChars(0xE0041)); // invisible TAG LATIN CAPITAL LETTER A
    private static final String ROCKET = new String(Character.toChars(0x1F680));

    @Test
    void invisibleCharactersBeyondTheBasicPlaneAreUnfitForANameAndEscapedWhole() {
        assertThat(LogText.unfitForName("abc" + TAG_A + "d")).isEqualTo(3);
        assertThat(LogText.unfitForName("ab" + new String(Character.toChars(0xE0001)) + "cd")).isEqualTo(2);
        assertThat(LogText.unfitForName("launch " + ROCKET)).as("an emoji is a fine character").isEqualTo(-1);
        assertThat(LogText.escape("abc" + TAG_A + "d")).as("both halves, never a lone one").isEqualTo("abc\\udb40\\udc41d");
        assertThat(LogText.escape("go " + ROCKET)).isEqualTo("go " + ROCKET);
        assertThat(LogText.escape("a\ud800b")).isEqualTo("a\\ud800b");
        assertThat(LogText.escape("bo\u3164b")).as("a Hangul filler shows as nothing: written so").isEqualTo("bo\\u3164b");
    }

    @Test
    void freeTextTakesLineBreaksAndTabsButNotOtherControlsOrHalfCharacters() {
        assertThat(LogText.unfitForText("line one\n\tline two " + ROCKET)).isEqualTo(-1);
        assertThat(LogText.unfitForText("red \u001b[31m")).isEqualTo(4);
        assertThat(LogText.unfitForText("a\u061cb")).isEqualTo(1);
        assertThat(LogText.unfitForText("a\udc00")).isEqualTo(1);
    }
}
