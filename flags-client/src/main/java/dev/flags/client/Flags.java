package dev.flags.client;

import dev.flags.client.internal.ClientFlags;
import dev.flags.client.internal.Settings;
import dev.flags.core.Flag;
import dev.flags.core.User;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Executor;

/**
 * Thread-safe. The flags of one environment, evaluated locally: create one per application, at
 * start, and ask it on every request.
 *
 * <pre>{@code
 * Flags flags = Flags.builder()
 *     .target("flags.internal:9090")
 *     .sdkToken(System.getenv("FLAGS_SDK_TOKEN"))
 *     .environment("production")
 *     .cacheFile(Path.of("/var/cache/myapp/flags.cache"))
 *     .build();                                   // returns at once
 *
 * User user = User.withId("u-42").roles("beta-tester").region("eu-west");
 * if (flags.isEnabled("billing-v2", user)) { ... }
 * }</pre>
 *
 * <p>Evaluation ({@link #isEnabled}, {@link #variant}, {@link #evaluate}, {@link #allFlags}) never
 * blocks, never touches the network and never throws: it reads one immutable snapshot of the flags
 * and runs flags-core's evaluator on it. An unknown flag, a null user or a failing rule gives the
 * caller's default, and {@link #evaluate} says why; but a switched-off flag is off even for a null
 * user (the kill switch wins). Until the first sync the SDK serves the snapshot
 * of the cache file, else defaults; {@link FlagEvaluation#source()} and {@link #freshness()} say
 * which.
 *
 * <p>In the background the SDK holds a gRPC stream to the flag server, applies each change to a new
 * snapshot and swaps it in atomically; it reconnects forever with exponential backoff and resumes
 * from the version it has. {@link #close()} stops it.
 */
public interface Flags extends AutoCloseable {

    /**
     * Starts a builder.
     *
     * @return a new builder with the defaults
     */
    static Builder builder() {
        return new Builder();
    }

    /**
     * Whether the flag is on for the user. Never blocks, never throws, allocates nothing (but for a date or numeric
     * condition on a text attribute, or {@code matches}, which parse the user's value: see docs/client.md).
     *
     * @param flagKey the flag's key
     * @param user the user; null gives false
     * @return the flag's answer, or false if there is no such flag (or no flags yet) or the evaluation failed
     */
    boolean isEnabled(String flagKey, User user);

    /**
     * Whether the flag is on for the user, with the caller's default for an unknown flag, no flags yet,
     * or an error. Never blocks, never throws, allocates nothing (with the exceptions of {@link #isEnabled(String, User)}).
     *
     * @param flagKey the flag's key
     * @param user the user; null gives {@code defaultValue}
     * @param defaultValue the answer when there is no such flag or the evaluation fails
     * @return the answer
     */
    boolean isEnabled(String flagKey, User user, boolean defaultValue);

    /**
     * The variant served to the user, for A/B flags. Never blocks, never throws.
     *
     * @param flagKey the flag's key
     * @param user the user
     * @return the variant's key, or null if the flag is off for the user, has no variants or is unknown
     */
    String variant(String flagKey, User user);

    /**
     * Evaluates a flag and says why: value, variant, reason, flag version and where the flags came
     * from. Never blocks, never throws.
     *
     * @param flagKey the flag's key
     * @param user the user
     * @return the answer with its reason; for an unknown flag or a null user, false with a reason that says so
     *         ({@code FLAG_OFF} for a switched-off flag, whatever the user)
     */
    FlagEvaluation evaluate(String flagKey, User user);

    /**
     * Evaluates a flag and says why, with the caller's default for an unknown flag, no flags yet, or an
     * error. Never blocks, never throws.
     *
     * @param flagKey the flag's key
     * @param user the user
     * @param defaultValue the answer when there is no such flag or the evaluation fails
     * @return the answer with its reason
     */
    FlagEvaluation evaluate(String flagKey, User user, boolean defaultValue);

