#!/usr/bin/env bash
# The GPU batch of issues 14 and 18 (decode without host waits; decode at the roofline), one H200: run on the
# device machine from the repository root, with .device made by /work/shared/device/bundle.sh and packed by
# bench/pack-device.sh. Every step is bounded (SIGQUIT first: the JVM prints its threads) and logs into $OUT.
# Part "tests" (~3 min), part "bench" (~6 min): run them as two device calls if one would pass 10 minutes:
#   bash bench/gpu-decode-batch.sh tests ; bash bench/gpu-decode-batch.sh bench
set -u
out=${OUT:-/tmp/cohort-out}
mkdir -p "$out"
part=${1:-all}
step() {   # step <seconds> <log> <command...>
  local t=$1 log=$2; shift 2
  timeout -s QUIT -k 15 "$t" "$@" > "$out/$log" 2>&1
  echo "$log: rc=$?"
}
cli() { bash .device/java io.cohort.cli.CohortCli "$@"; }
export JAVA_OPTS="${JAVA_OPTS:--Xmx64g}"
if [ "$part" = all ] || [ "$part" = tests ]; then
  nvidia-smi -L > "$out/device.txt" 2>&1
  # graphs (GraphCaptureTest, SharedGpuTensorParallelTest.graphDecodeMatchesEagerDecode), cuda:0*N vs tp 1,
  # fused kernels (rotary + KV write, split-K attention) and copyColumns vs host (CudaTensorOpsTest), fused
  # p2p all-reduce + norm (FusedAllReduceNormTest), a rank stalled in a graph (P2pAllReduceTest)
  step 400 gpu-tests.log bash .device/junit --include-tag gpu
  sed 's/\x1b\[[0-9;]*m//g' "$out/gpu-tests.log" | grep -E "tests (successful|failed|aborted|skipped)|✘" | head -30
fi
if [ "$part" = all ] || [ "$part" = bench ]; then
  step 240 decode-ops.txt bash .device/java io.cohort.cuda.bench.DecodeOpsBench "$out/decode-ops-table.txt"
  # make-tiny, streamed (issue 18: the 8B shape in <= 40 s with a small heap)
  JAVA_OPTS=-Xmx1g step 60 make-tiny-8x1024.txt cli model make-tiny --out /tmp/m8x1024 --layers 8 --hidden 1024 \
    --heads 16 --kv-heads 8 --intermediate 2816 --vocab 8192
  JAVA_OPTS=-Xmx1g step 90 make-tiny-tinyllama.txt cli model make-tiny --out /tmp/mtiny --layers 22 --hidden 2048 \
    --heads 32 --kv-heads 4 --intermediate 5632 --vocab 32000
  JAVA_OPTS=-Xmx1g step 150 make-tiny-8b.txt cli model make-tiny --out /tmp/m8b --layers 32 --hidden 4096 \
    --heads 32 --kv-heads 8 --intermediate 14336 --vocab 128256
  # decode, eager and graph rows side by side, floor and % of floor (issue 14 targets: 0.30 / 1.3 ms, 8B no slower)
  for m in m8x1024 mtiny m8b; do
    step 180 "bench-$m-tp1.txt" cli model bench --model-dir /tmp/$m --devices cuda --tp 1 --backends auto \
      --prompt-len 32 --decode 64 --graphs
  done
  # tp = 2 as two ranks on the one GPU (a development aid, not a multi-GPU figure): logits vs tp 1 in the tests
  step 180 bench-mtiny-tp2-shared.txt cli model bench --model-dir /tmp/mtiny --devices cuda:0*2 --tp 2 \
    --backends p2p --prompt-len 32 --decode 64 --graphs
  # the same with the unfused all-reduce, then addRmsNorm (the fused p2p all-reduce + norm is the default)
  JAVA_OPTS="$JAVA_OPTS -Dcohort.fusedAllReduce=false" step 180 bench-mtiny-tp2-shared-unfused.txt cli model bench \
    --model-dir /tmp/mtiny --devices cuda:0*2 --tp 2 --backends p2p --prompt-len 32 --decode 64 --graphs
  # 512-token prefill at the 8B shape (issue 18 target: 25 ms)
  step 180 bench-m8b-prefill512.txt cli model bench --model-dir /tmp/m8b --devices cuda --tp 1 --backends auto \
    --prompt-len 512 --max-batch 512 --decode 4
  for f in "$out"/decode-ops-table.txt "$out"/make-tiny-*.txt "$out"/bench-*.txt; do echo "== $f"; grep -v INFO "$f" | tail -20; done
fi
