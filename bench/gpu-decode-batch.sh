#!/usr/bin/env bash
# The GPU batch of issues 14 and 18 (decode without host waits; decode at the roofline), one H200: run on the
# device machine from the repository root, with .device made by /work/shared/device/bundle.sh and packed by
# bench/pack-device.sh. Every step is bounded (SIGQUIT first: the JVM prints its threads) and logs into $OUT.
# Part "tests" (~3 min), part "bench" (~6 min): run them as two device calls if one would pass 10 minutes:
#   bash bench/gpu-decode-batch.sh tests ; bash bench/gpu-decode-batch.sh bench   (part "rt": issue 13 round trips;
#   part "repeat": the decode benches twice each, for the run-to-run spread)
set -u
# every log goes to one folder, packed into $OUT/batch.tgz at the end (the device tool returns few files)
out=/tmp/cohort-out
mkdir -p "$out"
part=${1:-all}
# BATCH_DEADLINE (epoch seconds; or BATCH_BUDGET_S from now): a step that could run past it is shortened, or
# skipped when less than 30 s are left, so that one device call always comes back with its logs
deadline=${BATCH_DEADLINE:-$(( $(date +%s) + ${BATCH_BUDGET_S:-100000} ))}
step() {   # step <seconds> <log> <command...>
  local t=$1 log=$2 now; shift 2
  now=$(date +%s)
  if [ $((now + t)) -gt "$deadline" ]; then
    [ $((now + 30)) -gt "$deadline" ] && { echo "$log: skipped (budget)"; return; }
    t=$((deadline - now - 10))
  fi
  timeout -s QUIT -k 15 "$t" "$@" > "$out/$log" 2>&1
  echo "$log: rc=$?"
}
export JAVA_OPTS="${JAVA_OPTS:--Xmx64g}"
if [ "$part" = all ] || [ "$part" = tests ]; then
  nvidia-smi -L > "$out/device.txt" 2>&1
  # graphs (GraphCaptureTest, SharedGpuTensorParallelTest.graphDecodeMatchesEagerDecode), cuda:0*N vs tp 1,
  # fused kernels (rotary + KV write, split-K attention) and copyColumns vs host (CudaTensorOpsTest), fused
  # p2p all-reduce + norm (FusedAllReduceNormTest), a rank stalled in a graph (P2pAllReduceTest)
  step 300 gpu-tests.log bash .device/junit --include-tag gpu
  sed 's/\x1b\[[0-9;]*m//g' "$out/gpu-tests.log" | grep -E "tests (successful|failed|aborted|skipped)|✘|FAILED|ABORTED" | head -30
fi
if [ "$part" = all ] || [ "$part" = rt ]; then
  # issue 13 on the GPU: the API round trip at 8 KiB on 1 GPU (target 15 us p50) and on cuda:0*2 (target: the
  # one-shot kernel's device time + 10 us; P2pKernelBench measures that device time in the same call)
  step 90 p2p-kernels.txt bash .device/java io.cohort.cuda.bench.P2pKernelBench "$out/p2p-kernels-table.txt"
  step 90 rt-cuda1.txt bash .device/java io.cohort.cli.CohortCli bench --devices cuda --collectives all-reduce -d f32 -b 8K -e 8K --warmup 10000 \
    --warmup-time 5s --latency-calls 10000 --latency-time 5s --csv "$out/rt-cuda1.csv"
  step 90 rt-cuda0x2.txt bash .device/java io.cohort.cli.CohortCli bench --devices 'cuda:0*2' --backends p2p --collectives all-reduce -d f32 -b 8K -e 8K \
    --warmup 10000 --warmup-time 5s --latency-calls 10000 --latency-time 5s --csv "$out/rt-cuda0x2.csv"
  # the same with the driver's default 8 hardware queues instead of Cohort's 32: do more queues cost launch time?
  CUDA_DEVICE_MAX_CONNECTIONS=8 step 90 rt-cuda0x2-8queues.txt bash .device/java io.cohort.cli.CohortCli bench \
    --devices 'cuda:0*2' --backends p2p --collectives all-reduce -d f32 -b 8K -e 8K \
    --warmup 10000 --warmup-time 5s --latency-calls 10000 --latency-time 5s --csv "$out/rt-cuda0x2-8queues.csv"
  # the same with the blocked caller spinning 1000x longer before it waits on the devices (is the wait the cost?)
  JAVA_OPTS="$JAVA_OPTS -Dcohort.idle.caller.spins=100000" step 90 rt-cuda0x2-spin.txt bash .device/java io.cohort.cli.CohortCli bench \
    --devices 'cuda:0*2' --backends p2p --collectives all-reduce -d f32 -b 8K -e 8K \
    --warmup 10000 --warmup-time 5s --latency-calls 10000 --latency-time 5s --csv "$out/rt-cuda0x2-spin.csv"
  step 90 rt-host2.txt bash .device/java io.cohort.cli.CohortCli bench --devices host:2 --backends auto,native --collectives all-reduce -d f32 -b 8K \
    -e 8K --warmup 10000 --warmup-time 5s --latency-calls 10000 --latency-time 5s
  # the JMH round trip of issue 13 (CohortGroup beside LocalGroup, host:2), on 16 cores
  jmh="-wi 5 -w 2 -i 5 -r 2 -f 1 -jvmArgsAppend --add-opens=java.base/sun.nio.ch=ALL-UNNAMED"
  step 120 rt-jmh.txt bash .device/java org.openjdk.jmh.Main ActorApiRoundTripBenchmark $jmh
  for f in "$out"/p2p-kernels-table.txt "$out"/rt-*.txt; do echo "== $f"; grep -v INFO "$f" | tail -12; done