    /**
     * Evaluates every flag for the user, from one snapshot, for handing flags to a front end.
     * Never blocks, never throws.
     *
     * @param user the user
     * @return flag key to answer, sorted by key; immutable; empty if there are no flags yet
     */
    Map<String, FlagEvaluation> allFlags(User user);

    /**
     * Registers a listener for changes of one flag: each change applied after this method returned
     * (not one applied before, even if its listeners had not all been called yet).
     *
     * @param flagKey the flag's key; it need not exist yet (the listener then hears of it being added)
     * @param listener called after each change of that flag, on the SDK's listener thread (or the
     *                 {@code listenerExecutor} set on the builder: with {@code Runnable::run}, on the thread
     *                 that applied the change, which the listener must then never block)
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if no flag can have the key (docs/flag-format.md: letters,
     *         digits, '.', '_' and '-', at most 128): a listener for it would never be called
     */
    void addListener(String flagKey, FlagChangeListener listener);

    /**
     * Registers a listener for the answer one user gets from one flag: called only when that answer changes (its value,
     * its variant or the variant's payload), with the answer before and after; not for a change of the flag that leaves
     * this user's answer as it was (a rule for other users, a description). For the answers a service acts on by itself
     * (a user that stands for the service, a tenant, a region) rather than per request. The answer before is the one
     * served when this method was called, then the one of the change before; the answer after is the one right after
     * the change the call is for, even when later changes were applied before the listener's turn came.
     *
     * @param flagKey the flag's key; it need not exist yet (its answer is then the default, {@code false})
     * @param user the user whose answer is watched
     * @param listener called after each change of that answer, on the thread a {@link FlagChangeListener} would be
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if no flag can have the key, as {@link #addListener(String, FlagChangeListener)}
     */
    void addValueListener(String flagKey, User user, FlagValueListener listener);

    /**
     * Removes every registration of a value listener; one that is not registered is ignored. A call already handed to
     * the executor may still come.
     *
     * @param listener the listener
     */
    void removeValueListener(FlagValueListener listener);

    /**
     * Registers a listener for changes of any flag: each change applied after this method returned.
     *
     * @param listener called after each change of each flag, on the SDK's listener thread (or the
     *                 {@code listenerExecutor} set on the builder, as for {@link #addListener(String, FlagChangeListener)})
     * @throws NullPointerException if {@code listener} is null
     */
    void addListener(FlagChangeListener listener);

    /**
     * Removes every registration of a listener; a listener that is not registered is ignored.
     *
     * @param listener the listener
     */
    void removeListener(FlagChangeListener listener);

    /**
     * Registers a listener for changes of the SDK's state: becoming live, going stale, recovering. It is
     * called once soon after registration with the current state, then after each change of
     * {@link Freshness#source()}, and when the server starts or stops refusing the SDK, the cache file cannot be
     * written (or can again), or a watched offline file turns invalid, is removed or is good again
     * ({@link Freshness#problem()} says which); not on every change of flags. Calls come on the SDK's listener thread,
     * or on the builder's {@code listenerExecutor} (with {@code Runnable::run}, on the thread that changed
     * the state, or for its first call on the thread that registers it: such a listener must not block, though it may
     * call {@code close()}, the first call included; told the flags are live, it
     * finds {@code awaitReady} true); one that throws is logged and ignored. Registering the same listener
     * twice calls it twice.
     *
     * @param listener called with the new {@link Freshness}
     * @throws NullPointerException if {@code listener} is null
     */
    void addStatusListener(StatusListener listener);

    /**
     * Removes every registration of a status listener; one that is not registered is ignored. A call
     * already handed to the executor may still come.
     *
     * @param listener the listener
     */
    void removeStatusListener(StatusListener listener);

    /**
     * Waits until the first sync with the flag server (or, offline, until the flag file was read), for
     * applications that want current flags before they take traffic. Blocks up to {@code timeout}.
     *
     * @param timeout how long to wait at most
     * @return true if ready (now or earlier); false if the time ran out, the server refused the SDK (token,
     *         environment), or this was closed before it was ready (an interrupt also gives false, with the
     *         thread's interrupt flag set again)
     * @throws NullPointerException if {@code timeout} is null
     */
    boolean awaitReady(Duration timeout);

