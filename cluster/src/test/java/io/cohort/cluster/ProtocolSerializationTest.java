package io.cohort.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.typesafe.config.ConfigFactory;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.io.Serializable;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every message that crosses nodes goes through jackson-cbor and back unchanged; Java serialization is off. */
class ProtocolSerializationTest {

    private static ActorTestKit testKit;
    private static Serialization serialization;

    @BeforeAll
    static void start() {
        testKit = ActorTestKit.create("ser", ConfigFactory.parseString("pekko.actor.provider = local")
                .withFallback(ClusterSettings.withDefaults(ConfigFactory.empty())));
        serialization = SerializationExtension.get(org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(testKit.system()));
    }

    @AfterAll
    static void stop() {
        testKit.shutdownTestKit();
    }

    private static Object roundTrip(Object message) {
        Serializer serializer = serialization.findSerializerFor(message);
        assertEquals("org.apache.pekko.serialization.jackson.JacksonCborSerializer", serializer.getClass().getName(),
                message.getClass().getSimpleName());
        byte[] bytes = serialization.serialize(message).get();
        String manifest = Serializers.manifestFor(serializer, message);
        return serialization.deserialize(bytes, serializer.identifier(), manifest).get();
    }

    @Test
    void nodeAndClientMessagesRoundTripAsCbor() {
        TestProbe<NodeAgent.Reply> replies = testKit.createTestProbe();
        TestProbe<ClusterProtocol.Reply> client = testKit.createTestProbe();
        TestProbe<NodeInfo> infos = testKit.createTestProbe();
        List<Object> messages = List.of(
                new NodeAgent.Describe(infos.ref()),
                new NodeAgent.Prepare(1, 2, replies.ref()),
                new NodeAgent.Open(3, 2, "g", 1, List.of("127.0.0.1:2552", "127.0.0.1:2553"),
                        List.of("127.0.0.1:40000", "127.0.0.1:40001"), List.of("127.0.0.1:40002", "127.0.0.1:40003"), replies.ref()),
                new NodeAgent.Allocate(4, 2, 7, DType.BF16, 1000, replies.ref()),
                new NodeAgent.Fill(5, 2, 7, 11, replies.ref()),
                new NodeAgent.Read(5, 2, 7, 1, 65536, 65536, replies.ref()),
                new ClusterProtocol.Read(2, 7, 5, 0, 4096, client.ref()),
                new NodeAgent.Run(6, 2, 9, Collective.REDUCE_SCATTER, DType.F16, ReduceOp.AVG, 128, 3, 7, 8,
                        replies.ref()),
                new NodeAgent.CloseGroup(7, 2, replies.ref()),
                new NodeAgent.Prepared(1, "127.0.0.1:2552", "127.0.0.1:40000", "127.0.0.1:40001"),
                new NodeAgent.Done(6, "127.0.0.1:2552", 1234),
                new NodeAgent.Failed(6, "127.0.0.1:2552", "rank 1 died", List.of("127.0.0.1:2553")),
                new NodeInfo("127.0.0.1:2552", "node", List.of("host:0", "host:1"), "p2p", "matrix", "reduce: ring"),
                new ClusterProtocol.ListNodes(client.ref()),
                new ClusterProtocol.CreateGroup(List.of("127.0.0.1:2552"), client.ref()),
                new ClusterProtocol.Run(2, Collective.ALL_REDUCE, DType.F32, ReduceOp.SUM, 10, 0, 1, 1, client.ref()),
                new ClusterProtocol.Nodes(List.of(new NodeInfo("a:1", "node", List.of("host:0"), "p2p", "", "")), List.of()),
                new ClusterProtocol.GroupCreated(2, List.of(new NodeInfo("a:1", "node", List.of("host:0"), "p2p", "", ""))),
                new ClusterProtocol.Done(9, 5000),
                new ClusterProtocol.Failed("all-reduce #9 failed", List.of("a:1")));
        for (Object m : messages) {
            assertEquals(m, roundTrip(m), m.getClass().getSimpleName());
        }
        NodeAgent.Data data = new NodeAgent.Data(8, "a:1", new byte[]{1, 2, 3});
        assertArrayEquals(data.bytes(), ((NodeAgent.Data) roundTrip(data)).bytes());
    }

    @Test
    void javaSerializationIsOff() {
        record Plain(int x) implements Serializable {
        }
        assertThrows(Exception.class, () -> serialization.serialize(new Plain(1)).get());
    }
}
