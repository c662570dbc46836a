package dev.flags.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flags.server.ApiException;
import jakarta.servlet.http.HttpServletRequest;
import java.lang.reflect.Proxy;
import org.junit.jupiter.api.Test;

/**
 * The parsing of a query string on its own: what the real container refuses before the API sees it (a
 * malformed %-escape, raw non-ASCII) must still be a clear 400 here, should another container pass it on.
 * The request is a stand-in that answers only its method and query string.
 */
class QueryParametersParseTest {

    private static HttpServletRequest request(String query) {
        return (HttpServletRequest) Proxy.newProxyInstance(HttpServletRequest.class.getClassLoader(),
                new Class<?>[] {HttpServletRequest.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "getQueryString" -> query;
                    case "getMethod" -> "GET";
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    @Test
    void namesAndValuesAreDecodedStrictlyAsUtf8AndReadFromTheQueryStringAlone() {
        HttpServletRequest req = QueryParameters.queryOnly(request("flag=caf%C3%A9+au+lait&&empty&flag=second"));

        assertThat(req.getParameter("flag")).isEqualTo("café au lait");
        assertThat(req.getParameterValues("flag")).containsExactly("café au lait", "second");
        assertThat(req.getParameter("empty")).isEmpty();
        assertThat(req.getParameter("absent")).isNull();
        assertThat(req.getParameterMap()).containsOnlyKeys("flag", "empty");
    }

    @Test
    void aMalformedEscapeRawNonAsciiOrBytesThatAreNotUtf8AreEachAClear400() {
        assertProblem("a%zz=1", "the query parameter name \"a%zz\" has a malformed %-escape");
        assertProblem("flag=abc%", "the value of query parameter \"flag\" (\"abc%\") has a malformed %-escape");
        assertProblem("flag=caf\u00e9", "the value of query parameter \"flag\" (\"caf\u00e9\") is not %-encoded");
        assertProblem("flag=%ff", "the value of query parameter \"flag\" (\"%ff\") is not UTF-8 once %-decoded");
    }

    private static void assertProblem(String query, String detail) {
        assertThatThrownBy(() -> QueryParameters.queryOnly(request(query)))
                .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.status()).isEqualTo(400))
                .hasMessage(detail + "; send text as UTF-8, %-encoded");
    }
}
