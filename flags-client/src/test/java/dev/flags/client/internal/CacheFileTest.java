package dev.flags.client.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.core.Flag;
import dev.flags.core.FlagFormat;
import dev.flags.core.FlagSet;
import dev.flags.core.User;
import dev.flags.core.Variant;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The fail-static cache file: round trip, golden file, and every way a file is refused. */
class CacheFileTest {

    private static final Instant WRITTEN = Instant.parse("2026-11-23T10:15:30Z");
    private static final Clock CLOCK = Clock.fixed(WRITTEN, ZoneOffset.UTC);

    @TempDir
    Path dir;

    /** The flags of the golden file. */
    static FlagSet sample() {
        Flag billing = new Flag("billing-v2", "The new billing path.", true, null, List.of(), List.of(), List.of(), false, 12);
        Flag checkout = new Flag("checkout-button", null, true, "checkout-2026",
                List.of(new Variant("control", 50, null), new Variant("green", 50, "#00aa00")), List.of(), List.of(), true, 3);
        return FlagSet.of(List.of(checkout, billing), Map.of("beta-tester", Set.of("u-tess", "u-tom")), 42);
    }

    /** The sdk token the golden file's MAC was made with. */
    private static final String TOKEN = "golden-sdk-token";

    private CacheFile cache(String environment) {
        return cache(environment, TOKEN);
    }

    private CacheFile cache(String environment, String token) {
        return new CacheFile(dir.resolve("flags.cache"), environment, CLOCK, token);
    }

    @Test
    void whatIsWrittenIsReadBack() throws IOException {
        cache("production").write(sample(), 0, java.util.Set.of());
        CacheFile.Read read = cache("production").read();
        assertThat(read.problem()).isNull();
        assertThat(read.writtenAt()).isEqualTo(WRITTEN);
        assertThat(read.flags().version()).isEqualTo(42);
        assertThat(read.flags().flags()).containsExactlyInAnyOrderElementsOf(sample().flags());
        assertThat(read.flags().roleGrants()).isEqualTo(sample().roleGrants());
        assertThat(read.flags().isEnabled("checkout-button", User.withId("u-1"))).isTrue();
        assertThat(read.stateTag()).as("none was written").isZero();
        assertThat(Files.readString(dir.resolve("flags.cache"))).doesNotContain("state-tag");
    }

    @Test
    void theServersTagOfTheStateIsKeptWithIt() throws IOException {
        long tag = 0xfedcba9876543210L; // negative as a long: written and read back unsigned
        cache("production").write(sample(), tag, java.util.Set.of());
        assertThat(Files.readString(dir.resolve("flags.cache"))).contains("\nstate-tag: fedcba9876543210\n");
        assertThat(cache("production").read().stateTag()).isEqualTo(tag);
    }

    @Test
    void theGoldenFileOfFormatTwoIsRead() throws IOException {
        Path file = dir.resolve("flags.cache");
        try (InputStream in = CacheFileTest.class.getResourceAsStream("golden/cache-v2.cache")) {
            Files.write(file, in.readAllBytes());
        }
        CacheFile.Read read = cache("production").read();
        assertThat(read.problem()).isNull();
        assertThat(read.flags().version()).isEqualTo(42);
        assertThat(read.flags().flags()).containsExactlyInAnyOrderElementsOf(sample().flags());
        assertThat(read.flags().roleGrants()).isEqualTo(sample().roleGrants());
        // And this release still writes exactly that.
        cache("production").write(sample(), 0, java.util.Set.of());
        assertThat(Files.readString(file)).isEqualTo(new String(
                CacheFileTest.class.getResourceAsStream("golden/cache-v2.cache").readAllBytes(), StandardCharsets.UTF_8));
    }

    @Test
    void aFileOfFormatOneHasNoMacAndIsRefused() throws IOException {
        Path file = dir.resolve("flags.cache");
        try (InputStream in = CacheFileTest.class.getResourceAsStream("golden/cache-v1.cache")) {
            Files.write(file, in.readAllBytes());
        }
        assertThat(cache("production").read().problem()).startsWith("is of format 1, which has no MAC");
    }