fi
if [ "$part" = all ] || [ "$part" = bench ]; then
  # make-tiny, streamed (issue 18: the 8B shape in <= 40 s with a small heap)
  JAVA_OPTS=-Xmx1g step 60 make-tiny-8x1024.txt bash .device/java io.cohort.cli.CohortCli model make-tiny --out /tmp/m8x1024 --layers 8 --hidden 1024 \
    --heads 16 --kv-heads 8 --intermediate 2816 --vocab 8192
  JAVA_OPTS=-Xmx1g step 90 make-tiny-tinyllama.txt bash .device/java io.cohort.cli.CohortCli model make-tiny --out /tmp/mtiny --layers 22 --hidden 2048 \
    --heads 32 --kv-heads 4 --intermediate 5632 --vocab 32000
  # decode, eager and graph rows side by side, floor and % of floor (issue 14 targets: 0.30 / 1.3 ms, 8B no slower)
  # --profile: then the device time per kernel of one eager decode step (where the step's time goes)
  for m in m8x1024 mtiny; do   # tp 1: programmatic dependent launch on (cohort.nn.pdl=auto)
    step 150 "bench-$m-tp1.txt" bash .device/java io.cohort.cli.CohortCli model bench --model-dir /tmp/$m --devices cuda --tp 1 --backends auto \
      --prompt-len 32 --decode 64 --graphs --profile
  done
  # the same with every step's logits brought to the host for the argmax (the loop before 2026-12-02's greedy
  # on the devices)
  for m in m8x1024 mtiny; do
    step 120 "bench-$m-tp1-hostargmax.txt" bash .device/java io.cohort.cli.CohortCli model bench --model-dir /tmp/$m --devices cuda \
      --tp 1 --backends auto --prompt-len 32 --decode 64 --graphs --host-argmax
  done
  # the same without programmatic dependent launch (cohort.nn.pdl=false)
  JAVA_OPTS="$JAVA_OPTS -Dcohort.nn.pdl=false" step 120 bench-mtiny-tp1-nopdl.txt bash .device/java io.cohort.cli.CohortCli \
    model bench --model-dir /tmp/mtiny --devices cuda --tp 1 --backends auto --prompt-len 32 --decode 64 --graphs
  JAVA_OPTS=-Xmx1g step 150 make-tiny-8b.txt bash .device/java io.cohort.cli.CohortCli model make-tiny --out /tmp/m8b --layers 32 --hidden 4096 \
    --heads 32 --kv-heads 8 --intermediate 14336 --vocab 128256
  step 180 bench-m8b-tp1.txt bash .device/java io.cohort.cli.CohortCli model bench --model-dir /tmp/m8b --devices cuda --tp 1 --backends auto \
    --prompt-len 32 --decode 64 --graphs
  step 180 bench-m8b-tp1-hostargmax.txt bash .device/java io.cohort.cli.CohortCli model bench --model-dir /tmp/m8b --devices cuda --tp 1 \
    --backends auto --prompt-len 32 --decode 64 --graphs --host-argmax
  # tp = 2 as two ranks on the one GPU (a development aid, not a multi-GPU figure): logits vs tp 1 in the tests
  step 180 bench-mtiny-tp2-shared.txt bash .device/java io.cohort.cli.CohortCli model bench --model-dir /tmp/mtiny --devices cuda:0*2 --tp 2 \
    --backends p2p --prompt-len 32 --decode 64 --graphs
  # 512-token prefill at the 8B shape (issue 18 target: 25 ms)
  step 180 bench-m8b-prefill512.txt bash .device/java io.cohort.cli.CohortCli model bench --model-dir /tmp/m8b --devices cuda --tp 1 --backends auto \
    --prompt-len 512 --max-batch 512 --decode 4
  # ranks sharing the GPU without programmatic dependent launch (the default has it since 2026-12-02)
  JAVA_OPTS="$JAVA_OPTS -Dcohort.nn.pdl=false" step 120 bench-mtiny-tp2-shared-nopdl.txt bash .device/java io.cohort.cli.CohortCli model bench \
    --model-dir /tmp/mtiny --devices cuda:0*2 --tp 2 --backends p2p --prompt-len 32 --decode 64 --graphs
  step 240 decode-ops.txt bash .device/java io.cohort.cuda.bench.DecodeOpsBench "$out/decode-ops-table.txt"
  for f in "$out"/make-tiny-*.txt "$out"/bench-*.txt; do echo "== $f"; grep -v INFO "$f" | grep -v "^WARNING" | tail -24; done
