package dev.flags.server;

import java.net.URI;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Immutable. Where the server sends every change it takes ({@link Webhook}): an HTTP or HTTPS endpoint, and the file
 * holding the secret its deliveries are signed with.
 *
 * @param url the endpoint: absolute, {@code http} or {@code https}, with a host, without a fragment
 * @param secretFile a file holding the signing secret (at least {@value #MIN_SECRET} characters), read at start
 */
public record WebhookSettings(URI url, Path secretFile) {

    /** The shortest secret: shorter ones can be guessed from signatures. */
    public static final int MIN_SECRET = 16;

    /**
     * Checks the endpoint's form; the secret file is read when the server starts.
     *
     * @throws BadSettingException naming {@code webhookUrl} or {@code webhookSecretFile}
     */
    public WebhookSettings {
        if (url == null) {
            throw new BadSettingException("webhookUrl", "the webhook needs a URL as well as a secret file");
        }
        if (secretFile == null) {
            throw new BadSettingException("webhookSecretFile", "the webhook needs a secret file (its deliveries are signed"
                    + " with it, so that the receiver can tell them from anyone else's requests)");
        }
        String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
        if (!url.isAbsolute() || !(scheme.equals("http") || scheme.equals("https")) || url.getHost() == null
                || url.getRawFragment() != null) {
            // Masked from the text, not from what URI parsed: a password with an unencoded / or # is no user info to
            // URI (so it found no host), and the refusal printed it whole to the log (QA75 F1).
            throw new BadSettingException("webhookUrl", "the webhook URL must be an http:// or https:// URL with a host and"
                    + " no #fragment, such as https://hooks.example.com/flags; was \"" + masked(url.toString()) + "\"");
        }
        if (url.getPort() == 0 || url.getPort() > 65_535) { // URI takes any digits: every delivery failed, for good (QA75 F4)
            throw new BadSettingException("webhookUrl", "the webhook URL's port must be between 1 and 65535, was "
                    + url.getPort() + ": \"" + masked(url.toString()) + "\"");
        }
    }

    /**
     * The URL as logs may show it: without what may be a credential (user info, query).
     *
     * @return scheme, host, port and path
     */
    public String shown() {
        return shown(url);
    }

    private static String shown(URI url) {
        return url.getScheme() + "://" + url.getHost() + (url.getPort() >= 0 ? ":" + url.getPort() : "")
                + (url.getRawPath() == null ? "" : url.getRawPath());
    }

    /**
     * Text given as a URL, for a message, whether or not it parses as one: what may be a credential (before the last
     * '@', after a '?') shown as "...", escaped and cut. Read from the text, as the parser would miss a password with an
     * unencoded reserved character in it.
     *
     * @param text the text given
     * @return it, fit to be shown
     */
    public static String masked(String text) {
        int at = text.lastIndexOf('@');
        if (at >= 0) {
            int start = text.indexOf("://");
            start = start >= 0 && start < at ? start + 3 : 0;
            text = text.substring(0, start) + "..." + text.substring(at);
        }
        int query = text.indexOf('?');
        if (query >= 0) {
            text = text.substring(0, query) + "?...";
        }
        return LogText.escape(text.length() > 200 ? text.substring(0, 200) + "..." : text);
    }
}
