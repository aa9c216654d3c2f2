package io.cohort.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The launch configuration of {@code cuLaunchKernelEx} with programmatic stream serialization (programmatic
 * dependent launch, Hopper and later): a CUlaunchConfig (56 bytes: grid xyz, block xyz, shared bytes, stream,
 * attributes, their count) followed by its one CUlaunchAttribute (72 bytes: id, value), in native memory owned by
 * one launch site and rewritten per launch, so a launch allocates nothing.
 */
public final class ProgrammaticLaunch {
    private static final long GRID = 0, BLOCK = 12, SHARED = 24, STREAM = 32, ATTRS = 40, NUM_ATTRS = 48, SIZE = 56,
            ATTR_SIZE = 72;
    private static final int CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;

    private final MemorySegment config;

    public ProgrammaticLaunch(Arena arena) {
        config = arena.allocate(SIZE + ATTR_SIZE, 16);
        MemorySegment attr = config.asSlice(SIZE, ATTR_SIZE);
        attr.set(ValueLayout.JAVA_INT, 0, CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
        attr.set(ValueLayout.JAVA_INT, 8, 1);   // value.programmaticStreamSerializationAllowed
        config.set(ValueLayout.JAVA_INT, GRID + 4, 1);
        config.set(ValueLayout.JAVA_INT, GRID + 8, 1);
        config.set(ValueLayout.JAVA_INT, BLOCK + 4, 1);
        config.set(ValueLayout.JAVA_INT, BLOCK + 8, 1);
        config.set(ValueLayout.ADDRESS, ATTRS, attr);
        config.set(ValueLayout.JAVA_INT, NUM_ATTRS, 1);
    }

    /** The configuration of a 1-D launch of {@code grid} x {@code block} threads on {@code stream}. */
    public MemorySegment of(int grid, int block, int sharedBytes, long stream) {
        config.set(ValueLayout.JAVA_INT, GRID, grid);
        config.set(ValueLayout.JAVA_INT, BLOCK, block);
        config.set(ValueLayout.JAVA_INT, SHARED, sharedBytes);
        config.set(ValueLayout.JAVA_LONG, STREAM, stream);
        return config;
    }
}
