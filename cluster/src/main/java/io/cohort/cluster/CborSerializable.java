package io.cohort.cluster;

/**
 * Marker of every message that may cross nodes: bound to Pekko's {@code jackson-cbor} serializer in
 * {@code cohort-cluster.conf} (Java serialization is off). Such messages carry control data and buffer
 * references only; bulk bytes travel between node leaders over Aeron.
 */
public interface CborSerializable {
}
