/**
 * The flag server's journal: the durable, append-only record of every change, and the state it
 * adds up to. For the rest of the server (the admin API and the sync service talk to {@link
 * dev.flags.server.journal.Journal}) and for operators ({@link dev.flags.server.journal.FileJournal}
 * settings, {@link dev.flags.server.journal.JournalTool} to verify and repair a data directory).
 *
 * <p>Public: {@code Journal}, {@code FileJournal} and its builder, the values {@code Change}, {@code
 * JournalEntry}, {@code EntryType}, {@code CanonicalJson}, {@code ServerState}, {@code
 * EnvironmentState}, {@code RecoveryReport}, the exceptions, {@code JournalTool}, and {@code DurableFiles} (the
 * journal's atomic file replacement, for the server's other files). Everything
 * else (record and checkpoint codecs, recovery, the mutable state) is package-private. The journal
 * knows nothing of flags-core: a flag is a JSON object with a {@code "key"}; the server validates it
 * before appending. The file format and guarantees are in {@code docs/journal.md}.
 */
package dev.flags.server.journal;
