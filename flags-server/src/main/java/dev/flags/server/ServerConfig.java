package dev.flags.server;

import dev.flags.server.sync.CallRateLimit;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Immutable. How a {@link FlagServer} runs. Every setting has a default that works out of the box;
 * {@link Main} fills it from command-line options and {@code FLAGS_*} environment variables.
 *
 * @param dataDir where the journal and the generated admin token live
 * @param bindAddress the address both ports listen on
 * @param httpPort the admin API's port; 0 picks a free one
 * @param grpcPort the sync service's port; 0 picks a free one
 * @param adminToken the bootstrap admin token (16 to 256 visible ASCII characters), or null to read or
 *                   generate {@code dataDir/admin-token}
 * @param bootstrapAdminToken false for no bootstrap admin token at all (neither {@code adminToken} nor the
 *                            file): once named admin tokens exist, the unnamed one that never expires can go
 * @param tlsCertificate a PEM certificate chain for both ports, or null for plaintext
 * @param tlsKey the PEM PKCS#8 key of that certificate (RSA or EC, unencrypted), or null
 * @param heartbeatInterval how often idle sync streams get a heartbeat, {@link #MIN_HEARTBEAT} to {@link #MAX_HEARTBEAT}
 * @param shutdownGrace how long a stop waits, in all, for writes in flight, sync streams and HTTP requests to end,
 *                      0 to {@link #MAX_SHUTDOWN_GRACE}
 * @param journalRetention how long journal segments are kept for history and audit, or null to keep
 *                         everything (the default)
 * @param apiLimits how many admin API requests each token may make
 * @param maxSyncStreamsPerToken how many sync streams one token may have open at once
 * @param maxSyncStreamsPerConnection how many sync streams one gRPC connection may carry at once (an SDK
 *                                    instance needs one; a proxy that pools SDKs' streams needs more)
 * @param usage how the SDKs' flag usage reports are taken: their interval and the server's rate limit
 * @param environmentLimits how many flags, and how many bytes of flags and role grants, one environment may serve
 * @param maxSyncBufferMib how many MiB of large sync messages (snapshots, mostly) the server may hold for SDKs
 *                         that have not yet taken them, 1 to {@link #MAX_SYNC_BUFFER_MIB}; one token's streams may
 *                         hold half ({@link #defaultSyncBufferMib()} by default)
 * @param connectionLimits how many connections each port may hold open (the gRPC port: in all and per client address)
 * @param webhook where every change is sent as well ({@link Webhook}), or null for nowhere (the default)
 * @param grpcCallsPerTokenPerSecond how many {@code Acknowledge} and {@code GetSnapshot} calls one token may make per
 *                                   second, ten seconds' worth at once (and as many {@code Subscribe} calls, apart), 1
 *                                   to {@link CallRateLimit#MAX_PER_SECOND}; 0 for
 *                                   the default, a tenth of {@code maxSyncStreamsPerToken} ({@link #callsPerTokenPerSecond()})
 */
public record ServerConfig(Path dataDir, String bindAddress, int httpPort, int grpcPort, String adminToken,
                           boolean bootstrapAdminToken, Path tlsCertificate, Path tlsKey, Duration heartbeatInterval, Duration shutdownGrace,
                           Duration journalRetention, ApiLimits apiLimits, int maxSyncStreamsPerToken,
                           int maxSyncStreamsPerConnection, UsageSettings usage, EnvironmentLimits environmentLimits,
                           int maxSyncBufferMib, ConnectionLimits connectionLimits, WebhookSettings webhook,
                           int grpcCallsPerTokenPerSecond) {

    /**
     * The shortest heartbeat interval: shorter ones would send every idle stream ten messages a
     * second and more, for nothing.
     */
    public static final Duration MIN_HEARTBEAT = Duration.ofMillis(100);
    /**
     * The longest heartbeat interval: an SDK takes a stream silent for three intervals for dead, and
     * proxies and load balancers cut connections idle for minutes, so longer ones only let dead streams
     * go unnoticed.
     */
    public static final Duration MAX_HEARTBEAT = Duration.ofHours(1);

    /** The longest {@code shutdownGrace}: longer than any orchestrator waits for a stop. */
    public static final Duration MAX_SHUTDOWN_GRACE = Duration.ofMinutes(10);

    /** The largest {@code maxSyncBufferMib}: 64 GiB. */
    public static final int MAX_SYNC_BUFFER_MIB = 65_536;

    /**
     * Checks the settings. With TLS, reads both files: the key must be an unencrypted PKCS#8 RSA or EC
     * key, and the certificate's.
     *
     * @throws BadSettingException naming the setting that is wrong and why
     * @throws IllegalArgumentException if a TLS file's content cannot be used (the message names the file)
     * @throws java.io.UncheckedIOException if a TLS file that is readable cannot be read after all
     */
    public ServerConfig {
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(bindAddress, "bindAddress");
        Objects.requireNonNull(heartbeatInterval, "heartbeatInterval");
        Objects.requireNonNull(shutdownGrace, "shutdownGrace");
        Objects.requireNonNull(apiLimits, "apiLimits");
        Objects.requireNonNull(usage, "usage");
        Objects.requireNonNull(environmentLimits, "environmentLimits");
        Objects.requireNonNull(connectionLimits, "connectionLimits");
        if (maxSyncStreamsPerToken < 1 || maxSyncStreamsPerToken > 1_000_000) {
            throw new BadSettingException("maxSyncStreamsPerToken", "max sync streams per token must be between 1 and 1000000, was "
                    + maxSyncStreamsPerToken);
        }
        if (maxSyncStreamsPerConnection < 1 || maxSyncStreamsPerConnection > 100_000) {
            throw new BadSettingException("maxSyncStreamsPerConnection", "max sync streams per connection must be between 1 and"
                    + " 100000, was " + maxSyncStreamsPerConnection);
        }
        if (grpcCallsPerTokenPerSecond < 0 || grpcCallsPerTokenPerSecond > CallRateLimit.MAX_PER_SECOND) {
            throw new BadSettingException("grpcCallsPerTokenPerSecond", "gRPC calls per token per second must be between 0"
                    + " (a tenth of the max sync streams per token) and " + CallRateLimit.MAX_PER_SECOND + ", was "
                    + grpcCallsPerTokenPerSecond);
        }
        if (maxSyncBufferMib < 1 || maxSyncBufferMib > MAX_SYNC_BUFFER_MIB) {
            throw new BadSettingException("maxSyncBufferMib", "max sync buffer must be between 1 and " + MAX_SYNC_BUFFER_MIB
                    + " MiB, was " + maxSyncBufferMib);
        }
        checkPort(httpPort, "http port", "httpPort");
        checkPort(grpcPort, "grpc port", "grpcPort");
        if (httpPort != 0 && httpPort == grpcPort) {
            throw new BadSettingException("grpcPort", "the HTTP and gRPC ports must differ, both were " + httpPort);
        }
        checkBindAddress(bindAddress);
        if ((tlsCertificate == null) != (tlsKey == null)) {
            // named after the one that is set: that is where the other was expected
            throw new BadSettingException(tlsCertificate != null ? "tlsCertificate" : "tlsKey", "TLS needs both a certificate"
                    + " and a key, or neither; only the " + (tlsCertificate != null ? "certificate" : "key") + " is set");
        }
        checkReadable(tlsCertificate, "TLS certificate", "tlsCertificate");
        checkReadable(tlsKey, "TLS key", "tlsKey");
        if (webhook != null) {
            checkReadable(webhook.secretFile(), "webhook secret", "webhookSecretFile");
            Webhook.secret(webhook.secretFile()); // a secret unfit is a bad setting, said before anything is written
        }
        if (tlsCertificate != null) {
            checkTls(tlsCertificate, tlsKey);
        }
        if (adminToken != null && !bootstrapAdminToken) {
            throw new BadSettingException("bootstrapAdminToken", "FLAGS_ADMIN_TOKEN is set while the bootstrap admin token is"
                    + " off: unset FLAGS_ADMIN_TOKEN, or turn the bootstrap admin token on");
        }
        if (adminToken != null && AdminToken.problem(adminToken) != null) {
            throw new BadSettingException("adminToken", "the admin token " + AdminToken.problem(adminToken));
        }
        if (heartbeatInterval.compareTo(MIN_HEARTBEAT) < 0 || heartbeatInterval.compareTo(MAX_HEARTBEAT) > 0) {
            throw new BadSettingException("heartbeatInterval", "heartbeat interval must be between " + MIN_HEARTBEAT + " and " + MAX_HEARTBEAT
                    + ", was " + heartbeatInterval);
        }
        if (shutdownGrace.isNegative() || shutdownGrace.compareTo(MAX_SHUTDOWN_GRACE) > 0) {
            throw new BadSettingException("shutdownGrace", "shutdown grace must be between PT0S and " + MAX_SHUTDOWN_GRACE
                    + ", was " + shutdownGrace);
        }
        if (journalRetention != null && journalRetention.compareTo(Duration.ofDays(1)) < 0) {
            throw new BadSettingException("journalRetention", "journal retention must be at least one day (history and audit read it), was "
                    + journalRetention);
        }
    }

    /** Refuses an address that is neither an IP address nor a name that resolves, before anything is written. */
    private static void checkBindAddress(String address) {
        try {
            InetAddress.getByName(address.startsWith("[") && address.endsWith("]") ? address.substring(1, address.length() - 1) : address);
        } catch (UnknownHostException e) {
            throw new BadSettingException("bindAddress", "bind address \"" + address + "\" is neither an IP address nor a name that"
                    + " resolves; use an address of this machine, such as 0.0.0.0 (every interface) or 127.0.0.1");
        }
    }

    /**
     * @return the defaults: ./data, all interfaces, ports 8080 and 9090, plaintext, 15 s heartbeats,
     *     {@link ApiLimits#defaults()}, 10,000 sync streams per token, {@link UsageSettings#defaults()},
     *     {@link EnvironmentLimits#defaults()}
     */
    public static ServerConfig defaults() {
        return new ServerConfig(Path.of("data"), "0.0.0.0", 8080, 9090, null, true, null, null, Duration.ofSeconds(15), Duration.ofSeconds(10), null,
                ApiLimits.defaults(), 10_000, 1_000, UsageSettings.defaults(),
                EnvironmentLimits.defaults(), defaultSyncBufferMib(), ConnectionLimits.defaults(), null, 0);
    }

    /**
     * @return the {@code Acknowledge} and {@code GetSnapshot} calls one token may make per second: {@code
     *     grpcCallsPerTokenPerSecond} if set, else a tenth of {@code maxSyncStreamsPerToken} (at least 1): an SDK instance
     *     makes about one a second at most, and a token's instances are its streams, so the ten seconds' worth a token may
     *     make at once is its whole fleet acknowledging a change (see {@link CallRateLimit})
     */
    public int callsPerTokenPerSecond() {
        return grpcCallsPerTokenPerSecond > 0 ? grpcCallsPerTokenPerSecond : Math.max(1, maxSyncStreamsPerToken / 10);
    }

    /**
     * @return the default {@code maxSyncBufferMib}: a quarter of this JVM's largest heap, at least 64 and at most
     *     1,024 MiB (gRPC's buffers are off the heap, where the JVM allows as much as its largest heap by default)
     */
    public static int defaultSyncBufferMib() {
        return (int) (dev.flags.server.sync.Broadcaster.Builder.defaultSendBufferBytes() >> 20);
    }

    /** @return a copy whose stop waits at most this long, in all */
    public ServerConfig withShutdownGrace(Duration grace) {
        return copy(c -> c.shutdownGrace = grace);
    }

    /** @return a copy holding at most this many MiB of large sync messages for SDKs that have not taken them */
    public ServerConfig withMaxSyncBufferMib(int mib) {
        return copy(c -> c.maxSyncBufferMib = mib);
    }

    /** @return a copy with another data directory */
    public ServerConfig withDataDir(Path dir) {
        return copy(c -> c.dataDir = dir);
    }

    /** @return a copy with other ports (0 picks free ones) */
    public ServerConfig withPorts(int http, int grpc) {
        return copy(c -> {
            c.httpPort = http;
            c.grpcPort = grpc;
        });
    }

    /** @return a copy with the bootstrap admin token on (the default) or off */
    public ServerConfig withBootstrapAdminToken(boolean on) {
        return copy(c -> c.bootstrapAdminToken = on);
    }

    /** @return a copy with this bootstrap admin token */
    public ServerConfig withAdminToken(String token) {
        return copy(c -> c.adminToken = token);
    }

    /** @return a copy bound to another address */
    public ServerConfig withBindAddress(String address) {
        return copy(c -> c.bindAddress = address);
    }

    /** @return a copy serving TLS with these PEM files */
    public ServerConfig withTls(Path certificate, Path key) {
        return copy(c -> {
            c.tlsCertificate = certificate;
            c.tlsKey = key;
        });
    }

    /** @return a copy with another heartbeat interval */
    public ServerConfig withHeartbeatInterval(Duration interval) {
        return copy(c -> c.heartbeatInterval = interval);
    }

    /** @return a copy keeping journal segments for this long (null: forever) */
    public ServerConfig withJournalRetention(Duration retention) {
        return copy(c -> c.journalRetention = retention);
    }

    /** @return a copy with these limits on admin API requests per token */
    public ServerConfig withApiLimits(ApiLimits limits) {
        return copy(c -> c.apiLimits = limits);
    }

    /** @return a copy allowing this many sync streams on one connection */
    public ServerConfig withMaxSyncStreamsPerConnection(int streams) {
        return copy(c -> c.maxSyncStreamsPerConnection = streams);
    }

    /** @return a copy taking flag usage reports with these settings */
    public ServerConfig withUsage(UsageSettings settings) {
        return copy(c -> c.usage = settings);
    }

    /** @return a copy allowing this many sync streams per token */
    public ServerConfig withMaxSyncStreamsPerToken(int streams) {
        return copy(c -> c.maxSyncStreamsPerToken = streams);
    }

    /** @return a copy allowing each token this many Acknowledge and GetSnapshot calls a second (0: the default) */
    public ServerConfig withGrpcCallsPerTokenPerSecond(int calls) {
        return copy(c -> c.grpcCallsPerTokenPerSecond = calls);
    }

    /** @return a copy with other caps on the ports' connections */
    public ServerConfig withConnectionLimits(ConnectionLimits limits) {
        return copy(c -> c.connectionLimits = limits);
    }

    /** @return a copy sending every change to this webhook as well (null: to none) */
    public ServerConfig withWebhook(WebhookSettings settings) {
        return copy(c -> c.webhook = settings);
    }

    /** @return a copy with other limits on what one environment may serve */
    public ServerConfig withEnvironmentLimits(EnvironmentLimits limits) {
        return copy(c -> c.environmentLimits = limits);
    }

    /** @return a copy with what {@code change} sets, checked as any config is */
    private ServerConfig copy(java.util.function.Consumer<Copy> change) {
        Copy copy = new Copy(this);
        change.accept(copy);
        return copy.build();
    }

    /**
     * Not thread-safe; used by one {@code withX} at a time. The components of a copy being made: the one place besides
     * the record's header that lists them all, so that a {@code withX} names only what it changes.
     */
    private static final class Copy {
        Path dataDir;
        String bindAddress;
        int httpPort;
        int grpcPort;
        String adminToken;
        boolean bootstrapAdminToken;
        Path tlsCertificate;
        Path tlsKey;
        Duration heartbeatInterval;
        Duration shutdownGrace;
        Duration journalRetention;
        ApiLimits apiLimits;
        int maxSyncStreamsPerToken;
        int maxSyncStreamsPerConnection;
        UsageSettings usage;
        EnvironmentLimits environmentLimits;
        int maxSyncBufferMib;
        ConnectionLimits connectionLimits;
        WebhookSettings webhook;
        int grpcCallsPerTokenPerSecond;

        Copy(ServerConfig from) {
            dataDir = from.dataDir;
            bindAddress = from.bindAddress;
            httpPort = from.httpPort;
            grpcPort = from.grpcPort;
            adminToken = from.adminToken;
            bootstrapAdminToken = from.bootstrapAdminToken;
            tlsCertificate = from.tlsCertificate;
            tlsKey = from.tlsKey;
            heartbeatInterval = from.heartbeatInterval;
            shutdownGrace = from.shutdownGrace;
            journalRetention = from.journalRetention;
            apiLimits = from.apiLimits;
            maxSyncStreamsPerToken = from.maxSyncStreamsPerToken;
            maxSyncStreamsPerConnection = from.maxSyncStreamsPerConnection;
            usage = from.usage;
            environmentLimits = from.environmentLimits;
            maxSyncBufferMib = from.maxSyncBufferMib;
            connectionLimits = from.connectionLimits;
            webhook = from.webhook;
            grpcCallsPerTokenPerSecond = from.grpcCallsPerTokenPerSecond;
        }

        ServerConfig build() {
            return new ServerConfig(dataDir, bindAddress, httpPort, grpcPort, adminToken, bootstrapAdminToken, tlsCertificate,
                    tlsKey, heartbeatInterval, shutdownGrace, journalRetention, apiLimits, maxSyncStreamsPerToken,
                    maxSyncStreamsPerConnection, usage, environmentLimits, maxSyncBufferMib, connectionLimits, webhook,
                    grpcCallsPerTokenPerSecond);
        }
    }

    /** @return true if both ports serve TLS */
    public boolean tls() {
        return tlsCertificate != null;
    }

    private static void checkReadable(Path file, String what, String setting) {
        if (file != null && !Files.isReadable(file)) {
            String user = System.getProperty("user.name", "?");
            if (Files.exists(file)) {
                throw new BadSettingException(setting, what + " file " + file + " cannot be read: it belongs to " + owner(file)
                        + " (" + mode(file) + "), and this process runs as " + user);
            }
            // Not seen: absent, or behind a directory this process may not enter (/etc/ssl/private is root's, 700).
            Path closed = null;
            for (Path dir = file.toAbsolutePath().getParent(); dir != null; dir = dir.getParent()) {
                if (Files.isDirectory(dir) && !Files.isExecutable(dir)) {
                    closed = dir; // the last one found is the one nearest the root: the first in the way
                }
            }
            throw new BadSettingException(setting, what + " file " + file + (closed == null ? " does not exist"
                    : " cannot be reached: the directory " + closed + " belongs to " + owner(closed) + " (" + mode(closed)
                    + "), and this process runs as " + user));
        }
        if (file != null && Files.isDirectory(file)) {
            throw new BadSettingException(setting, what + " file " + file + " is a directory");
        }
    }

    private static String owner(Path file) {
        String owner = dev.flags.server.journal.FileAccess.ownerOf(file);
        return owner == null ? "?" : owner;
    }

    private static String mode(Path file) {
        String mode = dev.flags.server.journal.FileAccess.modeOf(file);
        return mode == null ? "?" : mode;
    }

    /**
     * Reads both TLS files now, so that a key in a form the server cannot read, or a key that is not
     * the certificate's, is a bad setting that stops the server before either port opens: the gRPC
     * port would take another certificate's key and fail every handshake, logging nothing.
     */
    private static void checkTls(Path certificate, Path key) {
        try {
            PemTls.check(certificate, key);
        } catch (IOException e) { // readable a moment ago: the surroundings', not a setting's
            throw new UncheckedIOException("cannot read the TLS files " + certificate + " and " + key, e);
        }
    }

    private static void checkPort(int port, String what, String setting) {
        if (port < 0 || port > 65535) {
            throw new BadSettingException(setting, what + " must be between 0 and 65535, was " + port);
        }
    }
}
