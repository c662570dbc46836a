package dev.flags.server.sync;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the sync tests over a real {@link SyncFixture} share: a data directory per test, and the fixture closed
 * after it (after the subclass's own {@code @AfterEach} methods, which JUnit runs first).
 */
abstract class SyncFixtureTest {

  @TempDir
  Path dir;

  /** The test's fixture, set with {@code f = SyncFixture.start(dir)}; closed after the test. */
  SyncFixture f;

  @AfterEach
  void closeFixture() {
    if (f != null) {
      f.close();
    }
  }
}