fi
if [ "$part" = tp2 ]; then
  # issue 14's tp 2 ratio: TinyLlama, graphs, tp 1 and tp 2 on cuda:0*2, the all-reduces without programmatic
  # dependent launch (the default) and with it
  JAVA_OPTS=-Xmx1g step 90 make-tiny-tinyllama.txt bash .device/java io.cohort.cli.CohortCli model make-tiny --out /tmp/mtiny --layers 22 --hidden 2048 \
    --heads 32 --kv-heads 4 --intermediate 5632 --vocab 32000
  step 120 tp2-mtiny-tp1.txt bash .device/java io.cohort.cli.CohortCli model bench --model-dir /tmp/mtiny --devices cuda --tp 1 --backends auto \
    --prompt-len 32 --decode 64 --graphs --profile
  step 120 tp2-mtiny-tp2.txt bash .device/java io.cohort.cli.CohortCli model bench --model-dir /tmp/mtiny --devices cuda:0*2 --tp 2 \
    --backends p2p --prompt-len 32 --decode 64 --graphs --profile
  JAVA_OPTS="$JAVA_OPTS -Dcohort.cuda.p2p.programmatic-launch=on" step 120 tp2-mtiny-tp2-arpdl.txt bash .device/java io.cohort.cli.CohortCli \
    model bench --model-dir /tmp/mtiny --devices cuda:0*2 --tp 2 --backends p2p --prompt-len 32 --decode 64 --graphs
  step 120 tp2-mtiny-tp1-again.txt bash .device/java io.cohort.cli.CohortCli model bench --model-dir /tmp/mtiny --devices cuda --tp 1 --backends auto \
    --prompt-len 32 --decode 64 --graphs
  for f in "$out"/tp2-*.txt; do echo "== $f"; grep -v INFO "$f" | grep -v "^WARNING" | grep -E "graphs|Exception|rror" | head -5; done
fi
if [ "$part" = fusedregs ]; then
  # issue 14: the fused all-reduce's register form (cohort.cuda.p2p.fused-registers, on since 2026-12-03) against
  # the plain form: its tests with it off, then TinyLlama tp 1 and tp 2 with it on and off, twice
  JAVA_OPTS="$JAVA_OPTS -Dcohort.cuda.p2p.fused-registers=off" step 150 fusedregs-off-tests.log bash .device/junit \
    --include-classname '.*(SharedGpuTensorParallelTest|FusedAllReduceNormTest)'
  sed 's/\x1b\[[0-9;]*m//g' "$out/fusedregs-off-tests.log" | grep -E "tests (successful|failed|aborted)|✘" | head -20
  [ -d /tmp/mtiny ] || JAVA_OPTS=-Xmx1g step 90 make-tiny-tinyllama.txt bash .device/java io.cohort.cli.CohortCli model make-tiny --out /tmp/mtiny \
    --layers 22 --hidden 2048 --heads 32 --kv-heads 4 --intermediate 5632 --vocab 32000
  for i in 1 2; do
    step 90 "fr$i-tp1.txt" bash .device/java io.cohort.cli.CohortCli model bench --model-dir /tmp/mtiny --devices cuda --tp 1 \
      --backends auto --prompt-len 32 --decode 64 --graphs
    for cfg in on off; do
      JAVA_OPTS="$JAVA_OPTS -Dcohort.cuda.p2p.fused-registers=$cfg" step 90 "fr$i-tp2-$cfg.txt" bash .device/java io.cohort.cli.CohortCli \
        model bench --model-dir /tmp/mtiny --devices 'cuda:0*2' --tp 2 --backends p2p --prompt-len 32 --decode 64 --graphs
    done
  done
  for f in "$out"/fr*.txt; do echo "== $f"; grep -v INFO "$f" | grep -v "^WARNING" | grep -E "graphs|Exception|rror" | head -4; done
