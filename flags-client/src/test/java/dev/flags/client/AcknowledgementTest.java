package dev.flags.client;

import static dev.flags.client.Fixtures.doc;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.protocol.v1.SubscribeRequest;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * An SDK instance tells the server which version it applied, on the stream of its instance id: how an operator learns
 * that a kill switch has reached it.
 */
class AcknowledgementTest {

    private static final String TOKEN = "sdk-token-for-acknowledgements";
    private static final Duration WAIT = Duration.ofSeconds(10);

    @RegisterExtension
    final LogCapture logs = new LogCapture();

    private static Flags.Builder client(ScriptedSyncServer server) {
        return server.client(TOKEN)
                .application("checkout");
    }

    @Test
    void eachAppliedVersionIsAcknowledgedOnTheStreamsInstanceIdOnceASecondAtMost() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            ScriptedSyncServer.Subscription stream = server.awaitSubscription();
            SubscribeRequest request = stream.request;
            assertThat(request.getInstanceId()).matches("[0-9a-f]{16}");
            assertThat(request.getApplication()).isEqualTo("checkout");

            stream.snapshot(3, doc("billing-v2", true, 1));
            ScriptedSyncServer.Ack first = server.awaitAck();
            assertThat(first.ack().getVersion()).isEqualTo(3);
            assertThat(first.ack().getEnvironment()).isEqualTo("production");
            assertThat(first.ack().getInstanceId()).isEqualTo(request.getInstanceId());
            assertThat(first.authorization()).isEqualTo("Bearer " + TOKEN);

            // A burst of changes: acknowledged together, the newest, a second or more after the previous one.
            stream.delta(3, 4, doc("billing-v2", false, 2));
            stream.delta(4, 5, doc("billing-v2", true, 3));
            stream.delta(5, 6, doc("billing-v2", false, 4));
            List<ScriptedSyncServer.Ack> after = new ArrayList<>();
            do {
                after.add(server.awaitAck());
            } while (after.get(after.size() - 1).ack().getVersion() < 6);
            assertThat(after).as("one for the burst, or two if the first came between its changes").hasSizeLessThanOrEqualTo(2);
            long previous = first.receivedNanos();
            for (ScriptedSyncServer.Ack a : after) {
                assertThat(TimeUnit.NANOSECONDS.toMillis(a.receivedNanos() - previous))
                        .as("ms since the previous acknowledgement").isGreaterThanOrEqualTo(900);
                previous = a.receivedNanos();
            }
            assertThat(flags.freshness().version()).isEqualTo(6);

