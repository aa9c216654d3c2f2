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
    private final MemorySegment words;
    private final MemorySegment params;
    private ProgrammaticLaunch programmatic;

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

    /** The struct itself, for a packer that writes its fields at their offsets. */
    public MemorySegment words() {
        return words;
    }

    MemorySegment params() {
        return params;
    }

    /** This site's configuration for programmatic dependent launch (allocated on first use). */
    ProgrammaticLaunch programmatic() {
        ProgrammaticLaunch p = programmatic;
        if (p == null) {
            p = programmatic = new ProgrammaticLaunch(Arena.ofAuto());
        }
        return p;
    }
}
