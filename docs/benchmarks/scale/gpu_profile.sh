#!/usr/bin/env bash
# Where a CUDA fit spends its time (issue 14): cProfile of the 100k-cell scale fit and of the default EB fit on CUDA,
# then the 1M-cell scale fit alone. Run after gpu_check.sh, on the same kind of machine:
#
#   OUT=gpu_profile_out bash docs/benchmarks/scale/gpu_profile.sh
set -uo pipefail
cd "$(dirname "$0")/../../.."
OUT=${OUT:-gpu_profile_out}
source docs/benchmarks/scale/_device_env.sh
top() { python3 -c "import pstats, sys; s = pstats.Stats(sys.argv[1]); s.sort_stats('cumulative').print_stats(35); s.sort_stats('tottime').print_stats(25)" "$1"; }
t0=$SECONDS
timeout 110 python3 -m cProfile -o /tmp/p100k.prof -m scam.benchmark.scale --n-cells 100000 --device cuda > "$OUT/log.txt" 2>&1
echo "scale 100k (profiled) rc=$? $((SECONDS - t0))s" | tee -a "$OUT/summary.txt"
top /tmp/p100k.prof > "$OUT/profile_100k.txt" 2>&1
t0=$SECONDS
timeout 80 python3 -c "import cProfile, scam; a = scam.datasets.embryoid_body()
cProfile.run(\"scam.tl.fit(a, 'day', device='cuda', progress_bar=False)\", '/tmp/peb.prof')" >> "$OUT/log.txt" 2>&1
echo "EB fit (profiled) rc=$? $((SECONDS - t0))s" | tee -a "$OUT/summary.txt"
top /tmp/peb.prof > "$OUT/profile_eb.txt" 2>&1
t0=$SECONDS
timeout 120 python3 -m scam.benchmark.scale --n-cells 1000000 --device cuda >> "$OUT/log.txt" 2>&1
echo "scale 1M rc=$? $((SECONDS - t0))s" | tee -a "$OUT/summary.txt"
