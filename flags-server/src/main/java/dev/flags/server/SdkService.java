package dev.flags.server;

import dev.flags.server.auth.Principal;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.Journal;
import dev.flags.server.sync.SdkStream;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.function.BiFunction;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/**
 * Thread-safe. The SDKs connected to an environment, and which of them have applied a version: how an operator
 * learns that a kill switch has reached every application ({@code GET /api/v1/environments/{env}/sdks}).
 */
public final class SdkService {

    /** The most streams one answer lists; the counts are always of them all. */
    public static final int MAX_LIMIT = 1_000;
    /** How many an answer lists unless asked for another number. */
    public static final int DEFAULT_LIMIT = 100;

    /** Where one stream stands against the version asked about. */
    public enum Standing {
        /** Its SDK has acknowledged the version or a later one. */
        APPLIED,
        /** Its SDK acknowledges versions, and has not acknowledged this one yet (it may not have been sent it yet). */
        PENDING,
        /** Its SDK does not acknowledge versions (one from before acknowledgements): what it has cannot be known. */
        UNCONFIRMED;

        /** @return its name in the API: {@code applied}, {@code pending}, {@code unconfirmed} */
        public String apiName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * Immutable. One stream and where it stands.
     *
     * @param stream the stream
     * @param standing where it stands against the version asked about
     */
    public record Sdk(SdkStream stream, Standing standing) {
        /** Checks every part. */
        public Sdk {
            Objects.requireNonNull(stream, "stream");
            Objects.requireNonNull(standing, "standing");
        }
    }

    /**
     * Immutable. The answer.
     *
     * @param environment the environment's key
     * @param version the environment's version now
     * @param target the version asked about (the current one unless another was asked for)
     * @param at when the answer was made, to the second
     * @param serverStartedAt when the server started, to the second: SDKs connected to it before a restart take up to
     *                        their backoff (30 s at most) to be back in the list
     * @param applied how many streams' SDKs have acknowledged target or later
     * @param pending how many acknowledge, and have not acknowledged target yet
     * @param unconfirmed how many do not acknowledge
     * @param sdks at most the limit asked for: pending first (the furthest behind first), then unconfirmed, then applied
     * @param closed if asked for, the instances closed by their application since the time asked about, newest first, at
     *               most {@link #MAX_LIMIT}; null if not asked for
     */
    public record Sdks(String environment, long version, long target, Instant at, Instant serverStartedAt, int applied,
                       int pending, int unconfirmed, List<Sdk> sdks, List<SdkStream> closed) {
        /** Checks every part and copies the lists. */
        public Sdks {
            Objects.requireNonNull(environment, "environment");
            Objects.requireNonNull(at, "at");
            Objects.requireNonNull(serverStartedAt, "serverStartedAt");
            sdks = List.copyOf(sdks);
            closed = closed == null ? null : List.copyOf(closed);
        }

        /** @return how many streams are open */
        public int streams() {
            return applied + pending + unconfirmed;
        }
    }

    private static final Comparator<Sdk> ORDER = Comparator.<Sdk>comparingInt(s -> switch (s.standing()) {
                case PENDING -> 0;
                case UNCONFIRMED -> 1;
                case APPLIED -> 2;
            })
            .thenComparingLong(s -> s.stream().appliedVersion())
            .thenComparing(s -> s.stream().application())
            .thenComparing(s -> s.stream().connectedAt())
            .thenComparing(s -> s.stream().instanceId());

    private final Journal journal;
    private final Function<String, List<SdkStream>> streams;
    private final BiFunction<String, Instant, List<SdkStream>> closedSince;
    private final Clock clock;
    private final BooleanSupplier stopping;
    private final Instant startedAt;

    /**
     * @param journal the journal: which environments there are, and their versions
     * @param streams an environment's open sync streams now
     * @param clock the clock of the answers' {@code at}
     * @param stopping whether the server is stopping: its streams are closed, and SDKs reconnect elsewhere
     * @param startedAt when the server started: until its SDKs have reconnected (their backoff is up to 30 s), fewer are
     *                  listed than there are
     */
    public SdkService(Journal journal, Function<String, List<SdkStream>> streams, Clock clock, BooleanSupplier stopping,
                      Instant startedAt) {
        this(journal, streams, (env, after) -> List.of(), clock, stopping, startedAt);
    }

