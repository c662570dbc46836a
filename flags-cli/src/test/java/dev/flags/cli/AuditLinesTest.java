package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code flags audit}: what each kind of entry says in its line. */
class AuditLinesTest {

    @RegisterExtension
    final ScriptedHttpServer server = new ScriptedHttpServer();

    @Test
    void aChangeThatThrewTheSwitchIsMarkedAsInTheHistory() {
        server.answer(200, null, """
                {"entries": [{"sequence": 40, "timestamp": "2026-12-06T03:00:00Z", "change": "flag_updated",
                  "environment": "production", "version": 11, "subject": "billing-v2", "actor": "ed (tok-1a2b3c4d)",
                  "comment": null, "switched": "off", "payload": {"key": "billing-v2", "enabled": false}},
                 {"sequence": 41, "timestamp": "2026-12-06T03:01:00Z", "change": "flag_updated",
                  "environment": "production", "version": 12, "subject": "billing-v2", "actor": "ed (tok-1a2b3c4d)",
                  "comment": null, "payload": {"key": "billing-v2", "enabled": false, "default": true}}]}""");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = FlagsCommand.run(new String[] {"audit", server.serverOption(), "--token=t0ken"}, new PrintWriter(out, true),
                new PrintWriter(err, true));
        assertThat(exit).as(err.toString()).isZero();
        assertThat(out.toString().lines()).containsExactly(
                "2026-12-06T03:00:00Z  flag_updated (off) ed (tok-1a2b3c4d)  billing-v2 (v11)",
                "2026-12-06T03:01:00Z  flag_updated       ed (tok-1a2b3c4d)  billing-v2 (v12)");
    }

    @Test
    void aScheduleTheServerCouldNotApplySaysSoAndWhy() {
        server.answer(200, null, """
                {"entries": [{"sequence": 41, "timestamp": "2026-12-06T03:00:00Z", "change": "schedule_ended",
                  "environment": "production", "version": 12, "subject": "sch-c20930cb2562",
                  "actor": "flags-server (schedule sch-c20930cb2562 by bob (tok-1a2b3c4d))", "comment": "bob's",
                  "payload": {"id": "sch-c20930cb2562", "outcome": "failed",
                              "reason": "the token that made it (tok-1a2b3c4d) was revoked"}}]}""");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = FlagsCommand.run(new String[] {"audit", server.serverOption(), "--token=t0ken"}, new PrintWriter(out, true),
                new PrintWriter(err, true));
        assertThat(exit).as(err.toString()).isZero();
        assertThat(out.toString().strip()).as("not a schedule that simply ran out")
                .contains("sch-c20930cb2562 (failed: the token that made it (tok-1a2b3c4d) was revoked)  bob's");
    }
}
