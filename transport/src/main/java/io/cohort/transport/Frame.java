package io.cohort.transport;

import java.nio.ByteOrder;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * Layout of Cohort's header at the start of every Aeron message (little-endian, 32 bytes so the payload
 * that follows stays 32-byte aligned in the log):
 * <pre>
 *   0  int  type        HELLO (binds a peer's session) or DATA
 *   4  int  groupId     hash of the group name: frames of another group are dropped
 *   8  long seq         the group's collective sequence number (0 = join)
 *  16  int  step        ring step (or chain position) within the collective
 *  20  int  chunk       piece index within the step
 *  24  int  srcRank     sender's rank
 *  28  int  signature   hash of (collective, dtype, op, count, root): ranks must agree on the call
 * </pre>
 * A receiver accepts exactly the (seq, step, chunk) it expects next; older ones (late or duplicate) are
 * dropped, so a stray frame can never be reduced into a result.
 */
final class Frame {

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    static final int HELLO = 0x43480001;
    static final int DATA = 0x43480002;

    static final int TYPE = 0;
    static final int GROUP = 4;
    static final int SEQ = 8;
    static final int STEP = 16;
    static final int CHUNK = 20;
    static final int SRC = 24;
    static final int SIGNATURE = 28;
    static final int HEADER_LENGTH = 32;

    private Frame() {
    }

    static void write(MutableDirectBuffer buf, int offset, int type, int groupId, long seq, int step, int chunk,
                      int srcRank, int signature) {
        buf.putInt(offset + TYPE, type, LE);
        buf.putInt(offset + GROUP, groupId, LE);
        buf.putLong(offset + SEQ, seq, LE);
        buf.putInt(offset + STEP, step, LE);
        buf.putInt(offset + CHUNK, chunk, LE);
        buf.putInt(offset + SRC, srcRank, LE);
        buf.putInt(offset + SIGNATURE, signature, LE);
    }

    static int type(DirectBuffer buf, int offset) {
        return buf.getInt(offset + TYPE, LE);
    }

    static int groupId(DirectBuffer buf, int offset) {
        return buf.getInt(offset + GROUP, LE);
    }

    static long seq(DirectBuffer buf, int offset) {
        return buf.getLong(offset + SEQ, LE);
    }

    static int step(DirectBuffer buf, int offset) {
        return buf.getInt(offset + STEP, LE);
    }

    static int chunk(DirectBuffer buf, int offset) {
        return buf.getInt(offset + CHUNK, LE);
    }

    static int srcRank(DirectBuffer buf, int offset) {
        return buf.getInt(offset + SRC, LE);
    }

    static int signature(DirectBuffer buf, int offset) {
        return buf.getInt(offset + SIGNATURE, LE);
    }

    /** A stable 32-bit id for a group name (FNV-1a), so every process derives the same one. */
    static int groupId(String groupName) {
        int h = 0x811c9dc5;
        for (int i = 0; i < groupName.length(); i++) {
            h ^= groupName.charAt(i);
            h *= 0x01000193;
        }
        return h;
    }

    /** Hash of what every rank must agree on for one collective call. */
    static int signature(int kind, int dtype, int op, long count, int root) {
        long h = kind;
        h = h * 31 + dtype;
        h = h * 31 + op;
        h = h * 1_000_003L + count;
        h = h * 31 + root;
        return (int) (h ^ (h >>> 32));
    }
}
