package io.cohort.model;

/**
 * A weight a rank needs: its checkpoint name, the full shape config.json implies ({@code [rows, cols]}, 1-D
 * tensors as {@code [1, n]}), and which part of it the rank loads.
 */
public record WeightSpec(String name, int rows, int cols, Split split) {

    public int localRows() {
        return split instanceof Split.Rows(var p) ? p.length() : rows;
    }

    public int localCols() {
        return split instanceof Split.Cols(var p) ? p.length() : cols;
    }

    public long localElements() {
        return (long) localRows() * localCols();
    }
}
