package dev.flags.client;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * Immutable. How fresh the flags are: the version held, where it came from, when the SDK last heard
 * from the flag server, and whether the stream is up. No silent staleness.
 *
 * <pre>{@code
 * Freshness f = flags.freshness();
 * metrics.gauge("flags_version", f.version());
 * metrics.gauge("flags_stream_up", f.streamUp() ? 1 : 0);
 * }</pre>
 */
public final class Freshness {

    private final long version;
    private final Source source;
    private final boolean streamUp;
    private final Instant lastHeardFromServer;
    private final String problem;
    private final boolean refused;
    private final String cacheFileProblem;

    /**
     * Creates a freshness report of an SDK that the flag server does not refuse.
     *
     * @param version the version of the flags held (the environment's version), 0 if none
     * @param source where the flags held came from
     * @param streamUp true if the stream to the flag server is up
     * @param lastHeardFromServer when a message last came from the server, or null if never
     * @param problem why the stream is down or the flags are not live, or null if nothing is wrong
     * @throws NullPointerException if {@code source} is null
     */
    public Freshness(long version, Source source, boolean streamUp, Instant lastHeardFromServer, String problem) {
        this(version, source, streamUp, lastHeardFromServer, problem, false);
    }

    /**
     * Creates a freshness report; the SDK makes these, applications read them.
     *
     * @param version the version of the flags held (the environment's version), 0 if none
     * @param source where the flags held came from
     * @param streamUp true if the stream to the flag server is up
     * @param lastHeardFromServer when a message last came from the server, or null if never
     * @param problem why the stream is down or the flags are not live, or null if nothing is wrong
     * @param refused true while the flag server refuses this SDK (its token or environment)
     * @throws NullPointerException if {@code source} is null
     */
    public Freshness(long version, Source source, boolean streamUp, Instant lastHeardFromServer, String problem,
                     boolean refused) {
        this(version, source, streamUp, lastHeardFromServer, problem, refused, null);
    }

    /**
     * Creates a freshness report; the SDK makes these, applications read them.
     *
     * @param version the version of the flags held (the environment's version), 0 if none
     * @param source where the flags held came from
     * @param streamUp true if the stream to the flag server is up
     * @param lastHeardFromServer when a message last came from the server, or null if never
     * @param problem why the stream is down or the flags are not live, or null if nothing is wrong
     * @param refused true while the flag server refuses this SDK (its token or environment)
     * @param cacheFileProblem why the cache file could not be written the last time, or null
     * @throws NullPointerException if {@code source} is null
     */
    public Freshness(long version, Source source, boolean streamUp, Instant lastHeardFromServer, String problem,
                     boolean refused, String cacheFileProblem) {
        this.cacheFileProblem = cacheFileProblem;
        this.version = version;
        this.source = Objects.requireNonNull(source, "source");
        this.streamUp = streamUp;
        this.lastHeardFromServer = lastHeardFromServer;
        this.problem = problem;
        this.refused = refused;
    }

    /** @return the version of the flags held (the environment's version), 0 if none */
    public long version() {
        return version;
    }

    /** @return where the flags held came from */
    public Source source() {
        return source;
    }

    /** @return true if the stream to the flag server is up (always false in offline and test mode) */
    public boolean streamUp() {
        return streamUp;
    }

    /** @return when a message (change or heartbeat) last came from the flag server; empty if never */
    public Optional<Instant> lastHeardFromServer() {
        return Optional.ofNullable(lastHeardFromServer);
    }

    /**
     * @return why the stream is down or the flags are not live, such as {@code "UNAVAILABLE:
     *         io exception"}; empty when nothing is wrong
     */
    public Optional<String> problem() {
        return Optional.ofNullable(problem);
    }

    /**
     * @return true while the flag server refuses this SDK ({@code UNAUTHENTICATED}, {@code
     *         PERMISSION_DENIED}, {@code NOT_FOUND}, ...): a wrong or revoked sdk token, or an
     *         environment that does not exist. The SDK keeps retrying slowly and serving what it has;
     *         {@link #problem()} says what the server answered. Always false in offline and test mode.
     */
    public boolean refused() {
        return refused;
    }

    /**
     * @return why the SDK could not write its cache file the last time it tried (a missing directory,
     *         a full disk, no permission), such as {@code "cannot write the cache file
     *         /var/cache/app/flags.cache: java.nio.file.NoSuchFileException: ..."}, or that a write has not
     *         returned for 5 s (a file system that hangs); empty when it was written, or there is none. The flags still work, but a restart while the flag server is
     *         unreachable would start without them. The SDK tries again at each change and each heartbeat.
     */
    public Optional<String> cacheFileProblem() {
        return Optional.ofNullable(cacheFileProblem);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Freshness f && version == f.version && source == f.source && streamUp == f.streamUp
                && Objects.equals(lastHeardFromServer, f.lastHeardFromServer) && Objects.equals(problem, f.problem)
                && refused == f.refused && Objects.equals(cacheFileProblem, f.cacheFileProblem);
    }

    @Override
    public int hashCode() {
        return Objects.hash(version, source, streamUp, lastHeardFromServer, problem, refused, cacheFileProblem);
    }

    @Override
    public String toString() {
        return "Freshness{version=" + version + ", source=" + source + ", streamUp=" + streamUp
                + ", lastHeardFromServer=" + lastHeardFromServer + (problem == null ? "" : ", problem=" + problem)
                + (refused ? ", refused" : "") + (cacheFileProblem == null ? "" : ", cacheFileProblem=" + cacheFileProblem)
                + "}";
    }
}
