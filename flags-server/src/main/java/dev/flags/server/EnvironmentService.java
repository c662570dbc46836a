package dev.flags.server;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.server.auth.Principal;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.Journal;
import dev.flags.server.journal.JournalEntry;
import dev.flags.server.journal.ServerState;
import dev.flags.server.sync.SdkStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. Environments: list, create (empty or as a clone of another), archive, restore, delete
 * for good. Every change needs an admin token; listing shows only what the token may read.
 */
public final class EnvironmentService {

    private static final Logger LOG = LoggerFactory.getLogger(EnvironmentService.class);

    /** How many applications a refused archive names. */
    private static final int APPLICATIONS_NAMED = 5;

    private final Journal journal;
    private final ChangeWriter writer;
    private final EnvironmentLimits limits;
    private final Function<String, List<SdkStream>> connected;
    /** Held by a creation or clone from its checks to its append. */
    private final Object creations = new Object();

    /**
     * @param journal the journal, for reads
     * @param writer the write path
     */
    public EnvironmentService(Journal journal, ChangeWriter writer) {
        this(journal, writer, EnvironmentLimits.defaults());
    }

    /** A service whose clones keep each environment within {@code limits}, and that knows of no connected SDK. */
    public EnvironmentService(Journal journal, ChangeWriter writer, EnvironmentLimits limits) {
        this(journal, writer, limits, env -> List.of());
    }

    /**
     * @param journal the journal, for reads
     * @param writer the write path
     * @param limits what a clone keeps each environment within
     * @param connected an environment's open sync streams now: an archive of an environment with SDKs connected is
     *     refused unless asked for even so ({@link #archive(Principal, String, String, boolean)})
     */
    public EnvironmentService(Journal journal, ChangeWriter writer, EnvironmentLimits limits,
                              Function<String, List<SdkStream>> connected) {
        this.journal = Objects.requireNonNull(journal, "journal");
        this.writer = Objects.requireNonNull(writer, "writer");
        this.limits = Objects.requireNonNull(limits, "limits");
        this.connected = Objects.requireNonNull(connected, "connected");
    }

    /**
     * @param keys environments' keys, such as a token's
     * @return those of them that were deleted for good, in the order given
     */
    public List<String> deleted(java.util.Collection<String> keys) {
        ServerState state = journal.state();
        return keys.stream().filter(state::wasDeleted).toList();
    }

    /** @return the environments the token may read, sorted by key */
    public List<EnvironmentState> list(Principal p) {
        List<EnvironmentState> out = new ArrayList<>();
        journal.state().environments().values().forEach(e -> {
            if (p.canRead(e.key())) {
                out.add(e);
            }
        });
        out.sort((a, b) -> a.key().compareTo(b.key()));
        return out;
    }

    /** @return one environment */
    public EnvironmentState get(Principal p, String env) {
        Access.requireRead(p, env);
        return Access.environment(journal, env);
    }

    /**
     * Creates an environment, empty or as a copy of another's flags and self-service roles (not its
     * role grants: testers of staging are not testers of a new dev environment).
     *
     * @param cloneFrom the environment to copy, or null
     * @return the created environment
     */
    public EnvironmentState create(Principal p, String key, String name, String cloneFrom, String comment) {
        Access.requireAdmin(p);
        Keys.withoutToken(key, "environment key"); // in every URL, list and log line, and never used again once deleted
        Keys.environment(key);
        Keys.name(name);
        Keys.comment(comment);
        if (cloneFrom != null) {
            Keys.environment(cloneFrom);
        }
        // One creation at a time, its checks and its append together: two at once, of prod and PROD, each checked a state
        // without the other and both were created (QA67 F2). The journal refuses only an exact duplicate. A delete needs
        // no part of this lock: it removes an environment that exists, which a creation's check already refuses in any case.
        synchronized (creations) {
            return createNow(p, key, name, cloneFrom, comment);
        }
    }

