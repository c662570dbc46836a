package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The command line's defaults are the config's, every option is in docs/server.md, and what gRPC logs
 * is demoted only when it is the client's doing.
 */
class MainTest {

    @Test
    void onlyARequestGrpcCouldNotReadIsTakenForTheClientsDoing() {
        MethodDescriptor.Marshaller<String> refusing = new MethodDescriptor.Marshaller<>() {
            @Override
            public InputStream stream(String value) {
                return new ByteArrayInputStream(new byte[0]);
            }

            @Override
            public String parse(InputStream stream) {
                throw Status.RESOURCE_EXHAUSTED.withDescription("Decompressed gRPC message exceeds maximum size 2097152")
                        .asRuntimeException();
            }
        };
        MethodDescriptor<String, String> method = MethodDescriptor.<String, String>newBuilder()
                .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName("test/Call")
                .setRequestMarshaller(refusing).setResponseMarshaller(refusing).build();
        StatusRuntimeException unreadable = null;
        try {
            method.parseRequest(new ByteArrayInputStream(new byte[0]));
        } catch (StatusRuntimeException e) {
            unreadable = e;
        }
        assertThat(GrpcClientFaults.isUnreadableRequest(unreadable)).isTrue();
        // A status thrown anywhere else, the service's own included, and any other exception are the server's.
        assertThat(GrpcClientFaults.isUnreadableRequest(Status.RESOURCE_EXHAUSTED.asRuntimeException())).isFalse();
        assertThat(GrpcClientFaults.isUnreadableRequest(new IllegalStateException("a bug"))).isFalse();
        assertThat(GrpcClientFaults.isUnreadableRequest(null)).isFalse();
    }

    @Test
    void aClientThatClosesAStreamTheServerStillWritesToIsNoWarning() {
        Throwable gone = io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Exception.streamError(3,
                io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Error.STREAM_CLOSED, "Stream closed before write could take place");
        assertThat(GrpcClientFaults.isClientGone(gone)).isTrue();
        assertThat(GrpcClientFaults.isClientGone(new RuntimeException("wrapped", gone))).isTrue();
        assertThat(GrpcClientFaults.isClientGone(io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Exception.streamError(3,
                io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Error.INTERNAL_ERROR, "a bug"))).as("the server's own").isFalse();
        assertThat(GrpcClientFaults.isClientGone(io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Exception.connectionError(
                io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Error.STREAM_CLOSED, "whole connection"))).isFalse();
        assertThat(GrpcClientFaults.isClientGone(null)).isFalse();

        GrpcClientFaults.install();
        java.util.logging.LogRecord record = new java.util.logging.LogRecord(java.util.logging.Level.WARNING, "Stream Error");
        record.setThrown(gone);
        java.util.logging.Logger.getLogger(Main.GRPC_FRAMES).getFilter().isLoggable(record);
        assertThat(record.getLevel()).as("logged at DEBUG").isEqualTo(java.util.logging.Level.FINE);
    }

    @Test
    void theVersionNamesTheCommitTheBuildWasMadeFrom() {
        java.io.StringWriter out = new java.io.StringWriter();
        CommandLine command = new CommandLine(new Main());
        command.setOut(new java.io.PrintWriter(out, true));
        assertThat(command.execute("-V")).isZero();
        assertThat(out.toString()).isEqualTo("flags-server " + dev.flags.core.Build.RELEASE + " (commit "
                + dev.flags.core.Build.commit() + ")\n");
    }