    /**
     * @param journal the journal: which environments there are, and their versions
     * @param streams an environment's open sync streams now
     * @param closedSince an environment's SDK instances closed by their application since a time, newest first
     * @param clock the clock of the answers' {@code at}
     * @param stopping whether the server is stopping
     * @param startedAt when the server started
     */
    public SdkService(Journal journal, Function<String, List<SdkStream>> streams,
                      BiFunction<String, Instant, List<SdkStream>> closedSince, Clock clock, BooleanSupplier stopping,
                      Instant startedAt) {
        this.journal = Objects.requireNonNull(journal, "journal");
        this.streams = Objects.requireNonNull(streams, "streams");
        this.closedSince = Objects.requireNonNull(closedSince, "closedSince");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.stopping = Objects.requireNonNull(stopping, "stopping");
        this.startedAt = Objects.requireNonNull(startedAt, "startedAt").truncatedTo(ChronoUnit.SECONDS);
    }

    /**
     * @param p who asks: an admin token, or an editor, operator or viewer token of the environment (the list names
     *          applications and tokens, which a tester has no need of)
     * @param env the environment's key
     * @param version the version to count acknowledgements of, from 1 to the environment's version now; null for the
     *                version now
     * @param limit how many streams to list, 0 to {@link #MAX_LIMIT}
     * @return the environment's open streams and where they stand
     * @throws ApiException 400 for a bad version or limit, 403 for a token that may not ask, 404 for no such environment
     */
    public Sdks list(Principal p, String env, Long version, int limit) {
        return list(p, env, version, limit, null);
    }

    /**
     * As {@link #list(Principal, String, Long, int)}, with the instances closed by their application since a time: an
     * instance that leaves the list while a change is awaited has either closed (it serves nothing any more) or lost its
     * connection (it may serve what it had): the first kind is here.
     *
     * @param closedAfter a time, or null for no list of closed instances
     */
    public Sdks list(Principal p, String env, Long version, int limit, Instant closedAfter) {
        if (!p.canReadHistory(env)) {
            throw ApiException.forbidden("the SDKs of environment \"" + env + "\" are listed to an admin token, or an"
                    + " editor, operator or viewer token of it; this token is " + (p.isAdmin() || p.environments().contains(env)
                    ? "of scope " + p.scope().apiName() : "not for it"));
        }
        if (limit < 0 || limit > MAX_LIMIT) {
            throw ApiException.badRequest("limit must be from 0 to " + MAX_LIMIT + " (0: only the counts), was " + limit);
        }
        if (stopping.getAsBoolean()) {
            // Its streams are closed already: an empty list would read as "no SDK has anything to confirm" (QA49a F1).
            throw new ApiException(503, "service unavailable", "the server is stopping: its SDKs' streams are closed and"
                    + " they reconnect (to it once it is back, or to another server); ask again there");
        }
        EnvironmentState state = Access.environment(journal, env);
        long target = version == null ? state.version() : version;
        if (target < 1 || target > state.version()) {
            throw ApiException.badRequest("version must be from 1 to the environment's version now, " + state.version()
                    + ", was " + target);
        }
        int applied = 0;
        int pending = 0;
        int unconfirmed = 0;
        List<Sdk> all = new java.util.ArrayList<>();
        for (SdkStream s : streams.apply(env)) {
            Standing standing = !s.acknowledges() ? Standing.UNCONFIRMED
                    : s.appliedVersion() >= target ? Standing.APPLIED : Standing.PENDING;
            switch (standing) {
                case APPLIED -> applied++;
                case PENDING -> pending++;
                case UNCONFIRMED -> unconfirmed++;
            }
            all.add(new Sdk(s, standing));
        }
        List<Sdk> listed = all.stream().sorted(ORDER).limit(limit).toList();
        // Not held to the limit of the streams listed: a fleet that scales in closes many at once, and a wait looks for
        // the ones it saw pending among them.
        List<SdkStream> closed = closedAfter == null ? null : closedSince.apply(env, closedAfter).stream().limit(MAX_LIMIT).toList();
        return new Sdks(env, state.version(), target, clock.instant().truncatedTo(ChronoUnit.SECONDS), startedAt, applied,
                pending, unconfirmed, listed, closed);
    }
}