    /**
     * How fresh the flags are: version, source, stream state, last contact with the server. The parts are read
     * as one (never live flags over a stream that is down): while the SDK publishes a change, this waits for it,
     * and for change listeners that run on the publishing thread ({@link Builder#listenerExecutor}).
     *
     * @return the current report; never null
     */
    Freshness freshness();

    /**
     * A health check for an application's readiness probe or status page. Made from {@link #freshness()}, it waits as
     * that does while a change is published.
     *
     * @return up, degraded (serving a stale or cached copy) or down (no flags, or closed), with a detail
     */
    Health health();

    /**
     * Stops the stream, or the offline file's watcher. Idempotent; throws nothing. After close, evaluation still
     * answers from the last snapshot, but nothing updates it any more. The SDK's two shared threads (its background
     * thread and its listener thread, one each for every {@code Flags} of the JVM) end on their own after 30 s with
     * nothing to do. Called from a listener run on the thread that
     * applied a change, or under the SDK's lock ({@code listenerExecutor(Runnable::run)}), it returns at once, and the rest (the last usage
     * report, the connection's end, the cache file) finishes on the SDK's background thread: waiting there would hold
     * up the very thread that has to finish it. A later {@code close()} from another thread (the application's, before it
     * exits) waits until that is done, a few seconds at most. Called on an interrupted thread (a worker told to stop, closing
     * in its {@code finally}), it does all of this too, in the same few seconds at most, and leaves the thread interrupted.
     */
    @Override
    void close();

    /**
     * Not thread-safe. Configures and builds a {@link Flags}. Setters check their argument at once;
     * {@link #build()} checks that the settings fit together.
     *
     * <p>Either {@link #target(String)} (with {@link #sdkToken(String)} and
     * {@link #environment(String)}) for a flag server, or {@link #offlineFile(Path)} to run from a flag
     * file with no server.
     */
    final class Builder {

        private static final Set<String> CONFIG_KEYS = Set.of("target", "sdkToken", "environment", "plaintext",
                "trustedCertificates", "cacheFile", "offlineFile", "watchOfflineFile", "initialBackoff", "maxBackoff",
                "application", "usageReporting");
        /** The longest application name, as the flag server takes it. */
        public static final int MAX_APPLICATION_LENGTH = 100;
        /** The longest sdk token: the server takes none longer. */
        static final int MAX_TOKEN_LENGTH = 256;
        /** The shortest {@link #initialBackoff(Duration)}. */
        static final Duration MIN_INITIAL_BACKOFF = Duration.ofMillis(10);
        /** The shortest {@link #maxBackoff(Duration)}: a refused SDK asks again this often, at most. */
        static final Duration MIN_MAX_BACKOFF = Duration.ofMillis(100);
        /** The longest backoff of either kind. */
        static final Duration MAX_BACKOFF = Duration.ofHours(1);

        private String target;
        private String sdkToken;
        private String environment;
        private boolean plaintext;
        private Path trustedCertificates;
        private Path cacheFile;
        private Path offlineFile;
        private boolean watchOfflineFile;
        // Null until set: offline mode refuses them, so build() must tell a setting from a default.
        private Duration initialBackoff;
        private Duration maxBackoff;
        private Clock clock = Clock.systemUTC();
        private Executor listenerExecutor;
        private String application;
        private Boolean usageReporting; // null: not set (on with a target)

        Builder() {
        }

        /**
         * Sets the flag server's gRPC address.
         *
         * @param target {@code host:port} (an IPv6 address in brackets: {@code [::1]:9090}), or any gRPC
         *        target with a scheme, such as {@code dns:///flags.internal:9090}, which gRPC checks
         * @return this builder
         * @throws NullPointerException if {@code target} is null
         * @throws IllegalArgumentException if {@code target} is blank, or a {@code host:port} without a
         *         port from 1 to 65535
         */
        public Builder target(String target) {
            this.target = Settings.checkTarget(nonBlank(target, "target"));
            return this;
        }

