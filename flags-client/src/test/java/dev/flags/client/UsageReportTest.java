package dev.flags.client;

import static dev.flags.client.Fixtures.doc;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flags.core.User;
import dev.flags.protocol.v1.FlagUsage;
import dev.flags.protocol.v1.UsageReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Usage reports through the public API, against {@link ScriptedSyncServer} on a real loopback port:
 * what an application that runs for less than a period (a job, a test) sends when it closes. The
 * periodic reports, failures and limits are {@code UsageReporterTest}'s.
 */
class UsageReportTest {

    private static final String TOKEN = "flg_sdk_usage-secret-token";
    private static final Duration WAIT = Duration.ofSeconds(10);

    @RegisterExtension
    final LogCapture logs = new LogCapture();

    @TempDir
    Path tmp;

    private static Flags.Builder client(ScriptedSyncServer server) {
        return server.client(TOKEN);
    }

    private static Flags live(ScriptedSyncServer server, Flags.Builder builder) throws Exception {
        Flags flags = builder.build();
        server.awaitSubscription().snapshot(3, doc("billing-v2", true, 1), doc("dark", false, 1), doc("untouched", true, 1));
        assertThat(flags.awaitReady(WAIT)).isTrue();
        return flags;
    }

    @Test
    void closingSendsWhatWasEvaluatedWithTheAnswersTheApplicationNameAndTheToken() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start()) {
            Flags flags = live(server, client(server).application("checkout"));
            User user = User.withId("u-1");
            flags.isEnabled("billing-v2", user);
            flags.isEnabled("dark", user);
            flags.evaluate("dark", user);
            flags.isEnabled("nobody-made-this", user);
            flags.variant("nobody-made-this", user);
            flags.isEnabled("Not a key!", user); // no flag can have it: not reported
            flags.close();

            // Usually one report, sent by close(); on a machine slow enough for this test to take 5 s, the first
            // periodic report may have come before it with part of the marks: together they say the same.
            List<ScriptedSyncServer.Report> received = new ArrayList<>();
            received.add(server.awaitReport());
            received.addAll(server.reportsReceived());
            Set<FlagUsage> evaluated = new HashSet<>();
            Set<String> unknown = new HashSet<>();
            for (ScriptedSyncServer.Report r : received) {
                UsageReport report = r.report();
                assertThat(r.authorization()).isEqualTo("Bearer " + TOKEN);
                assertThat(report.getEnvironment()).isEqualTo("production");
                assertThat(report.getApplication()).isEqualTo("checkout");
                assertThat(report.getSdk()).isEqualTo("flags-java/" + System.getProperty("flags.projectVersion")
                    + (dev.flags.core.Build.commit().equals(dev.flags.core.Build.UNKNOWN) ? "" : "+" + dev.flags.core.Build.commit()));
                assertThat(report.getPeriodEndMillis()).isGreaterThanOrEqualTo(report.getPeriodStartMillis());
                evaluated.addAll(report.getFlagsList());
                unknown.addAll(report.getUnknownFlagsList());
            }
            assertThat(evaluated).containsExactlyInAnyOrder(
                    FlagUsage.newBuilder().setKey("billing-v2").setServedTrue(true).build(),
                    FlagUsage.newBuilder().setKey("dark").setServedFalse(true).build());
            assertThat(unknown).as("a key the SDK does not have: a typo, or a flag archived too soon")
                    .containsExactly("nobody-made-this");
        }
        assertThat(logs.text()).doesNotContain(TOKEN).doesNotContain("usage");
    }

    @Test
    void aCloseOnAnInterruptedThreadStillSaysGoodbyeSendsTheLastReportAndWritesTheCacheFile() throws Exception {
        // A worker told to stop closes the SDK in its finally, with its interrupt set: the goodbye and the last report (a
        // blocking gRPC call, a wait for a report on its way) gave up at once, and the last cache write failed with a WARN.
        Path cache = tmp.resolve("flags.cache");
        try (ScriptedSyncServer server = ScriptedSyncServer.start()) {
            Flags flags = live(server, client(server).cacheFile(cache));
            flags.isEnabled("billing-v2", User.withId("u-1"));
            Thread.currentThread().interrupt();
            try {
                flags.close();
            } finally {
                assertThat(Thread.interrupted()).as("the application's interrupt is left set").isTrue();
            }
            List<FlagUsage> sent = new ArrayList<>(server.awaitReport().report().getFlagsList());
            server.reportsReceived().forEach(r -> sent.addAll(r.report().getFlagsList()));
            assertThat(sent).contains(FlagUsage.newBuilder().setKey("billing-v2").setServedTrue(true).build());
            ScriptedSyncServer.Ack ack;
            do {
                ack = server.awaitAck(); // the acknowledgement of version 3 may come first
            } while (!ack.ack().getClosing());
            assertThat(ack.ack().getVersion()).isEqualTo(3);
            assertThat(Files.readString(cache)).contains("version: 3");
        }
        assertThat(logs.text()).doesNotContain("cannot write cache file").doesNotContain("ClosedByInterruptException");
    }

    @Test
    void aSecondCloseOnAnotherThreadWaitsForTheFirstToSendTheLastReport() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start()) {
            Flags flags = live(server, client(server));
            flags.isEnabled("billing-v2", User.withId("u-1"));
            server.holdReports(); // the last report's answer never comes: close() waits for it up to its deadline, 1 s
            Thread first = new Thread(flags::close, "first-close");
            first.start();
            server.awaitReport();
            AtomicBoolean secondReturned = new AtomicBoolean();
            Thread second = new Thread(() -> {
                flags.close();
                secondReturned.set(true);
            }, "second-close");
            second.start();
            // Within the first close's 1 s: an application exiting right after its own close() would lose the report.
            Await.until("the second close() waits for the first to end", () -> !secondReturned.get()
                    && Arrays.stream(second.getStackTrace()).anyMatch(e -> e.getMethodName().equals("awaitReleased")));
            second.join(10_000);
            first.join(10_000);
            assertThat(secondReturned).isTrue();
            assertThat(first.isAlive()).isFalse();
        }
    }

    @Test
    void theFirstReportComesWithinSecondsOfTheStartNotAfterAWholeMinute() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start()) {
            try (Flags flags = live(server, client(server))) {
                flags.isEnabled("billing-v2", User.withId("u-1"));
                long start = System.nanoTime();
                ScriptedSyncServer.Report first = server.awaitReport(); // fails after 10 s
                assertThat(first.report().getFlagsList()).extracting(FlagUsage::getKey).containsExactly("billing-v2");
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
            }
        }
    }

    @Test
    void nothingEvaluatedNothingSent() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start()) {
            live(server, client(server)).close(); // close() sends synchronously: a report would be in by now
            assertThat(server.reportsReceived()).isEmpty();
        }
    }

    @Test
    void usageReportingOffSendsNothing() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start()) {
            Flags flags = live(server, client(server).config(Map.of("usageReporting", "false")));
            flags.isEnabled("billing-v2", User.withId("u-1"));
            flags.close();
            assertThat(server.reportsReceived()).isEmpty();
        }
    }

    @Test
    void aServerWithoutUsageReportsCostsOneQuietLineAndNothingElse() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start()) {
            server.refuseReports(io.grpc.Status.UNIMPLEMENTED);
            Flags flags = live(server, client(server));
            flags.isEnabled("billing-v2", User.withId("u-1"));
            flags.close();
            assertThat(server.awaitReport().report().getFlagsCount()).isEqualTo(1);
            assertThat(flags.isEnabled("billing-v2", User.withId("u-1"))).as("a closed Flags still answers").isTrue();
        }
        assertThat(logs.lines("ERROR")).isEmpty();
        assertThat(logs.lines("WARN")).isEmpty();
    }

    /**
     * QA89 F2: an SDK that met a server from before usage reports (deployed before the server's upgrade, or running
     * through a rollback) reports again once the server it reconnects to takes them. It stopped for good, and the flags
     * only it evaluated looked unused to {@code flags stale} for as long as it ran.
     */
    @Test
    void aServerUpgradedSinceGetsReportsAfterTheNextStream() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            server.refuseReports(io.grpc.Status.UNIMPLEMENTED);
            ScriptedSyncServer.Subscription old = server.awaitSubscription();
            old.snapshot(3, doc("billing-v2", true, 1));
            assertThat(flags.awaitReady(WAIT)).isTrue();
            server.awaitReport(); // the first, refused
            Await.until("the INFO line", () -> !logs.lines("does not take usage reports").isEmpty());

            server.refuseReports(null); // the server is upgraded: it restarts, and the SDK reconnects
            old.fail(io.grpc.Status.UNAVAILABLE.withDescription("server restarting"));
            server.awaitSubscription().heartbeat(3, 30_000);
            flags.isEnabled("billing-v2", User.withId("u-1"));
            UsageReport report;
            do {
                report = server.awaitReport().report(); // the first may go before the evaluation, empty
            } while (report.getFlagsCount() == 0);
            assertThat(report.getFlags(0).getKey()).isEqualTo("billing-v2");
            assertThat(report.getFlags(0).getServedTrue()).isTrue();
            assertThat(logs.lines("does not take usage reports")).hasSize(1);
        }
    }

    @Test
    void anApplicationNameIsCheckedAndLeftAloneOffline() throws Exception {
        assertThat(Flags.Builder.MAX_APPLICATION_LENGTH).isEqualTo(dev.flags.protocol.ReportedName.MAX_LENGTH);
        assertThatThrownBy(() -> Flags.builder().application(" "))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("application must not be blank");
        assertThatThrownBy(() -> Flags.builder().application("x".repeat(101)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at most 100 characters, was 101");
        assertThatThrownBy(() -> Flags.builder().application("check\nout"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("application must be printable text");
        assertThatThrownBy(() -> Flags.builder().application("shop\u202eppa")).as("what the server refuses, refused here")
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("has U+202E at index 4");
        assertThatThrownBy(() -> Flags.builder().application("(unnamed)"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("stands for applications without a name");
        String token = "flg_" + "k".repeat(43); // QA85 F1: the server refuses a report so named, and never quotes it
        assertThatThrownBy(() -> Flags.builder().application("checkout " + token)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("application holds what looks like a flag server token").message().doesNotContain(token);
        Path file = Files.writeString(tmp.resolve("flags.json"), "{\"formatVersion\": 1, \"flags\": []}");
        // offline, where no report is sent, both are left alone: one configuration serves both modes
        try (Flags offline = Flags.builder().offlineFile(file).application("checkout").usageReporting(true).build()) {
            assertThat(offline.awaitReady(java.time.Duration.ZERO)).isTrue();
        }
        assertThatThrownBy(() -> Flags.builder().config(Map.of("usageReporting", "maybe")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("usageReporting must be true or false");
    }
}
