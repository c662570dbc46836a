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
