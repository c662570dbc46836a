package dev.flags.server.sync;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.SubscribeRequest;
import dev.flags.server.auth.Authenticator;
import dev.flags.server.auth.Principal;
import dev.flags.server.auth.Scope;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.FileJournal;
import dev.flags.server.journal.JournalEntry;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Not thread-safe (its write helpers are). A sync service over real loopback: a {@link FileJournal}
 * in a directory, a {@link Broadcaster}, a Netty gRPC server on 127.0.0.1 port 0, and a client
 * channel; plus builders of journal changes and a test {@link Authenticator} with fixed tokens.
 */
final class SyncFixture implements AutoCloseable {

  static final String ENV = "production";
  static final String ADMIN = "test-admin-token";
  static final String SDK = "test-sdk-production-token";
  static final String SDK_STAGING = "test-sdk-staging-token";
  /** A second sdk token of production: another application's. */
  static final String SDK_OTHER = "test-sdk-production-other-token";
  static final String EDITOR = "test-editor-production-token";

  static final Authenticator TOKENS = new Authenticator() {
    private final Map<String, Principal> known = Map.of(
        ADMIN, new Principal("tok-admin", "admin", Scope.ADMIN, Set.of()),
        SDK, new Principal("tok-sdk", "billing-service", Scope.SDK, Set.of(ENV)),
        SDK_STAGING, new Principal("tok-sdk-staging", "billing-staging", Scope.SDK,
            Set.of("staging")),
        EDITOR, new Principal("tok-editor", "alice", Scope.EDITOR, Set.of(ENV)),
        SDK_OTHER, new Principal("tok-sdk-other", "checkout-service", Scope.SDK, Set.of(ENV)));

    @Override
    public Optional<Principal> authenticate(String presentedToken) {
      return Optional.ofNullable(presentedToken == null ? null : known.get(presentedToken));
    }
  };

  static final JsonMapper MAPPER = JsonMapper.builder().build();

  private final Path dir;
  private final Consumer<Broadcaster.Builder> settings;
  FileJournal journal;
  Broadcaster broadcaster;
  Server server;
  /** The server's connections, on its listening channel as the flag server's port has them. */
  GrpcConnections connections;
  private GrpcTransport transport;
  ManagedChannel channel;