        /**
         * Sets the {@code sdk} token of the environment, sent as {@code authorization: Bearer <token>}.
         * It is never logged.
         *
         * @param sdkToken the token
         * @return this builder
         * @throws NullPointerException if {@code sdkToken} is null
         * @throws IllegalArgumentException if the token is blank or contains whitespace or control characters
         */
        public Builder sdkToken(String sdkToken) {
            nonBlank(sdkToken, "sdkToken");
            // A token read from a file or a secret ends with a line break: dropped, as the flags CLI drops it (no token
            // holds white space).
            sdkToken = sdkToken.strip();
            if (sdkToken.length() > MAX_TOKEN_LENGTH) {
                // The server takes no longer token: this one would only fail at the first sync, as UNAUTHENTICATED.
                throw new IllegalArgumentException("sdkToken must be at most " + MAX_TOKEN_LENGTH + " characters (no token"
                        + " the server makes is longer), was " + sdkToken.length());
            }
            for (int i = 0; i < sdkToken.length(); i++) {
                char c = sdkToken.charAt(i);
                if (c <= ' ' || c >= 0x7f) {
                    // Never echo the token; say where the bad character is.
                    throw new IllegalArgumentException("sdkToken must be printable ASCII without spaces;"
                            + " character " + (i + 1) + " (counted from 1) is not");
                }
            }
            this.sdkToken = sdkToken;
            return this;
        }

        /**
         * Sets the environment whose flags to sync, such as {@code production}.
         *
         * @param environment the environment's key
         * @return this builder
         * @throws NullPointerException if {@code environment} is null
         * @throws IllegalArgumentException if {@code environment} is not an environment's key: an ASCII letter or
         *         digit, then ASCII letters, digits, {@code .}, {@code _} or {@code -}, at most 128 characters (the
         *         server's rule, checked here so that a typo fails at start, not in the first sync), or holds what
         *         looks like a flag server token (no environment's key does; the message does not quote it)
         */
        public Builder environment(String environment) {
            nonBlank(environment, "environment");
            if (dev.flags.core.ReadableText.holdsAToken(environment)) {
                // The token given here too (one variable for both): never quoted, and never sent, since the server's
                // refusal would name it and be logged; no environment's key looks like a token (QA85 F2).
                throw new IllegalArgumentException("environment " + dev.flags.core.ReadableText.HOLDS_A_TOKEN
                        + ": is the sdk token given as the environment?");
            }
            if (!Flag.isValidKey(environment)) {
                throw new IllegalArgumentException("environment must be an environment's key: an ASCII letter or digit, then"
                        + " ASCII letters, digits, '.', '_' or '-', at most 128 characters, was " + shown(environment));
            }
            this.environment = environment;
            return this;
        }

        /**
         * Talks to the flag server without TLS (for a server on the same host or a trusted network).
         * The default is TLS with the JVM's trusted certificate authorities. Only with
         * {@link #target(String)}.
         *
         * @return this builder
         */
        public Builder plaintext() {
            this.plaintext = true;
            return this;
        }

        /**
         * Trusts the certificate authorities of a PEM file, instead of the JVM's, for the flag server's
         * TLS certificate (a private CA, or the server's self-signed certificate). Only with
         * {@link #target(String)}; {@link #build()} reads the file.
         *
         * @param pemFile a PEM file of one or more certificates
         * @return this builder
         * @throws NullPointerException if {@code pemFile} is null
         */
        public Builder trustedCertificates(Path pemFile) {
            this.trustedCertificates = named(pemFile, "trustedCertificates");
            return this;
        }

