/**
 * How the devices of a group are connected: {@link io.cohort.topology.Topology} (a
 * {@link io.cohort.topology.Link} per ordered pair, islands), detected by a
 * {@link io.cohort.topology.TopologyDetector} ({@link io.cohort.topology.HostTopologyDetector}, the CUDA
 * module's, or {@link io.cohort.topology.TopologyFileDetector} for a declared
 * {@link io.cohort.topology.TopologyFile}), checked by {@link io.cohort.topology.TopologyValidation} and
 * printed by {@link io.cohort.topology.TopologyRenderer}. See docs/topology.md.
 */
package io.cohort.topology;
