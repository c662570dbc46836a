package dev.flags.server;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;

/**
 * Immutable (stateless). Client addresses as log lines write them: IPv6 in its short form (RFC 5952: {@code ::1},
 * {@code 2001:db8::7}), which is what operators type into a search and a firewall rule; {@link InetAddress#getHostAddress()}
 * writes the full form ({@code 0:0:0:0:0:0:0:1}), which neither finds.
 */
public final class Addresses {

    private Addresses() {
    }

    /** @return the address of a connection's peer, or "an unknown address" if it has none */
    public static String text(SocketAddress remote) {
        return remote instanceof InetSocketAddress socket && socket.getAddress() != null
                ? text(socket.getAddress()) : "an unknown address";
    }

    /**
     * @param literal an IP address literal, as a servlet's {@code getRemoteAddr()} gives it
     * @return the same address, IPv6 in its short form; anything that is not an IP literal as it came
     */
    public static String text(String literal) {
        if (literal == null) {
            return "an unknown address";
        }
        if (literal.indexOf(':') < 0) {
            return literal; // IPv4 (or a name): nothing to shorten
        }
        String bare = literal.startsWith("[") && literal.endsWith("]") ? literal.substring(1, literal.length() - 1) : literal;
        if (!bare.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == ':' || c == '.' || c == '%')) {
            return literal; // not an IP literal: InetAddress.getByName would look it up by name
        }
        try {
            return text(InetAddress.getByName(bare));
        } catch (UnknownHostException | SecurityException e) {
            return literal;
        }
    }

    /** @return the address, IPv6 in the short form of RFC 5952 (with its scope, if any) */
    public static String text(InetAddress address) {
        if (!(address instanceof Inet6Address v6)) {
            return address.getHostAddress();
        }
        byte[] bytes = address.getAddress();
        int[] groups = new int[8];
        for (int i = 0; i < 8; i++) {
            groups[i] = (bytes[2 * i] & 0xff) << 8 | bytes[2 * i + 1] & 0xff;
        }
        // The longest run of two or more zero groups becomes "::" (the first such run on a tie).
        int bestStart = -1;
        int bestLength = 1;
        for (int i = 0; i < 8; ) {
            if (groups[i] != 0) {
                i++;
                continue;
            }
            int start = i;
            while (i < 8 && groups[i] == 0) {
                i++;
            }
            if (i - start > bestLength) {
                bestStart = start;
                bestLength = i - start;
            }
        }
        StringBuilder text = new StringBuilder(39);
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                text.append("::");
                i += bestLength - 1;
                continue;
            }
            if (text.length() > 0 && text.charAt(text.length() - 1) != ':') {
                text.append(':');
            }
            text.append(Integer.toHexString(groups[i]));
        }
        String scope = v6.getScopeId() != 0 || v6.getScopedInterface() != null ? address.getHostAddress() : "";
        int percent = scope.indexOf('%');
        return percent < 0 ? text.toString() : text + scope.substring(percent);
    }
}
