package io.cohort.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.backend.plan.PlanNativeProvider;
import io.cohort.backend.plan.PlanP2pProvider;
import io.cohort.core.CohortException;
import io.cohort.topology.Link;
import io.cohort.topology.LinkKind;
import io.cohort.topology.Topology;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class BackendsTest {

    private final ListAppender<ILoggingEvent> log = new ListAppender<>();
    private final Logger logger = (Logger) LoggerFactory.getLogger(Backends.class);

    @BeforeEach
    void captureLog() {
        log.start();
        logger.addAppender(log);
    }

    @AfterEach
    void releaseLog() {
        logger.detachAppender(log);
    }

    /** An NCCL stand-in: available or not, never created here. */
    private record FakeProvider(BackendKind kind, int priority, String unavailable) implements BackendProvider {
        @Override
        public Optional<String> unavailableReason(GroupContext group) {
            return Optional.ofNullable(unavailable);
        }

        @Override
        public CollectiveBackend create(GroupContext group) {
            throw new UnsupportedOperationException();
        }
    }

    private static GroupContext group(boolean p2p, String config) {
        List<String> names = List.of("dev:0", "dev:1", "dev:2");
        Topology t = Topology.uniform("test", names, new Link(true, LinkKind.NVLINK, 4, 0, Double.NaN, Double.NaN));
        if (!p2p) {
            t = t.withLink(0, 2, t.link(0, 2).withoutP2p()).withLink(2, 0, t.link(2, 0).withoutP2p());
        }
        List<RankContext> ranks = new ArrayList<>();
        for (int r = 0; r < 3; r++) {
            ranks.add(new RankContext(r, null, null, null));
        }
        Config c = ConfigFactory.parseString(config).withFallback(ConfigFactory.defaultReference().getConfig("cohort"));
        return new GroupContext(t, ranks, c);
    }

    private static List<BackendProvider> plans(BackendProvider... more) {
        List<BackendProvider> list = new ArrayList<>(List.of(new PlanP2pProvider(), new PlanNativeProvider()));
        list.addAll(List.of(more));
        return list;
    }

    @Test
    void serviceLoaderFindsThePlanProviders() {
        List<Class<?>> found = Backends.providers().stream().<Class<?>>map(Object::getClass).toList();
        assertTrue(found.contains(PlanP2pProvider.class), found.toString());
        assertTrue(found.contains(PlanNativeProvider.class), found.toString());
    }

    @Test
    void autoTakesP2pWhenEveryPairHasIt() {
        BackendChoice c = Backends.choose(BackendKind.AUTO, group(true, ""), plans());
        assertEquals(BackendKind.P2P, c.chosen());
        assertEquals(BackendKind.AUTO, c.requested());
        assertTrue(c.reason().contains("every pair of the 3 devices has P2P"), c.reason());
    }

    @Test
    void autoTakesNativeWhenAPairLacksP2p() {
        BackendChoice c = Backends.choose(BackendKind.AUTO, group(false, ""), plans());
        assertEquals(BackendKind.NATIVE, c.chosen());
        assertTrue(c.reason().contains("no P2P from rank 0 (dev:0) to rank 2 (dev:2)"), c.reason());
        assertTrue(log.list.stream().noneMatch(e -> e.getLevel() == Level.WARN), "auto falls back silently");
    }

    @Test
    void p2pRequestedWithoutP2pFallsBackWithTheWarning() {
        BackendChoice c = Backends.choose(BackendKind.P2P, group(false, ""), plans());
        assertEquals(BackendKind.NATIVE, c.chosen());
        assertEquals(BackendKind.P2P, c.requested());
        List<ILoggingEvent> warnings = log.list.stream().filter(e -> e.getLevel() == Level.WARN).toList();
        assertEquals(1, warnings.size());
        assertEquals("P2P not available, falling back to native backend", warnings.getFirst().getFormattedMessage());
    }

    @Test
    void ncclUnavailableFailsWithTheProvidersReason() {
        FakeProvider nccl = new FakeProvider(BackendKind.NCCL, 100, "libnccl.so.2 not found");
        CohortException e = assertThrows(CohortException.class,
                () -> Backends.choose(BackendKind.NCCL, group(true, ""), plans(nccl)));
        assertTrue(e.getMessage().contains("libnccl.so.2 not found"), e.getMessage());
        CohortException none = assertThrows(CohortException.class,
                () -> Backends.choose(BackendKind.NCCL, group(true, ""), plans()));
        assertTrue(none.getMessage().contains("no nccl provider on the class path"), none.getMessage());
    }

    @Test
    void ncclUnavailableFallsBackToNativeWhenConfigured() {
        FakeProvider nccl = new FakeProvider(BackendKind.NCCL, 100, "no GPU");
        BackendChoice c = Backends.choose(BackendKind.NCCL, group(true, "backend.nccl-fallback = native"), plans(nccl));
        assertEquals(BackendKind.NATIVE, c.chosen());
        assertTrue(c.reason().contains("no GPU"), c.reason());
    }

    @Test
    void autoPrefersNcclOnlyWhenConfigured() {
        FakeProvider nccl = new FakeProvider(BackendKind.NCCL, 100, null);
        assertEquals(BackendKind.P2P, Backends.choose(BackendKind.AUTO, group(true, ""), plans(nccl)).chosen());
        BackendChoice c = Backends.choose(BackendKind.AUTO, group(true, "backend.auto-prefers-nccl = true"), plans(nccl));
        assertEquals(BackendKind.NCCL, c.chosen());
        assertSame(nccl, c.provider());
    }

    @Test
    void highestPriorityAvailableProviderWins() {
        FakeProvider kernels = new FakeProvider(BackendKind.P2P, 100, null);
        assertSame(kernels, Backends.choose(BackendKind.P2P, group(true, ""), plans(kernels)).provider());
        FakeProvider broken = new FakeProvider(BackendKind.P2P, 100, "driver too old");
        BackendChoice c = Backends.choose(BackendKind.P2P, group(true, ""), plans(broken));
        assertTrue(c.provider() instanceof PlanP2pProvider, c.toString());
    }

    @Test
    void planProvidersNeedEveryRankLocal() {
        GroupContext g = group(true, "");
        GroupContext partial = new GroupContext(g.topology(), g.ranks().subList(0, 2), g.config());
        assertTrue(new PlanNativeProvider().unavailableReason(partial).orElseThrow().contains("2 of 3 are local"));
    }
}
