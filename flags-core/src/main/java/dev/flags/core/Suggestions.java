package dev.flags.core;

import java.util.Collection;
import java.util.Optional;

/**
 * Immutable (static functions only). The name someone probably meant, for messages about a name that is not there:
 * a misspelt flag key ({@code biling-v2}) or setting ({@code FLAGS_HTTPPORT}).
 */
public final class Suggestions {

    private Suggestions() {
    }

    /**
     * @param typed what was given
     * @param known the names there are
     * @param within the most single-character edits (insert, delete, replace) between the two
     * @return the known name nearest to the typed one within that many edits (the first in order of {@code known} among
     *     equals), or empty; never the typed name itself
     */
    public static Optional<String> closest(String typed, Collection<String> known, int within) {
        String best = null;
        int bestDistance = within + 1;
        for (String k : known) {
            // Lengths further apart than the limit cannot be within it: no distance to compute.
            if (k.equals(typed) || Math.abs(k.length() - typed.length()) > within) {
                continue;
            }
            int distance = editDistance(typed, k);
            if (distance < bestDistance) {
                best = k;
                bestDistance = distance;
            }
        }
        return Optional.ofNullable(best);
    }

    /**
     * The Levenshtein distance: how many characters to insert, delete or replace to make one text the other.
     *
     * @param a a text
     * @param b another
     * @return the number of single-character edits between them
     */
    public static int editDistance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int replace = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(replace, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }
}
