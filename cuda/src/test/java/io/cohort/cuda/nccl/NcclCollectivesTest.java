package io.cohort.cuda.nccl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cohort.backend.CollectiveCall;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.testing.FakeBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every collective, dtype and operator through the backend into the fake NCCL, which computes on the buffers'
 * memory after decoding the datatype and operator codes itself: checks that buffers, counts, roots, types and
 * operators reach NCCL in the right places. Expected values come from closed forms, not from the fake.
 */
class NcclCollectivesTest {

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (int ranks : new int[] {2, 3}) {
            for (DType t : DType.values()) {
                for (Collective c : Collective.values()) {
                    List<ReduceOp> ops = c.reduces() ? List.of(ReduceOp.values()) : List.of(ReduceOp.SUM);
                    for (ReduceOp op : ops) {
                        out.add(Arguments.of(ranks, t, c, op, c.rooted() ? ranks - 1 : 0));
                    }
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} ranks {2} {1} {3} root {4}")
    @MethodSource("cases")
    void matchesTheReference(int ranks, DType t, Collective c, ReduceOp op, int root) {
        long count = 10;
        TestGroup g = TestGroup.allLocal(ranks);
        CollectiveCall call = new CollectiveCall(c, t, op, count, root);
        try (NcclBackend b = g.backend()) {
            FakeBuffer[] send = new FakeBuffer[ranks], recv = new FakeBuffer[ranks];
            long sendCount = c.sendCount(count, ranks), recvCount = c.recvCount(count, ranks);
            for (int r = 0; r < ranks; r++) {
                send[r] = g.buffer(r, sendCount * t.bytes());
                recv[r] = g.buffer(r, recvCount * t.bytes());
                for (long i = 0; i < sendCount; i++) {
                    t.set(send[r].segment(), i, CollectiveReference.input(r, i));
                }
                for (long i = 0; i < recvCount; i++) {
                    t.set(recv[r].segment(), i, CollectiveReference.UNTOUCHED);
                }
            }
            // enqueue in reverse rank order: the launch must not depend on who comes first
            for (int r = ranks - 1; r >= 0; r--) {
                b.enqueue(r, 1, call, send[r], recv[r]);
            }
            for (int r = 0; r < ranks; r++) {
                for (long i = 0; i < recvCount; i++) {
                    float expected = CollectiveReference.expected(c, op, t, ranks, root, r, i, count);
                    assertEquals(expected, t.get(recv[r].segment(), i), "rank " + r + " element " + i);
                }
            }
        }
    }
}
