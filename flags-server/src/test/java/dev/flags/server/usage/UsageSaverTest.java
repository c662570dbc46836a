package dev.flags.server.usage;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.server.journal.MutableClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** usage.json: written only when something changed, read back as it was, and set aside when it cannot be used. */
class UsageSaverTest {

    private static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");

    @TempDir
    Path dir;
    private final MutableClock clock = new MutableClock(T0);

    @Test
    void theFileIsWrittenOnlyWhenAReportWasRecordedSinceTheLastWriteAndReadsBackTheSame() throws Exception {
        UsageStore store = new UsageStore(clock, Map.of());
        UsageFile file = new UsageFile(dir, clock);
        UsageSaver saver = new UsageSaver(store, file, env -> Set.of("promo", "billing-v2"), Duration.ofMinutes(1));
        assertThat(saver.saveIfChanged()).as("nothing recorded").isFalse();
        assertThat(file.path()).doesNotExist();

        store.record("production", "flags-java/0.1.0", "checkout", List.of(new UsageStore.Mark("promo", true, true),
                new UsageStore.Mark("gone", true, false)));
        assertThat(saver.saveIfChanged()).isTrue();
        String first = Files.readString(file.path());
        assertThat(first).startsWith("{\"format\":\"flags-server usage\",\"version\":1,").doesNotContain("gone");
        assertThat(saver.saveIfChanged()).as("nothing new").isFalse();
        assertThat(dir.resolve("usage.json.tmp")).as("the temporary file was renamed").doesNotExist();

        clock.advance(Duration.ofMinutes(1));
        store.record("production", "", "", List.of(new UsageStore.Mark("billing-v2", false, true)));
        saver.close();
        assertThat(Files.readString(file.path())).as("close writes what changed").isNotEqualTo(first).contains("(unnamed)");
        assertThat(new UsageFile(dir, clock).read()).isEqualTo(store.snapshot());
    }

    @Test
    void anEnvironmentForgottenAsItIsArchivedIsLeftOutOfTheFileAtTheNextWrite() throws Exception {
        UsageStore store = new UsageStore(clock, Map.of());
        UsageFile file = new UsageFile(dir, clock);
        UsageSaver saver = new UsageSaver(store, file, env -> Set.of("promo"), Duration.ofMinutes(1));
        store.record("staging", "flags-java/0.1.0", "checkout", List.of(new UsageStore.Mark("promo", true, true)));
        assertThat(saver.saveIfChanged()).isTrue();
        assertThat(Files.readString(file.path())).contains("\"staging\"");

        store.forgetEnvironment("staging"); // archived
        // Without a report since, the file kept it, and the next start read it back: restored, the environment's record
        // spanned the archive (QA69 F4)
        assertThat(saver.saveIfChanged()).as("the forgetting is a change to save").isTrue();
        assertThat(Files.readString(file.path())).doesNotContain("\"staging\"");
        assertThat(new UsageFile(dir, clock).read()).isEmpty();
    }

