/**
 * The host device: a real CPU backend in the spirit of Gloo. Memory is off-heap and 256-byte aligned,
 * every stream is one thread draining a preallocated command ring, reductions run on the Vector API, and
 * 64-bit flags in shared memory order work across streams and devices by sequence number. Host devices of
 * one process reach each other's memory directly, so plans run on them exactly as on P2P GPUs, which is
 * how CI tests every planner and backend without a GPU.
 */
package io.cohort.device.host;
