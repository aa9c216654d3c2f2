package io.cohort.jmh;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cohort.core.DType;
import org.junit.jupiter.api.Test;

/** Each benchmark's state sets up, runs its operation once and tears down; JMH itself never runs in tests. */
class BenchmarkStatesTest {

    @Test
    void allReduce() {
        HostAllReduceBenchmark b = new HostAllReduceBenchmark();
        b.ranks = 2;
        b.count = 1024;
        b.wait = "1us/50us";
        b.open();
        try {
            b.enqueue();
            b.drain();
            b.endToEnd();
            b.drain();
        } finally {
            b.close();
        }
    }

    @Test
    void hostKernels() {
        for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
            HostKernelsBenchmark b = new HostKernelsBenchmark();
            b.dtype = dtype;
            b.bytes = 4096;
            b.op = io.cohort.core.ReduceOp.MAX;
            b.allocate();
            try {
                assertEquals(4096, b.reduceSum().byteSize());
            } finally {
                b.free();
            }
        }
    }
}
