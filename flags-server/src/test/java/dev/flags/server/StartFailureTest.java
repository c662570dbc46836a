package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.server.journal.JournalException;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import org.junit.jupiter.api.Test;

/** A failed start is one line that names each file once (the tests run as root, where no permission is denied). */
class StartFailureTest {

    @Test
    void aFileProblemThatAWrapperPutInItsMessageIsSaidOnceInItsOwnWords() {
        AccessDeniedException denied = new AccessDeniedException("dd/journal/journal.lock");
        assertThat(StartFailure.describe(new JournalException("cannot open journal in dd/journal: " + denied, denied)))
                .isEqualTo("cannot open journal in dd/journal: dd/journal/journal.lock: permission denied");
        FileAlreadyExistsException exists = new FileAlreadyExistsException("dd/journal");
        assertThat(StartFailure.describe(new JournalException("cannot open journal in dd/journal: " + exists, exists)))
                .isEqualTo("cannot open journal in dd/journal: dd/journal: already exists, and is not a directory");
        // as before: a wrapper with a message of its own, and its cause's
        assertThat(StartFailure.describe(new IOException("cannot listen on 0.0.0.0:80 for HTTP", new IOException("Permission denied"))))
                .isEqualTo("cannot listen on 0.0.0.0:80 for HTTP: Permission denied");
    }

    @Test
    void aFileThisProcessMayNotWriteIsSaidWithItsOwnerAndThisProcesssUser(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path token = dir.resolve("data").resolve("admin-token");
        String user = System.getProperty("user.name");
        String owner = java.nio.file.Files.getOwner(dir).getName();
        String line = StartFailure.describe(new AccessDeniedException(token.toString()));
        assertThat(line).startsWith(token + ": permission denied (" + dir + " belongs to " + owner + " (")
                .contains("), and this process runs as " + user);
        // A message that already says whose the file is gets no second account.
        AccessDeniedException explained = new AccessDeniedException(token.toString(), null, "permission denied: it belongs to root");
        explained.initCause(new AccessDeniedException(token.toString()));
        assertThat(StartFailure.describe(explained)).isEqualTo(token + ": permission denied: it belongs to root");
    }
}
