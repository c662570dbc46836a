package dev.flags.server.sync;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.server.ConnectionLimits;
import dev.flags.server.journal.MutableClock;
import io.grpc.netty.shaded.io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The gRPC port's connection caps, as the listening channel's pipeline sees accepted connections (the real port's,
 * with sockets, is {@code GrpcConnectionLimitTest}).
 */
class GrpcConnectionsTest {

    private final MutableClock clock = new MutableClock(Instant.parse("2026-12-05T10:00:00Z"));
    private final List<String> log = new ArrayList<>();

    @Test
    void aConnectionOverTheTotalIsClosedAtOnceAndOneClosingMakesRoom() {
        GrpcConnections connections = new GrpcConnections(2, 0, clock, log::add);
        EmbeddedChannel port = new EmbeddedChannel(connections);
        Client first = accept(port, "10.0.0.1");
        Client second = accept(port, "10.0.0.2");
        Client third = accept(port, "10.0.0.3");

        assertThat(first.isOpen()).isTrue();
        assertThat(second.isOpen()).isTrue();
        assertThat(third.isOpen()).as("over the cap").isFalse();
        assertThat(port.inboundMessages()).as("handed on to gRPC's acceptor").containsExactly(first, second);
        assertThat(connections.open()).isEqualTo(2);
        assertThat(connections.refused()).isEqualTo(1);
        assertThat(log).singleElement().asString().contains("refused a connection from 10.0.0.3")
                .contains("2 connections are open, the most --grpc-max-connections allows");

        first.close();
        assertThat(connections.open()).isEqualTo(1);
        assertThat(accept(port, "10.0.0.3").isOpen()).isTrue();
        assertThat(connections.open()).isEqualTo(2);
    }

    @Test
    void oneAddressMayHoldOnlyItsShareWhileOthersStillGetIn() {
        GrpcConnections connections = new GrpcConnections(100, 2, clock, log::add);
        EmbeddedChannel port = new EmbeddedChannel(connections);
        Client a1 = accept(port, "192.0.2.7");
        Client a2 = accept(port, "192.0.2.7");
        Client a3 = accept(port, "192.0.2.7");
        Client b = accept(port, "192.0.2.8");

        assertThat(List.of(a1.isOpen(), a2.isOpen(), a3.isOpen(), b.isOpen())).containsExactly(true, true, false, true);
        assertThat(connections.open()).as("the refused one is not counted").isEqualTo(3);
        assertThat(log).singleElement().asString().contains("from 192.0.2.7")
                .contains("2 connections are open from this address, the most --grpc-max-connections-per-address allows");

        a1.close();
        assertThat(accept(port, "192.0.2.7").isOpen()).as("room again for that address").isTrue();
    }

    @Test
    void anIpv6ClientIsCountedByItsSlash64() {
        GrpcConnections connections = new GrpcConnections(100, 1, clock, log::add);
        EmbeddedChannel port = new EmbeddedChannel(connections);
        assertThat(accept(port, "2001:db8:1:2::1").isOpen()).isTrue();
        assertThat(accept(port, "2001:db8:1:2:ffff::9").isOpen()).as("the same /64").isFalse();
        assertThat(accept(port, "2001:db8:1:3::1").isOpen()).as("another /64").isTrue();
        assertThat(log).singleElement().asString().contains("from 2001:db8:1:2:ffff::9: ")
                .contains("1 connection is open from this address's /64 network");
    }

    @Test
    void refusalsAreLoggedOnceAMinuteWithTheCountSinceTheLastLine() {
        GrpcConnections connections = new GrpcConnections(1, 0, clock, log::add);
        EmbeddedChannel port = new EmbeddedChannel(connections);
        accept(port, "10.0.0.1");
        for (int i = 0; i < 5; i++) {
            accept(port, "10.0.0.2");
            clock.advance(Duration.ofSeconds(10));
        }
        assertThat(log).as("the first of the minute only").hasSize(1);
        clock.advance(Duration.ofSeconds(20));
        accept(port, "10.0.0.3");

        assertThat(connections.refused()).isEqualTo(6);
        assertThat(log).hasSize(2);
        assertThat(log.get(1)).contains("from 10.0.0.3").contains("(4 more refused since the last such line)");
    }

    @Test
    void theDefaultCapsSplitTheOpenFileLimitAndKeepAtLeast64ForTheRestOfTheServer() {
        ConnectionLimits defaults = ConnectionLimits.defaults();
        // gRPC, HTTP, and what is left: three quarters, an eighth and an eighth from 1,024 on.
        assertThat(split(defaults, 1_048_576)).containsExactly(786_432L, 131_072L, 131_072L);
        assertThat(split(defaults, 2_048)).containsExactly(1_536L, 256L, 256L);
        assertThat(split(defaults, 1_024)).containsExactly(768L, 128L, 128L);
        // Below, the rest of the server keeps 128 first, then the HTTP port; the gRPC port has what remains.
        assertThat(split(defaults, 800)).containsExactly(544L, 128L, 128L);
        assertThat(split(defaults, 400)).containsExactly(144L, 128L, 128L);
        assertThat(split(defaults, 128)).as("an idle server holds about 40").containsExactly(32L, 32L, 64L);
        assertThat(List.of(defaults.grpcMax(-1), defaults.httpMax(-1))).as("unknown")
                .containsExactly(ConnectionLimits.MAX, ConnectionLimits.MAX);
        assertThat(new ConnectionLimits(50, 0, 7).grpcMax(1_024)).isEqualTo(50);
        assertThat(new ConnectionLimits(50, 0, 7).httpMax(1_024)).isEqualTo(7);
    }

    private static List<Long> split(ConnectionLimits limits, long openFileLimit) {
        long grpc = limits.grpcMax(openFileLimit);
        long http = limits.httpMax(openFileLimit);
        return List.of(grpc, http, openFileLimit - grpc - http);
    }

    private static Client accept(EmbeddedChannel port, String from) {
        Client client = new Client(new InetSocketAddress(from, 40_000));
        port.writeInbound(client);
        return client;
    }

    /** An accepted connection as the listening channel hands it on: a channel with the client's address. */
    private static final class Client extends EmbeddedChannel {
        private final SocketAddress remote;

        Client(SocketAddress remote) {
            this.remote = remote;
        }

        @Override
        protected SocketAddress remoteAddress0() {
            return remote;
        }
    }
}