  /** Wraps every call of the sync service: for tests that make gRPC fail. */
  private ServerInterceptor interceptor = new ServerInterceptor() {
    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
      return next.startCall(call, headers);
    }
  };

  private SyncFixture(Path dir, Consumer<Broadcaster.Builder> settings) {
    this.dir = dir;
    this.settings = settings;
  }

  /** Starts everything, every call of the sync service going through an interceptor. */
  static SyncFixture start(Path dir, ServerInterceptor interceptor) {
    SyncFixture f = new SyncFixture(dir, b -> { });
    f.interceptor = interceptor;
    f.journal = FileJournal.builder(dir.resolve("journal")).open();
    f.startServing();
    return f;
  }

  /** Starts everything, with a 1 h heartbeat unless the settings say otherwise. */
  static SyncFixture start(Path dir, Consumer<Broadcaster.Builder> settings) {
    SyncFixture f = new SyncFixture(dir, settings);
    f.journal = FileJournal.builder(dir.resolve("journal")).open();
    f.startServing();
    return f;
  }

  static SyncFixture start(Path dir) {
    return start(dir, b -> { });
  }

  private void startServing() {
    Broadcaster.Builder b = Broadcaster.builder(journal).heartbeatInterval(Duration.ofHours(1));
    settings.accept(b);
    broadcaster = b.build();
    try {
      connections = new GrpcConnections(100_000, 0, java.time.Clock.systemUTC(), line -> { });
      transport = new GrpcTransport(connections);
      server = transport.applyTo(NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)))
          .addService(ServerInterceptors.intercept(SyncService.definition(broadcaster, TOKENS, connections), interceptor))
          .build()
          .start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    channel = channel(b2 -> { });
  }

  /** A new client channel to the server; the caller closes it (or lets {@link #close} do so). */
  ManagedChannel channel(Consumer<NettyChannelBuilder> settings) {
    NettyChannelBuilder b = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort())
        .usePlaintext();
    settings.accept(b);
    return b.build();
  }

  /** Stops the server and the journal, and starts both again on the same directory. */
  void restart() {
    stopServing();
    journal.close();
    journal = FileJournal.builder(dir.resolve("journal")).open();
    startServing();
  }

  FlagSyncGrpc.FlagSyncStub stub(String token) {
    return stub(channel, token);
  }

  static FlagSyncGrpc.FlagSyncStub stub(ManagedChannel channel, String token) {
    FlagSyncGrpc.FlagSyncStub stub = FlagSyncGrpc.newStub(channel);
    if (token == null) {
      return stub;
    }
    return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)));
  }

  static FlagSyncGrpc.FlagSyncBlockingStub blocking(ManagedChannel channel, String token) {
    FlagSyncGrpc.FlagSyncBlockingStub stub = FlagSyncGrpc.newBlockingStub(channel)
        .withDeadlineAfter(10, TimeUnit.SECONDS);
    return token == null ? stub
        : stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)));
  }

  static Metadata bearer(String token) {
    Metadata md = new Metadata();
    md.put(AuthInterceptor.AUTHORIZATION, "Bearer " + token);
    return md;
  }

  /** Subscribes with the sdk token of {@link #ENV}. */
  Recorder subscribe(long fromVersion) {
    return subscribe(SDK, ENV, fromVersion);
  }

  /** Subscribes with the sdk token of {@link #ENV}, as an SDK that accepts member changes or as an older one. */
  Recorder subscribe(long fromVersion, boolean acceptsMemberChanges) {
    Recorder r = new Recorder();
    stub(SDK).subscribe(request(ENV, fromVersion).toBuilder().setAcceptsMemberChanges(acceptsMemberChanges).build(), r);
    return r;
  }

  Recorder subscribe(String token, String env, long fromVersion) {
    Recorder r = new Recorder();
    stub(token).subscribe(request(env, fromVersion), r);
    return r;
  }

  /** A request as an SDK from before member changes sends it (they are asked for by {@link #subscribe(long, boolean)}). */
  static SubscribeRequest request(String env, long fromVersion) {
    return SubscribeRequest.newBuilder().setEnvironment(env).setFromVersion(fromVersion)
        .setSdk("sync-tests/1").build();
  }

  /** Appends and tells the broadcaster, as the server's write path does. */
  JournalEntry write(Change change) {
    JournalEntry e = journal.append(change);
    broadcaster.environmentChanged(e.environment());
    return e;
  }

  EnvironmentState env() {
    return journal.state().environment(ENV).orElseThrow();
  }

  long version() {
    return env().version();
  }

  private void stopServing() {
    broadcaster.shutdown();
    channel.shutdownNow();
    server.shutdownNow();
    try {
      channel.awaitTermination(10, TimeUnit.SECONDS);
      server.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    transport.close();
  }

  @Override
  public void close() {
    stopServing();
    journal.close();
  }

  // -- changes ---------------------------------------------------------------------------------

  static Change createEnvironment(String env) {
    ObjectNode payload = MAPPER.createObjectNode().put("name", env);
    return Change.of(EntryType.ENVIRONMENT_CREATED, env, "admin", payload);
  }

  static ObjectNode flag(String key, boolean enabled, int percentage) {
    ObjectNode flag = MAPPER.createObjectNode().put("key", key).put("enabled", enabled);
    flag.putArray("rules").addObject().put("percentage", percentage);
    return flag;
  }

  static Change createFlag(String env, String key) {
    return Change.of(EntryType.FLAG_CREATED, env, "alice", flag(key, false, 0));
  }

  static Change updateFlag(String env, String key, boolean enabled, int percentage) {
    return Change.of(EntryType.FLAG_UPDATED, env, "alice", flag(key, enabled, percentage));
  }

  /** An update whose document carries a description of about that many bytes. */
  static Change bigUpdate(String env, String key, int percentage, int bytes) {
    ObjectNode flag = flag(key, true, percentage);
    flag.put("description", "x".repeat(bytes));
    return Change.of(EntryType.FLAG_UPDATED, env, "alice", flag);
  }

  static Change flagEvent(EntryType type, String env, String key) {
    return Change.of(type, env, "alice", MAPPER.createObjectNode().put("key", key));
  }

  static Change role(EntryType type, String env, String user, String role) {
    return Change.of(type, env, "bob",
        MAPPER.createObjectNode().put("user", user).put("role", role));
  }
}
