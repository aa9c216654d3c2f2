package io.cohort.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The argument block of one kernel launch site: a struct passed by value (as the kernels in
 * src/main/cuda declare them), laid out as 64-bit words in native memory, and the one-entry parameter array
 * cuLaunchKernel reads. Owned by one enqueuing thread at a time; rewritten in place for every launch.
 */
public final class KernelArgs {
    // CUlaunchConfig (56 bytes: grid xyz, block xyz, shared bytes, stream, attrs, numAttrs) followed by one
    // CUlaunchAttribute (72 bytes: id, value) for cuLaunchKernelEx
    private static final long CFG_GRID = 0, CFG_BLOCK = 12, CFG_STREAM = 32, CFG_ATTRS = 40, CFG_NUM_ATTRS = 48,
            CFG_SIZE = 56, ATTR_SIZE = 72;
    private static final int CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;

    private final MemorySegment words;
    private final MemorySegment params;
    private MemorySegment programmatic;

    public KernelArgs(int words) {
        Arena arena = Arena.ofAuto();
        this.words = arena.allocate(8L * words, 16);
        this.params = arena.allocate(ValueLayout.ADDRESS);
        params.set(ValueLayout.ADDRESS, 0, this.words);
    }

    public void set(int word, long value) {
        words.setAtIndex(ValueLayout.JAVA_LONG, word, value);
    }

    /** Stores a float in the low half of a word (the struct's float field followed by padding). */
    public void setFloat(int word, float value) {
        words.setAtIndex(ValueLayout.JAVA_LONG, word, Float.floatToRawIntBits(value) & 0xffff_ffffL);
    }

    MemorySegment params() {
        return params;
    }

    /**
     * The launch configuration of this site for programmatic dependent launch (allocated on first use, then
     * rewritten per launch by {@link DriverCalls#launchProgrammatic}).
     */
    MemorySegment programmaticConfig() {
        MemorySegment c = programmatic;
        if (c == null) {
            c = Arena.ofAuto().allocate(CFG_SIZE + ATTR_SIZE, 16);
            MemorySegment attr = c.asSlice(CFG_SIZE, ATTR_SIZE);
            attr.set(ValueLayout.JAVA_INT, 0, CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
            attr.set(ValueLayout.JAVA_INT, 8, 1);   // value.programmaticStreamSerializationAllowed
            c.set(ValueLayout.JAVA_INT, CFG_GRID + 4, 1);
            c.set(ValueLayout.JAVA_INT, CFG_GRID + 8, 1);
            c.set(ValueLayout.JAVA_INT, CFG_BLOCK + 4, 1);
            c.set(ValueLayout.JAVA_INT, CFG_BLOCK + 8, 1);
            c.set(ValueLayout.ADDRESS, CFG_ATTRS, attr);
            c.set(ValueLayout.JAVA_INT, CFG_NUM_ATTRS, 1);
            programmatic = c;
        }
        return c;
    }

    static void setLaunch(MemorySegment config, int grid, int block, long stream) {
        config.set(ValueLayout.JAVA_INT, CFG_GRID, grid);
        config.set(ValueLayout.JAVA_INT, CFG_BLOCK, block);
        config.set(ValueLayout.JAVA_LONG, CFG_STREAM, stream);
    }
}
