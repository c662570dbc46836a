package dev.flags.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.client.Flags;
import dev.flags.client.testing.TestFlags;
import dev.flags.examples.billing.BillingApp;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The billing service's {@code /health} over real HTTP, with test flags instead of a server. */
class HealthServletTest {

    private BillingApp app;

    @AfterEach
    void stop() {
        if (app != null) {
            app.close();
        }
    }

    private HttpResponse<String> health() throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + app.port()
                + "/health")).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void saysTheSdksHealthAndVersionAsPlainTextInUtf8() throws Exception {
        app = BillingApp.start(0, TestFlags.create().enable("billing-v2"));
        HttpResponse<String> r = health();
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("UP: in memory: version 1 (flags version 1)\n");
        assertThat(r.headers().firstValue("Content-Type")).as("a charset, not the client's guess")
                .hasValueSatisfying(t -> assertThat(t.toLowerCase(java.util.Locale.ROOT).replace(" ", ""))
                        .isEqualTo("text/plain;charset=utf-8"));
    }

    @Test
    void aChangeThatLandsWhileTheHealthIsReadDoesNotMakeTheVersionDisagreeWithTheStatusLine() throws Exception {
        TestFlags flags = TestFlags.create().enable("billing-v2");
        AtomicBoolean changed = new AtomicBoolean();
        // An SDK whose flags change right after its first health is read: as a change from the server can land
        // between the servlet's reads.
        Flags changing = afterEachHealthRead(flags, () -> {
            if (changed.compareAndSet(false, true)) {
                flags.disable("billing-v2"); // version 2
            }
        });
        app = BillingApp.start(0, changing);
        HttpResponse<String> r = health();
        assertThat(changed).as("the change landed while the answer was made").isTrue();
        assertThat(r.body()).as("one view: the status line's version and the one in parentheses agree")
                .isEqualTo("UP: in memory: version 2 (flags version 2)\n");
    }

    @Test
    void changesThatKeepLandingAreReadAgainABoundedNumberOfTimesThenTheStatusLineIsAnsweredAlone() throws Exception {
        TestFlags flags = TestFlags.create().enable("billing-v2");
        AtomicInteger healthReads = new AtomicInteger();
        Flags changing = afterEachHealthRead(flags, () -> {
            healthReads.incrementAndGet();
            flags.setJson("{\"key\": \"f-" + healthReads.get() + "\", \"enabled\": true}"); // after every read
        });
        app = BillingApp.start(0, changing);
        HttpResponse<String> r = health();
        assertThat(healthReads).as("read again, but not without end").hasValue(10);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).as("no version beside the status line's, which may be older").isEqualTo("UP: in memory: version 10\n");
    }

    /** @return {@code flags}, but each {@code health()} read runs {@code change} once it has its answer */
    private static Flags afterEachHealthRead(Flags flags, Runnable change) {
        return (Flags) Proxy.newProxyInstance(Flags.class.getClassLoader(), new Class<?>[] {Flags.class},
                (proxy, method, args) -> {
                    Object result;
                    try {
                        result = method.invoke(flags, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                    if (method.getName().equals("health")) {
                        change.run();
                    }
                    return result;
                });
    }
}