        /**
         * Sets the local cache file (fail static): the SDK writes each new snapshot to it atomically,
         * and at start, before the server answers, serves what it holds. A corrupt file, or one written
         * for another environment, is ignored with a warning. The directory must exist ({@link #build()}
         * checks).
         *
         * @param cacheFile the file; it need not exist yet
         * @return this builder
         * @throws NullPointerException if {@code cacheFile} is null
         * @throws IllegalArgumentException if it is the empty path (often an environment variable set empty)
         */
        public Builder cacheFile(Path cacheFile) {
            this.cacheFile = named(cacheFile, "cacheFile");
            return this;
        }

        /**
         * Runs offline, from a flag file in flags-core's JSON format ({@code docs/flag-format.md}), with
         * no server at all: for local development and tests. Excludes {@link #target(String)}.
         *
         * @param flagFile the flag file
         * @return this builder
         * @throws NullPointerException if {@code flagFile} is null
         * @throws IllegalArgumentException if it is the empty path (often an environment variable set empty)
         */
        public Builder offlineFile(Path flagFile) {
            this.offlineFile = named(flagFile, "offlineFile");
            return this;
        }

        /**
         * Watches the offline file and reloads it when it changes. An edit that makes it invalid keeps
         * the last good flags and logs why. Its directory is watched: one that is removed or moved away
         * (the file is then reported as removed), or that does not exist yet at {@code build()}, is
         * watched again within a second of being back. Default: false.
         *
         * @param watch true to watch
         * @return this builder
         */
        public Builder watchOfflineFile(boolean watch) {
            this.watchOfflineFile = watch;
            return this;
        }

        /**
         * Sets the first delay before reconnecting; each failed attempt doubles it up to
         * {@link #maxBackoff(Duration)}, and each delay is jittered (between half and all of it).
         * Default: 1 second. Only with {@link #target(String)}.
         *
         * @param delay 10 ms to 1 hour
         * @return this builder
         * @throws IllegalArgumentException if {@code delay} is outside that range
         */
        public Builder initialBackoff(Duration delay) {
            this.initialBackoff = within(delay, MIN_INITIAL_BACKOFF, "initialBackoff");
            return this;
        }

        /**
         * Sets the longest delay between reconnection attempts; also the delay after the server
         * refused the token. Default: 30 seconds. Only with {@link #target(String)}.
         *
         * @param delay 100 ms to 1 hour: also how often a refused SDK asks again, so never a busy loop on the server
         * @return this builder
         * @throws IllegalArgumentException if {@code delay} is outside that range
         */
        public Builder maxBackoff(Duration delay) {
            this.maxBackoff = within(delay, MIN_MAX_BACKOFF, "maxBackoff");
            return this;
        }

        /**
         * Names the application, for the flag server's usage view ({@code flags usage}: which applications
         * still evaluate a flag). Optional; only with {@link #target(String)}.
         *
         * @param name up to {@value #MAX_APPLICATION_LENGTH} characters of printable text (no control,
         *             bidirectional or invisible characters), not {@code "(unnamed)"}, such as {@code "checkout"}
         * @return this builder
         * @throws NullPointerException if {@code name} is null
         * @throws IllegalArgumentException if it is blank, too long, or not such text
         */
        public Builder application(String name) {
            nonBlank(name, "application");
            this.application = Settings.checkApplication(name);
            return this;
        }

        /**
         * Whether to tell the flag server, once a minute, which flags this application evaluated and
         * whether each answered true or false (no users, no counts: a mark per flag and answer). That is
         * how product owners see that the code no longer asks for a flag before they archive it
         * (client.md, "Usage reports"). Default: on. Only with {@link #target(String)}.
         *
         * @param report false to send no usage reports
         * @return this builder
         */
        public Builder usageReporting(boolean report) {
            this.usageReporting = report;
            return this;
        }

