package io.cohort.cuda.p2p;

import com.typesafe.config.Config;
import io.cohort.cuda.CudaConfig;
import java.time.Duration;
import java.util.Locale;

/**
 * The {@code cohort.cuda.p2p} section (see reference.conf).
 *
 * @param algorithm       which kernel serves which size
 * @param oneShotMaxBytes largest message of the one-shot kernel under {@link Path#AUTO}
 * @param chunkBytes      registered staging per rank and buffer; larger messages run as several launches
 * @param threads         threads per block
 * @param maxBlocks       upper bound on blocks per launch
 * @param timeout         how long a barrier waits for a peer before reporting it
 * @param programmaticLaunch launch with programmatic dependent launch where the device has it (Hopper and later):
 *                        the kernel is scheduled while the one before it on the stream finishes
 * @param fusedRegisters  the fused all-reduce + add + RMSNorm in its register form where a row fits (one row per
 *                        block, at most 8 columns per thread): inputs loaded before the barrier, same bits
 * @param launchLanes     who enqueues the ranks of one all-reduce: {@link Lanes#AUTO}, {@link Lanes#ON} (ranks 1..n-1
 *                        on threads of their own, {@link RankLanes}), {@link Lanes#OFF} (the caller, rank by rank)
 * @param laneLinger      how long a lane spins after its last part before it parks
 * @param kernelCompletion an eager all-reduce's last block writes its rank's completion word itself (no event record
 *                        and stream write behind the kernel) where the group's completion event has a word
 */
public record P2pConfig(Path algorithm, long oneShotMaxBytes, long chunkBytes, int threads, int maxBlocks,
                        Duration timeout, boolean programmaticLaunch, boolean fusedRegisters, Lanes launchLanes,
                        Duration laneLinger, boolean kernelCompletion) {

    /** Blocks per launch can never exceed this: the size of each rank's flag array (src/main/cuda). */
    public static final int MAX_BLOCKS = 64;
    /** Ranks the kernels serve (MAX_RANKS in allreduce.cu). */
    public static final int MAX_RANKS = 8;

    /** Which kernel runs. */
    public enum Path {
        AUTO, ONE_SHOT, TWO_SHOT;

        static Path parse(String s) {
            return switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "auto" -> AUTO;
                case "one-shot", "oneshot" -> ONE_SHOT;
                case "two-shot", "twoshot" -> TWO_SHOT;
                default -> throw new IllegalArgumentException(
                        "cohort.cuda.p2p.algorithm: unknown value '" + s + "' (expected auto, one-shot or two-shot)");
            };
        }
    }

    /** Whether the ranks of one all-reduce are enqueued in parallel ({@code cohort.cuda.p2p.launch-lanes}). */
    public enum Lanes {
        AUTO, ON, OFF;

        static Lanes parse(String s) {
            return switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "auto" -> AUTO;
                case "on", "true", "yes" -> ON;
                case "off", "false", "no" -> OFF;
                default -> throw new IllegalArgumentException(
                        "cohort.cuda.p2p.launch-lanes: unknown value '" + s + "' (expected auto, on or off)");
            };
        }
    }

    /**
     * Whether a group of {@code ranks} gets launch lanes on a host of {@code cores} cores: always with ON; with AUTO
     * where the host has a core for each lane besides two per rank (the caller, the poller, the streams' threads).
     */
    public boolean lanesFor(int ranks, int cores) {
        return ranks > 1 && switch (launchLanes) {
            case ON -> true;
            case OFF -> false;
            case AUTO -> cores >= 3 * ranks;
        };
    }

    public P2pConfig {
        if (oneShotMaxBytes < 0) {
            throw new IllegalArgumentException("cohort.cuda.p2p.one-shot-max-bytes must not be negative");
        }
        if (chunkBytes < 4096) {
            throw new IllegalArgumentException("cohort.cuda.p2p.chunk-bytes must be at least 4 KiB, got " + chunkBytes);
        }
        if (threads < 32 || threads > 512 || threads % 32 != 0) {
            throw new IllegalArgumentException("cohort.cuda.p2p.threads must be a multiple of 32 in 32..512, got " + threads);
        }
        if (maxBlocks < 1 || maxBlocks > MAX_BLOCKS) {
            throw new IllegalArgumentException("cohort.cuda.p2p.max-blocks must be in 1.." + MAX_BLOCKS + ", got " + maxBlocks);
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("cohort.cuda.p2p.timeout must be positive");
        }
        if (laneLinger.isNegative()) {
            throw new IllegalArgumentException("cohort.cuda.p2p.lane-linger must not be negative, got " + laneLinger);
        }
    }

    /** From a {@code cohort} section (defaults from reference.conf). */
    public static P2pConfig from(Config cohort) {
        Config c = CudaConfig.withReference(cohort).getConfig("cuda.p2p");
        return new P2pConfig(Path.parse(c.getString("algorithm")), c.getBytes("one-shot-max-bytes"),
                c.getBytes("chunk-bytes"), c.getInt("threads"), c.getInt("max-blocks"), c.getDuration("timeout"),
                c.getBoolean("programmatic-launch"), c.getBoolean("fused-registers"),
                Lanes.parse(c.getString("launch-lanes")), c.getDuration("lane-linger"), c.getBoolean("kernel-completion"));
    }

    /** The kernel for a message of {@code bytes} (per rank). */
    public Path pathFor(long bytes) {
        return algorithm != Path.AUTO ? algorithm : bytes <= oneShotMaxBytes ? Path.ONE_SHOT : Path.TWO_SHOT;
    }
}
