package io.cohort.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.cuda.p2p.P2pConfig;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class CudaConfigTest {

    @Test
    void defaultsComeFromReferenceConf() {
        CudaConfig c = CudaConfig.from(ConfigFactory.empty());
        assertEquals(Duration.ofSeconds(60), c.syncTimeout());
        assertNull(c.flagOps(), "auto");
        assertTrue(c.probeLinks());
        assertEquals(new io.cohort.core.IdlePolicy(2000, -1), c.waitPolicy(), "spin, then yield until the deadline");
        assertEquals(Duration.ofMillis(10), c.queueCheckTimeout());
        P2pConfig p = P2pConfig.from(ConfigFactory.empty());
        assertEquals(P2pConfig.Path.AUTO, p.algorithm());
        assertEquals(256 * 1024, p.oneShotMaxBytes());
        assertEquals(16L << 20, p.chunkBytes());
        assertEquals(Duration.ofSeconds(30), p.timeout());
        assertEquals(false, p.programmaticLaunch(), "no gain measured");
    }

    @Test
    void overridesParse() {
        CudaConfig c = CudaConfig.from(ConfigFactory.parseString(
                "cuda { sync-timeout = 5s, flag-ops = kernels, topology.probe = off }"));
        assertEquals(Duration.ofSeconds(5), c.syncTimeout());
        assertEquals(FlagOps.KERNELS, c.flagOps());
        assertEquals(false, c.probeLinks());
        P2pConfig p = P2pConfig.from(ConfigFactory.parseString(
                "cuda.p2p { algorithm = two-shot, one-shot-max-bytes = 1MiB, chunk-bytes = 4MiB, max-blocks = 8,"
                        + " programmatic-launch = on }"));
        assertEquals(P2pConfig.Path.TWO_SHOT, p.algorithm());
        assertEquals(1 << 20, p.oneShotMaxBytes());
        assertEquals(8, p.maxBlocks());
        assertTrue(p.programmaticLaunch());
        assertEquals(P2pConfig.Path.TWO_SHOT, p.pathFor(16));
    }

    @Test
    void aQueueCheckTimeoutMustBePositive() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> CudaConfig.from(ConfigFactory.parseString("cuda.queue-check-timeout = 0s")));
        assertEquals("cohort.cuda.queue-check-timeout must be positive, got PT0S", e.getMessage());
        assertEquals(Duration.ofMillis(50),
                CudaConfig.from(ConfigFactory.parseString("cuda.queue-check-timeout = 50ms")).queueCheckTimeout());
    }

    @Test
    void aCudaWaitPolicyThatWouldStopYieldingIsRefused() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> CudaConfig.from(ConfigFactory.parseString("idle.cuda { spins = 10, yields = 100 }")));
        assertEquals("cohort.idle.cuda must have yields = -1 (a CUDA wait polls the driver until its deadline: the"
                + " driver has no bounded blocking wait), got yields = 100", e.getMessage());
        assertEquals(new io.cohort.core.IdlePolicy(10, -1),
                CudaConfig.from(ConfigFactory.parseString("idle.cuda { spins = 10, yields = -1 }")).waitPolicy());
    }

    @Test
    void autoPicksOneShotUpToTheThreshold() {
        P2pConfig p = P2pConfig.from(ConfigFactory.empty());
        assertEquals(P2pConfig.Path.ONE_SHOT, p.pathFor(256 * 1024));
        assertEquals(P2pConfig.Path.TWO_SHOT, p.pathFor(256 * 1024 + 1));
    }

    @Test
    void badValuesNameTheKey() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> CudaConfig.from(ConfigFactory.parseString("cuda.flag-ops = sometimes")));
        assertTrue(e.getMessage().contains("cohort.cuda.flag-ops"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> P2pConfig.from(ConfigFactory.parseString("cuda.p2p.max-blocks = 65")));
        assertTrue(e.getMessage().contains("max-blocks"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> P2pConfig.from(ConfigFactory.parseString("cuda.p2p.threads = 100")));
        assertTrue(e.getMessage().contains("threads"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> P2pConfig.from(ConfigFactory.parseString("cuda.p2p.algorithm = ring")));
        assertTrue(e.getMessage().contains("algorithm"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> CudaConfig.from(ConfigFactory.parseString("cuda.sync-timeout = 0s")));
        assertTrue(e.getMessage().contains("sync-timeout"), e.getMessage());
    }

    @Test
    void deviceSpecs() {
        assertArrayEquals(new int[]{0, 1, 2, 3}, CudaDevices.parseSpec("all", 4));
        assertArrayEquals(new int[]{2}, CudaDevices.parseSpec("2", 4));
        assertArrayEquals(new int[]{0, 1, 3}, CudaDevices.parseSpec("0-1, 3", 4));
        assertArrayEquals(new int[]{1, 0}, CudaDevices.parseSpec("1,0,1", 4));
        assertThrows(IllegalArgumentException.class, () -> CudaDevices.parseSpec("4", 4));
        assertThrows(IllegalArgumentException.class, () -> CudaDevices.parseSpec("3-1", 4));
        assertThrows(IllegalArgumentException.class, () -> CudaDevices.parseSpec("gpu0", 4));
    }
}