        /**
         * Sets the clock of the timestamps in {@link Freshness} and in the cache file. Default: the
         * system clock in UTC.
         *
         * @param clock the clock
         * @return this builder
         * @throws NullPointerException if {@code clock} is null
         */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Sets the executor that calls change and status listeners. Default: one daemon thread of the SDK's,
         * {@code flags-events-N}, shared by every {@code Flags} of the JVM and started when there is
         * something to deliver (in order for each {@code Flags}; a listener that blocks holds up those of
         * the other instances).
         *
         * <p>The executor is called where changes are applied, which for a live stream is gRPC's transport
         * thread: a direct executor ({@code Runnable::run}) runs listeners there, which is the quickest
         * delivery but holds up the connection while they run, so keep such listeners short and never
         * blocking.
         *
         * @param executor the executor; a multi-threaded one may call listeners concurrently
         * @return this builder
         * @throws NullPointerException if {@code executor} is null
         */
        public Builder listenerExecutor(Executor executor) {
            this.listenerExecutor = Objects.requireNonNull(executor, "listenerExecutor");
            return this;
        }

        /**
         * Applies settings from a configuration map, for applications that keep them in a file or the
         * environment. Keys are the setter names: {@code target}, {@code sdkToken}, {@code environment},
         * {@code plaintext} ({@code true}/{@code false}), {@code trustedCertificates}, {@code cacheFile},
         * {@code offlineFile}, {@code watchOfflineFile}, {@code initialBackoff}, {@code maxBackoff}
         * (durations such as {@code 500ms}, {@code 30s}, {@code 2m} or {@code PT30S}), {@code application},
         * {@code usageReporting} ({@code true}/{@code false}).
         *
         * @param config setting name to value
         * @return this builder
         * @throws NullPointerException if {@code config} or a value is null
         * @throws IllegalArgumentException for an unknown key or a bad value
         */
        public Builder config(Map<String, String> config) {
            Objects.requireNonNull(config, "config");
            for (String key : new TreeSet<>(config.keySet())) {
                String value = Objects.requireNonNull(config.get(key), () -> "setting \"" + key + "\" is null in the"
                        + " configuration (read from an environment variable or a setting that is not set?)");
                switch (key) {
                    case "target" -> target(value);
                    case "sdkToken" -> sdkToken(value);
                    case "environment" -> environment(value);
                    case "plaintext" -> plaintext = bool(key, value);
                    case "trustedCertificates" -> trustedCertificates(path(key, value));
                    case "cacheFile" -> cacheFile(path(key, value));
                    case "offlineFile" -> offlineFile(path(key, value));
                    case "watchOfflineFile" -> watchOfflineFile(bool(key, value));
                    case "initialBackoff" -> initialBackoff(duration(key, value));
                    case "maxBackoff" -> maxBackoff(duration(key, value));
                    case "application" -> application(value);
                    case "usageReporting" -> usageReporting(bool(key, value));
                    default -> throw new IllegalArgumentException("unknown setting \"" + key + "\"; known settings are "
                            + new TreeSet<>(CONFIG_KEYS));
                }
            }
            return this;
        }

