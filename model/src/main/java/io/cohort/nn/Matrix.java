package io.cohort.nn;

import io.cohort.core.DType;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.Tensor;

/**
 * A dense row-major {@code rows x cols} matrix of {@code dtype} at the start of {@code buffer}: the one shape the
 * tensor-parallel layers need (activations are {@code [tokens, features]}, weights {@code [out, in]} as Hugging
 * Face stores them). The buffer may be longer than the matrix (workspaces sized for the longest prompt).
 */
public record Matrix(DeviceBuffer buffer, DType dtype, int rows, int cols) {
    public Matrix {
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("negative shape " + rows + " x " + cols);
        }
        if (byteSize(dtype, rows, cols) > buffer.byteSize()) {
            throw new IllegalArgumentException(rows + " x " + cols + " " + dtype + " does not fit a buffer of "
                    + buffer.byteSize() + " bytes on " + buffer.device().name());
        }
    }

    public static long byteSize(DType dtype, long rows, long cols) {
        return rows * cols * dtype.bytes();
    }

    public long elements() {
        return (long) rows * cols;
    }

    public long byteSize() {
        return byteSize(dtype, rows, cols);
    }

    /** Rows {@code [from, from + count)} as a matrix over the same memory. */
    public Matrix rows(int from, int count) {
        if (from < 0 || count < 0 || from + count > rows) {
            throw new IndexOutOfBoundsException("rows " + from + "+" + count + " of " + rows);
        }
        long rowBytes = (long) cols * dtype.bytes();
        return new Matrix(buffer.slice(from * rowBytes, count * rowBytes), dtype, count, cols);
    }

    /**
     * Columns {@code [from, from + count)} of a one-row matrix, over the same memory (contiguous only because
     * there is one row: a decode step's slice of a fused projection's output).
     */
    public Matrix columnsOfRow(int from, int count) {
        if (rows != 1) {
            throw new IllegalArgumentException("a column view needs one row, " + this + " has " + rows);
        }
        if (from < 0 || count < 0 || from + count > cols) {
            throw new IndexOutOfBoundsException("columns " + from + "+" + count + " of " + cols);
        }
        long e = dtype.bytes();
        return new Matrix(buffer.slice(from * e, count * e), dtype, 1, count);
    }

    /** The first {@code count} rows, for a workspace sized for more tokens than this call has. */
    public Matrix firstRows(int count) {
        return count == rows ? this : rows(0, count);
    }

    /** The same memory seen as {@code rows x cols} (row-major reinterpretation; sizes must fit). */
    public Matrix reshape(int newRows, int newCols) {
        return new Matrix(buffer, dtype, newRows, newCols);
    }

    /** The elements as a flat tensor, what collectives take. */
    public Tensor tensor() {
        return new Tensor(buffer, dtype, elements());
    }

    @Override
    public String toString() {
        return "Matrix[" + rows + " x " + cols + " " + dtype + " on " + buffer.device().name() + "]";
    }
}
