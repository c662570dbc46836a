package dev.flags.examples;

import static org.assertj.core.api.Assertions.assertThatCode;

import dev.flags.client.testing.TestFlags;
import dev.flags.examples.billing.BillingApp;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

/** Stopping the billing service: its port and its SDK, however many times it is asked to. */
class BillingAppCloseTest {

    @Test
    void closingTwiceIsClosingOnce() throws Exception {
        TestFlags flags = TestFlags.create();
        BillingApp app = BillingApp.start(0, flags);
        int port = app.port();
        app.close();
        // A try-with-resources and a shutdown hook, say: the second threw a NullPointerException from the servlet
        // container, and whatever a caller closed after it (the demo's flag server) stayed open (QA90 F5).
        assertThatCode(app::close).doesNotThrowAnyException();
        HttpRequest health = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build();
        assertThatCode(() -> HttpClient.newHttpClient().send(health, HttpResponse.BodyHandlers.discarding()))
                .as("the port is closed").isInstanceOf(ConnectException.class);
    }
}