    @Test
    void theLimitsDefaultsAreTheConfigsAndTheRequestBudgetsCanBeSwitchedOff() {
        Main main = new Main();
        new CommandLine(main).parseArgs();
        assertThat(new ApiLimits(main.apiChangesPerMinute, main.apiReadsPerMinute)).isEqualTo(ApiLimits.defaults());
        assertThat(main.maxSyncStreamsPerToken).isEqualTo(ServerConfig.defaults().maxSyncStreamsPerToken());
        assertThat(main.maxSyncBufferMib).as("unset: the config's default, from the heap").isNull();
        assertThat(main.shutdownGrace).isEqualTo(ServerConfig.defaults().shutdownGrace()).hasSeconds(10);
        assertThat(ServerConfig.defaults().maxSyncBufferMib()).as("a quarter of the largest heap, 64 to 1024 MiB")
                .isEqualTo((int) Math.max(64, Math.min(1024, (Runtime.getRuntime().maxMemory() / 4) >> 20)));
        assertThat(new UsageSettings(main.usageReportInterval, main.usageReportsPerSecond)).isEqualTo(UsageSettings.defaults())
                .isEqualTo(ServerConfig.defaults().usage());

        Main off = new Main();
        new CommandLine(off).parseArgs("--api-changes-per-minute", "0", "--api-reads-per-minute", "0");
        assertThat(new ApiLimits(off.apiChangesPerMinute, off.apiReadsPerMinute)).isEqualTo(ApiLimits.none());
    }

