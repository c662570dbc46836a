package dev.flags.client;

import static dev.flags.client.Fixtures.flag;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.core.Flag;
import dev.flags.core.FlagFormat;
import dev.flags.core.Reason;
import dev.flags.core.User;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Offline mode: flags from a flag file, with no server, optionally watched. */
class OfflineModeTest {

    private static final User USER = User.withId("u-1");

    @RegisterExtension
    final LogCapture logs = new LogCapture();

    @TempDir
    Path dir;

    private static String file(Flag... flags) {
        return FlagFormat.writeFile(List.of(flags), Map.of());
    }

    /**
     * Replaces a watched file whole, as an editor's save does (a new file renamed over it). Files.writeString
     * truncates and then writes: a test thread held up between the two for the watcher's 50 ms debounce let
     * the SDK read an empty file, which it rightly reported as invalid (one more "is invalid", one more status).
     */
    private static void save(Path file, String content) throws java.io.IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".swp");
        Files.writeString(tmp, content);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    @Test
    void servesTheFlagsOfTheFile() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, file(flag("a", true, 0), flag("b", false, 0)));
        try (Flags flags = Flags.builder().offlineFile(file).build()) {
            assertThat(flags.awaitReady(Duration.ZERO)).isTrue();
            assertThat(flags.isEnabled("a", USER)).isTrue();
            assertThat(flags.isEnabled("b", USER)).isFalse();
            FlagEvaluation e = flags.evaluate("a", USER);
            assertThat(e.source()).isEqualTo(Source.OFFLINE_FILE);
            assertThat(e.version()).isEqualTo(1);
            assertThat(flags.health().status()).isEqualTo(Health.Status.UP);
            assertThat(flags.health().detail()).contains("offline file");
            assertThat(flags.freshness().streamUp()).isFalse();
            assertThat(flags.freshness().lastHeardFromServer()).isEmpty();
        }
    }

    /** An application's value listener, named so that the log can be seen to name it. */
    private static final class BillingSwitch implements FlagValueListener {
        final java.util.concurrent.BlockingQueue<FlagValueChangeEvent> heard = new java.util.concurrent.LinkedBlockingQueue<>();

        @Override
        public void onValueChange(FlagValueChangeEvent event) {
            heard.add(event);
            throw new IllegalStateException("the billing switch failed");
        }
    }

    @Test
    void aValueListenerOfTheSdkHearsItsUsersAnswerChangeAndItsFailureIsLoggedUnderItsOwnName() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, file(Fixtures.flag("billing-v2", false, 0), Fixtures.flag("other", false, 0)));
        try (Flags flags = Flags.builder().offlineFile(file).watchOfflineFile(true).build()) {
            BillingSwitch billing = new BillingSwitch();
            flags.addValueListener("billing-v2", USER, billing);
            flags.addValueListener("billing-v3", USER, event -> { });
            assertThat(flags.isEnabled("billing-v4", USER)).isFalse();
            assertThat(logs.lines("billing-v4")).as("an application's request for a key not there is warned of").hasSize(1);
            assertThat(logs.lines("billing-v3")).as("a listener waiting for a flag to come is no typo in a request").isEmpty();
            save(file, file(Fixtures.flag("billing-v2", false, 0), Fixtures.flag("other", true, 0)));
            save(file, file(Fixtures.flag("billing-v2", true, 0), Fixtures.flag("other", true, 0)));
            FlagValueChangeEvent on = billing.heard.poll(10, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(on).as("heard within 10 s").isNotNull();
            assertThat(on.oldValue().value()).isFalse();
            assertThat(on.newValue().value()).isTrue();
            assertThat(on.newValue().source()).isEqualTo(Source.OFFLINE_FILE);
            assertThat(billing.heard).as("the other flag's change was not this answer's").isEmpty();
            Await.until("the failure logged", () -> !logs.lines("a change listener (").isEmpty());
            assertThat(logs.lines("a change listener (")).singleElement().asString().contains("a change listener ("
                    + BillingSwitch.class.getName() + ") failed on ");
        }
    }

    @Test
    void aValueListenerWhoseTurnComesAfterLaterChangesHearsEachChangesAnswerNotTheLatest() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, file(Fixtures.flag("billing-v2", true, 0)));
        BlockingQueue<Runnable> behind = new LinkedBlockingQueue<>(); // an application's listener executor, running late
        try (Flags flags = Flags.builder().offlineFile(file).watchOfflineFile(true).listenerExecutor(behind::add).build()) {
            List<FlagValueChangeEvent> heard = new java.util.ArrayList<>();
            flags.addValueListener("billing-v2", USER, heard::add);
            save(file, file(Fixtures.flag("billing-v2", false, 0)));
            Await.until("switched off", () -> !flags.isEnabled("billing-v2", USER));
            save(file, file(Fixtures.flag("billing-v2", true, 0)));
            Await.until("switched on again", () -> flags.isEnabled("billing-v2", USER));
            // The swap is seen before the publish that made it has handed its listener calls over; a call that takes the
            // store's lock (publish holds it throughout) returns only once that publish has.
            flags.removeListener(event -> { });
            for (Runnable late = behind.poll(); late != null; late = behind.poll()) {
                late.run(); // both changes' listener calls, after both were applied
            }
            assertThat(heard).as("the user was served false for a while: a kill switch the listener must not miss")
                    .extracting(e -> e.oldValue().value() + " -> " + e.newValue().value())
                    .containsExactly("true -> false", "false -> true");
        }
    }

    @Test
    void oneFlagIsOneFlagInTheLogAndAClosedOfflineFlagsSaysItIsClosed() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, file(flag("a", true, 0)));
        Flags flags = Flags.builder().offlineFile(file).watchOfflineFile(true).build();
        assertThat(logs.lines("offline mode: ")).singleElement().asString().contains("offline mode: 1 flag from ");
        assertThat(flags.freshness().problem()).isEmpty();
        flags.close();
        assertThat(flags.freshness().problem()).hasValue("closed");
        assertThat(flags.health()).isEqualTo(new Health(Health.Status.DOWN, "closed"));
        assertThat(flags.isEnabled("a", USER)).as("still answers from its last copy").isTrue();
    }

    @Test
    void aMisspeltKeyIsWarnedAboutOnceWithTheFlagItWasProbablyMeantToBe() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, file(flag("billing-v2", true, 0)));
        try (Flags flags = Flags.builder().offlineFile(file).build()) {
            // isEnabled() and variant(), which application code calls, warn as evaluate() does
            assertThat(flags.isEnabled("biling-v2", USER)).isFalse();
            assertThat(flags.isEnabled("biling-v2", USER)).isFalse();
            assertThat(flags.evaluate("biling-v2", USER, false).value()).isFalse();
            assertThat(flags.variant("billing-v3", USER)).isNull();
            assertThat(flags.evaluate("checkout-v9", USER, false).value()).isFalse();
            assertThat(logs.lines("no flag \"biling-v2\"")).singleElement().asString()
                    .contains("serving the caller's default; did you mean \"billing-v2\"?; said once an hour");
            assertThat(logs.lines("no flag \"billing-v3\"")).singleElement().asString().contains("did you mean \"billing-v2\"?");
            assertThat(logs.lines("no flag \"checkout-v9\"")).singleElement().asString().doesNotContain("did you mean");
        }
    }

    @Test
    void theGoldenFlagFileOfFlagsCoreIsServed() throws Exception {
        Path golden = Path.of("../flags-core/src/test/resources/dev/flags/core/golden/flags-v1.json");
        try (Flags flags = Flags.builder().offlineFile(golden).build()) {
            assertThat(flags.isEnabled("billing-v2", User.withId("u-ops-1"))).isTrue();
            assertThat(flags.isEnabled("billing-v2", User.withId("u-tess"))).isTrue(); // granted beta-tester
            assertThat(flags.variant("checkout-button", User.withId("u-designer"))).isEqualTo("green");
            assertThat(flags.isEnabled("legacy-export", USER, true)).isFalse();
        }
    }

    @Test
    void anInvalidFileAtStartServesDefaultsAndSaysWhy() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, "{\"formatVersion\": 1, \"flags\": [{\"key\": \"a\", \"enabeld\": true}]}");
        try (Flags flags = Flags.builder().offlineFile(file).build()) {
            FlagEvaluation e = flags.evaluate("a", USER, true);
            assertThat(e.value()).isTrue();
            assertThat(e.source()).isEqualTo(Source.DEFAULTS);
            assertThat(e.reason().detail()).contains("enabeld");
            assertThat(flags.awaitReady(Duration.ZERO)).isFalse();
            assertThat(flags.health().status()).isEqualTo(Health.Status.DOWN);
            assertThat(logs.lines("cannot be used")).hasSize(1);
            assertThat(logs.lines("cannot be used").get(0)).as("unwatched: no promise of a read that never comes")
                    .contains("the file is read only at start (restart, or watchOfflineFile(true)").doesNotContain("until it is fixed");
        }
    }

    @Test
    void aFileMissingAtStartWithoutWatchingIsSaidToBeReadOnlyThenAndAwaitReadyDoesNotWait() throws Exception {
        Path file = dir.resolve("missing.json");
        try (Flags flags = Flags.builder().offlineFile(file).build()) {
            long started = System.nanoTime();
            assertThat(flags.awaitReady(Duration.ofMinutes(5))).as("nothing will read it: no wait").isFalse();
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofMinutes(1));
            assertThat(logs.lines("does not exist")).singleElement().asString()
                    .contains("every flag is its default from now on: the file is read only at start");
            Files.writeString(file, "{\"formatVersion\": 1, \"flags\": [{\"key\": \"a\", \"enabled\": true, \"default\": true}]}");
            assertThat(flags.isEnabled("a", USER, false)).as("as the log said: not read again").isFalse();
        }
    }

    @Test
    void aDeviceOrAFileTooLargeAtStartIsNotReadWholeAndServesDefaults() throws Exception {
        Path device = dir.resolve("zero.json");
        Files.createSymbolicLink(device, Path.of("/dev/zero")); // endless: read whole, it would exhaust the heap
        try (Flags flags = Flags.builder().offlineFile(device).build()) {
            assertThat(flags.evaluate("a", USER, true).reason().detail()).isEqualTo("no flags yet: offline file " + device
                    + " cannot be used: it is not a regular file (a directory, a device or a named pipe): give the path of a file");
        }
        Path large = dir.resolve("large.json");
        Files.write(large, new byte[dev.flags.core.FlagFormat.MAX_FILE_BYTES + 1]);
        try (Flags flags = Flags.builder().offlineFile(large).build()) {
            assertThat(flags.evaluate("a", USER, true).reason().detail()).endsWith("cannot be used: it is too large: "
                    + (dev.flags.core.FlagFormat.MAX_FILE_BYTES + 1) + " bytes, the limit is " + dev.flags.core.FlagFormat.MAX_FILE_BYTES);
        }
    }

    /** A listener that fails on every change: a class of its own, as an application's would be. */
    private static final class AlwaysFailing implements FlagChangeListener {
        @Override
        public void onChange(FlagChangeEvent event) {
            throw new IllegalStateException("metrics backend down");
        }
    }

    @Test
    void aListenerThatFailsOnEveryChangeHasItsStackTraceLoggedOnceThenOneLineEach() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, file(flag("a", true, 0)));
        try (Flags flags = Flags.builder().offlineFile(file).watchOfflineFile(true).build()) {
            flags.addListener(new AlwaysFailing());
            BlockingQueue<FlagChangeEvent> events = new LinkedBlockingQueue<>();
            flags.addListener(events::add); // after the failing one: it hears each change once that one failed
            for (int i = 0; i < 3; i++) {
                save(file, file(flag("a", i % 2 == 0 ? false : true, 0)));
                assertThat(events.poll(10, TimeUnit.SECONDS)).isNotNull();
            }
            List<String> failures = logs.lines("AlwaysFailing) failed on");
            assertThat(failures).hasSize(3);
            assertThat(failures.get(1)).endsWith("java.lang.IllegalStateException: metrics backend down (its stack trace was"
                    + " logged at its first failure of this kind)");
            assertThat(logs.lines("\tat ").stream().filter(l -> l.contains("AlwaysFailing.onChange")).count())
                    .as("one stack trace").isEqualTo(1);
        }
    }

    @Test
    void aWatcherStoppedByAnErrorSaysSoInHealthAndTheLogAndKeepsServing() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, file(flag("a", true, 0)));
        // A listener run on the watcher's own thread, failing as the JVM does (not out of memory, which reload() takes
        // in its stride): the error ends the watcher, which must not stop in silence with health still UP.
        try (Flags flags = Flags.builder().offlineFile(file).watchOfflineFile(true).listenerExecutor(Runnable::run).build()) {
            flags.addListener(e -> {
                throw new InternalError("the JVM is in trouble");
            });
            save(file, file(flag("a", false, 0)));
            Await.until("health DEGRADED", () -> flags.health().status() == Health.Status.DEGRADED);
            assertThat(flags.health().detail()).contains("is no longer watched: java.lang.InternalError: the JVM is in trouble");
            // Health is told first, then the log (the watcher's order): the line may come a moment after DEGRADED.
            Await.until("one ERROR line", () -> logs.lines("stopped watching offline file").size() == 1);
            assertThat(flags.isEnabled("a", USER)).as("the flags read before the error").isFalse();
        }
    }

    @Test
    void aDirectStatusListenerMayCloseTheSdkOnItsFirstCallWhileAReloadWaitsToBePublished() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, file(flag("a", true, 0)));
        try (Flags flags = Flags.builder().offlineFile(file).watchOfflineFile(true).listenerExecutor(Runnable::run).build()) {
            // Its first call runs on the registering thread, under the store's lock; the watcher, holding the file's lock,
            // waits for that one to publish, and close() takes the file's lock (QA64 F1: a deadlock).
            assertThat(Fixtures.closedFromAStatusListenersFirstCall(flags, () -> {
                try {
                    save(file, file(flag("a", false, 0)));
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                Await.until("the watcher waits to publish the file", () -> Await.blockedOnTheStore("OfflineFile"));
            })).as("close() from the listener returned").isTrue();
            assertThat(flags.health()).isEqualTo(new Health(Health.Status.DOWN, "closed"));
            Await.until("the watcher ended", () -> !Await.blockedOnTheStore("OfflineFile"));
        }
    }

    @Test
    void aFileWrittenInPlaceInChunksIsReadOnceWholeNotReportedInvalidHalfWay() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, file(flag("a", true, 0)));
        try (Flags flags = Flags.builder().offlineFile(file).watchOfflineFile(true).build()) {
            BlockingQueue<FlagChangeEvent> events = new LinkedBlockingQueue<>();
            flags.addListener(events::add);
            List<Freshness> statuses = new java.util.concurrent.CopyOnWriteArrayList<>();
            flags.addStatusListener(statuses::add);
            String whole = file(flag("a", false, 0), flag("b", true, 0));
            int half = whole.length() / 2;
            // A writer that writes in place, a piece at a time: between its writes the file is half of a document.
            try (java.io.Writer w = Files.newBufferedWriter(file)) {
                w.write(whole, 0, half);
                w.flush();
                // the writer's own pace (shorter than the settling time), not a wait for the SDK
                Thread.sleep(100); // less than the SDK's 500 ms of settling
                w.write(whole, half, whole.length() - half);
            }
            FlagChangeEvent first = events.poll(10, TimeUnit.SECONDS);
            assertThat(first).isNotNull();
            assertThat(flags.isEnabled("b", USER)).isTrue();
            assertThat(logs.lines("is invalid")).as("the half-written file was never called invalid").isEmpty();
            assertThat(statuses).allSatisfy(f -> assertThat(f.problem()).isEmpty());
            assertThat(flags.health().status()).isEqualTo(Health.Status.UP);
        }
    }

    @Test
    void aSaveIsAppliedWhileAnotherFileOfTheDirectoryKeepsChanging() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, file(flag("a", true, 0)));
        java.util.concurrent.atomic.AtomicBoolean chatter = new java.util.concurrent.atomic.AtomicBoolean(true);
        Thread log = new Thread(() -> {
            Path sibling = dir.resolve("app.log");
            try {
                // A log appended to beside the flag file, every 10 ms until the test ends: more often than the watcher's
                // 50 ms between events, which held the read back for good while it waited for a quiet directory (QA70 F1)
                while (chatter.get()) {
                    Files.writeString(sibling, "line\n", java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
                    Thread.sleep(10);
                }
            } catch (Exception e) {
                // the test's directory is going away
            }
        });
        try (Flags flags = Flags.builder().offlineFile(file).watchOfflineFile(true).build()) {
            BlockingQueue<FlagChangeEvent> events = new LinkedBlockingQueue<>();
            flags.addListener(events::add);
            log.start();
            String whole = file(flag("a", false, 0));
            try (java.io.Writer w = Files.newBufferedWriter(file)) {
                w.write(whole, 0, whole.length() / 2); // half a document first: read, found invalid, left to settle
                w.flush();
                Thread.sleep(100); // the writer's own pace
                w.write(whole, whole.length() / 2, whole.length() - whole.length() / 2);
            }
            assertThat(events.poll(10, TimeUnit.SECONDS)).as("applied while the log still grows").isNotNull();
            assertThat(chatter.get()).isTrue();
            assertThat(flags.isEnabled("a", USER, true)).isFalse();
        } finally {
            chatter.set(false);
            log.join();
        }
    }

    @Test
    void aSaveBetweenTheFirstReadAndTheWatchIsRead() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, file(flag("a", true, 0)));
        // Saved right after build() read the file, before the watch is registered: no event the watch sees says so
        logs.whenLogged("offline mode: 1 flag from", () -> {
            try {
                Path tmp = dir.resolve("flags.json.swp");
                Files.writeString(tmp, file(flag("a", false, 0)));
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        try (Flags flags = Flags.builder().offlineFile(file).watchOfflineFile(true).build()) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (flags.isEnabled("a", USER, true) && System.nanoTime() < deadline) {
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000); // polled: the change may come before a listener could be added
            }
            // The watcher reads the file once it watches (QA70 F2: the old flags were served, as healthy, until a later change)
            assertThat(flags.isEnabled("a", USER, true)).as("the file on disk says off; health: " + flags.health()).isFalse();
        }
    }

    @Test
    void watchingReloadsGoodEditsAndKeepsTheLastGoodFlagsOnABadOne() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, file(flag("a", true, 0)));
        try (Flags flags = Flags.builder().offlineFile(file).watchOfflineFile(true).build()) {
            BlockingQueue<FlagChangeEvent> events = new LinkedBlockingQueue<>();
            flags.addListener(events::add);
            BlockingQueue<Freshness> statuses = new LinkedBlockingQueue<>();
            flags.addStatusListener(statuses::add);
            assertThat(statuses.poll(10, TimeUnit.SECONDS).problem()).as("the current status, at once").isEmpty();

            save(file, file(flag("a", false, 0)));
            assertThat(events.poll(10, TimeUnit.SECONDS)).isEqualTo(
                    new FlagChangeEvent("a", FlagChangeEvent.Change.UPDATED, 2, Source.OFFLINE_FILE));
            assertThat(flags.isEnabled("a", USER)).isFalse();

            // A bad edit: the last good flags stay, and the log says why.
            save(file, "{\"formatVersion\": 1, \"flags\": [{\"key\": \"a\", \"enabled\": \"yes\"}]}");
            Await.until("the bad edit is reported", () -> !logs.lines("is invalid").isEmpty());
            assertThat(logs.lines("is invalid").get(0)).contains("keeping the last good flags").contains("enabled");
            assertThat(flags.isEnabled("a", USER, true)).isFalse();
            assertThat(flags.evaluate("a", USER).version()).isEqualTo(2);
            // ... and so do freshness and health, for a status page
            assertThat(flags.freshness().problem()).hasValueSatisfying(p -> assertThat(p)
                    .contains("is invalid").contains("enabled").contains("serving the last good flags (version 2)"));
            assertThat(flags.health().status()).isEqualTo(Health.Status.DEGRADED);
            // ... and status listeners, which hear the same problem
            assertThat(statuses.poll(10, TimeUnit.SECONDS).problem()).hasValueSatisfying(p -> assertThat(p)
                    .contains("is invalid").contains("serving the last good flags (version 2)"));

            // An editor's save: a new file renamed over the old one.
            Path tmp = dir.resolve("flags.json.swp");
            Files.writeString(tmp, file(flag("a", false, 0), flag("b", true, 0)));
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            assertThat(events.poll(10, TimeUnit.SECONDS)).isEqualTo(
                    new FlagChangeEvent("b", FlagChangeEvent.Change.ADDED, 3, Source.OFFLINE_FILE));
            assertThat(flags.isEnabled("b", USER)).isTrue();
            assertThat(flags.freshness().problem()).as("a good file again").isEmpty();
            assertThat(flags.health().status()).isEqualTo(Health.Status.UP);
            Freshness recovered = statuses.poll(10, TimeUnit.SECONDS);
            assertThat(recovered).as("status listeners hear that the file is good again").isNotNull();
            assertThat(recovered.problem()).isEmpty();
            assertThat(recovered.version()).isEqualTo(3);

            Files.delete(file);
            Await.until("the removal is reported", () -> !logs.lines("was removed").isEmpty());
            assertThat(flags.isEnabled("b", USER)).isTrue();
            assertThat(flags.freshness().problem()).hasValueSatisfying(p -> assertThat(p).contains("was removed"));
            assertThat(statuses.poll(10, TimeUnit.SECONDS).problem()).hasValueSatisfying(p -> assertThat(p).contains("was removed"));
            assertThat(statuses).as("one status event per news").isEmpty();
            assertThat(logs.lines("is invalid")).hasSize(1);
        }
    }

    @Test
    void aFileThatAppearsLaterMakesTheSdkReady() throws Exception {
        Path file = dir.resolve("later.json");
        try (Flags flags = Flags.builder().offlineFile(file).watchOfflineFile(true).build()) {
            assertThat(flags.evaluate("a", USER).source()).isEqualTo(Source.DEFAULTS);
            assertThat(flags.awaitReady(Duration.ZERO)).isFalse();
            Files.writeString(file, file(flag("a", true, 0)));
            assertThat(flags.awaitReady(Duration.ofSeconds(10))).isTrue();
            assertThat(flags.isEnabled("a", USER)).isTrue();
            assertThat(flags.evaluate("a", USER).reason().kind()).isEqualTo(Reason.Kind.DEFAULT);
        }
    }

    /** {@code rm -rf}: the files, then the directory. */
    private static void deleteTree(Path root) throws java.io.IOException {
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static Set<Thread> watchThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("flags-watch-"))
                .collect(Collectors.toSet());
    }

    private static final String LOST = "watching resumes when the directory is back";

    @Test
    void aDirectoryRemovedAndMadeAgainIsWatchedAgain() throws Exception {
        Path config = Files.createDirectory(dir.resolve("config"));
        Path file = config.resolve("flags.json");
        Files.writeString(file, file(flag("a", true, 0)));
        try (Flags flags = Flags.builder().offlineFile(file).watchOfflineFile(true).build()) {
            deleteTree(config);
            // Logged after the file was reported, and only once no directory could be watched again.
            Await.until("watching is lost", () -> !logs.lines(LOST).isEmpty());
            assertThat(logs.lines(LOST).get(0)).contains("stopped watching offline file " + file).contains("was removed");
            assertThat(flags.isEnabled("a", USER)).as("the last good flags").isTrue();
            assertThat(flags.freshness().problem()).hasValueSatisfying(p -> assertThat(p)
                    .contains("offline file " + file + " was removed").contains("serving the last good flags (version 1)"));
            assertThat(flags.health().status()).isEqualTo(Health.Status.DEGRADED);
            assertThat(flags.health().detail()).contains("was removed");

            Files.createDirectory(config);
            save(file, file(flag("a", false, 0)));
            Await.until("the new file is served", () -> !flags.isEnabled("a", USER, true));
            assertThat(flags.evaluate("a", USER).version()).isEqualTo(2);
            assertThat(flags.freshness().problem()).isEmpty();
            assertThat(flags.health().status()).isEqualTo(Health.Status.UP);
            assertThat(logs.lines("watching offline file " + file + " again")).hasSize(1);

            save(file, file(flag("a", false, 0), flag("b", true, 0)));
            Await.until("a later edit is seen", () -> flags.isEnabled("b", USER));
            assertThat(flags.evaluate("b", USER).version()).isEqualTo(3);
            assertThat(logs.lines(LOST)).hasSize(1);
            assertThat(logs.lines("is invalid")).isEmpty();
        }
    }

    @Test
    void aDirectoryMovedAwayIsReportedAndWatchedWhenBack() throws Exception {
        Path config = Files.createDirectory(dir.resolve("config"));
        Path file = config.resolve("flags.json");
        Files.writeString(file, file(flag("a", true, 0)));
        try (Flags flags = Flags.builder().offlineFile(file).watchOfflineFile(true).build()) {
            // The watch follows the directory to its new name, without an event: the periodic check sees it.
            Files.move(config, dir.resolve("config.old"));
            Await.until("the move is reported", () -> flags.health().status() == Health.Status.DEGRADED);
            assertThat(flags.freshness().problem()).hasValueSatisfying(p -> assertThat(p)
                    .contains("offline file " + file + " was removed").contains("serving the last good flags (version 1)"));
            assertThat(flags.health().detail()).contains("was removed");
            assertThat(flags.isEnabled("a", USER)).as("the last good flags").isTrue();
            Await.until("watching is lost", () -> !logs.lines(LOST).isEmpty());
            assertThat(logs.lines(LOST).get(0)).contains("was moved or removed");

            Files.move(dir.resolve("config.old"), config);
            Await.until("the file is back", () -> flags.health().status() == Health.Status.UP);
            assertThat(flags.isEnabled("a", USER)).isTrue();
            assertThat(flags.freshness().problem()).isEmpty();
            assertThat(logs.lines("watching offline file " + file + " again")).hasSize(1);

            save(file, file(flag("a", false, 0)));
            Await.until("a later edit is seen", () -> !flags.isEnabled("a", USER, true));
            assertThat(flags.health().status()).isEqualTo(Health.Status.UP);
            assertThat(logs.lines(LOST)).hasSize(1);
        }
    }

    @Test
    void aDirectoryMissingAtStartIsWatchedOnceMade() throws Exception {
        Path config = dir.resolve("config");
        Path file = config.resolve("flags.json");
        Set<Thread> before = watchThreads();
        Flags flags = Flags.builder().offlineFile(file).watchOfflineFile(true).build();
        try {
            assertThat(flags.evaluate("a", USER).source()).isEqualTo(Source.DEFAULTS);
            assertThat(flags.awaitReady(Duration.ZERO)).isFalse();
            assertThat(flags.health().status()).isEqualTo(Health.Status.DOWN);
            assertThat(flags.freshness().problem()).hasValueSatisfying(p -> assertThat(p).contains("does not exist"));
            assertThat(logs.lines("its changes will not be seen")).isEmpty();
            // Nothing announces a check that found nothing: let two go by (one a second), then count the log lines.
            Thread.sleep(2_500);
            assertThat(logs.lines("cannot watch offline file " + file + " yet")).singleElement().satisfies(l -> assertThat(l)
                    .contains("its directory " + config + " does not exist").contains("watching starts when the directory is there"));
            assertThat(logs.lines()).filteredOn(l -> l.contains("OfflineFile")).hasSize(2); // that, and "does not exist"

            Files.createDirectory(config);
            save(file, file(flag("a", true, 0)));
            assertThat(flags.awaitReady(Duration.ofSeconds(10))).isTrue();
            assertThat(flags.isEnabled("a", USER)).isTrue();
            assertThat(flags.health().status()).isEqualTo(Health.Status.UP);
            assertThat(logs.lines("watching offline file " + file + " now")).hasSize(1);
            Await.until("the first read is logged as one", () -> logs.lines("offline mode: 1 flag from " + file
                    + ", read now that it can be").size() == 1); // logged just after the flags are published
            assertThat(logs.lines("reloaded offline file")).as("nothing was loaded before it").isEmpty();

            save(file, file(flag("a", false, 0)));
            Await.until("a later edit is seen", () -> !flags.isEnabled("a", USER, true));
            assertThat(flags.evaluate("a", USER).version()).isEqualTo(2);
            Await.until("the reload is logged", () -> logs.lines("reloaded offline file " + file + ": 1 flag").size() == 1);
        } finally {
            Set<Thread> started = watchThreads();
            started.removeAll(before);
            flags.close();
            assertThat(started).hasSize(1);
            Thread watcher = started.iterator().next();
            assertThat(watcher.isDaemon()).isTrue();
            Await.until("close() ends the watcher", () -> !watcher.isAlive(), Duration.ofSeconds(2));
        }
    }

    @Test
    void aConfigMapStyleSymlinkSwapIsSeen() throws Exception {
        // As Kubernetes mounts a config map: flags.json -> ..data/flags.json, ..data -> a timestamped directory.
        Files.createDirectory(dir.resolve("..2024_01"));
        Files.writeString(dir.resolve("..2024_01/flags.json"), file(flag("a", true, 0)));
        Files.createSymbolicLink(dir.resolve("..data"), Path.of("..2024_01"));
        Path file = dir.resolve("flags.json");
        Files.createSymbolicLink(file, Path.of("..data/flags.json"));
        try (Flags flags = Flags.builder().offlineFile(file).watchOfflineFile(true).build()) {
            assertThat(flags.isEnabled("a", USER)).isTrue();
            Files.createDirectory(dir.resolve("..2024_02"));
            Files.writeString(dir.resolve("..2024_02/flags.json"), file(flag("a", false, 0)));
            Files.createSymbolicLink(dir.resolve("..data_tmp"), Path.of("..2024_02"));
            Files.move(dir.resolve("..data_tmp"), dir.resolve("..data"), StandardCopyOption.ATOMIC_MOVE);
            Await.until("the swap is seen", () -> !flags.isEnabled("a", USER, true));
            assertThat(flags.health().status()).isEqualTo(Health.Status.UP);
        }
    }
}