    /** {@link #create}'s checks against the state and its append: called one at a time. */
    private EnvironmentState createNow(Principal p, String key, String name, String cloneFrom, String comment) {
        // DEV beside dev: every script, CLI flag and SDK setting would have to get the case right, and one that does not
        // changes or serves the other environment. (An exact duplicate is refused by the journal, as "already exists".)
        ServerState state = journal.state();
        state.environments().keySet().stream().filter(k -> !k.equals(key) && k.equalsIgnoreCase(key)).findFirst()
                .ifPresent(k -> {
                    throw ApiException.conflict("environment \"" + k + "\" exists, and \"" + key + "\" differs from it only in"
                            + " case, which people and scripts would confuse: choose another key");
                });
        // A deleted key is never used again, in any case: a script or SDK setting with the old one must not reach a new one.
        state.deletedEnvironments().stream().filter(k -> !k.equals(key) && k.equalsIgnoreCase(key)).sorted().findFirst()
                .ifPresent(k -> {
                    throw ApiException.conflict("environment \"" + k + "\" was deleted for good, and \"" + key + "\" differs from it"
                            + " only in case: its key is not used again, in any case: choose another key");
                });
        ObjectNode payload = JsonNodeFactory.instance.objectNode();
        if (name != null) {
            payload.put("name", name);
        }
        if (cloneFrom == null) {
            JournalEntry entry = writer.append(Change.of(EntryType.ENVIRONMENT_CREATED, key, p.actor(), payload)
                    .withComment(comment));
            return journal.state().environment(entry.environment()).orElseThrow();
        }
        payload.put("source", cloneFrom);
        // Serialized with the source's writes: the copy is what was checked, not a source grown in between.
        JournalEntry entry = writer.serialized(cloneFrom, () -> {
            EnvironmentState source = Access.environment(journal, cloneFrom);
            limits.checkClone(source, key);
            HeapRoom.require(journal.state(), EnvironmentLimits.servedBytes(source) - EnvironmentLimits.grantBytesOf(source),
                    "environment \"" + key + "\", a copy of \"" + cloneFrom + "\"'s flags");
            return writer.append(Change.of(EntryType.ENVIRONMENT_CLONED, key, p.actor(), payload).withComment(comment));
        });
        return journal.state().environment(entry.environment()).orElseThrow();
    }

    /** @return the limits every environment is kept within */
    public EnvironmentLimits limits() {
        return limits;
    }

    /** Archives an environment that no SDK is connected to: as {@link #archive(Principal, String, String, boolean)}. */
    public EnvironmentState archive(Principal p, String key, String comment) {
        return archive(p, key, comment, false);
    }

    /**
     * Archives an environment: readable, but it accepts no changes, kill switches included.
     *
     * @param withSdks archive it even though SDKs are connected to it
     * @throws ApiException 409 if SDKs are connected and {@code withSdks} is false: they would keep serving its flags
     *     as they are, and no one could switch one of them off until a restore (an admin's)
     */
    public EnvironmentState archive(Principal p, String key, String comment, boolean withSdks) {
        Access.requireAdmin(p);
        ObjectNode payload = JsonNodeFactory.instance.objectNode();
        if (comment != null) {
            payload.put("reason", Keys.comment(comment));
        }
        // Under the environment's lock, its state read again after the append too: read outside it, a delete for good
        // committed in between (another admin's, of the environment this archived) made a durable archive a 500 (QA91 F2).
        return writer.serialized(key, () -> {
            Access.writableEnvironment(journal, key);
            List<SdkStream> streams = withSdks ? List.of() : connected.apply(key);
            if (!streams.isEmpty()) {
                throw ApiException.conflict(connectedSdks(key, streams));
            }
            writer.append(Change.of(EntryType.ENVIRONMENT_ARCHIVED, key, p.actor(), payload).withComment(comment));
            return journal.state().environment(key).orElseThrow();
        });
    }

    /** Why an archive is refused: how many SDKs, of which applications, and the ways on. */
    private static String connectedSdks(String key, List<SdkStream> streams) {
        Map<String, Integer> byApplication = new TreeMap<>();
        streams.forEach(s -> byApplication.merge(s.application().isEmpty() ? "without a name" : s.application(), 1,
                Integer::sum));
        StringBuilder apps = new StringBuilder();
        byApplication.entrySet().stream().limit(APPLICATIONS_NAMED).forEach(e -> apps.append(apps.length() == 0 ? "" : ", ")
                .append(e.getKey()).append(": ").append(e.getValue()));
        if (byApplication.size() > APPLICATIONS_NAMED) {
            apps.append(", and ").append(byApplication.size() - APPLICATIONS_NAMED).append(" more");
        }
        boolean one = streams.size() == 1;
        return streams.size() + (one ? " SDK is" : " SDKs are") + " connected to environment \"" + key
                + "\" (applications " + apps + "): archived, its flags would stay in " + (one ? "that SDK" : "those SDKs")
                + " as they are, and none of them could be switched off, kill switches included, until an admin restores it."
                + " Point " + (one ? "that application" : "those applications") + " at another environment first (GET"
                + " .../sdks lists them: flags sdks), or archive it even so with ?withSdks=true (flags environments archive"
                + " --with-sdks)";
    }

