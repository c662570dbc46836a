package dev.flags.server;

import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.flags.server.journal.DurableFiles;
import dev.flags.server.journal.Journal;
import dev.flags.server.journal.JournalEntry;
import dev.flags.server.journal.JournalException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.LongAdder;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. Sends every change the journal takes to one HTTP endpoint (a chat channel's bot, a CI job, an audit
 * store), in the journal's order and at least once, as the audit log shows them ({@link AuditEntries}).
 *
 * <p>It reads the journal from the last entry the endpoint acknowledged (a 2xx), which it keeps in
 * {@value #CURSOR_FILE} in the data directory: nothing is lost while the endpoint is down, slow or refusing, nor across
 * a restart; the changes wait in the journal, and go in order once it takes them again. A delivery whose answer was
 * lost is sent again, so a receiver tells repeats by their {@code sequence}. A data directory without the file starts
 * with the changes made from then on (not the whole history); entries that journal retention removes before they could
 * be delivered are skipped, with a warning.
 *
 * <p>Each delivery is one {@code POST} of {@code {"entries": [...]}} (at most {@value #MAX_ENTRIES} entries, and at most
 * {@value #MAX_BODY_BYTES} bytes unless one entry alone is larger), signed: {@code X-Flags-Signature: sha256=} and
 * the hex HMAC-SHA256 of the body with the secret. Failures are retried with exponential backoff and jitter, up to
 * {@link #MAX_BACKOFF} apart; the log says so once when deliveries start failing and once when they work again
 * ({@link WebhookOutages}).
 */
public final class Webhook implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Webhook.class);
    /** Where the last acknowledged sequence number is kept, in the data directory. */
    public static final String CURSOR_FILE = "webhook-cursor";
    /** The most entries one delivery carries. */
    static final int MAX_ENTRIES = 100;
    /** About the most bytes one delivery carries (an entry may hold a flag document of up to 1 MiB). */
    static final int MAX_BODY_BYTES = 1 << 20;
    private static final byte[] BATCH_START = "{\"entries\":[".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    private static final byte[] BATCH_END = "]}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    /** How many entries one read of the journal takes. */
    private static final int READ_STEP = 8;
    /** The longest wait between two attempts. */
    static final Duration MAX_BACKOFF = Duration.ofMinutes(5);
    /** How long an attempt may take, from connecting to the answer's status. */
    static final Duration ATTEMPT_TIMEOUT = Duration.ofSeconds(10);
    /** How often the journal is looked at when nothing woke the sender (changes that tell no environment, such as tokens'). */
    private static final Duration IDLE_LOOK = Duration.ofSeconds(1);
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final Journal journal;
    private final WebhookSettings settings;
    private final byte[] secret;
    private final Path cursorFile;
    private final Duration firstBackoff;
    private final HttpClient http;
    /** The endpoint without its user info, which goes as Basic credentials instead ({@link #authorization}). */
    private final java.net.URI endpoint;
    /** {@code Basic ...} from the URL's user info, or null. */
    private final String authorization;
    private final Thread thread;
    private final Object wakeUp = new Object();
    private final LongAdder delivered = new LongAdder();
    private final LongAdder failures = new LongAdder();
    private boolean woken; // guarded by wakeUp
    private volatile boolean closed;
    private volatile long acknowledged;
    /** The oldest entry the endpoint had not acknowledged when last looked up: read again once the cursor passes it. */
    private volatile Waiting oldestWaiting;

    private Webhook(Journal journal, WebhookSettings settings, byte[] secret, Path dataDir, Duration firstBackoff)
            throws IOException {
        this.journal = journal;
        this.settings = settings;
        this.secret = secret;
        this.cursorFile = dataDir.resolve(CURSOR_FILE);
        this.firstBackoff = firstBackoff;
        this.http = HttpClient.newBuilder().connectTimeout(ATTEMPT_TIMEOUT).followRedirects(HttpClient.Redirect.NEVER)
                .version(HttpClient.Version.HTTP_1_1).build();
        java.net.URI url = settings.url();
        String hostAndPort = url.getRawAuthority().substring(url.getRawAuthority().lastIndexOf('@') + 1);
        this.endpoint = java.net.URI.create(url.getScheme() + "://" + hostAndPort
                + (url.getRawPath() == null || url.getRawPath().isEmpty() ? "/" : url.getRawPath())
                + (url.getRawQuery() == null ? "" : "?" + url.getRawQuery())); // as given, minus the user info
        this.authorization = basic(url.getUserInfo());
        this.acknowledged = readCursor();
        this.thread = new Thread(this::run, "flags-webhook");
        thread.setDaemon(true);
    }

    /**
     * The Basic credentials of a URL's user info: {@code user:password}, and {@code user:} for a user name alone (a token
     * as the user name, as some receivers take it): without the colon, the header is no credentials a receiver can read
     * (RFC 7617), and every delivery was refused, for good.
     *
     * @param userInfo the URL's user info, decoded, or null
     * @return {@code Basic ...}, or null for none
     */
    static String basic(String userInfo) {
        if (userInfo == null) {
            return null;
        }
        String credentials = userInfo.indexOf(':') < 0 ? userInfo + ":" : userInfo;
        return "Basic " + java.util.Base64.getEncoder().encodeToString(credentials.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Reads the secret and the cursor, and starts sending.
     *
     * @param firstBackoff the wait after a first failure, doubled after each one after it
     * @return the running sender
     * @throws BadSettingException if the secret file cannot be read or holds too short a secret
     * @throws IOException if the cursor file cannot be read or written
     */
    public static Webhook start(Journal journal, WebhookSettings settings, Path dataDir, Duration firstBackoff)
            throws IOException {
        Objects.requireNonNull(journal, "journal");
        Objects.requireNonNull(settings, "settings");
        Webhook webhook = new Webhook(journal, settings, secret(settings.secretFile()), dataDir, firstBackoff);
        AdminToken.warnIfOthersCanReadOrChange(settings.secretFile(), "webhook secret",
                "they could put in a secret of their own, and the receiver would refuse the server's deliveries", LOG);
        webhook.thread.start();
        LOG.info("webhook: sending every change to {}, from after sequence {}", settings.shown(), webhook.acknowledged);
        return webhook;
    }

    /**
     * Reads and checks the signing secret: checked with the other settings, before anything is written, and read again
     * at start.
     *
     * @return the secret's bytes, its text trimmed
     * @throws BadSettingException naming {@code webhookSecretFile}: unreadable, not UTF-8, or too short
     */
    static byte[] secret(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new BadSettingException("webhookSecretFile", "the webhook secret file " + file + " is not UTF-8 text (write"
                    + " the secret as text, such as the output of openssl rand -hex 32)");
        } catch (IOException e) {
            throw new BadSettingException("webhookSecretFile", "the webhook secret file " + file + " cannot be read: " + e);
        }
        if (text.length() < WebhookSettings.MIN_SECRET) {
            throw new BadSettingException("webhookSecretFile", "the webhook secret in " + file + " is " + text.length()
                    + " characters long; it must be at least " + WebhookSettings.MIN_SECRET + " (such as the output of"
                    + " openssl rand -hex 32)");
        }
        return text.getBytes(StandardCharsets.UTF_8);
    }

    /** The cursor as kept, or the journal's end for a data directory that has none (the changes from now on). */
    private long readCursor() throws IOException {
        try {
            String text = Files.readString(cursorFile, StandardCharsets.US_ASCII).strip();
            long cursor;
            try {
                cursor = Long.parseLong(text);
            } catch (NumberFormatException e) {
                throw new IOException(cursorFile + " should hold the sequence number the webhook last delivered, but holds \""
                        + LogText.escape(text.length() > 40 ? text.substring(0, 40) + "..." : text) + "\": write the last"
                        + " sequence the receiver has (GET /api/v1/audit shows them), or remove the file to send the changes"
                        + " from now on");
            }
            long end = journal.lastSequence();
            if (cursor > end) { // a journal put back from an older backup than the cursor: its new entries would go unsent
                LOG.warn("webhook: {} says sequence {} was delivered, but the journal ends at {} (restored from a backup?);"
                        + " sending from after {}", cursorFile, cursor, end, end);
                DurableFiles.replace(cursorFile, (end + "\n").getBytes(StandardCharsets.US_ASCII));
                return end;
            }
            if (cursor < 0) {
                throw new IOException(cursorFile + " holds " + cursor + ", not a sequence number: write the last sequence the"
                        + " receiver has, or remove the file to send the changes from now on");
            }
            return cursor;
        } catch (NoSuchFileException e) {
            long now = journal.lastSequence();
            DurableFiles.replace(cursorFile, (now + "\n").getBytes(StandardCharsets.US_ASCII));
            return now;
        }
    }

    /** Tells the sender that the journal took a change. */
    public void wake() {
        synchronized (wakeUp) {
            woken = true;
            wakeUp.notifyAll();
        }
    }

    /** @return the sequence number of the last entry the endpoint acknowledged */
    public long acknowledged() {
        return acknowledged;
    }

    /** @return how many entries the journal holds that the endpoint has not acknowledged */
    public long lag() {
        return Math.max(0, journal.lastSequence() - acknowledged);
    }

    /**
     * How long the oldest change the endpoint has not acknowledged has waited: what tells an endpoint that is stuck (a
     * change an hour old) from one that is busy (many changes, each a second old), which {@link #lag()} cannot.
     *
     * @param now the time to measure by
     * @return the time since that change was written; zero when the endpoint has every change
     * @throws JournalException if the journal cannot be read
     */
    public Duration oldestWaiting(java.time.Instant now) {
        long next = acknowledged + 1;
        if (journal.lastSequence() < next) {
            return Duration.ZERO;
        }
        Waiting waiting = oldestWaiting;
        if (waiting == null || waiting.sequence() < next) { // one read per change taken, not per look
            List<JournalEntry> entries = journal.read(next, 1); // the first retained from there
            if (entries.isEmpty()) {
                return Duration.ZERO;
            }
            waiting = new Waiting(entries.get(0).sequence(), entries.get(0).timestamp());
            oldestWaiting = waiting;
        }
        Duration age = Duration.between(waiting.writtenAt(), now);
        return age.isNegative() ? Duration.ZERO : age;
    }

    /** An entry the endpoint has not taken, and when the journal took it. */
    private record Waiting(long sequence, java.time.Instant writtenAt) {
    }

    /** @return entries delivered since the server started */
    public long deliveredCount() {
        return delivered.sum();
    }

    /** @return failed attempts since the server started */
    public long failureCount() {
        return failures.sum();
    }

    private void run() {
        WebhookOutages outages = new WebhookOutages(settings.shown(), MAX_BACKOFF, java.time.Clock.systemUTC(), LOG::warn,
                LOG::info);
        Duration backoff = firstBackoff;
        while (!closed) {
            String failure;
            try {
                Batch batch = nextBatch();
                if (batch == null) {
                    await(IDLE_LOOK);
                    continue;
                }
                failure = deliver(batch);
            } catch (JournalException | IOException | IllegalArgumentException e) { // IAE: retention ran meanwhile
                if (closed) {
                    return;
                }
                failure = failure(e); // never null (null is "delivered"): a refused connection has no message
            } catch (RuntimeException | Error e) { // the sender must not die of one: the changes would wait for a restart
                // (an Error too: an OutOfMemoryError building a large delivery ended the thread, silently: QA69 F7)
                LOG.warn("webhook: unexpected failure", e);
                failure = e.toString();
            } catch (InterruptedException e) {
                return; // closed
            }
            if (failure == null) {
                outages.delivered();
                backoff = firstBackoff;
                continue;
            }
            failures.increment();
            outages.failed(failure);
            try {
                sleep(retryDelay(backoff, ThreadLocalRandom.current().nextLong(backoff.toMillis() / 4 + 1)));
            } catch (InterruptedException e) {
                return;
            }
            backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
        }
    }

    /**
     * @param backoff the backoff reached
     * @param jitterMillis a random part, up to a quarter of it (so that servers restarted together do not retry together)
     * @return how long to wait before the next attempt: never more than {@link #MAX_BACKOFF}, as documented, jitter
     *     included (at the cap, the jitter takes from the wait instead of adding to it)
     */
    static Duration retryDelay(Duration backoff, long jitterMillis) {
        Duration delay = backoff.plusMillis(jitterMillis);
        return delay.compareTo(MAX_BACKOFF) <= 0 ? delay : MAX_BACKOFF.minusMillis(jitterMillis);
    }

    /**
     * A redirect, which a delivery never follows (a signed body must reach the endpoint configured, not wherever it
     * points): where it pointed, without what may be a credential (user info, query), for the log.
     *
     * @param status the 3xx status
     * @param location the answer's {@code Location}, or null
     * @return what to say of it
     */
    static String redirected(int status, String location) {
        String to = "";
        if (location != null) {
            try {
                java.net.URI uri = java.net.URI.create(location.strip());
                if (uri.getHost() != null) {
                    to = " to " + LogText.escape(uri.getScheme() + "://" + uri.getHost() + (uri.getPort() < 0 ? "" : ":"
                            + uri.getPort()) + (uri.getRawPath() == null ? "" : uri.getRawPath()));
                }
            } catch (IllegalArgumentException e) {
                // not a URL: said without it
            }
        }
        return "it answered " + status + ", a redirect" + to + ", which is never followed: give --webhook-url the final"
                + " address";
    }

    /**
     * A failed delivery in an operator's words where the JDK's would leave them guessing: an endpoint's certificate that
     * this JVM does not trust (most often a private CA's), or one that is not for the endpoint's host.
     *
     * @param e why the delivery failed
     * @return what to say of it; never null
     */
    static String failure(Exception e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.security.cert.CertPathBuilderException || t instanceof java.security.cert.CertPathValidatorException) {
                return "the endpoint's certificate is not trusted by this JVM: for a private CA, give the server's java a trust"
                        + " store that holds the CA's certificate, -Djavax.net.ssl.trustStore=FILE"
                        + " -Djavax.net.ssl.trustStorePassword=PASSWORD (docs/server.md, Webhook)";
            }
            if (t instanceof java.security.cert.CertificateException && t.getMessage() != null
                    && t.getMessage().contains("subject alternative")) {
                return "the endpoint's certificate is not for its host (" + t.getMessage() + "): use a URL with a name or"
                        + " address that the certificate lists";
            }
        }
        // The JDK names these by class alone (a refused connection has no message): said as the docs list the causes.
        if (e instanceof java.net.http.HttpConnectTimeoutException) {
            return "no connection within " + ATTEMPT_TIMEOUT.toSeconds() + " s (" + e + ")";
        }
        if (e instanceof java.net.http.HttpTimeoutException) {
            return "no answer within " + ATTEMPT_TIMEOUT.toSeconds() + " s (" + e + ")";
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.nio.channels.UnresolvedAddressException || t instanceof java.net.UnknownHostException) {
                return "the endpoint's host name does not resolve (" + e + ")";
            }
        }
        if (e instanceof java.net.ConnectException) {
            return "the connection was refused: nothing listens there? (" + e + ")";
        }
        return e.toString();
    }

    /**
     * The next delivery's body: the entries after the cursor, as many as one delivery carries, read a few at a time (an
     * entry may hold a flag document of 1 MiB: a hundred at once would be a hundred MiB of heap). Retention's gaps are
     * skipped with a warning.
     *
     * @return the body and the last sequence it carries, or null if there is nothing to send
     */
    private Batch nextBatch() throws IOException {
        long oldest = journal.oldestRetainedSequence();
        if (acknowledged + 1 < oldest && journal.lastSequence() >= oldest) {
            LOG.warn("webhook: entries {} to {} were removed by journal retention before {} took them; going on from {}",
                    acknowledged + 1, oldest - 1, settings.shown(), oldest);
            saveCursor(oldest - 1);
        }
        if (journal.lastSequence() <= acknowledged) {
            return null;
        }
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.write(BATCH_START);
        long last = acknowledged;
        int count = 0;
        fill:
        while (count < MAX_ENTRIES) {
            List<JournalEntry> step = journal.read(last + 1, READ_STEP);
            if (step.isEmpty()) {
                break;
            }
            java.util.Map<Long, String> switched = AuditEntries.switches(journal, step, true); // every entry, in order
            for (JournalEntry e : step) {
                byte[] entry = JSON.writeValueAsBytes(AuditEntries.json(e, switched.get(e.sequence())));
                // Measured before it goes in: checked after, one more entry of up to a mebibyte and more always went in,
                // and a receiver with a 1 MiB limit (nginx's default) refused the delivery for good (QA69 F1)
                if (count == MAX_ENTRIES
                        || (count > 0 && body.size() + 1 + entry.length + BATCH_END.length > MAX_BODY_BYTES)) {
                    break fill; // the rest go in the next delivery
                }
                if (count > 0) {
                    body.write(',');
                }
                body.write(entry);
                last = e.sequence();
                count++;
            }
        }
        body.write(BATCH_END);
        return count == 0 ? null : new Batch(body.toByteArray(), last);
    }

    /** One delivery's body, and the sequence number of its last entry. */
    private record Batch(byte[] body, long last) {
    }

    /** @return null once the endpoint acknowledged the batch, else why not */
    private String deliver(Batch batch) throws IOException, InterruptedException {
        byte[] bytes = batch.body();
        long last = batch.last();
        HttpRequest.Builder request = HttpRequest.newBuilder(endpoint).timeout(ATTEMPT_TIMEOUT)
                .header("Content-Type", "application/json")
                .header("User-Agent", "flags-server")
                .header("X-Flags-Signature", "sha256=" + HexFormat.of().formatHex(sign(bytes)))
                .header("X-Flags-Sequences", (acknowledged + 1) + "-" + last)
                .POST(HttpRequest.BodyPublishers.ofByteArray(bytes));
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
        HttpResponse<java.io.InputStream> answer = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
        answer.body().close(); // the status is the answer: a body, even an endless one, is not read
        if (answer.statusCode() / 100 == 3) {
            return redirected(answer.statusCode(), answer.headers().firstValue("Location").orElse(null));
        }
        if (answer.statusCode() == 413) {
            return "it answered 413: the delivery's " + bytes.length + " bytes are more than the receiver takes (a delivery"
                    + " holds up to " + MAX_BODY_BYTES + " bytes, or one entry alone when that is larger: raise the receiver's"
                    + " limit)";
        }
        if (answer.statusCode() / 100 != 2) {
            return "it answered " + answer.statusCode();
        }
        long count = last - acknowledged;
        saveCursor(last);
        delivered.add(count); // once saved: a cursor that cannot be saved has the same entries sent, and counted, again (QA69 F9)
        return null;
    }

    byte[] sign(byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            return mac.doFinal(body);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("every JVM has HmacSHA256", e);
        }
    }

    private void saveCursor(long sequence) throws IOException {
        DurableFiles.replace(cursorFile, (sequence + "\n").getBytes(StandardCharsets.US_ASCII));
        acknowledged = sequence;
    }

    private void await(Duration atMost) throws InterruptedException {
        synchronized (wakeUp) {
            if (!woken && !closed) {
                wakeUp.wait(atMost.toMillis());
            }
            woken = false;
        }
    }

    /** A backoff's wait: a wake-up does not shorten it, a close does. */
    private void sleep(Duration wait) throws InterruptedException {
        long until = System.nanoTime() + wait.toNanos();
        synchronized (wakeUp) {
            for (long left = wait.toNanos(); left > 0 && !closed; left = until - System.nanoTime()) {
                wakeUp.wait(Math.max(1, left / 1_000_000));
            }
        }
    }

    /** Stops sending; a delivery in flight is cut off (it is sent again after the next start). */
    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(2_000); // interrupted, it ends at once: a bound, not a wait a stop would feel
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
