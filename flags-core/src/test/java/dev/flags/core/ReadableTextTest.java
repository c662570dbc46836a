package dev.flags.core;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** What counts as a token pasted into text. */
class ReadableTextTest {

    /** The shape of a real token: flg_ and 43 characters of base64url. */
    private static final String TOKEN = "flg_" + "Ab3-_".repeat(8) + "Zz9";

    @Test
    void aTokenIsFoundWhateverComesBeforeOrAfterIt() {
        assertThat(TOKEN).hasSize(47);
        for (String text : new String[] {TOKEN, "rotated " + TOKEN + ".", "k-" + TOKEN, TOKEN + "x", TOKEN + "_v2",
                TOKEN + "-", "x" + TOKEN + "x"}) {
            assertThat(ReadableText.holdsAToken(text)).as(text).isTrue();
        }
    }

    @Test
    void textThatOnlyStartsLikeATokenIsText() {
        assertThat(ReadableText.holdsAToken("flg_short")).isFalse();
        assertThat(ReadableText.holdsAToken("flg_" + "a".repeat(42))).as("42 characters").isFalse();
        assertThat(ReadableText.holdsAToken("flg_" + "a".repeat(20) + " " + "a".repeat(23))).isFalse();
        assertThat(ReadableText.holdsAToken(null)).isFalse();
    }

    @Test
    void quotedTextShowsNoToken() {
        assertThat(ReadableText.quoted("k-" + TOKEN + " \"x\"")).isEqualTo("\"k-flg_*** \\\"x\\\"\"");
        assertThat(ReadableText.quoted(TOKEN, 20)).isEqualTo("\"flg_***\"");
        assertThat(ReadableText.quoted("production")).isEqualTo("\"production\"");
    }
}