    /**
     * Restores an archived environment: it accepts changes again, with the flags, grants and roles it
     * had. An archive by mistake must not freeze an environment's flags, kill switches included, for good.
     */
    public EnvironmentState restore(Principal p, String key, String comment) {
        Access.requireAdmin(p);
        ObjectNode payload = JsonNodeFactory.instance.objectNode();
        if (comment != null) {
            payload.put("reason", Keys.comment(comment));
        }
        // Under the environment's lock, as an archive is (QA91 F2): an archive and a delete for good right after this
        // restore cannot come between its append and the state it answers with.
        EnvironmentState restored = writer.serialized(key, () -> {
            if (!Access.environment(journal, key).archived()) {
                throw ApiException.conflict("environment \"" + key + "\" is not archived");
            }
            writer.append(Change.of(EntryType.ENVIRONMENT_RESTORED, key, p.actor(), payload).withComment(comment));
            return journal.state().environment(key).orElseThrow();
        });
        limits.overLimit(restored).ifPresent(LOG::warn); // as at a start: it takes changes again, not all of them
        return restored;
    }

    /**
     * What a delete for good removed: the environment as it was just before, and the live tokens that read nothing now
     * (every environment they name is gone; they stay until revoked).
     *
     * @param last the environment's state before the delete
     * @param entry the journal entry ({@code environment_deleted})
     * @param tokens the ids of live tokens that name the environment and no environment that exists, sorted
     */
    public record Deleted(EnvironmentState last, JournalEntry entry, List<String> tokens) {}

    /**
     * Deletes an archived environment for good: the server drops its flags, archived flags, grants, roles and
     * schedules, which frees what they took of the heap, and closes its SDKs' streams (they keep serving what they
     * have). Its changes stay in the journal (the audit log reads them, as long as retention keeps them), and its key
     * is never used again. Admin only; a served environment is archived first, so that a restore can still undo it.
     *
     * @return what was deleted; 404 for an environment that does not exist or was deleted, 409 for a served one
     */
    public Deleted delete(Principal p, String key, String comment) {
        Access.requireAdmin(p);
        EnvironmentState last = Access.environment(journal, key);
        if (!last.archived()) {
            throw ApiException.conflict("environment \"" + key + "\" is served: archive it first (DELETE /api/v1/environments/"
                    + key + ", flags environments archive " + key + "), which stops every change to it while its SDKs keep"
                    + " serving it; only then is it deleted for good");
        }
        ObjectNode payload = JsonNodeFactory.instance.objectNode();
        if (comment != null) {
            payload.put("reason", Keys.comment(comment));
        }
        // Expecting the version checked: a restore in between makes it served again, and the journal refuses it anyway.
        JournalEntry entry = writer.append(Change.of(EntryType.ENVIRONMENT_DELETED, key, p.actor(), payload)
                .withComment(comment).expectingVersion(last.version()));
        List<String> tokens = new ArrayList<>();
        ServerState after = journal.state();
        after.tokens().forEach((id, token) -> {
            // A token of this environment and another that exists still works there: revoking it would lock someone out.
            List<String> scoped = new ArrayList<>();
            token.toJsonNode().path("environments").forEach(e -> scoped.add(e.textValue()));
            if (scoped.contains(key) && scoped.stream().noneMatch(e -> after.environment(e).isPresent())) {
                tokens.add(id);
            }
        });
        tokens.sort(null);
        LOG.info("environment {} deleted for good by {} ({} flags, {} archived flags, {} pending schedules dropped)",
                LogText.quoted(key), LogText.escape(p.actor()), last.flags().size(), last.archivedFlags().size(),
                last.pendingSchedules().size());
        return new Deleted(last, entry, List.copyOf(tokens));
    }

}