    @Test
    void theFileIsWrittenInItsFormatExactlyAndReadableByItsOwnerOnly() throws Exception {
        UsageFile file = new UsageFile(dir, clock);
        // An older server's file, and a temporary file a crash left, both open to others: neither mode is kept.
        Files.writeString(file.path(), "{}");
        Files.writeString(dir.resolve("usage.json.tmp"), "left by a crash");
        boolean posix = Files.getFileStore(dir).supportsFileAttributeView(PosixFileAttributeView.class);
        if (posix) {
            Files.setPosixFilePermissions(file.path(), PosixFilePermissions.fromString("rw-r--r--"));
            Files.setPosixFilePermissions(dir.resolve("usage.json.tmp"), PosixFilePermissions.fromString("rw-rw-rw-"));
        }
        ApplicationUse checkout = new ApplicationUse("checkout", "flags-java/0.1.0", T0);
        assertThat(file.write(Map.of("production", new EnvironmentUsage(T0,
                Map.of("promo", new FlagUse(T0, T0, null, List.of(checkout))),
                Map.of("biling-v2", new UnknownFlagUse(T0, List.of(checkout))))))).isTrue();

        assertThat(file.path()).hasContent("{\"format\":\"flags-server usage\",\"version\":1,\"environments\":{\"production\":"
                + "{\"since\":\"2026-12-01T10:00:00Z\",\"flags\":{\"promo\":{\"lastEvaluatedAt\":\"2026-12-01T10:00:00Z\","
                + "\"lastServedTrueAt\":\"2026-12-01T10:00:00Z\",\"lastServedFalseAt\":null,\"applications\":[{\"name\":\"checkout\","
                + "\"sdk\":\"flags-java/0.1.0\",\"lastReportAt\":\"2026-12-01T10:00:00Z\"}]}},\"unknownFlags\":{\"biling-v2\":"
                + "{\"lastAskedAt\":\"2026-12-01T10:00:00Z\",\"applications\":[{\"name\":\"checkout\",\"sdk\":\"flags-java/0.1.0\","
                + "\"lastReportAt\":\"2026-12-01T10:00:00Z\"}]}}}}}");
        assertThat(dir.resolve("usage.json.tmp")).doesNotExist();
        if (posix) { // where the file system has no POSIX modes there is nothing to check
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file.path()))).isEqualTo("rw-------");
        }
    }

    @Test
    void aFileIsReadWithEachNameSdkAndTimeOnceHoweverOftenItRepeatsThem() throws Exception {
        String app = "{\"name\": \"checkout\", \"sdk\": \"flags-java/0.1.0\", \"lastReportAt\": \"2026-12-01T10:00:00Z\"}";
        String flag = "{\"lastEvaluatedAt\": \"2026-12-01T10:00:00Z\", \"lastServedTrueAt\": \"2026-12-01T10:00:00Z\","
                + " \"lastServedFalseAt\": null, \"applications\": [" + app + "]}";
        // The fields in another order than this server writes them, the header last: JSON all the same.
        Files.writeString(dir.resolve("usage.json"), "{\"environments\": {\"production\": {\"unknownFlags\": {\"typo\":"
                + " {\"applications\": [" + app + "], \"lastAskedAt\": \"2026-12-01T10:00:00Z\"}}, \"flags\": {\"promo\": " + flag
                + ", \"billing-v2\": " + flag + "}, \"since\": \"2026-12-01T10:00:00Z\"}, \"staging\": {\"since\":"
                + " \"2026-12-01T10:00:00Z\", \"flags\": {\"promo\": " + flag + "}}}, \"version\": 1, \"format\": \"flags-server usage\"}");
        Map<String, EnvironmentUsage> read = new UsageFile(dir, clock).read();

        ApplicationUse checkout = new ApplicationUse("checkout", "flags-java/0.1.0", T0);
        FlagUse use = new FlagUse(T0, T0, null, List.of(checkout));
        assertThat(read).isEqualTo(Map.of("production", new EnvironmentUsage(T0, Map.of("promo", use, "billing-v2", use),
                Map.of("typo", new UnknownFlagUse(T0, List.of(checkout)))), "staging", new EnvironmentUsage(T0, Map.of("promo", use))));
        ApplicationUse a = read.get("production").flags().get("promo").applications().get(0);
        ApplicationUse b = read.get("production").flags().get("billing-v2").applications().get(0);
        ApplicationUse c = read.get("staging").flags().get("promo").applications().get(0);
        ApplicationUse d = read.get("production").unknownFlags().get("typo").applications().get(0);
        for (ApplicationUse other : List.of(b, c, d)) {
            assertThat(other.name()).isSameAs(a.name());
            assertThat(other.sdk()).isSameAs(a.sdk());
            assertThat(other.lastReportAt()).isSameAs(a.lastReportAt());
        }
        assertThat(read.get("staging").flags().get("promo").lastEvaluatedAt()).isSameAs(a.lastReportAt())
                .isSameAs(read.get("production").since()).isSameAs(read.get("production").unknownFlags().get("typo").lastAskedAt());
    }

    @Test
    void ofAKeysApplicationsTheFirstTwentyAreReadAndEveryOneIsChecked() throws Exception {
        StringBuilder apps = new StringBuilder();
        for (int i = 0; i < 25; i++) {
            apps.append(i == 0 ? "" : ", ").append("{\"name\": \"app-").append(i).append("\", \"sdk\": \"s\", \"lastReportAt\": \"")
                    .append(T0.minusSeconds(i)).append("\"}");
        }
        String file = "{\"format\": \"flags-server usage\", \"version\": 1, \"environments\": {\"p\": {\"since\":"
                + " \"2026-12-01T10:00:00Z\", \"flags\": {\"promo\": {\"lastEvaluatedAt\": \"2026-12-01T10:00:00Z\", \"applications\": ["
                + apps + "]}}}}}";
        Files.writeString(dir.resolve("usage.json"), file);
        assertThat(new UsageFile(dir, clock).read().get("p").flags().get("promo").applications())
                .extracting(ApplicationUse::name).hasSize(UsageStore.MAX_APPLICATIONS).startsWith("app-0").endsWith("app-19");

        Files.writeString(dir.resolve("usage.json"), file.replace("\"app-24\", \"sdk\": \"s\"", "\"app-24\""));
        assertThat(new UsageFile(dir, clock).read()).as("the 25th has no sdk: unusable").isEmpty();
        assertThat(dir.resolve("usage.json.unreadable-20261201T100000Z")).exists();
    }

    @Test
    void aServerReadsTheEnvironmentsItServesAndTheirCurrentFlagsOnly() throws Exception {
        UsageFile file = new UsageFile(dir, clock);
        ApplicationUse checkout = new ApplicationUse("checkout", "flags-java/0.1.0", T0);
        FlagUse used = new FlagUse(T0, T0, null, List.of(checkout));
        Map<String, UnknownFlagUse> unknown = new java.util.HashMap<>();
        for (int i = 0; i < UsageStore.MAX_UNKNOWN_FLAGS_PER_ENVIRONMENT + 5; i++) {
            unknown.put(String.format("typo-%04d", i), new UnknownFlagUse(T0, List.of(checkout)));
        }
        file.write(Map.of(
                "production", new EnvironmentUsage(T0, Map.of("promo", used, "deleted-since", used), unknown),
                "archived", new EnvironmentUsage(T0, Map.of("promo", used), Map.of())));

        Map<String, EnvironmentUsage> read = file.read(env -> env.equals("production") ? Set.of("promo") : null);

        assertThat(read).as("an archived or gone environment: skipped, as the first write would drop it")
                .containsOnlyKeys("production");
        assertThat(read.get("production").flags()).as("a flag no longer current: skipped").containsOnlyKeys("promo");
        assertThat(read.get("production").flags().get("promo")).isEqualTo(used);
        assertThat(read.get("production").unknownFlags()).as("no more unknown keys than this server writes")
                .hasSize(UsageStore.MAX_UNKNOWN_FLAGS_PER_ENVIRONMENT).containsKey("typo-0000");
    }

    @Test
    void aFileOfManyEnvironmentsAtTheirBoundsIsReadBackWhateverItsSize() throws Exception {
        // 45 environments of 10,000 flags with 128-character keys write more than 128 MiB, which the reader used to
        // refuse: the next start set the file aside and every environment's usage was lost (QA69 F2).
        UsageStore store = new UsageStore(clock, Map.of());
        List<UsageStore.Mark> marks = new java.util.ArrayList<>();
        Set<String> keys = new java.util.HashSet<>();
        for (int i = 0; i < UsageStore.MAX_FLAGS_PER_ENVIRONMENT; i++) {
            String key = String.format("flag-%05d-", i) + "k".repeat(117);
            marks.add(new UsageStore.Mark(key, true, true));
            keys.add(key);
        }
        int environments = 45;
        for (int e = 0; e < environments; e++) {
            store.record("pr-" + e, "flags-java/0.1.0", "checkout", marks);
        }
        store.retain(env -> keys);
        UsageFile file = new UsageFile(dir, clock);
        assertThat(file.write(store.snapshot())).isTrue();
        assertThat(Files.size(file.path())).isGreaterThan(128L << 20);

        Map<String, EnvironmentUsage> read = new UsageFile(dir, clock).read(env -> keys);

        assertThat(read).hasSize(environments);
        assertThat(read.get("pr-44").flags()).hasSize(UsageStore.MAX_FLAGS_PER_ENVIRONMENT);
        assertThat(dir.resolve("usage.json.unreadable-20261201T100000Z")).doesNotExist();
    }

    @Test
    void aFileThatIsNotAUsageFileIsMovedAsideNotDeletedNorOverwritten() throws Exception {
        UsageFile file = new UsageFile(dir, clock);
        String[] unusable = {"", "[1, 2]", "{\"format\": \"flags-server usage\", \"version\": 1, \"environments\": {\"p\":"
                + " {\"since\": \"yesterday\", \"flags\": {}}}}"};
        for (int i = 0; i < unusable.length; i++) {
            Files.writeString(file.path(), unusable[i]);
            assertThat(file.read()).isEmpty();
            assertThat(file.path()).doesNotExist();
        }
        assertThat(dir.resolve("usage.json.unreadable-20261201T100000Z")).hasContent(unusable[0]);
        assertThat(dir.resolve("usage.json.unreadable-20261201T100000Z-2")).hasContent(unusable[1]);
        assertThat(dir.resolve("usage.json.unreadable-20261201T100000Z-3")).hasContent(unusable[2]);
        assertThat(new UsageFile(dir.resolve("nothing-here"), clock).read()).as("no file: no usage, nothing logged").isEmpty();
    }

    @Test
    void unknownKeysAreWrittenAndReadBackAndAFileWithoutThemOrWithFieldsOfALaterServerIsRead() throws Exception {
        UsageStore store = new UsageStore(clock, Map.of());
        UsageFile file = new UsageFile(dir, clock);
        UsageSaver saver = new UsageSaver(store, file, env -> Set.of("promo"), Duration.ofMinutes(1));
        store.record("production", "flags-java/0.1.0", "checkout", List.of(new UsageStore.Mark("promo", true, false)),
                List.of("biling-v2"));
        clock.advance(Duration.ofMinutes(1));
        store.record("production", "flags-go/1.2.0", "", List.of(), List.of("biling-v2", "old-flow"));
        assertThat(saver.saveIfChanged()).isTrue();
        assertThat(Files.readString(file.path())).contains("\"unknownFlags\":{\"biling-v2\":{\"lastAskedAt\":\"2026-12-01T10:01:00Z\","
                + "\"applications\":[{\"name\":\"(unnamed)\",\"sdk\":\"flags-go/1.2.0\",\"lastReportAt\":\"2026-12-01T10:01:00Z\"},"
                + "{\"name\":\"checkout\"");
        Map<String, EnvironmentUsage> read = new UsageFile(dir, clock).read();
        assertThat(read).isEqualTo(store.snapshot());
        assertThat(read.get("production").unknownFlags()).hasSize(2);

        Files.writeString(file.path(), "{\"format\": \"flags-server usage\", \"version\": 1, \"environments\": {\"production\":"
                + " {\"since\": \"2026-12-01T10:00:00Z\", \"flags\": {}, \"later\": [1]}}, \"later\": true}");
        assertThat(new UsageFile(dir, clock).read()).as("no unknownFlags: none; fields this server does not know: ignored")
                .isEqualTo(Map.of("production", new EnvironmentUsage(T0, Map.of(), Map.of())));
        Files.writeString(file.path(), "{\"format\": \"flags-server usage\", \"version\": 1, \"environments\": {\"production\":"
                + " {\"since\": \"2026-12-01T10:00:00Z\", \"flags\": {}, \"unknownFlags\": {\"x\": {\"applications\": []}}}}}");
        assertThat(new UsageFile(dir, clock).read()).as("an unknown key without lastAskedAt: unusable").isEmpty();
        assertThat(file.path()).doesNotExist();
    }
}
