package dev.flags.core;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Locale;

/**
 * Immutable (static functions only). Whether a host names this machine, for the warnings of the SDK and the
 * {@code flags} command when a token would go in the clear: judged without a lookup, so that a warning never
 * waits for DNS and a name cannot pass for an address.
 */
public final class Loopback {

    private Loopback() {
    }

    /**
     * @param host a host as written in a URL or a gRPC target: a name, an IPv4 address or a bracketed IPv6 one
     * @return true for {@code localhost} and names under it (RFC 6761), and loopback address literals
     *     ({@code 127.0.0.1}, {@code [::1]}); false for any other name ({@code 127.evil.example} is a name)
     */
    public static boolean isThisMachine(String host) {
        String h = host.toLowerCase(Locale.ROOT);
        if (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        if (h.equals("localhost") || h.endsWith(".localhost")) {
            return true;
        }
        boolean literal = h.matches("\\d{1,3}(\\.\\d{1,3}){3}") || (h.startsWith("[") && h.endsWith("]"));
        try {
            // A literal is parsed, not looked up.
            return literal && InetAddress.getByName(h.replace("[", "").replace("]", "")).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false; // a literal that is none
        }
    }
}