        /**
         * Builds the SDK and returns at once: it never waits for the network. Reads the cache file or
         * the offline file (local files only), then syncs in the background; use
         * {@link Flags#awaitReady(Duration)} to wait for the first sync.
         *
         * @return a new, running {@link Flags}; close it when the application stops
         * @throws IllegalStateException if the settings do not fit together (no target and no offline
         *         file, both, a target without token or environment, a setting of the server's connection
         *         in offline mode, ...)
         * @throws IllegalArgumentException if the trusted certificates cannot be read or hold no
         *         certificate, or the cache file's directory does not exist
         */
        public Flags build() {
            if (target == null && offlineFile == null) {
                throw new IllegalStateException("set target(...) to sync with a flag server, or offlineFile(...)"
                        + " to run from a flag file");
            }
            if (target != null && offlineFile != null) {
                throw new IllegalStateException("target \"" + target + "\" and offlineFile " + offlineFile
                        + " exclude each other: choose a flag server or a flag file");
            }
            if (target != null) {
                if (sdkToken == null) {
                    throw new IllegalStateException("sdkToken is required with target \"" + target + "\"");
                }
                if (environment == null) {
                    throw new IllegalStateException("environment is required with target \"" + target + "\"");
                }
                if (plaintext && trustedCertificates != null) {
                    throw new IllegalStateException("plaintext() and trustedCertificates " + trustedCertificates
                            + " exclude each other");
                }
            } else {
                if (cacheFile != null) {
                    throw new IllegalStateException("cacheFile " + cacheFile + " is for a flag server; offline mode"
                            + " reads offlineFile " + offlineFile);
                }
                if (sdkToken != null || environment != null) {
                    throw new IllegalStateException("sdkToken and environment are for a flag server; offline mode"
                            + " reads offlineFile " + offlineFile);
                }
                List<String> serverOnly = new ArrayList<>();
                if (plaintext) {
                    serverOnly.add("plaintext()");
                }
                if (trustedCertificates != null) {
                    serverOnly.add("trustedCertificates " + trustedCertificates);
                }
                // The backoffs, the application's name and usage reporting are left alone: they tune how a flag
                // server is reached and told, and one configuration that swaps target for offlineFile in a test
                // profile keeps them. What would reach a server (a token, TLS, a cache of its flags) is refused.
                if (!serverOnly.isEmpty()) {
                    throw new IllegalStateException(String.join(", ", serverOnly)
                            + (serverOnly.size() == 1 ? " only applies" : " only apply")
                            + " with target(...), to reach a flag server; offline mode reads offlineFile " + offlineFile);
                }
            }
            if (watchOfflineFile && offlineFile == null) {
                throw new IllegalStateException("watchOfflineFile needs an offlineFile");
            }
            Duration max = maxBackoff != null ? maxBackoff : Settings.DEFAULT_MAX_BACKOFF;
            // A maxBackoff below the default initialBackoff, with initialBackoff left alone, brings the first delay
            // down with it: the developer asked for no delay longer than that.
            Duration initial = initialBackoff != null ? initialBackoff
                    : max.compareTo(Settings.DEFAULT_INITIAL_BACKOFF) < 0 ? max : Settings.DEFAULT_INITIAL_BACKOFF;
            if (max.compareTo(initial) < 0) {
                throw new IllegalStateException("maxBackoff " + max + " must not be shorter than initialBackoff "
                        + initial + (maxBackoff == null ? " (maxBackoff is its default: set it too)" : ""));
            }
            if (cacheFile != null) {
                // Checked now rather than at the first write, after the first sync, where a missing
                // directory would only be a warning and the fail-static copy would silently never exist.
                Path directory = cacheFile.toAbsolutePath().getParent();
                if (directory != null && !Files.isDirectory(directory)) {
                    throw new IllegalArgumentException("cacheFile " + cacheFile + " cannot be written: directory "
                            + directory + (Files.exists(directory) ? " is not a directory" : " does not exist")
                            + "; the SDK creates the file, not its directory");
                }
                if (Files.isDirectory(cacheFile)) {
                    throw new IllegalArgumentException("cacheFile " + cacheFile + " is a directory: name a file in it, such as "
                            + cacheFile.resolve("flags.cache"));
                }
            }
            if (offlineFile != null && Files.isDirectory(offlineFile)) {
                throw new IllegalArgumentException("offlineFile " + offlineFile + " is a directory: name the flag file");
            }
            return ClientFlags.start(new Settings(target, sdkToken, environment, plaintext, trustedCertificates,
                    cacheFile, offlineFile, watchOfflineFile, initial, max, clock, listenerExecutor, application,
                    target != null && (usageReporting == null || usageReporting)));
        }

        @Override
        public String toString() {
            // Never the token.
            return "Flags.Builder{target=" + target + ", environment=" + environment
                    + ", sdkToken=" + (sdkToken == null ? "unset" : "set") + ", cacheFile=" + cacheFile
                    + ", offlineFile=" + offlineFile + "}";
        }