fi
if [ "$part" = argemv ]; then
  # issue 14: the all-reduce as the row-parallel GEMV's epilogue (-Dcohort.nn.arInGemv=true, gemv.cu's
  # cohort_gemv_arnorm_*): its tests (and the fused collective's), then TinyLlama at tp 1, tp 2, tp 2 with it
  step 150 argemv-tests.log bash .device/junit --include-tag gpu \
    --include-classname '.*(FusedAllReduceNormTest|SharedGpuTensorParallelTest)'
  sed 's/\x1b\[[0-9;]*m//g' "$out/argemv-tests.log" | grep -E "tests (successful|failed|aborted)|✘|FAILED|ABORTED" | head -20
  JAVA_OPTS=-Xmx1g step 90 make-tiny-tinyllama.txt bash .device/java io.cohort.cli.CohortCli model make-tiny --out /tmp/mtiny --layers 22 --hidden 2048 \
    --heads 32 --kv-heads 4 --intermediate 5632 --vocab 32000
  step 120 argemv-mtiny-tp1.txt bash .device/java io.cohort.cli.CohortCli model bench --model-dir /tmp/mtiny --devices cuda --tp 1 --backends auto \
    --prompt-len 32 --decode 64 --graphs
  step 120 argemv-mtiny-tp2.txt bash .device/java io.cohort.cli.CohortCli model bench --model-dir /tmp/mtiny --devices cuda:0*2 --tp 2 \
    --backends p2p --prompt-len 32 --decode 64 --graphs
  JAVA_OPTS="$JAVA_OPTS -Dcohort.nn.arInGemv=true" step 120 argemv-mtiny-tp2-in-gemv.txt bash .device/java io.cohort.cli.CohortCli \
    model bench --model-dir /tmp/mtiny --devices cuda:0*2 --tp 2 --backends p2p --prompt-len 32 --decode 64 --graphs --profile
  for f in "$out"/argemv-*.txt; do echo "== $f"; grep -v INFO "$f" | grep -v "^WARNING" | grep -E "graphs|Exception|rror" | head -5; done
fi
if [ "$part" = gemv ]; then
  # issue 18's skinny GEMMs: the tensor-core kernel against a double reference (CudaTcGemvTest), then every
  # variant beside the CUDA-core GEMV (and its 1-2 row shape variants, CudaGemvTest), cast + cuBLAS and cast +
  # cuBLASLt's heuristic algorithms (CublasLtGemmTest) at the TinyLlama and 8B shapes, 1-16 rows (GemvSweepBench)
  step 120 gemv-tests.log bash .device/junit --include-tag gpu \
    --include-classname '.*(CudaTcGemvTest|CudaGemvTest|CublasLtGemmTest|CublasLtBindingTest)'
  sed 's/\x1b\[[0-9;]*m//g' "$out/gemv-tests.log" | grep -E "tests (successful|failed)|✘" | head -20
  step 240 gemv-sweep.txt bash .device/java io.cohort.cuda.bench.GemvSweepBench "$out/gemv-sweep-table.txt"
  grep -E "^#|gemv |cublas " "$out/gemv-sweep-table.txt" 2>/dev/null | head -150 || tail -30 "$out/gemv-sweep.txt"
fi
if [ "$part" = choices ]; then
  # issue 18: GemvSweepBench writes the fastest kernel per product (gemm-choices.conf), then the TinyLlama decode
  # with and without -Dcohort.nn.gemm-choices (it reaches the plain matmulT: lm_head, and at tp 2 the
  # row-parallel GEMVs), tp 1 and tp 2 on one GPU, graphs on
  step 240 choices-sweep.txt bash .device/java io.cohort.cuda.bench.GemvSweepBench "$out/gemv-sweep-table.txt" \
    "$out/gemm-choices.conf"
  JAVA_OPTS=-Xmx1g step 90 make-tiny-tinyllama.txt bash .device/java io.cohort.cli.CohortCli model make-tiny --out /tmp/mtiny --layers 22 --hidden 2048 \
    --heads 32 --kv-heads 4 --intermediate 5632 --vocab 32000
  for tp in 1 2; do
    devices=cuda; [ $tp = 2 ] && devices='cuda:0*2'
    step 100 choices-tp$tp-rules.txt bash .device/java io.cohort.cli.CohortCli model bench --model-dir /tmp/mtiny \
      --devices "$devices" --tp $tp --backends p2p --prompt-len 32 --decode 64 --graphs
    JAVA_OPTS="$JAVA_OPTS -Dcohort.nn.gemm-choices=$out/gemm-choices.conf" step 100 choices-tp$tp-chosen.txt \
      bash .device/java io.cohort.cli.CohortCli model bench --model-dir /tmp/mtiny --devices "$devices" --tp $tp \
      --backends p2p --prompt-len 32 --decode 64 --graphs
  done
  cat "$out/gemm-choices.conf" 2>/dev/null | head -100
  for f in "$out"/choices-tp*.txt; do echo "== $f"; grep -v INFO "$f" | grep -v "^WARNING" | grep -E "graphs|Exception|rror" | head -5; done
