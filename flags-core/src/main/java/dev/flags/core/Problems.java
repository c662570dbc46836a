package dev.flags.core;

import java.util.ArrayList;
import java.util.List;

/**
 * Not thread-safe. Collects problems while a document is read and validated. A problem at a path
 * that already has one (or lies below one) is dropped, so that a value that could not be read is not
 * reported a second time as missing.
 */
final class Problems {

    private final List<Problem> list = new ArrayList<>();
    private String flagKey;

    /** Sets the flag the following problems belong to (null outside a flag). */
    void flag(String key) {
        this.flagKey = key;
    }

    void add(String path, String message) {
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
            throw new FlagValidationException(list);
        }
    }

    static String child(String path, String field) {
        return path.isEmpty() ? field : path + "." + field;
    }

    static String index(String path, int i) {
        return path + "[" + i + "]";
    }

    static String quote(String s) {
        if (s == null) {
            return "null";
        }
        String shown = s.length() > 80 ? s.substring(0, 77) + "..." : s;
        return "\"" + shown + "\"";
    }
}