        private static String nonBlank(String value, String what) {
            // Often read from an environment variable that is not set: say so, not just the name.
            Objects.requireNonNull(value, () -> what + " is null (read from an environment variable or setting that is not set?)");
            if (value.isBlank()) {
                throw new IllegalArgumentException(what + " must not be blank, was \"" + value + "\"");
            }
            return value;
        }

        private static Duration within(Duration value, Duration min, String what) {
            Objects.requireNonNull(value, what);
            if (value.compareTo(min) < 0 || value.compareTo(MAX_BACKOFF) > 0) {
                throw new IllegalArgumentException(what + " must be between " + min.toMillis() + " ms and 1 hour, was " + value);
            }
            return value;
        }

        private static Path named(Path file, String what) {
            Objects.requireNonNull(file, what);
            if (file.toString().isBlank()) {
                throw new IllegalArgumentException(what + " must name a file, was the empty path (an environment variable set"
                        + " empty?)");
            }
            String path = file.toString();
            int first = path.codePointAt(0);
            int last = path.codePointBefore(path.length());
            // Around the path, any space (a no-break one too); in it, controls and the marks that reorder or hide text.
            if (Character.isWhitespace(first) || Character.isSpaceChar(first) || Character.isWhitespace(last)
                    || Character.isSpaceChar(last) || dev.flags.core.ReadableText.unfitForName(path) >= 0) {
                // A line break read from a file or a variable: the file would never be found (or be made with it in its name).
                throw new IllegalArgumentException(what + " must not have white space around it or control characters in it"
                        + " (a line break read from a file or an environment variable?), was " + shown(path));
            }
            return file;
        }

        /** A value as it may be shown in a message: quoted, controls escaped, cut to 80 characters. */
        private static String shown(String value) {
            StringBuilder out = new StringBuilder("\"");
            for (int i = 0; i < value.length() && i < 80; i++) {
                char c = value.charAt(i);
                out.append(c < 0x20 || c >= 0x7f ? String.format("\\u%04x", (int) c) : String.valueOf(c));
            }
            return out.append(value.length() > 80 ? "...\" (" + value.length() + " characters)" : "\"").toString();
        }

        /** A path from the configuration: one the file system cannot name is said with its setting, as the setters say theirs. */
        private static Path path(String key, String value) {
            try {
                return Path.of(value);
            } catch (java.nio.file.InvalidPathException e) {
                // The JDK's own message names no setting ("Nul character not allowed: ..."), and quotes the value raw.
                throw new IllegalArgumentException(key + " must be a path, was " + shown(value) + ": " + e.getReason(), e);
            }
        }

        private static boolean bool(String key, String value) {
            return switch (value.trim().toLowerCase(Locale.ROOT)) {
                case "true" -> true;
                case "false" -> false;
                default -> throw new IllegalArgumentException(key + " must be true or false, was \"" + value + "\"");
            };
        }

        static Duration duration(String key, String value) {
            String v = value.trim().toLowerCase(Locale.ROOT);
            try {
                if (v.startsWith("pt") || v.startsWith("p")) {
                    return Duration.parse(value.trim());
                }
                if (v.endsWith("ms")) {
                    return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2).trim()));
                }
                if (v.endsWith("s")) {
                    return Duration.ofSeconds(Long.parseLong(v.substring(0, v.length() - 1).trim()));
                }
                if (v.endsWith("m")) {
                    return Duration.ofMinutes(Long.parseLong(v.substring(0, v.length() - 1).trim()));
                }
                if (v.endsWith("h")) {
                    return Duration.ofHours(Long.parseLong(v.substring(0, v.length() - 1).trim()));
                }
            } catch (NumberFormatException | DateTimeParseException | ArithmeticException e) {
                // fall through to the message below (ArithmeticException: more minutes or hours than a Duration holds)
            }
            throw new IllegalArgumentException(key + " must be a duration such as 500ms, 30s, 2m or PT30S (a whole number"
                    + " of ms, s, m or h, or ISO-8601: PT1.5S, PT1M30S), was \"" + value + "\"");
        }
    }
}