fi
if [ "$part" = hostpath ]; then
  # issue 13 below the actor API: where one small all-reduce's host time goes (HostPathBench), then the API round
  # trip on 1 GPU and on cuda:0*2
  step 90 hostpath.txt bash .device/java io.cohort.cuda.bench.HostPathBench "$out/hostpath-table.txt"
  # the one-shot kernel's device time in the same call (issue 13's target on cuda:0*2: it + 10 us)
  step 100 p2p-kernels.txt bash .device/java io.cohort.cuda.bench.P2pKernelBench "$out/p2p-kernels-table.txt"
  step 60 rt-cuda1.txt bash .device/java io.cohort.cli.CohortCli bench --devices cuda --collectives all-reduce -d f32 -b 8K -e 8K --warmup 10000 \
    --warmup-time 5s --latency-calls 10000 --latency-time 5s --csv "$out/rt-cuda1.csv"
  step 60 rt-cuda0x2.txt bash .device/java io.cohort.cli.CohortCli bench --devices 'cuda:0*2' --backends p2p --collectives all-reduce -d f32 -b 8K -e 8K \
    --warmup 10000 --warmup-time 5s --latency-calls 10000 --latency-time 5s --csv "$out/rt-cuda0x2.csv"
  # the same with the all-reduce kernels launched under programmatic dependent launch (cuLaunchKernelEx)
  JAVA_OPTS="$JAVA_OPTS -Dcohort.cuda.p2p.programmatic-launch=on" step 60 rt-cuda0x2-arpdl.txt bash .device/java io.cohort.cli.CohortCli bench \
    --devices 'cuda:0*2' --backends p2p --collectives all-reduce -d f32 -b 8K -e 8K \
    --warmup 10000 --warmup-time 5s --latency-calls 10000 --latency-time 5s --csv "$out/rt-cuda0x2-arpdl.csv"
  for f in "$out"/hostpath-table.txt "$out"/p2p-kernels-table.txt "$out"/rt-*.txt; do echo "== $f"; grep -v INFO "$f" | grep -v "^WARNING" | tail -18; done
fi
if [ "$part" = repeat ]; then
  # the decode figures again on a fresh machine, each twice (run-to-run spread), no tests
  JAVA_OPTS=-Xmx1g step 60 make-tiny-8x1024.txt bash .device/java io.cohort.cli.CohortCli model make-tiny --out /tmp/m8x1024 --layers 8 --hidden 1024 \
    --heads 16 --kv-heads 8 --intermediate 2816 --vocab 8192
  JAVA_OPTS=-Xmx1g step 90 make-tiny-tinyllama.txt bash .device/java io.cohort.cli.CohortCli model make-tiny --out /tmp/mtiny --layers 22 --hidden 2048 \
    --heads 32 --kv-heads 4 --intermediate 5632 --vocab 32000
  JAVA_OPTS=-Xmx1g step 150 make-tiny-8b.txt bash .device/java io.cohort.cli.CohortCli model make-tiny --out /tmp/m8b --layers 32 --hidden 4096 \
    --heads 32 --kv-heads 8 --intermediate 14336 --vocab 128256
  for i in $(seq 1 "${REPEATS:-2}"); do
    for m in m8x1024 mtiny m8b; do
      step 150 "repeat$i-$m-tp1.txt" bash .device/java io.cohort.cli.CohortCli model bench --model-dir /tmp/$m --devices cuda --tp 1 --backends auto \
        --prompt-len 32 --decode 64 --graphs
    done
    step 150 "repeat$i-mtiny-tp2-shared.txt" bash .device/java io.cohort.cli.CohortCli model bench --model-dir /tmp/mtiny --devices cuda:0*2 --tp 2 \
      --backends p2p --prompt-len 32 --decode 64 --graphs
  done
  for f in "$out"/repeat*.txt; do echo "== $f"; grep -v INFO "$f" | grep -v "^WARNING" | grep graphs; done
fi
if [ "$part" = queues ]; then
  # the shared-GPU deadlock P2pAllReduceTest.ranksMayEnqueueFromTheirOwnThreadsInAnyOrder hit 1 run in 4 (4 ranks
  # on one GPU, each enqueueing from its own thread; with one hardware queue it deadlocks every time): since
  # io.cohort.cuda.QueuePlacement each rank stream gets a queue of its own, so it should pass at 32 queues and at
  # 8 (its 8-rank tests need all 8)
  for q in ${QUEUE_COUNTS:-32 8}; do
    for i in $(seq 1 "${QUEUE_RUNS:-3}"); do
      CUDA_DEVICE_MAX_CONNECTIONS=$q step 60 "queues$q-$i.log" bash .device/junit --include-classname '.*(P2pAllReduceTest|QueuePlacementTest)'
    done
  done
  for f in "$out"/queues*.log; do
    echo "== $f: $(sed 's/\x1b\[[0-9;]*m//g' "$f" | grep -E "tests (successful|failed)" | tr -s ' ' | tr '\n' ' ')"
    sed 's/\x1b\[[0-9;]*m//g' "$f" | grep -E -A2 "FAILED|WARN" | head -6
  done
