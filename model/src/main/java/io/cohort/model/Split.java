package io.cohort.model;

import io.cohort.nn.Partition;

/** Which part of a {@code [rows, cols]} weight a rank loads. */
public sealed interface Split {

    /** The whole tensor (norm scales). */
    record Replicated() implements Split {
    }

    /** Rows {@code [part.start, part.end)}: column-parallel and vocab-parallel weights. One contiguous range. */
    record Rows(Partition part) implements Split {
    }

    /** Columns {@code [part.start, part.end)} of every row: row-parallel weights. A strided gather. */
    record Cols(Partition part) implements Split {
    }

    static Split replicated() {
        return new Replicated();
    }
}