            // A heartbeat of the version held says nothing new: no acknowledgement.
            stream.heartbeat(6, 30_000);
            assertThat(server.pollAck(Duration.ofMillis(1_600))).isNull();
        }
    }

    @Test
    void aCloseSaysGoodbyeWithTheVersionItAnsweredFromBeforeItsStreamEnds() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start()) {
            Flags flags = client(server).build();
            ScriptedSyncServer.Subscription stream = server.awaitSubscription();
            stream.snapshot(3, doc("billing-v2", true, 1));
            assertThat(server.awaitAck().ack().getClosing()).isFalse();
            stream.delta(3, 4, doc("billing-v2", false, 2));
            Await.until("version 4", () -> flags.freshness().version() == 4);

            flags.close(); // before the spaced acknowledgement of 4: the goodbye carries it
            ScriptedSyncServer.Ack goodbye = server.awaitAck();
            assertThat(goodbye.ack().getClosing()).as("the server lists it as closed by its application, not lost").isTrue();
            assertThat(goodbye.ack().getVersion()).isEqualTo(4);
            assertThat(goodbye.ack().getInstanceId()).isEqualTo(stream.request.getInstanceId());
            assertThat(stream.awaitCancelled(WAIT)).as("then its stream ends").isTrue();
            assertThat(server.pollAck(Duration.ofMillis(1_600))).as("nothing after it").isNull();
        }
    }

    @Test
    void aNewStreamIsToldAgainWhatTheInstanceHas() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            ScriptedSyncServer.Subscription first = server.awaitSubscription();
            first.snapshot(7, doc("billing-v2", true, 1));
            assertThat(server.awaitAck().ack().getVersion()).isEqualTo(7);

            first.fail(Status.UNAVAILABLE.withDescription("server restarting"));
            ScriptedSyncServer.Subscription second = server.awaitSubscription();
            assertThat(second.request.getInstanceId()).as("the same instance").isEqualTo(first.request.getInstanceId());
            assertThat(second.request.getFromVersion()).isEqualTo(7);
            second.heartbeat(7, 30_000); // current: the server's new stream has not heard of version 7 yet
            ScriptedSyncServer.Ack again = server.awaitAck();
            assertThat(again.ack().getVersion()).isEqualTo(7);
            assertThat(again.ack().getInstanceId()).isEqualTo(first.request.getInstanceId());
        }
    }

    /**
     * QA76 F1: after a server restored from an older backup (a lower version, which the SDK follows), the new stream
     * is told the version the SDK answers from now, and then each new one: not the old, higher version, and then
     * nothing until the restored server passes it (a false "not applied" for {@code flags off --wait}).
     */
    @Test
    void afterFollowingAServerBackAtAnOlderVersionItsVersionsAreAcknowledged() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            ScriptedSyncServer.Subscription first = server.awaitSubscription();
            first.snapshot(10, doc("billing-v2", true, 1));
            assertThat(server.awaitAck().ack().getVersion()).isEqualTo(10);

            first.fail(Status.UNAVAILABLE.withDescription("restarting from an older backup"));
            ScriptedSyncServer.Subscription second = server.awaitSubscription();
            second.snapshot(3, doc("billing-v2", false, 1)); // the restored server is at version 3
            assertThat(server.awaitAck().ack().getVersion()).as("the version the SDK answers from now").isEqualTo(3);

            second.delta(3, 4, doc("kill-switch", true, 1)); // the operator's kill switch, on the restored server
            ScriptedSyncServer.Ack next = server.pollAck(WAIT);
            assertThat(next).as("version 4 acknowledged").isNotNull();
            assertThat(next.ack().getVersion()).isEqualTo(4);
            assertThat(flags.freshness().version()).isEqualTo(4);
        }
    }

    @Test
    void twoInstancesHaveTwoIds() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags one = client(server).build();
                Flags two = client(server).build()) {
            String a = server.awaitSubscription().request.getInstanceId();
            String b = server.awaitSubscription().request.getInstanceId();
            assertThat(a).isNotEqualTo(b);
        }
    }

    @Test
    void aServerWithoutAcknowledgementsIsNotAskedAgain() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            server.refuseAcks(Status.UNIMPLEMENTED.withDescription("Method not found: dev.flags.protocol.v1.FlagSync/Acknowledge"));
            ScriptedSyncServer.Subscription stream = server.awaitSubscription();
            stream.snapshot(3, doc("billing-v2", true, 1));
            assertThat(server.awaitAck().ack().getVersion()).isEqualTo(3);
            Await.until("the INFO line", () -> !logs.lines("does not take acknowledgements").isEmpty());

            stream.delta(3, 4, doc("billing-v2", false, 2));
            Await.until("version 4", () -> flags.freshness().version() == 4);
            assertThat(server.pollAck(Duration.ofMillis(1_600))).as("no more calls after UNIMPLEMENTED").isNull();
            assertThat(logs.lines("does not take acknowledgements")).hasSize(1);
        }
    }

    /**
     * QA89 F1: an SDK that met a server from before acknowledgements (deployed before the server's upgrade, or running
     * through a rollback) acknowledges again once the server it reconnects to takes them. It stopped for good: the upgraded
     * server listed it {@code pending} (it subscribes with an instance id) for as long as it ran, and every
     * {@code flags off --wait} failed on it.
     */
    @Test
    void aServerUpgradedSinceIsAcknowledgedOnTheNextStream() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            server.refuseAcks(Status.UNIMPLEMENTED.withDescription("Method not found: dev.flags.protocol.v1.FlagSync/Acknowledge"));
            ScriptedSyncServer.Subscription old = server.awaitSubscription();
            old.snapshot(3, doc("billing-v2", true, 1));
            assertThat(server.awaitAck().ack().getVersion()).isEqualTo(3);
            Await.until("the INFO line", () -> !logs.lines("does not take acknowledgements").isEmpty());

            server.refuseAcks(null); // the server is upgraded: it restarts, and the SDK reconnects
            old.fail(Status.UNAVAILABLE.withDescription("server restarting"));
            ScriptedSyncServer.Subscription upgraded = server.awaitSubscription();
            upgraded.heartbeat(3, 30_000);
            assertThat(server.awaitAck().ack().getVersion()).as("the version held, told to the upgraded server").isEqualTo(3);
            upgraded.delta(3, 4, doc("billing-v2", false, 2));
            assertThat(server.awaitAck().ack().getVersion()).isEqualTo(4);
            assertThat(logs.lines("does not take acknowledgements")).hasSize(1);
        }
    }

    @Test
    void aFailedAcknowledgementIsTriedAgainAtTheNextHeartbeat() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            server.refuseAcks(Status.UNAVAILABLE.withDescription("busy"));
            ScriptedSyncServer.Subscription stream = server.awaitSubscription();
            stream.snapshot(3, doc("billing-v2", true, 1));
            assertThat(server.awaitAck().ack().getVersion()).isEqualTo(3);
            server.refuseAcks(null);
            stream.heartbeat(3, 30_000);
            assertThat(server.awaitAck().ack().getVersion()).as("the same version, once more").isEqualTo(3);
            assertThat(logs.lines("does not take acknowledgements")).isEmpty();
        }
    }
}
