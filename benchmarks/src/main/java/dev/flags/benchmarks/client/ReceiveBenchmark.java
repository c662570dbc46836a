package dev.flags.benchmarks.client;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.flags.core.Flag;
import dev.flags.core.FlagFormat;
import dev.flags.core.FlagSet;
import dev.flags.protocol.v1.Delta;
import dev.flags.protocol.v1.FlagDocument;
import dev.flags.protocol.v1.SyncMessage;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Not thread-safe (one instance per benchmark thread). What an SDK does with the usual change off
 * the wire, a Delta of one flag, split into its steps: decoding the gRPC message
 * ({@link #decodeMessage}), reading the flag document ({@link #readDocument}), and all of it with the
 * new snapshot built ({@link #receive}). Every SDK of a fleet does this once per change, so its time
 * and garbage are every application's; with 1,000 SDKs in one JVM (the propagation benchmark), the
 * garbage decides how often that JVM pauses.
 *
 * <p>The messages are what the server sends: the flag's canonical JSON (compact, sorted), alternating
 * {@code enabled} false and true, as in the propagation benchmark. Before timing, the setup checks
 * that each step gives the flag's new value.
 *
 * <pre>{@code
 * java -jar benchmarks/target/benchmarks.jar 'dev\.flags\.benchmarks\.client\.ReceiveBenchmark' -prof gc
 * }</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ReceiveBenchmark {

    private static final String KEY = "propagation";

    private final byte[][] wire = new byte[2][];
    private final SyncMessage[] decoded = new SyncMessage[2];
    private FlagSet held;
    private int next;

    /** Encodes the two messages and checks that each step reads them right. */
    @Setup(Level.Trial)
    public void setUp() throws InvalidProtocolBufferException {
        for (int i = 0; i < 2; i++) {
            boolean enabled = i == 1;
            String json = "{\"default\":true,\"enabled\":" + enabled + ",\"key\":\"" + KEY + "\",\"version\":" + (i + 2) + "}";
            decoded[i] = SyncMessage.newBuilder()
                    .setDelta(Delta.newBuilder().setFromVersion(i + 1).setVersion(i + 2).setCommittedAtMillis(1_700_000_000_000L)
                            .addUpserted(FlagDocument.newBuilder().setKey(KEY).setJson(json)))
                    .build();
            wire[i] = decoded[i].toByteArray();
        }
        held = FlagSet.of(List.of(FlagFormat.readFlag("{\"key\":\"" + KEY + "\",\"enabled\":true,\"default\":true}")), Map.of(), 1);
        for (int i = 0; i < 2; i++) {
            boolean enabled = i == 1;
            next = i;
            boolean decodedRight = decodeMessage().equals(decoded[i]);
            next = i;
            boolean readRight = readDocument().enabled() == enabled;
            next = i;
            boolean receivedRight = receive().flag(KEY).orElseThrow().enabled() == enabled;
            if (!decodedRight || !readRight || !receivedRight) {
                throw new IllegalStateException("a step did not read the change");
            }
        }
    }

    /** @return the gRPC message, decoded from its bytes */
    @Benchmark
    public SyncMessage decodeMessage() throws InvalidProtocolBufferException {
        return SyncMessage.parseFrom(wire[next++ & 1]);
    }

    /** @return the flag, read and validated from the document of an already decoded message */
    @Benchmark
    public Flag readDocument() {
        return FlagFormat.readFlag(decoded[next++ & 1].getDelta().getUpserted(0).getJson());
    }

    /** @return the new snapshot: the message decoded, its document read, the held set changed */
    @Benchmark
    public FlagSet receive() throws InvalidProtocolBufferException {
        int i = next++ & 1;
        Delta delta = SyncMessage.parseFrom(wire[i]).getDelta();
        Flag flag = FlagFormat.readFlag(delta.getUpserted(0).getJson());
        return held.withChanges(List.of(flag), List.of(), delta.getVersion());
    }
}
