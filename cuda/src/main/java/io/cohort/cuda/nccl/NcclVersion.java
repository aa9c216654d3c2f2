package io.cohort.cuda.nccl;

/**
 * An NCCL version as {@code ncclGetVersion} reports it. The code is {@code major*10000 + minor*100 + patch}
 * from 2.9 on, {@code major*1000 + minor*100 + patch} before (nccl.h's NCCL_VERSION macro).
 */
public record NcclVersion(int major, int minor, int patch) implements Comparable<NcclVersion> {

    /** bf16 and ncclAvg, both of which Cohort uses, arrived in 2.10. */
    public static final NcclVersion MINIMUM = new NcclVersion(2, 10, 0);

    public static NcclVersion fromCode(int code) {
        if (code >= 20900) {
            return new NcclVersion(code / 10000, code % 10000 / 100, code % 100);
        }
        return new NcclVersion(code / 1000, code % 1000 / 100, code % 100);
    }

    public boolean atLeast(NcclVersion other) {
        return compareTo(other) >= 0;
    }

    @Override
    public int compareTo(NcclVersion o) {
        int c = Integer.compare(major, o.major);
        if (c == 0) {
            c = Integer.compare(minor, o.minor);
        }
        return c != 0 ? c : Integer.compare(patch, o.patch);
    }

    @Override
    public String toString() {
        return major + "." + minor + "." + patch;
    }
}
