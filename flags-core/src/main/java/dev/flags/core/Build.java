package dev.flags.core;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/**
 * Immutable (static, read once). Which build this is: the release, and the commit the build was made from, as the build
 * recorded it in {@code dev/flags/core/build.properties}. Every build of a release says the same release; the commit
 * tells them apart: which server an operator runs, which SDK an application carries.
 */
public final class Build {

    /** The release, as every module of this build says it. */
    public static final String RELEASE = "0.1.0";
    /** What {@link #commit()} says when the build recorded none (built outside a git work tree). */
    public static final String UNKNOWN = "unknown";

    private static final String COMMIT = read();

    private Build() {
    }

    /**
     * @return the abbreviated id of the commit the build was made from, with {@code -dirty} after it when the work tree
     *     had changes not committed; {@value #UNKNOWN} when the build recorded none
     */
    public static String commit() {
        return COMMIT;
    }

    /** @return the release and the commit, as a version line says them: {@code 0.1.0 (commit 3e4d9eb1a2)} */
    public static String describe() {
        return RELEASE + " (commit " + COMMIT + ")";
    }

    private static String read() {
        Properties p = new Properties();
        try (InputStream in = Build.class.getResourceAsStream("build.properties")) {
            if (in == null) {
                return UNKNOWN;
            }
            p.load(in);
        } catch (IOException e) {
            return UNKNOWN;
        }
        String id = p.getProperty("git.commit.id.abbrev", "").strip();
        if (id.isEmpty()) {
            return UNKNOWN;
        }
        return id + ("true".equals(p.getProperty("git.dirty")) ? "-dirty" : "");
    }
}
