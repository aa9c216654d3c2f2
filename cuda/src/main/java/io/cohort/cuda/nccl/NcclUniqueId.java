package io.cohort.cuda.nccl;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Base64;

/**
 * NCCL's {@code ncclUniqueId}: 128 opaque bytes made by one rank ({@link #generate}) and handed to every
 * rank of the group, across processes as bytes or base64 in coordinator messages. It holds the address of
 * the root's bootstrap socket, so it is good for one communicator set-up.
 */
public record NcclUniqueId(byte[] bytes) {

    /** NCCL_UNIQUE_ID_BYTES. */
    public static final int BYTES = 128;

    public NcclUniqueId {
        if (bytes.length != BYTES) {
            throw new IllegalArgumentException("an ncclUniqueId has " + BYTES + " bytes, not " + bytes.length);
        }
        bytes = bytes.clone();
    }

    /** Asks NCCL for a fresh id (ncclGetUniqueId). */
    public static NcclUniqueId generate(NcclApi api) {
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment out = arena.allocate(BYTES);
            NcclException.check(api, api.getUniqueId(out), 0, "ncclGetUniqueId");
            return read(out);
        }
    }

    public static NcclUniqueId read(MemorySegment segment) {
        return new NcclUniqueId(segment.asSlice(0, BYTES).toArray(ValueLayout.JAVA_BYTE));
    }

    public static NcclUniqueId fromBase64(String text) {
        byte[] raw;
        try {
            raw = Base64.getDecoder().decode(text.strip());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not a base64 ncclUniqueId: " + e.getMessage(), e);
        }
        return new NcclUniqueId(raw);
    }

    public String toBase64() {
        return Base64.getEncoder().encodeToString(bytes);
    }

    /** A copy of the bytes. */
    @Override
    public byte[] bytes() {
        return bytes.clone();
    }

    /** Copies the id into the first 128 bytes of {@code segment} (to pass it to NCCL by value). */
    public void writeTo(MemorySegment segment) {
        MemorySegment.copy(bytes, 0, segment, ValueLayout.JAVA_BYTE, 0, BYTES);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NcclUniqueId other && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return "NcclUniqueId[" + Integer.toHexString(hashCode()) + "]";
    }
}
