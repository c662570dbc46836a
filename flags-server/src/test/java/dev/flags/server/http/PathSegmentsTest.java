package dev.flags.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flags.server.ApiException;
import org.junit.jupiter.api.Test;

class PathSegmentsTest {

    @Test
    void aSegmentIsPercentDecodedAsUtf8WithPlusLeftAPlus() {
        assertThat(PathSegments.decode("org%2F42")).isEqualTo("org/42");
        assertThat(PathSegments.decode("a%5cb")).isEqualTo("a\\b");
        assertThat(PathSegments.decode("a+b%20c")).isEqualTo("a+b c");
        assertThat(PathSegments.decode("caf%C3%A9%F0%9F%9A%80")).isEqualTo("café\uD83D\uDE80");
        assertThat(PathSegments.decode("plain")).isEqualTo("plain");
        assertThat(PathSegments.decode("x;y")).isEqualTo("x;y");
    }

    @Test
    void anEmptySegmentIsA400NotAnotherResourceAndATrailingSlashIsNoSegment() {
        assertThat(PathSegments.split("/environments/prod/flags/")).containsExactly("environments", "prod", "flags");
        assertThat(PathSegments.split("/environments")).containsExactly("environments");
        assertThat(PathSegments.split("/")).isEmpty();
        assertThat(PathSegments.split("")).isEmpty();
        for (String bad : new String[] {"/environments//flags/", "/environments/prod/flags//archive", "//environments"}) {
            assertThatThrownBy(() -> PathSegments.split(bad)).as(bad).isInstanceOf(ApiException.class)
                    .hasMessageStartingWith("the path has an empty segment")
                    .satisfies(e -> assertThat(((ApiException) e).status()).isEqualTo(400));
        }
    }

    @Test
    void aSegmentLongerThanAnyIdIsA400ThatDoesNotEchoIt() {
        String id = "u".repeat(PathSegments.MAX_SEGMENT);
        assertThat(PathSegments.split("/environments/prod/roles/beta/members/" + id)).endsWith(id);
        assertThatThrownBy(() -> PathSegments.split("/environments/prod/flags/" + "k".repeat(1_000_000)))
                .isInstanceOf(ApiException.class).hasMessage("a path segment is at most 4096 characters (a key is at most 128, a"
                        + " user id 1024), this one has 1000000");
        assertThatThrownBy(() -> PathSegments.split("/environments/" + "x".repeat(100_000) + "%zz"))
                .hasMessageContaining("malformed percent-escape").message().hasSizeLessThan(300);
    }

    @Test
    void aMalformedEscapeOrBytesThatAreNotUtf8AreA400() {
        for (String bad : new String[] {"bad%zz", "bad%2", "bad%", "%G0"}) {
            assertThatThrownBy(() -> PathSegments.decode(bad)).as(bad).isInstanceOf(ApiException.class)
                    .hasMessageContaining("malformed percent-escape")
                    .satisfies(e -> assertThat(((ApiException) e).status()).isEqualTo(400));
        }
        assertThatThrownBy(() -> PathSegments.decode("bad%C3")).hasMessageContaining("does not decode as UTF-8");
        assertThatThrownBy(() -> PathSegments.decode("%FF")).hasMessageContaining("does not decode as UTF-8");
    }
}
