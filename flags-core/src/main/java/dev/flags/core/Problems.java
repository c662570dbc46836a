package dev.flags.core;

import java.util.ArrayList;
import java.util.List;

/**
 * Not thread-safe. Collects problems while a document is read and validated. A problem at a path
 * that already has one (or lies below one) is dropped, so that a value that could not be read is not
 * reported a second time as missing. The first {@value #MAX_LISTED} are listed, and the rest counted: a
 * document of tens of thousands of unknown fields made every new problem compare itself with every earlier
 * one (54 s of a request thread for 60,000), and an answer of megabytes.
 */
final class Problems {

    /** How many problems are listed; the rest are counted in a last one. */
    static final int MAX_LISTED = 100;
    /** How the last problem, which counts the unlisted ones, begins. */
    static final String UNLISTED_PREFIX = "and ";

    private final List<Problem> list = new ArrayList<>();
    private long unlisted;
    private String flagKey;

    /** Sets the flag the following problems belong to (null outside a flag). */
    void flag(String key) {
        this.flagKey = key;
    }

    void add(String path, String message) {
        if (list.size() >= MAX_LISTED) {
            unlisted++; // not compared with the listed ones: a count, not a list
            return;
        }
        for (Problem p : list) {
            if (path.equals(p.path()) || path.startsWith(p.path() + ".") || path.startsWith(p.path() + "[")) {
                return;
            }
        }
        list.add(new Problem(flagKey, path, message));
    }

    boolean isEmpty() {
        return list.isEmpty();
    }

    int size() {
        return list.size();
    }

    void throwIfAny() {
        if (!list.isEmpty()) {
            List<Problem> all = list;
            if (unlisted > 0) {
                all = new ArrayList<>(list);
                all.add(new Problem(null, "", UNLISTED_PREFIX + unlisted + " more " + (unlisted == 1 ? "problem" : "problems")
                        + " after these " + MAX_LISTED + ", not listed: mend these and validate again"));
            }
            throw new FlagValidationException(all, unlisted);
        }
    }

    static String child(String path, String field) {
        return path.isEmpty() ? field : path + "." + field;
    }

    static String index(String path, int i) {
        return path + "[" + i + "]";
    }

    /** A name from the document cut to a readable length, for a path: a 10,000-character key must not make a path of it. */
    static String shortened(String name) {
        if (name.length() <= 80) {
            return name;
        }
        int end = Character.isHighSurrogate(name.charAt(76)) ? 76 : 77; // never half a character
        return name.substring(0, end) + "...";
    }

    static String quote(String s) {
        if (s == null) {
            return "null";
        }
        String shown = s.length() > 80 ? s.substring(0, 77) + "..." : s;
        return "\"" + shown + "\"";
    }
}
