package dev.flags.server;

import dev.flags.core.Suggestions;
import java.io.PrintWriter;
import java.lang.reflect.Field;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Period;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.bridge.SLF4JBridgeHandler;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The server's command line: {@code java -jar flags-server/target/flags-server.jar [options]}. Every
 * option can also be set by its {@code FLAGS_*} environment variable; see docs/server.md.
 */
@Command(name = "flags-server", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Runs the flag server: the journal, the admin HTTP API and the gRPC sync service.",
        sortOptions = false,
        // Not an option, so that the token never shows in ps; listed here so that --help names every setting.
        footer = {"", "Environment only:",
                "      FLAGS_ADMIN_TOKEN      The bootstrap admin token: 16 to 256 ASCII letters,",
                "                               digits and punctuation, no spaces (default:",
                "                               generated into DATA_DIR/admin-token).",
                "",
                // An operator in an incident looks here first; the tool is a class in this jar, not a subcommand.
                "Journal verify and repair (docs/journal.md), with the server stopped:",
                "  java -cp flags-server.jar dev.flags.server.journal.JournalTool verify DIR",
                "", "See docs/server.md."})
public final class Main implements Callable<Integer> {

    /** {@code flags-server -V}: the release and the commit the build was made from. */
    static final class Version implements picocli.CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"flags-server " + dev.flags.core.Build.describe()};
        }
    }

    /** The exit code when the server cannot start (a port in use, a journal held by another server, ...). */
    static final int EXIT_CANNOT_START = 1;

    /** The option of each {@link BadSettingException#setting()}. */
    private static final Map<String, String> OPTIONS_BY_SETTING = Map.ofEntries(
            Map.entry("dataDir", "--data-dir"), Map.entry("bindAddress", "--bind"), Map.entry("httpPort", "--http-port"),
            Map.entry("grpcPort", "--grpc-port"), Map.entry("tlsCertificate", "--tls-cert"), Map.entry("tlsKey", "--tls-key"),
            Map.entry("heartbeatInterval", "--heartbeat"), Map.entry("journalRetention", "--journal-retention"),
            Map.entry("shutdownGrace", "--shutdown-grace"),
            Map.entry("changesPerMinute", "--api-changes-per-minute"), Map.entry("readsPerMinute", "--api-reads-per-minute"),
            Map.entry("maxSyncStreamsPerToken", "--max-sync-streams-per-token"),
            Map.entry("maxSyncStreamsPerConnection", "--max-sync-streams-per-connection"),
            Map.entry("grpcCallsPerTokenPerSecond", "--grpc-calls-per-token-per-second"),
            Map.entry("maxSyncBufferMib", "--max-sync-buffer-mib"),
            Map.entry("grpcMaxConnections", "--grpc-max-connections"),
            Map.entry("grpcMaxConnectionsPerAddress", "--grpc-max-connections-per-address"),
            Map.entry("httpMaxConnections", "--http-max-connections"),
            Map.entry("usageReportInterval", "--usage-report-interval"),
            Map.entry("usageReportsPerSecond", "--usage-reports-per-second"),
            Map.entry("bootstrapAdminToken", "--bootstrap-admin-token"),
            Map.entry("maxFlags", "--max-flags-per-environment"), Map.entry("maxMebibytes", "--max-environment-mib"),
            Map.entry("webhookUrl", "--webhook-url"), Map.entry("webhookSecretFile", "--webhook-secret-file"));

    /** The environment variable in an option's default value, such as {@code ${env:FLAGS_HTTP_PORT:-8080}}. */
    private static final Pattern ENV_DEFAULT = Pattern.compile("\\$\\{env:([A-Za-z0-9_]+)");

    @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "${env:FLAGS_DATA_DIR:-data}",
            description = "Where the journal and the generated admin token live (env FLAGS_DATA_DIR, default ${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--bind", paramLabel = "ADDRESS", defaultValue = "${env:FLAGS_BIND:-0.0.0.0}",
            description = "The address both ports listen on (env FLAGS_BIND, default ${DEFAULT-VALUE}).")
    String bind;

    @Option(names = "--http-port", paramLabel = "PORT", defaultValue = "${env:FLAGS_HTTP_PORT:-8080}",
            description = "The admin HTTP API's port (env FLAGS_HTTP_PORT, default ${DEFAULT-VALUE}).")
    int httpPort;

    @Option(names = "--grpc-port", paramLabel = "PORT", defaultValue = "${env:FLAGS_GRPC_PORT:-9090}",
            description = "The gRPC sync port (env FLAGS_GRPC_PORT, default ${DEFAULT-VALUE}).")
    int grpcPort;

    @Option(names = "--tls-cert", paramLabel = "FILE", defaultValue = "${env:FLAGS_TLS_CERT}",
            description = "PEM certificate chain; with --tls-key, both ports serve TLS (env FLAGS_TLS_CERT).")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "FILE", defaultValue = "${env:FLAGS_TLS_KEY}",
            description = "PEM PKCS#8 private key of the certificate (env FLAGS_TLS_KEY).")
    Path tlsKey;

    @Option(names = "--heartbeat", paramLabel = "DURATION", defaultValue = "${env:FLAGS_HEARTBEAT:-PT15S}",
            description = "Heartbeat interval of idle sync streams, ISO-8601, PT0.1S to PT1H (env FLAGS_HEARTBEAT, default ${DEFAULT-VALUE}).")
    Duration heartbeat;

    @Option(names = "--shutdown-grace", paramLabel = "DURATION", defaultValue = "${env:FLAGS_SHUTDOWN_GRACE:-PT10S}",
            description = "How long a stop waits, in all, for writes in flight, sync streams and HTTP requests to end,"
                    + " ISO-8601, PT0S to PT10M (env FLAGS_SHUTDOWN_GRACE, default ${DEFAULT-VALUE}).")
    Duration shutdownGrace;

    @Option(names = "--journal-retention", paramLabel = "PERIOD", defaultValue = "${env:FLAGS_JOURNAL_RETENTION}", converter = RetentionPeriod.class,
            description = "Keep journal entries this long for history, audit and time travel, at least P1D; ISO-8601 days, weeks or hours such as P365D, P52W or PT720H; whole segments go, at a write: an entry stays up to about a fifth longer (2 days at most) while writes come, and a server that takes none deletes nothing (env FLAGS_JOURNAL_RETENTION; default: forever).")
    Duration journalRetention;

    /** An ISO-8601 duration (PT15S, PT1M), or a conversion error that says so without naming Java's classes. */
    static Duration isoDuration(String value) {
        try {
            return Duration.parse(value.trim());
        } catch (DateTimeParseException e) {
            throw new CommandLine.TypeConversionException("'" + value + "' is not an ISO-8601 duration such as PT5S, PT15S or"
                    + " PT1M (5 seconds are PT5S, a minute PT1M: not 5s or 1m)");
        }
    }

    /** Reads a retention as days or weeks (P30D, P4W, PT720H); months and years have no fixed length, so they are refused. */
    static final class RetentionPeriod implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            String text = value.trim().toUpperCase(Locale.ROOT);
            Duration retention;
            try {
                if (text.contains("T")) {
                    retention = Duration.parse(text); // PT720H, P1DT12H
                } else {
                    Period period = Period.parse(text); // P30D, P4W (weeks are read as days)
                    if (period.toTotalMonths() != 0) {
                        throw new CommandLine.TypeConversionException("'" + value + "' counts months or years, which have no"
                                + " fixed length; write days or weeks, such as P365D or P52W");
                    }
                    retention = Duration.ofDays(period.getDays());
                }
            } catch (DateTimeParseException | ArithmeticException e) {
                // Digits where a period's number goes, past what it holds (an int of days, a long of seconds): a period,
                // and too long, not "no period" (QA59). Text that is no period has no cause.
                boolean tooLong = e instanceof ArithmeticException || e.getCause() instanceof ArithmeticException
                        || e.getCause() instanceof NumberFormatException;
                throw new CommandLine.TypeConversionException("'" + value + "' " + (tooLong ? "is too long a period; keep"
                        + " entries forever by leaving --journal-retention out" : "is not a period such as P365D, P52W or PT720H"));
            }
            // Checked here too (ServerConfig checks any config) so that the refusal quotes what was typed, not
            // Duration's normal form of it (-P1D would read PT-24H).
            if (retention.compareTo(Duration.ofDays(1)) < 0) {
                throw new CommandLine.TypeConversionException("'" + value + "' is " + (retention.isNegative() ? "negative"
                        : "shorter than a day") + ": journal retention must be at least one day (P1D), as history and audit"
                        + " read it");
            }
            return retention;
        }
    }

    @Option(names = "--api-changes-per-minute", paramLabel = "N", defaultValue = "${env:FLAGS_API_CHANGES_PER_MINUTE:-600}",
            description = "Admin API changes one token may make per minute, all at once if it likes; 0: no limit (env FLAGS_API_CHANGES_PER_MINUTE, default ${DEFAULT-VALUE}).")
    int apiChangesPerMinute;

    @Option(names = "--api-reads-per-minute", paramLabel = "N", defaultValue = "${env:FLAGS_API_READS_PER_MINUTE:-3000}",
            description = "Admin API reads one token may make per minute; 0: no limit (env FLAGS_API_READS_PER_MINUTE, default ${DEFAULT-VALUE}).")
    int apiReadsPerMinute;

    @Option(names = "--max-sync-streams-per-token", paramLabel = "N", defaultValue = "${env:FLAGS_MAX_SYNC_STREAMS_PER_TOKEN:-10000}",
            description = "Sync streams one token may have open at once; more get RESOURCE_EXHAUSTED (env FLAGS_MAX_SYNC_STREAMS_PER_TOKEN, default ${DEFAULT-VALUE}).")
    int maxSyncStreamsPerToken;

    @Option(names = "--max-sync-streams-per-connection", paramLabel = "N", defaultValue = "${env:FLAGS_MAX_SYNC_STREAMS_PER_CONNECTION:-1000}",
            description = "Sync streams one gRPC connection may carry at once (HTTP/2 MAX_CONCURRENT_STREAMS); more wait for one"
                    + " to end (env FLAGS_MAX_SYNC_STREAMS_PER_CONNECTION, default ${DEFAULT-VALUE}).")
    int maxSyncStreamsPerConnection;

    @Option(names = "--grpc-calls-per-token-per-second", paramLabel = "N",
            defaultValue = "${env:FLAGS_GRPC_CALLS_PER_TOKEN_PER_SECOND:-0}",
            description = "Acknowledge and GetSnapshot calls one token may make per second, ten seconds' worth at once, and"
                    + " as many Subscribe calls apart, 0 to "
                    + dev.flags.server.sync.CallRateLimit.MAX_PER_SECOND + "; more get RESOURCE_EXHAUSTED; 0: a tenth of"
                    + " --max-sync-streams-per-token (env FLAGS_GRPC_CALLS_PER_TOKEN_PER_SECOND, default ${DEFAULT-VALUE}).")
    int grpcCallsPerTokenPerSecond;

    @Option(names = "--grpc-max-connections", paramLabel = "N", defaultValue = "${env:FLAGS_GRPC_MAX_CONNECTIONS:-0}",
            description = "Connections the gRPC port may hold open at once, 0 to " + ConnectionLimits.MAX + "; more are closed"
                    + " as soon as they are accepted; 0: three quarters of the process's open-file limit (less under a limit"
                    + " of 1024; docs/server.md) (env FLAGS_GRPC_MAX_CONNECTIONS, default ${DEFAULT-VALUE}).")
    int grpcMaxConnections;

    @Option(names = "--grpc-max-connections-per-address", paramLabel = "N",
            defaultValue = "${env:FLAGS_GRPC_MAX_CONNECTIONS_PER_ADDRESS:-0}",
            description = "Connections one client address (IPv6: its /64) may hold open on the gRPC port, 0 to "
                    + ConnectionLimits.MAX + "; 0: no cap per address, as SDKs behind one NAT or proxy share one (env"
                    + " FLAGS_GRPC_MAX_CONNECTIONS_PER_ADDRESS, default ${DEFAULT-VALUE}).")
    int grpcMaxConnectionsPerAddress;

    @Option(names = "--http-max-connections", paramLabel = "N", defaultValue = "${env:FLAGS_HTTP_MAX_CONNECTIONS:-0}",
            description = "Connections the HTTP port may hold open at once, 0 to " + ConnectionLimits.MAX + "; more wait to"
                    + " be accepted until one closes; 0: an eighth of the process's open-file limit, or 128 if more (less"
                    + " under a limit of 384; docs/server.md) (env FLAGS_HTTP_MAX_CONNECTIONS, default ${DEFAULT-VALUE}).")
    int httpMaxConnections;

    @Option(names = "--max-sync-buffer-mib", paramLabel = "MIB", defaultValue = "${env:FLAGS_MAX_SYNC_BUFFER_MIB}",
            description = "MiB of snapshots (and other large sync messages) the server holds for SDKs that have not yet read"
                    + " them, 1 to " + ServerConfig.MAX_SYNC_BUFFER_MIB + "; one token's streams may hold half; more wait their"
                    + " turn (env FLAGS_MAX_SYNC_BUFFER_MIB, default a quarter of the JVM's largest heap, 64 to 1024).")
    Integer maxSyncBufferMib;

    @Option(names = "--max-flags-per-environment", paramLabel = "N", defaultValue = "${env:FLAGS_MAX_FLAGS_PER_ENVIRONMENT:-10000}",
            description = "Flags one environment may serve at once (archived ones not counted), 1 to 1000000; one more is"
                    + " refused with 409"
                    + " (env FLAGS_MAX_FLAGS_PER_ENVIRONMENT, default ${DEFAULT-VALUE}).")
    int maxFlagsPerEnvironment;

    @Option(names = "--max-environment-mib", paramLabel = "MIB", defaultValue = "${env:FLAGS_MAX_ENVIRONMENT_MIB:-16}",
            description = "MiB of flag documents and role grants one environment may serve, 1 to 48: every SDK of it receives"
                    + " and holds all of it; a change that grows it past this is refused with 409 (env"
                    + " FLAGS_MAX_ENVIRONMENT_MIB, default ${DEFAULT-VALUE}).")
    int maxEnvironmentMebibytes;

    @Option(names = "--usage-report-interval", paramLabel = "DURATION", defaultValue = "${env:FLAGS_USAGE_REPORT_INTERVAL:-PT1M}",
            description = "How often SDKs report which flags they evaluated, and how often at most usage.json is written;"
                    + " ISO-8601, PT5S to PT1H (env FLAGS_USAGE_REPORT_INTERVAL, default ${DEFAULT-VALUE}).")
    Duration usageReportInterval;

    @Option(names = "--usage-reports-per-second", paramLabel = "N", defaultValue = "${env:FLAGS_USAGE_REPORTS_PER_SECOND:-1000}",
            description = "Flag usage reports the whole server takes per second; more get RESOURCE_EXHAUSTED and the SDK"
                    + " reports again next period (env FLAGS_USAGE_REPORTS_PER_SECOND, default ${DEFAULT-VALUE}).")
    int usageReportsPerSecond;

    @Option(names = "--bootstrap-admin-token", paramLabel = "on|off", defaultValue = "${env:FLAGS_BOOTSTRAP_ADMIN_TOKEN:-on}",
            description = "on: FLAGS_ADMIN_TOKEN, or the token in DATA_DIR/admin-token, is an admin token; off: there is none,"
                    + " only the admin tokens made through the API (env FLAGS_BOOTSTRAP_ADMIN_TOKEN, default ${DEFAULT-VALUE}).")
    String bootstrapAdminToken;

    @Option(names = "--webhook-url", paramLabel = "URL", defaultValue = "${env:FLAGS_WEBHOOK_URL}",
            description = "Send every change the server takes to this http(s) endpoint as well, signed, in order, at least once"
                    + " (env FLAGS_WEBHOOK_URL; needs --webhook-secret-file; see docs/server.md, Webhook).")
    String webhookUrl;

    @Option(names = "--webhook-secret-file", paramLabel = "FILE", defaultValue = "${env:FLAGS_WEBHOOK_SECRET_FILE}",
            description = "The file holding the secret the webhook's deliveries are signed with, at least 16 characters"
                    + " (env FLAGS_WEBHOOK_SECRET_FILE).")
    Path webhookSecretFile;

    @Option(names = "--log-level", paramLabel = "LEVEL", defaultValue = "${env:FLAGS_LOG_LEVEL:-info}",
            description = "error, warn, info, debug or trace (env FLAGS_LOG_LEVEL, default ${DEFAULT-VALUE}).")
    String logLevel;

    /** The webhook's settings, null for none: both options or neither. */
    WebhookSettings webhook() {
        boolean url = webhookUrl != null && !webhookUrl.isBlank();
        if (!url && webhookSecretFile == null) {
            return null;
        }
        URI uri;
        try {
            uri = url ? new URI(webhookUrl.strip()) : null;
        } catch (java.net.URISyntaxException e) {
            // The exception's message quotes the input whole, a password in its user info and line breaks too.
            throw new BadSettingException("webhookUrl", "the webhook URL is not a URL (" + e.getReason() + " at index "
                    + e.getIndex() + "): \"" + WebhookSettings.masked(webhookUrl.strip()) + "\"");
        }
        return new WebhookSettings(uri, webhookSecretFile == null ? null : webhookSecretFile.toAbsolutePath());
    }

    /**
     * Runs the server until SIGTERM or SIGINT.
     *
     * @param args command-line options
     */
    public static void main(String[] args) {
        CommandLine cli = new CommandLine(new Main());
        // picocli's own words for a bad duration name java.time's classes and exceptions: say what is expected.
        cli.registerConverter(Duration.class, Main::isoDuration);
        // A bad setting is one line saying which and a pointer to the help, not the whole usage text: in a
        // service's log the message would drown in it.
        cli.setParameterExceptionHandler((e, arguments) -> {
            PrintWriter err = e.getCommandLine().getErr();
            err.println("flags-server: " + e.getMessage() + valueSource(e, arguments));
            if (!(e.getCause() instanceof IllegalArgumentException)) {
                err.println("Try 'flags-server --help'.");
            }
            return e.getCommandLine().getCommandSpec().exitCodeOnInvalidInput();
        });
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("flags-server: cannot start: " + StartFailure.describe(e));
            if (!StartFailure.isEnvironmental(e)) {
                e.printStackTrace(commandLine.getErr()); // not the environment's doing: a bug, and the trace finds it
            }
            return EXIT_CANNOT_START;
        });
        int code = cli.execute(args);
        if (code != 0) {
            System.exit(code);
        }
    }

    /**
     * Names the environment variable a bad value came from: an option missing from the command line takes
     * its value from the {@code ${env:...}} of its default. A value typed on the command line gets its option's
     * name, unless the message has it. Empty if the exception is not about one option.
     */
    static String valueSource(CommandLine.ParameterException e, String[] arguments) {
        if (!(e.getArgSpec() instanceof CommandLine.Model.OptionSpec option)) {
            return "";
        }
        for (String argument : arguments) {
            for (String name : option.names()) {
                if (argument.equals(name) || argument.startsWith(name + "=")) {
                    // Typed on the command line: named, unless picocli's own message already does.
                    return e.getMessage() != null && e.getMessage().contains(name) ? "" : " (" + name + ")";
                }
            }
        }
        // picocli hands out the default only after interpolation; the annotation still holds the ${env:...}
        if (!(option.userObject() instanceof Field field) || field.getAnnotation(Option.class) == null) {
            return "";
        }
        Matcher env = ENV_DEFAULT.matcher(field.getAnnotation(Option.class).defaultValue());
        if (!env.find() || System.getenv(env.group(1)) == null) {
            return "";
        }
        return " (from the environment variable " + env.group(1) + ")";
    }

    @Override
    public Integer call() throws Exception {
        refuseEmptyValues();
        String level = logLevel.toLowerCase(Locale.ROOT);
        if (!level.matches("error|warn|info|debug|trace")) {
            CommandLine cli = new CommandLine(this);
            throw new CommandLine.ParameterException(cli, "--log-level must be error, warn, info, debug or trace, was " + logLevel,
                    cli.getCommandSpec().findOption("--log-level"), logLevel);
        }
        String bootstrap = bootstrapAdminToken.strip().toLowerCase(Locale.ROOT);
        if (!bootstrap.equals("on") && !bootstrap.equals("off")) {
            CommandLine cli = new CommandLine(this);
            throw new CommandLine.ParameterException(cli, "--bootstrap-admin-token must be on or off, was \""
                    + LogText.escape(bootstrapAdminToken) + "\"",
                    cli.getCommandSpec().findOption("--bootstrap-admin-token"), bootstrapAdminToken);
        }
        // slf4j-simple reads these when the first logger is made, so they are set before anything logs.
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level);
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
        System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSX");
        System.setProperty("org.slf4j.simpleLogger.log.org.xnio", "warn");
        System.setProperty("org.jboss.logging.provider", "slf4j"); // Undertow and XNIO log through SLF4J too
        System.setProperty("org.slf4j.simpleLogger.log.io.undertow", "warn");
        // gRPC's HTTP/2 frame logger writes every frame's headers at debug, the SDKs' bearer tokens
        // among them: never below info, whatever --log-level says (tokens are never logged).
        String atMostInfo = level.equals("error") || level.equals("warn") ? level : "info";
        System.setProperty("org.slf4j.simpleLogger.log." + GRPC_FRAMES, atMostInfo);
        // The JDK's HTTP client (the webhook's) writes each request's URL at debug, a query that may hold the endpoint's
        // credential included: never below info either.
        System.setProperty("org.slf4j.simpleLogger.log.jdk.internal.httpclient", atMostInfo);
        System.setProperty("org.slf4j.simpleLogger.log.jdk.httpclient", atMostInfo);
        // What libraries probe, mostly at start, some with a stack trace (about 260 lines at debug: the JVM's
        // MBean server, Netty's platform and allocator checks, gRPC looking for census; later gRPC's context storage
        // and TCP metrics): not the server's detail, which --log-level debug is for (QA53 F4, QA55 F2).
        for (String probes : LIBRARY_PROBES) {
            System.setProperty("org.slf4j.simpleLogger.log." + probes, atMostInfo);
        }
        routeJavaUtilLogging(level);
        warnOfMisspeltVariables(System.getenv());

        // Surrounding white space (a line break from a file) is dropped; set, the variable must hold a
        // token that can work: a blank one is a mistake, not a request for a generated token.
        String adminToken = System.getenv("FLAGS_ADMIN_TOKEN");
        if (adminToken != null) {
            adminToken = adminToken.trim();
            String problem = AdminToken.problem(adminToken);
            if (problem != null && bootstrap.equals("on")) { // off: the conflict is the message (ServerConfig's)
                throw new CommandLine.ParameterException(new CommandLine(this), "FLAGS_ADMIN_TOKEN " + problem
                        + "; unset it to have a token generated into " + dataDir.resolve(AdminToken.FILE_NAME));
            }
        }
        ServerConfig config;
        try {
            // Absolute, so that every line of the log names the same place, however the server was started.
            config = new ServerConfig(dataDir.toAbsolutePath(), bind, httpPort, grpcPort, adminToken, bootstrap.equals("on"),
                    tlsCert == null ? null : tlsCert.toAbsolutePath(), tlsKey == null ? null : tlsKey.toAbsolutePath(), heartbeat,
                    shutdownGrace, journalRetention,
                    new ApiLimits(apiChangesPerMinute, apiReadsPerMinute), maxSyncStreamsPerToken, maxSyncStreamsPerConnection,
                    new UsageSettings(usageReportInterval, usageReportsPerSecond),
                    new EnvironmentLimits(maxFlagsPerEnvironment, maxEnvironmentMebibytes),
                    maxSyncBufferMib == null ? ServerConfig.defaultSyncBufferMib() : maxSyncBufferMib,
                    new ConnectionLimits(grpcMaxConnections, grpcMaxConnectionsPerAddress, httpMaxConnections),
                    webhook(), grpcCallsPerTokenPerSecond);
        } catch (BadSettingException e) {
            // Tied to its option, so that the message names the environment variable the value came from.
            CommandLine cli = new CommandLine(this);
            String option = OPTIONS_BY_SETTING.get(e.setting());
            throw new CommandLine.ParameterException(cli, e.getMessage(),
                    option == null ? null : cli.getCommandSpec().findOption(option), null);
        } catch (IllegalArgumentException e) {
            // What a file holds (a TLS certificate out of its dates, a key of another certificate): exit 2 as a bad
            // setting, but the help has nothing to say about it (see the handler).
            throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage(), e);
        }
        // The hook is there before the start: a SIGTERM while the server starts (a slow journal recovery) stops it once
        // it has started, with the same clean close and log, instead of an exit that says nothing.
        java.util.concurrent.atomic.AtomicReference<FlagServer> running = new java.util.concurrent.atomic.AtomicReference<>();
        CountDownLatch startEnded = new CountDownLatch(1);
        Duration grace = config.shutdownGrace();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            long signalled = System.nanoTime(); // the grace counts from the signal (docs/server.md), whatever the start took
            if (startEnded.getCount() > 0) {
                org.slf4j.LoggerFactory.getLogger(Main.class).info("flag server asked to stop while it starts: stopping once"
                        + " it has started");
            }
            boolean started;
            try {
                // At most the grace: a start that takes longer (a journal of millions of entries on a slow disk) is cut,
                // which loses nothing acknowledged, rather than holding a Ctrl-C until it ends.
                started = startEnded.await(grace.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                started = false;
            }
            if (!started) {
                org.slf4j.LoggerFactory.getLogger(Main.class).warn("the start did not end within the shutdown grace ({}):"
                        + " exiting without a clean stop; nothing acknowledged is lost, the next start recovers the journal",
                        grace);
                stopped.countDown();
                return;
            }
            FlagServer server = running.get();
            if (server != null) { // null: the start failed, and said why
                server.close(grace.minusNanos(System.nanoTime() - signalled));
            }
            stopped.countDown();
        }, "flags-shutdown"));
        try {
            running.set(FlagServer.start(config));
        } catch (OutOfMemoryError e) {
            // Said in one line, as every other reason the server cannot start: most often a state grown past the heap.
            throw new java.io.IOException("out of memory (" + e.getMessage() + ") with a largest heap of "
                    + Runtime.getRuntime().maxMemory() / (1024 * 1024) + " MiB: the server holds every environment's flags in"
                    + " its heap; start it with a larger -Xmx (docs/server.md, Memory)", e);
        } finally {
            startEnded.countDown();
        }
        stopped.await();
        return 0;
    }

    /**
     * An option set to nothing, most often an environment variable set but empty ({@code FLAGS_DATA_DIR=}),
     * is a mistake: read as it is, an empty data directory is the current directory and an empty bind
     * address is the loopback interface, and the server would start there without a word.
     */
    private void refuseEmptyValues() {
        CommandLine cli = new CommandLine(this);
        for (CommandLine.Model.OptionSpec option : cli.getCommandSpec().options()) {
            Object value = option.getValue();
            if ((value instanceof String || value instanceof Path) && value.toString().isBlank()) {
                throw new CommandLine.ParameterException(cli, option.longestName() + " must not be empty: give a value,"
                        + " or leave it out for the default", option, value.toString());
            }
        }
    }

    /**
     * A {@code FLAGS_*} variable that is no setting but looks like one ({@code FLAGS_HTTPPORT}) is a typo whose
     * setting silently keeps its default: said at start, with the setting meant. Others are left alone: the CLI's and
     * the SDK's own ({@code FLAGS_SERVER}, {@code FLAGS_TOKEN}, ...) are often set in the same shell.
     */
    static void warnOfMisspeltVariables(Map<String, String> environment) {
        java.util.Set<String> settings = new java.util.TreeSet<>(java.util.List.of("FLAGS_ADMIN_TOKEN"));
        for (Field field : Main.class.getDeclaredFields()) {
            Option option = field.getAnnotation(Option.class);
            Matcher env = option == null ? null : ENV_DEFAULT.matcher(option.defaultValue());
            if (env != null && env.find()) {
                settings.add(env.group(1));
            }
        }
        for (String name : new java.util.TreeSet<>(environment.keySet())) {
            if (!name.startsWith("FLAGS_") || settings.contains(name)) {
                continue;
            }
            String typed = name.replace("_", "").toLowerCase(Locale.ROOT);
            for (String setting : settings) {
                if (Suggestions.editDistance(typed, setting.replace("_", "").toLowerCase(Locale.ROOT)) <= 2) {
                    org.slf4j.LoggerFactory.getLogger(Main.class).warn("the environment variable {} is no setting of the"
                            + " flag server, and is ignored: did you mean {}? (flags-server --help lists them)",
                            LogText.escape(name), setting);
                    break;
                }
            }
        }
    }

    /** The loggers of libraries' probes (at start, and a few after), kept at info at most: see {@link #call()}. */
    static final List<String> LIBRARY_PROBES = List.of("javax.management", "io.grpc.netty.shaded.io.netty.util",
            "io.grpc.netty.shaded.io.netty.buffer", "io.grpc.netty.shaded.io.netty.channel.DefaultChannelId",
            "io.grpc.netty.shaded.io.netty.bootstrap", "io.grpc.netty.shaded.io.netty.channel.MultithreadEventLoopGroup",
            "io.grpc.internal.ServerImplBuilder", "org.jboss.logging",
            // Not at start, but as noisy: gRPC's lookup of a context storage on the first call, and its TCP metrics of
            // every connection that closes (a stack trace of 26 lines each, a fleet's reconnection after a restart).
            "io.grpc.Context", "io.grpc.netty.shaded.io.grpc.netty.TcpMetrics");

    /** The logger of gRPC's HTTP/2 frame logger on the server (Netty, through SLF4J). */
    static final String GRPC_FRAMES = "io.grpc.netty.shaded.io.grpc.netty.NettyServerHandler";

    /**
     * Sends java.util.logging, where gRPC logs, through SLF4J, so that --log-level and the log's format
     * apply to it too; else it writes its own lines to stderr, INFO included.
     */
    private static void routeJavaUtilLogging(String level) {
        SLF4JBridgeHandler.removeHandlersForRootLogger();
        SLF4JBridgeHandler.install();
        // java.util.logging builds a record for anything at its loggers' level, shown or not: at SLF4J's
        // level none is built in vain. (The bridge makes FINE and FINER debug, FINEST trace.)
        Logger.getLogger("").setLevel(switch (level) {
            case "error" -> Level.SEVERE;
            case "warn" -> Level.WARNING;
            case "info" -> Level.INFO;
            case "debug" -> Level.FINER;
            default -> Level.FINEST;
        });
        // FlagServer.start then demotes what gRPC logs about a client's fault (GrpcClientFaults), at these levels.
    }
}