fi
if [ "$part" = poller ]; then
  # issue 13: the completion poller's linger and grace (cohort.idle.poller), A/B in one call: the raw round trip
  # below the API (HostPathBench), then the API round trip with the defaults, with grace 0, and with both 0 (the
  # poller parks after every collective and each call wakes it: the code before the linger), and with the
  # caller's old wait (spins 100, then 20 yields: cohort.idle.caller before 2026-12-03)
  step 90 hostpath.txt bash .device/java io.cohort.cuda.bench.HostPathBench "$out/hostpath-table.txt"
  for cfg in default grace0 off spin; do
    case $cfg in
      spin) o="-Dcohort.idle.caller.spins=100 -Dcohort.idle.caller.yields=20" ;;
      default) o="" ;;
      grace0) o="-Dcohort.idle.poller.grace=0" ;;
      off) o="-Dcohort.idle.poller.grace=0 -Dcohort.idle.poller.linger=0" ;;
    esac
    for d in cuda 'cuda:0*2'; do
      n=$( [ "$d" = cuda ] && echo cuda1 || echo cuda0x2 )
      b=$( [ "$d" = cuda ] && echo auto || echo p2p )
      JAVA_OPTS="$JAVA_OPTS $o" step 60 "poller-$cfg-$n.txt" bash .device/java io.cohort.cli.CohortCli bench --devices "$d" \
        --backends $b --collectives all-reduce -d f32 -b 8K -e 8K --warmup 10000 --warmup-time 5s --latency-calls 10000 \
        --latency-time 5s --csv "$out/poller-$cfg-$n.csv"
    done
  done
  grep -E "^2 +rt_" "$out/hostpath-table.txt"; grep -E "^1 +rt_" "$out/hostpath-table.txt"
  for f in "$out"/poller-*.txt; do echo "== $f"; grep -v INFO "$f" | grep -v "^WARNING" | tail -3; done
fi
if [ "$part" = nsys ]; then
  # issue 14: where a tp 2 decode step's time goes on one GPU, kernel by kernel inside the graphs (nsys, when the
  # machine has it): durations and the gaps before them, tp 1 beside tp 2
  nsys=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys /usr/local/cuda-13.0/bin/nsys 2>/dev/null | head -1)
  echo "nsys: ${nsys:-none}"
  if [ -n "$nsys" ]; then
    [ -d /tmp/mtiny ] || JAVA_OPTS=-Xmx1g step 90 make-tiny-tinyllama.txt bash .device/java io.cohort.cli.CohortCli model make-tiny --out /tmp/mtiny \
      --layers 22 --hidden 2048 --heads 32 --kv-heads 4 --intermediate 5632 --vocab 32000
    for tp in 1 2; do
      d=$( [ $tp = 1 ] && echo cuda || echo 'cuda:0*2' )
      step 150 "nsys-tp$tp.txt" "$nsys" profile -t cuda --cuda-graph-trace=node -o "/tmp/nsys-tp$tp" -f true \
        bash .device/java io.cohort.cli.CohortCli model bench --model-dir /tmp/mtiny --devices "$d" --tp $tp --backends auto \
        --prompt-len 32 --decode 128 --graphs --iters 1 --warmup 1
      step 120 "nsys-tp$tp-export.txt" "$nsys" export -t sqlite -o "/tmp/nsys-tp$tp.sqlite" -f true "/tmp/nsys-tp$tp.nsys-rep"
      step 60 "nsys-tp$tp-gaps.txt" python3 bench/tools/nsys-kernel-gaps.py "/tmp/nsys-tp$tp.sqlite" 0.25
      echo "== tp $tp"; head -30 "$out/nsys-tp$tp-gaps.txt"
    done
  fi
fi
if [ "$part" = launch ]; then
  # issue 13: what one launch costs the host (LaunchCostBench: one stream, two, programmatic, 2 and 4 threads in one
  # context), the raw 2-rank round trip with ranks enqueued in parallel (HostPathBench rt_par_flags), the one-shot
  # kernel's device time, then the API round trips under JFR (where the caller's time goes)
  step 90 launch-cost.txt bash .device/java io.cohort.cuda.bench.LaunchCostBench "$out/launch-cost-table.txt"
  step 120 hostpath.txt bash .device/java io.cohort.cuda.bench.HostPathBench "$out/hostpath-table.txt"
  step 100 p2p-kernels.txt bash .device/java io.cohort.cuda.bench.P2pKernelBench "$out/p2p-kernels-table.txt"
  for d in cuda 'cuda:0*2'; do
    n=$( [ "$d" = cuda ] && echo cuda1 || echo cuda0x2 )
    b=$( [ "$d" = cuda ] && echo auto || echo p2p )
    step 60 "rt-$n.txt" bash .device/java io.cohort.cli.CohortCli bench --devices "$d" --backends $b --collectives all-reduce \
      -d f32 -b 8K -e 8K --warmup 10000 --warmup-time 5s --latency-calls 10000 --latency-time 5s --csv "$out/rt-$n.csv"
    JAVA_OPTS="$JAVA_OPTS -XX:StartFlightRecording=filename=$out/rt-$n.jfr,settings=profile" step 60 "rt-$n-jfr.txt" \
      bash .device/java io.cohort.cli.CohortCli bench --devices "$d" --backends $b --collectives all-reduce \
      -d f32 -b 8K -e 8K --warmup 10000 --warmup-time 5s --latency-calls 20000 --latency-time 10s
  done
  for f in "$out"/launch-cost-table.txt "$out"/hostpath-table.txt "$out"/p2p-kernels-table.txt "$out"/rt-*.txt; do
    echo "== $f"; grep -v INFO "$f" | grep -v "^WARNING" | head -40 | tail -30; done