    @Test
    void aFileEditedWithItsChecksumRecomputedOrWrittenWithAnotherTokenIsRefused() throws Exception {
        cache("production").write(sample(), 0x1234L, java.util.Set.of());
        Path file = dir.resolve("flags.cache");
        String text = Files.readString(file);
        // What an attacker who can write the file but does not hold the token can do: edit the body
        // and put a correct SHA-256 of it where a checksum would be. The MAC does not follow.
        String header = text.substring(0, text.indexOf("\n\n") + 2);
        String body = text.substring(text.indexOf("\n\n") + 2).replace("\"default\" : false", "\"default\" : true");
        assertThat(body).as("the edit changes the body").doesNotContain("\"default\" : false");
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body.getBytes(StandardCharsets.UTF_8)));
        Files.writeString(file, header.replaceAll("hmac-sha256: [0-9a-f]+", "hmac-sha256: " + sha) + body);
        assertThat(cache("production").read().problem())
                .isEqualTo("does not carry this SDK's MAC: torn, edited, or written with another sdk token");
        Files.writeString(file, header.replace("version: 42", "version: 99") + text.substring(header.length()));
        assertThat(cache("production").read().problem()).as("the header is authenticated too").startsWith("does not carry");

        cache("production").write(sample(), 0, java.util.Set.of());
        assertThat(cache("production", "a-rotated-token").read().problem()).startsWith("does not carry this SDK's MAC");
        assertThat(cache("production").read().problem()).isNull();
    }

    @Test
    void aMissingFileIsNotAProblem() {
        CacheFile.Read read = cache("production").read();
        assertThat(read.missing()).isTrue();
    }

    @Test
    void aTornOrEditedFileIsRefused() throws IOException {
        cache("production").write(sample(), 0, java.util.Set.of());
        Path file = dir.resolve("flags.cache");
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(bytes, bytes.length - 1));
        assertThat(cache("production").read().problem()).startsWith("does not carry this SDK's MAC");

        String edited = new String(bytes, StandardCharsets.UTF_8).replace("\"enabled\" : true", "\"enabled\" : false");
        assertThat(edited).isNotEqualTo(new String(bytes, StandardCharsets.UTF_8));
        Files.writeString(file, edited);
        assertThat(cache("production").read().problem()).startsWith("does not carry this SDK's MAC");
    }

    @Test
    void anotherEnvironmentsFileIsRefused() throws IOException {
        cache("staging").write(sample(), 0, java.util.Set.of());
        assertThat(cache("production").read().problem())
                .isEqualTo("was written for environment \"staging\", not \"production\"");
        // An SDK of another environment has another token: the MAC fails first, but the header names the likely mistake.
        assertThat(cache("production", "a-production-token").read().problem())
                .isEqualTo("says it was written for environment \"staging\", not \"production\" (by an SDK with another token):"
                        + " is one cache path shared by SDKs of two environments?");
    }

    @Test
    void somethingElseIsRefused() throws IOException {
        Path file = dir.resolve("flags.cache");
        Files.writeString(file, "{\"formatVersion\": 1, \"flags\": []}");
        assertThat(cache("production").read().problem()).startsWith("is not a flags cache file");
        Files.writeString(file, "flags-cache 3\nenvironment: production\n\n{}");
        assertThat(cache("production").read().problem()).isEqualTo("is not a flags cache file of format 2 (its first line is"
                + " not \"flags-cache 2\")");
        // A path that leads to another file (a link planted in a shared directory): its content is never repeated,
        // since the problem reaches the log, health() and every evaluation's reason.
        Path secret = Files.writeString(dir.resolve("secret.txt"), "DB_PASSWORD=hunter2\n\nmore\n");
        Files.delete(file);
        Files.createSymbolicLink(file, secret);
        assertThat(cache("production").read().problem()).startsWith("is not a flags cache file").doesNotContain("hunter2");
        Files.delete(file);
        Files.write(file, new byte[] {0, 1, 2, (byte) 0xff});
        assertThat(cache("production").read().problem()).startsWith("is not a flags cache file");
    }

    @Test
    void theFlagsItsWriterCouldNotReadAreNamedOrIfTooManyToNameTheFileClaimsNoVersionToResumeFrom() throws IOException {
        cache("production").write(sample(), 0x1234L, Set.of("future-b", "future-a"));
        CacheFile.Read few = cache("production").read();
        assertThat(few.problem()).isNull();
        assertThat(few.unreadable()).containsOnlyKeys("future-a", "future-b");
        assertThat(few.flags().version()).isEqualTo(42);
        assertThat(Files.readString(dir.resolve("flags.cache"))).contains("\nunreadable: future-a,future-b\n");

        Set<String> many = new java.util.HashSet<>();
        for (int i = 0; i < 300; i++) {
            many.add("a-flag-of-a-newer-format-" + i);
        }
        cache("production").write(sample(), 0x1234L, many);
        CacheFile.Read tooMany = cache("production").read();
        assertThat(tooMany.problem()).as("the header stays within its bound: the file is still read").isNull();
        assertThat(tooMany.flags().flags()).hasSize(2);
        assertThat(tooMany.flags().version()).as("nothing to resume from: a whole snapshot").isZero();
        assertThat(tooMany.stateTag()).isZero();
        assertThat(tooMany.unreadable()).isEmpty();
    }

    /** Writes a cache file of this body with a right MAC, as an SDK (of another release, say) would have. */
    private void writeWithRightMac(String body) throws Exception {
        String header = "flags-cache 2\nenvironment: production\nversion: 3\n";
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(TOKEN.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        mac.update(header.getBytes(StandardCharsets.UTF_8));
        Files.writeString(dir.resolve("flags.cache"), header + "hmac-sha256: "
                + HexFormat.of().formatHex(mac.doFinal(body.getBytes(StandardCharsets.UTF_8))) + "\n\n" + body);
    }

    @Test
    void aRightMacOverAFileThatIsNoFlagFileIsStillRefused() throws Exception {
        writeWithRightMac("{\"formatVersion\": 2, \"flags\": [{\"key\": \"a\", \"enabled\": true}]}");
        assertThat(cache("production").read().problem()).startsWith("holds an invalid flag file").contains("formatVersion");
        writeWithRightMac("{\"formatVersion\": 1, \"flags\": [{\"key\": \"a\", \"enabled\": true}], \"roleGrants\": 7}");
        assertThat(cache("production").read().problem()).startsWith("holds an invalid flag file").contains("roleGrants");
        writeWithRightMac("{\"formatVersion\": 1, \"flags\": [{\"enabled\": true}, {\"key\": \"b\", \"enabeld\": true}]}");
        assertThat(cache("production").read().problem()).as("a flag without a key is no flag of a newer format")
                .startsWith("holds an invalid flag file");
    }

    @Test
    void aFlagThisSdkCannotReadIsLeftOutAndNamedWhileTheOthersAreServed() throws Exception {
        // What a newer SDK writes once the server has a flag with a field this one does not know.
        writeWithRightMac("{\"formatVersion\": 1, \"flags\": [{\"key\": \"a\", \"enabled\": true, \"default\": true},"
                + " {\"key\": \"future\", \"enabled\": true, \"quantumState\": 1}], \"roleGrants\": {\"beta\": [\"u-1\"]}}");
        CacheFile.Read read = cache("production").read();
        assertThat(read.problem()).isNull();
        assertThat(read.flags().isEnabled("a", User.withId("u-1"))).isTrue();
        assertThat(read.flags().roleGrants()).containsOnlyKeys("beta");
        assertThat(read.flags().flags()).extracting(Flag::key).containsExactly("a");
        assertThat(read.unreadable()).containsOnlyKeys("future");
        assertThat(read.unreadable().get("future")).contains("this SDK cannot read it").contains("quantumState");
    }

    @Test
    void aPipeOrADeviceIsRefusedWithoutReadingItAndAFileTooLargeAfterItsLimit() throws Exception {
        // A named pipe would block the reader (build()) until something wrote to it; /dev/zero never ends.
        Path fifo = dir.resolve("flags.cache");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).redirectErrorStream(true).start();
        assertThat(mkfifo.waitFor()).as(new String(mkfifo.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).isZero();
        assertThat(cache("production").read().problem()).isEqualTo("is not a regular file (a directory, a device or a"
                + " named pipe): give the path of a file");
        Files.delete(fifo);
        Files.createSymbolicLink(fifo, Path.of("/dev/zero"));
        assertThat(cache("production").read().problem()).startsWith("is not a regular file");
        cache("production").write(sample(), 0, java.util.Set.of());
        assertThat(cache("production").read().flags()).as("written over the link, as a file").isNotNull();

        Files.write(fifo, new byte[CacheFile.MAX_BODY_BYTES + 4096 + 1]);
        assertThat(cache("production").read().problem()).as("refused unread: its size is known").isEqualTo("is too large: "
                + (CacheFile.MAX_BODY_BYTES + 4096 + 1) + " bytes, the limit is " + (CacheFile.MAX_BODY_BYTES + 4096));
    }

    @Test
    void anEnvironmentOfMoreThan16MiBAnd10000FlagsIsWrittenAndReadBack() throws IOException {
        // 20,000 flags of about 1 KiB: over the default limits of a server's environment, as one may serve (the bound
        // that came before the cache file's was 16 MiB and 10,000 flags).
        List<Flag> many = new java.util.ArrayList<>();
        String description = "d".repeat(1_000);
        for (int i = 0; i < 20_000; i++) {
            many.add(new Flag("flag-" + i, description, i % 2 == 0, null, List.of(), List.of(), List.of(), true, 1));
        }
        cache("production").write(FlagSet.of(many, Map.of(), 7), 0, java.util.Set.of());
        assertThat(Files.size(dir.resolve("flags.cache"))).isGreaterThan(16L << 20);

        CacheFile.Read read = cache("production").read();
        assertThat(read.problem()).isNull();
        assertThat(read.flags().flags()).hasSize(20_000);
        assertThat(read.flags().isEnabled("flag-19998", User.withId("u-1"))).as("on, serving its default").isTrue();
        assertThat(read.flags().isEnabled("flag-19999", User.withId("u-1"))).as("off").isFalse();
    }

    /** QA76 F4: the temporary file's name does not grow with the cache file's, which may be as long as the file system takes. */
    @Test
    void aCacheFileNameAsLongAsTheFileSystemTakesIsWritten() throws IOException {
        Path path = dir.resolve("c".repeat(249) + ".cache"); // 255 characters: the longest name most file systems take
        Files.writeString(path, "the file system takes the name");
        CacheFile cache = new CacheFile(path, "production", CLOCK, TOKEN);
        cache.write(sample(), 0, Set.of());
        assertThat(cache.read().flags().flags()).containsExactlyInAnyOrderElementsOf(sample().flags());
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).extracting(p -> p.getFileName().toString()).containsExactly(path.getFileName().toString());
        }
    }

    /** QA76 F4: temporary files that dead writes left (one per crash) do not add up: the next instance's first write deletes them. */
    @Test
    void temporaryFilesThatDeadWritesLeftAreDeletedByTheFirstWriteButNotOneInProgress() throws IOException {
        FileTime twoHoursAgo = FileTime.fromMillis(System.currentTimeMillis() - 2 * 3_600_000L);
        Path left = dir.resolve(CacheFile.TEMP_PREFIX + "4417364216487326301" + CacheFile.TEMP_SUFFIX);
        Path leftByAnOlderRelease = dir.resolve("flags.cache.8842207703153344137.tmp");
        Path inProgress = dir.resolve(CacheFile.TEMP_PREFIX + "11" + CacheFile.TEMP_SUFFIX); // another instance's write
        Path notOurs = dir.resolve("notes.tmp");
        Path notOursEither = dir.resolve(CacheFile.TEMP_PREFIX + "notes" + CacheFile.TEMP_SUFFIX);
        for (Path p : List.of(left, leftByAnOlderRelease, inProgress, notOurs, notOursEither)) {
            Files.writeString(p, "half a cache file");
            if (p != inProgress) {
                Files.setLastModifiedTime(p, twoHoursAgo);
            }
        }
        CacheFile cache = cache("production");
        cache.write(sample(), 0, Set.of());
        assertThat(left).doesNotExist();
        assertThat(leftByAnOlderRelease).doesNotExist();
        assertThat(inProgress).exists();
        assertThat(notOurs).exists();
        assertThat(notOursEither).exists();
        assertThat(cache.read().flags().flags()).containsExactlyInAnyOrderElementsOf(sample().flags());
    }

    /** The temporary file holds the flags before it is the cache file: no one else may read it. */
    @Test
    void theTemporaryFileIsPrivate() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(dir.getFileSystem().supportedFileAttributeViews().contains("posix"));
        // A temporary file is renamed over the cache file with its mode: the cache file's mode is the temporary one's.
        cache("production").write(sample(), 0, Set.of());
        assertThat(Files.getPosixFilePermissions(dir.resolve("flags.cache")))
                .containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
    }

    @Test
    void writingReplacesTheFileAndLeavesNoTemporaryFiles() throws IOException {
        cache("production").write(sample(), 0, java.util.Set.of());
        cache("production").write(sample().withoutFlag("billing-v2", 43), 0, java.util.Set.of());
        assertThat(cache("production").read().flags().version()).isEqualTo(43);
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).extracting(p -> p.getFileName().toString()).containsExactly("flags.cache");
        }
    }
}