    @Test
    void everyOptionIsDocumented() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "server.md"));
        for (CommandLine.Model.OptionSpec option : new CommandLine(new Main()).getCommandSpec().options()) {
            if (!option.usageHelp() && !option.versionHelp()) {
                assertThat(doc).as(option.longestName()).contains("`" + option.longestName() + "`");
            }
        }
    }

    @Test
    void theHelpNamesEverySettingOfTheDocsTableAndItsLimits() throws Exception {
        // docs/server.md says --help "prints the same list": every variable of its table, the token's included
        String doc = Files.readString(Path.of("..", "docs", "server.md"));
        java.io.StringWriter help = new java.io.StringWriter();
        new CommandLine(new Main()).setOut(new java.io.PrintWriter(help)).execute("--help");
        java.util.regex.Matcher row = java.util.regex.Pattern.compile("(?m)^\\| [^|]+ \\| `(FLAGS_[A-Z_]+)` \\|").matcher(doc);
        int rows = 0;
        for (; row.find(); rows++) {
            assertThat(help.toString()).as(row.group(1)).contains(row.group(1));
        }
        assertThat(rows).isGreaterThanOrEqualTo(13);
        assertThat(help.toString()).contains("at least P1D").contains("PT0.1S to PT1H")
                .contains("16 to 256 ASCII letters,");
        assertThat(help.toString().lines()).as("fits a terminal").allMatch(l -> l.length() <= 80);
    }

    @Test
    void theHelpNamesTheJournalTool() {
        // QA81 F7: an operator in an incident finds the journal tool from --help, not only in docs/journal.md
        java.io.StringWriter help = new java.io.StringWriter();
        new CommandLine(new Main()).setOut(new java.io.PrintWriter(help)).execute("--help");
        assertThat(help.toString()).contains("\nJournal verify and repair (docs/journal.md), with the server stopped:\n"
                + "  java -cp flags-server.jar " + dev.flags.server.journal.JournalTool.class.getName() + " verify DIR\n");
    }

    @Test
    void theEnvironmentLimitsRangesTheHelpGivesAreTheOnesTakenAndNoWider() {
        java.io.StringWriter help = new java.io.StringWriter();
        new CommandLine(new Main()).setOut(new java.io.PrintWriter(help)).execute("--help");
        String text = help.toString().replaceAll("\\s+", " ");
        assertThat(text).contains("(archived ones not counted), 1 to " + EnvironmentLimits.MOST_FLAGS + ";")
                .contains("one environment may serve, 1 to " + EnvironmentLimits.MOST_MEBIBYTES + ":");

        assertThat(new EnvironmentLimits(1, 1)).as("both lower ends are taken").isNotNull();
        assertThat(new EnvironmentLimits(EnvironmentLimits.MOST_FLAGS, EnvironmentLimits.MOST_MEBIBYTES)).as("both upper ends are taken")
                .isNotNull();
        assertThatThrownBy(() -> new EnvironmentLimits(0, 16)).hasMessageContaining("between 1 and " + EnvironmentLimits.MOST_FLAGS);
        assertThatThrownBy(() -> new EnvironmentLimits(EnvironmentLimits.MOST_FLAGS + 1, 16))
                .hasMessageContaining("between 1 and " + EnvironmentLimits.MOST_FLAGS);
        assertThatThrownBy(() -> new EnvironmentLimits(10, 0)).hasMessageContaining("between 1 and " + EnvironmentLimits.MOST_MEBIBYTES);
        assertThatThrownBy(() -> new EnvironmentLimits(10, EnvironmentLimits.MOST_MEBIBYTES + 1))
                .hasMessageContaining("between 1 and " + EnvironmentLimits.MOST_MEBIBYTES);
    }

    @Test
    void aLimitOutOfRangeIsRefusedWithItsName() {
        assertThatThrownBy(() -> new ApiLimits(-1, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("changes per minute must be between 0 (no limit) and 1000000, was -1");
        assertThatThrownBy(() -> new ApiLimits(0, 1_000_001))
                .hasMessage("reads per minute must be between 0 (no limit) and 1000000, was 1000001");
        assertThatThrownBy(() -> ServerConfig.defaults().withMaxSyncStreamsPerToken(0))
                .hasMessage("max sync streams per token must be between 1 and 1000000, was 0");
        assertThatThrownBy(() -> ServerConfig.defaults().withShutdownGrace(java.time.Duration.ofSeconds(-1)))
                .hasMessage("shutdown grace must be between PT0S and PT10M, was PT-1S");
        assertThatThrownBy(() -> ServerConfig.defaults().withShutdownGrace(java.time.Duration.ofMinutes(11)))
                .hasMessage("shutdown grace must be between PT0S and PT10M, was PT11M");
        assertThat(ServerConfig.defaults().withShutdownGrace(java.time.Duration.ZERO).shutdownGrace()).isZero();
        assertThatThrownBy(() -> ServerConfig.defaults().withMaxSyncBufferMib(0))
                .hasMessage("max sync buffer must be between 1 and 65536 MiB, was 0");
        assertThatThrownBy(() -> ServerConfig.defaults().withMaxSyncBufferMib(65_537))
                .hasMessage("max sync buffer must be between 1 and 65536 MiB, was 65537");
        assertThat(ServerConfig.defaults().withMaxSyncBufferMib(65_536).maxSyncBufferMib()).as("the upper end is taken")
                .isEqualTo(65_536);
        assertThatThrownBy(() -> new UsageSettings(java.time.Duration.ofMillis(4_999), 1))
                .hasMessage("usage report interval must be between PT5S and PT1H, was PT4.999S");
        assertThatThrownBy(() -> new UsageSettings(java.time.Duration.ofHours(2), 1))
                .hasMessage("usage report interval must be between PT5S and PT1H, was PT2H");
        assertThatThrownBy(() -> new UsageSettings(java.time.Duration.ofMinutes(1), 0))
                .hasMessage("usage reports per second must be between 1 and 1000000, was 0");
        assertThat(new UsageSettings(java.time.Duration.ofSeconds(5), 1_000_000).reportsPerSecond()).as("both ends are allowed")
                .isEqualTo(1_000_000);
    }

    @Test
    void theCallsPerTokenAreATenthOfTheStreamsPerTokenUnlessSetAndOutOfRangeIsABadSetting() {
        Main main = new Main();
        new CommandLine(main).parseArgs();
        assertThat(main.grpcCallsPerTokenPerSecond).isZero().isEqualTo(ServerConfig.defaults().grpcCallsPerTokenPerSecond());
        assertThat(ServerConfig.defaults().callsPerTokenPerSecond()).as("a tenth of 10,000 streams").isEqualTo(1_000);
        assertThat(ServerConfig.defaults().withMaxSyncStreamsPerToken(50_000).callsPerTokenPerSecond()).isEqualTo(5_000);
        assertThat(ServerConfig.defaults().withMaxSyncStreamsPerToken(5).callsPerTokenPerSecond()).as("at least 1").isEqualTo(1);
        assertThat(ServerConfig.defaults().withGrpcCallsPerTokenPerSecond(42).callsPerTokenPerSecond()).isEqualTo(42);
        assertThat(ServerConfig.defaults().withGrpcCallsPerTokenPerSecond(1_000_000).callsPerTokenPerSecond()).isEqualTo(1_000_000);
        for (int bad : new int[] {-1, 1_000_001}) {
            assertThatThrownBy(() -> ServerConfig.defaults().withGrpcCallsPerTokenPerSecond(bad))
                    .isInstanceOfSatisfying(BadSettingException.class,
                            e -> assertThat(e.setting()).isEqualTo("grpcCallsPerTokenPerSecond"))
                    .hasMessage("gRPC calls per token per second must be between 0 (a tenth of the max sync streams per"
                            + " token) and 1000000, was " + bad);
        }
    }

    @Test
    void aBindAddressThatIsNoAddressAndOnePortForBothAreBadSettings() {
        assertThatThrownBy(() -> ServerConfig.defaults().withBindAddress("999.1.1.1"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("bind address \"999.1.1.1\" is neither an IP address nor a name that resolves");
        assertThat(ServerConfig.defaults().withBindAddress("::1").bindAddress()).isEqualTo("::1");
        assertThat(ServerConfig.defaults().withBindAddress("[::1]").bindAddress()).isEqualTo("[::1]");
        assertThatThrownBy(() -> ServerConfig.defaults().withPorts(9090, 9090))
                .hasMessage("the HTTP and gRPC ports must differ, both were 9090");
        assertThat(ServerConfig.defaults().withPorts(0, 0).httpPort()).as("0 picks a free port for each").isZero();
    }

    @Test
    void theReadyLineBracketsAnIpv6AddressAsAUrlDoes() {
        assertThat(FlagServer.hostForAPort("::1")).isEqualTo("[::1]");
        assertThat(FlagServer.hostForAPort("[::1]")).isEqualTo("[::1]");
        assertThat(FlagServer.hostForAPort("127.0.0.1")).isEqualTo("127.0.0.1");
        assertThat(FlagServer.hostForAPort("flags.internal")).isEqualTo("flags.internal");
    }

    @Test
    void aWebhookUrlThatIsNoUrlIsRefusedWithoutItsCredentialsOrLineBreaks() {
        Main main = new Main();
        new CommandLine(main).parseArgs("--webhook-url", "https://bot:hunter2@hooks example.com/x?key=hunter2\r\nforged",
                "--webhook-secret-file", "/nonexistent/secret");
        assertThatThrownBy(main::webhook).isInstanceOfSatisfying(BadSettingException.class,
                        e -> assertThat(e.setting()).isEqualTo("webhookUrl"))
                .hasMessageStartingWith("the webhook URL is not a URL (Illegal character in authority at index 8): \"https://...@hooks")
                .hasMessageNotContaining("hunter2").hasMessageNotContaining("\n").hasMessageNotContaining("\r");
    }

    @Test
    void theBootstrapAdminTokenIsOnByDefault() {
        Main main = new Main();
        new CommandLine(main).parseArgs();
        assertThat(main.bootstrapAdminToken).isEqualTo("on");
        assertThat(ServerConfig.defaults().bootstrapAdminToken()).isTrue();
    }

    @Test
    void journalRetentionIsReadInDaysOrWeeksNotMonths() {
        Main.RetentionPeriod read = new Main.RetentionPeriod();
        assertThat(read.convert("P365D")).isEqualTo(java.time.Duration.ofDays(365));
        assertThat(read.convert("p52w")).isEqualTo(java.time.Duration.ofDays(364));
        assertThat(read.convert("PT720H")).isEqualTo(java.time.Duration.ofDays(30));
        assertThatThrownBy(() -> read.convert("P1Y")).isInstanceOf(CommandLine.TypeConversionException.class)
                .hasMessageContaining("counts months or years").hasMessageContaining("P365D");
        assertThatThrownBy(() -> read.convert("a year")).hasMessageContaining("is not a period such as P365D");
        assertThatThrownBy(() -> read.convert("P106751991167301D")).as("QA59: read, but too long")
                .hasMessage("'P106751991167301D' is too long a period; keep entries forever by leaving --journal-retention out");
        assertThatThrownBy(() -> read.convert("PT9999999999999999999H")).hasMessageContaining("is too long a period");
        assertThatThrownBy(() -> read.convert("P1X")).hasMessageContaining("is not a period such as P365D");
    }
}