fi
if [ "$part" = words ]; then
  # issue 13: the sequencer's completion events with a host word their stream sets (cohort.cuda.completion-words,
  # on since 2026-12-03) against plain events, A/B twice, 1 GPU and cuda:0*2; then their tests
  step 60 words-tests.log bash .device/junit --include-classname '.*(CudaDeviceTest|CudaBackendGpuTest|GpuSelftestTest|P2pAllReduceTest)'
  sed 's/\x1b\[[0-9;]*m//g' "$out/words-tests.log" | grep -E "tests (successful|failed|aborted)|✘" | head -20
  for i in 1 2; do
    for w in on off; do
      for d in cuda 'cuda:0*2'; do
        n=$( [ "$d" = cuda ] && echo cuda1 || echo cuda0x2 )
        b=$( [ "$d" = cuda ] && echo auto || echo p2p )
        JAVA_OPTS="$JAVA_OPTS -Dcohort.cuda.completion-words=$w" step 60 "words$i-$w-$n.txt" bash .device/java io.cohort.cli.CohortCli bench \
          --devices "$d" --backends $b --collectives all-reduce -d f32 -b 8K -e 8K --warmup 10000 --warmup-time 5s \
          --latency-calls 10000 --latency-time 5s --csv "$out/words$i-$w-$n.csv"
      done
    done
  done
  for f in "$out"/words*.txt; do echo "== $f"; grep -v INFO "$f" | grep -v "^WARNING" | grep -E "^ +8192|rror" | head -3; done
fi
if [ "$part" = lanes ]; then
  # issue 13: the ranks of one all-reduce enqueued in parallel (cohort.cuda.p2p.launch-lanes, auto since
  # 2026-12-03: on with 3 cores per rank): the P2P and API tests with lanes on everywhere (8 ranks too), the
  # one-shot kernel's device time, then the API round trip with lanes auto and off, cuda:0*2 and cuda:0*4, twice
  JAVA_OPTS="$JAVA_OPTS -Dcohort.cuda.p2p.launch-lanes=on" step 120 lanes-tests.log bash .device/junit \
    --include-classname '.*(CudaDeviceTest|CudaBackendGpuTest|GpuSelftestTest|P2pAllReduceTest|P2pOtherCollectivesTest|P2pSoakTest)'
  sed 's/\x1b\[[0-9;]*m//g' "$out/lanes-tests.log" | grep -E "tests (successful|failed|aborted)|✘" | head -20
  step 100 p2p-kernels.txt bash .device/java io.cohort.cuda.bench.P2pKernelBench "$out/p2p-kernels-table.txt"
  for i in 1 2; do
    for l in auto off; do
      for d in 'cuda:0*2' 'cuda:0*4'; do
        n=$( [ "$d" = 'cuda:0*2' ] && echo cuda0x2 || echo cuda0x4 )
        JAVA_OPTS="$JAVA_OPTS -Dcohort.cuda.p2p.launch-lanes=$l" step 60 "lanes$i-$l-$n.txt" bash .device/java io.cohort.cli.CohortCli bench \
          --devices "$d" --backends p2p --collectives all-reduce -d f32 -b 8K -e 8K --warmup 10000 --warmup-time 5s \
          --latency-calls 10000 --latency-time 5s --csv "$out/lanes$i-$l-$n.csv"
      done
    done
  done
  step 60 lanes-cuda1.txt bash .device/java io.cohort.cli.CohortCli bench --devices cuda --collectives all-reduce -d f32 -b 8K -e 8K \
    --warmup 10000 --warmup-time 5s --latency-calls 10000 --latency-time 5s --csv "$out/lanes-cuda1.csv"
  head -8 "$out/p2p-kernels-table.txt"
  for f in "$out"/lanes*.txt; do echo "== $f"; grep -v INFO "$f" | grep -v "^WARNING" | grep -E "^ +8192|rror" | head -3; done
fi
if [ "$part" = rt13 ]; then
  # issue 13's round trips on the landed code, repeated for the run-to-run spread: cuda:0*2 four times, cuda:0*4
  # and 1 GPU twice, with the one-shot kernel's device time (P2pKernelBench) and the raw path (HostPathBench)
  step 100 p2p-kernels.txt bash .device/java io.cohort.cuda.bench.P2pKernelBench "$out/p2p-kernels-table.txt"
  step 100 hostpath.txt bash .device/java io.cohort.cuda.bench.HostPathBench "$out/hostpath-table.txt"
  for d in 'cuda:0*2' 'cuda:0*2' 'cuda:0*4' cuda 'cuda:0*2' 'cuda:0*2' 'cuda:0*4' cuda; do
    i=$(( ${i:-0} + 1 ))
    n=$(echo "$d" | tr -d ':*'); b=$( [ "$d" = cuda ] && echo auto || echo p2p )
    step 60 "rt13-$i-$n.txt" bash .device/java io.cohort.cli.CohortCli bench --devices "$d" --backends $b --collectives all-reduce \
      -d f32 -b 8K -e 8K --warmup 10000 --warmup-time 5s --latency-calls 10000 --latency-time 5s --csv "$out/rt13-$i-$n.csv"
  done
  head -8 "$out/p2p-kernels-table.txt"; grep -E "^[24] +(enq|rt)" "$out/hostpath-table.txt"
  for f in "$out"/rt13-*.csv; do echo "$f $(tail -1 "$f" | cut -d, -f8,18-21)"; done
