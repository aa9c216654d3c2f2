#!/usr/bin/env bash
# The GPU batch of the cuda helper: run on the device machine from the repository root, with .device made by
# /work/shared/device/bundle.sh and packed by bench/pack-device.sh. Every step is bounded by timeout (SIGQUIT
# first: the JVM prints its threads, then it is killed) and leaves its output in $OUT (8 files at most).
set -u
out=${OUT:-/tmp/cohort-out}
mkdir -p "$out"
step() {   # step <seconds> <log> <command...>
  local t=$1 log=$2; shift 2
  timeout -s QUIT -k 15 "$t" "$@" > "$out/$log" 2>&1
  echo "$log: rc=$?"
}
{ nvidia-smi -L; nvidia-smi topo -m; } > "$out/device.txt" 2>&1
step 300 gpu-tests.log bash .device/junit --include-tag gpu
# the default pool (cohort.pool.capacity = auto) may not hold 64 MiB send + recv: give it 1 GiB, else stop at 16 MiB
JAVA_OPTS=-Dcohort.pool.capacity=1G step 150 cli-bench.txt bash .device/java io.cohort.cli.CohortCli bench --devices cuda \
  --backends auto,p2p,native,nccl --min-bytes 4K --max-bytes 64M --factor 4 --iters 50 --csv "$out/cli-bench.csv"
grep -q "^error:" "$out/cli-bench.txt" && step 150 cli-bench.txt bash .device/java io.cohort.cli.CohortCli bench --devices cuda \
  --backends auto,p2p,native,nccl --min-bytes 4K --max-bytes 16M --factor 4 --iters 50 --csv "$out/cli-bench.csv"
step 60 cli-topo.txt bash .device/java io.cohort.cli.CohortCli topo --devices cuda
step 120 cli-selftest.txt bash .device/java io.cohort.cli.CohortCli selftest --devices cuda
step 150 p2p-bench.txt bash .device/java io.cohort.cuda.bench.P2pKernelBench
echo "== gpu tests"; sed 's/\x1b\[[0-9;]*m//g' "$out/gpu-tests.log" | grep -E "tests (successful|failed|aborted|skipped)|✘|=> " | head -30
echo "== cli selftest"; tail -3 "$out/cli-selftest.txt"
echo "== cli bench"; grep -vE "^\s*$|INFO" "$out/cli-bench.txt" | tail -45