fi
if [ "$part" = kdone ]; then
  # issue 13: an all-reduce through the API says it is done from its kernel (cohort.cuda.p2p.kernel-completion,
  # on since 2026-12-03) instead of an event record and a stream write per rank: its tests and the P2P ones, then
  # the API round trip on and off, alternating, cuda:0*2 three times and cuda:0*4 twice, with the kernel's time
  step 150 kdone-tests.log bash .device/junit \
    --include-classname '.*(P2pKernelCompletionTest|CudaDeviceTest|CudaBackendGpuTest|GpuSelftestTest|P2pAllReduceTest|P2pSoakTest)'
  sed 's/\x1b\[[0-9;]*m//g' "$out/kdone-tests.log" | grep -E "tests (successful|failed|aborted)|✘" | head -20
  step 100 p2p-kernels.txt bash .device/java io.cohort.cuda.bench.P2pKernelBench "$out/p2p-kernels-table.txt"
  for i in 1 2 3; do
    for k in on off; do
      for d in 'cuda:0*2' 'cuda:0*4'; do
        [ "$i" = 3 ] && [ "$d" = 'cuda:0*4' ] && continue
        n=$(echo "$d" | tr -d ':*')
        JAVA_OPTS="$JAVA_OPTS -Dcohort.cuda.p2p.kernel-completion=$k" step 60 "kdone$i-$k-$n.txt" bash .device/java \
          io.cohort.cli.CohortCli bench --devices "$d" --backends p2p --collectives all-reduce -d f32 -b 8K -e 8K \
          --warmup 10000 --warmup-time 5s --latency-calls 10000 --latency-time 5s --csv "$out/kdone$i-$k-$n.csv"
      done
    done
  done
  head -8 "$out/p2p-kernels-table.txt"
  for f in "$out"/kdone*.csv; do echo "$f $(tail -1 "$f" | cut -d, -f8,18-21)"; done
fi
if [ "$part" = ops ]; then
  # issue 18's kernel bench with the copy bandwidth at each op's weight size (%copy@w), the GEMMs of 4-16 rows
  # as landed (tensor-core skinny GEMM where TcGemv.takes), then with it off (cohort.nn.tcGemv=false)
  step 240 decode-ops.txt bash .device/java io.cohort.cuda.bench.DecodeOpsBench "$out/decode-ops-table.txt"
  JAVA_OPTS="$JAVA_OPTS -Dcohort.nn.tcGemv=false" step 240 decode-ops-notc.txt bash .device/java \
    io.cohort.cuda.bench.DecodeOpsBench "$out/decode-ops-notc-table.txt"
  for f in "$out"/decode-ops-table.txt "$out"/decode-ops-notc-table.txt; do
    echo "== $f"; grep -E "^#|^shape| (qkv|o_proj|gate_up|down|lm_head)(_cublas)? " "$f" | head -100; done
fi
if [ "$part" = tcorder ]; then
  # issue 18: the tensor-core skinny GEMM's GPU tests, every variant (GemvSweepBench, weights rotated), then the
  # kernel bench (run 2026-12-03 on a k order per warp that was slower and taken out: bench/results/h200-2026-12-03-s19)
  step 90 tc-tests.log bash .device/junit --include-classname '.*(CudaTcGemvTest|GemmChoicesDispatchTest|CudaTensorOpsTest)'
  sed 's/\x1b\[[0-9;]*m//g' "$out/tc-tests.log" | grep -E "tests (successful|failed|aborted)|✘" | head -20
  step 240 gemv-sweep.txt bash .device/java io.cohort.cuda.bench.GemvSweepBench "$out/gemv-sweep-table.txt"
  step 120 decode-ops.txt bash .device/java io.cohort.cuda.bench.DecodeOpsBench "$out/decode-ops-table.txt"
  grep -E " (tc_v1|gemv|cublas) " "$out/gemv-sweep-table.txt" | grep -E " (1|4|16) (tc_v1|gemv|cublas) " | head -60
  grep -E "^llama3-8b|^tinyllama" "$out/decode-ops-table.txt" | grep -E " (qkv|o_proj|gate_up|down)(_cublas)? "
fi
tar czf "${OUT:-/tmp}/batch.tgz" -C "$out" .
