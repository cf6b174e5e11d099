#!/usr/bin/env bash
# The CUDA check (issue 14), in one go on a machine with a GPU:
#
#   OUT=gpu_check_out bash docs/benchmarks/scale/gpu_check.sh
#
# 1. `pytest -m gpu` (tests/test_gpu.py: fits on CUDA against closed forms, known growth and the CPU fit);
# 2. the default fit of the bundled Embryoid Body data on CUDA (seconds, peak GPU memory, the automatic choices);
# 3. `scam benchmark scale --device cuda` (10k / 100k / 1M cells x 50 dims, each in its own process);
# 4. the quick LOT benchmark on EB on CUDA (scam and the exact-OT interpolation).
#
# Each step has its own time limit, so one that hangs or fails leaves the others their time; everything it prints
# goes to $OUT/log.txt, one line per step to $OUT/summary.txt. scam runs from this source tree (PYTHONPATH);
# Python packages missing on that machine can be given as wheels in .whl/ (installed into /tmp/site).
set -uo pipefail
cd "$(dirname "$0")/../../.."
OUT=${OUT:-gpu_check_out}
source docs/benchmarks/scale/_device_env.sh
py=python3

step() {  # step NAME SECONDS COMMAND...: run it with a limit, log its output and its time
  local name=$1 limit=$2 t0=$SECONDS rc
  shift 2
  echo "===== $name: $*" >> "$OUT/log.txt"
  timeout "$limit" "$@" >> "$OUT/log.txt" 2>&1
  rc=$?
  echo "$name rc=$rc $((SECONDS - t0))s" | tee -a "$OUT/summary.txt"
}

step env 60 bash -c "nvidia-smi; $py -c 'import torch, scam; print(torch.__version__, torch.cuda.get_device_name(), scam.__version__)'"
step pytest_gpu 120 $py -m pytest -m gpu tests/test_gpu.py -v -rs
step eb_fit 90 $py - "$OUT/eb_fit.json" << 'PY'
import json, sys, time

import torch

import scam

adata = scam.datasets.embryoid_body()
rows = []
for run in range(2):  # the first run pays CUDA's start-up (context, kernels); the second is the steady cost
    a = adata.copy()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    scam.tl.fit(a, "day", device="cuda", progress_bar=False)
    torch.cuda.synchronize()
    p = a.uns["scam"]["params"]
    rows.append({
        "run": run, "seconds": time.perf_counter() - t0, "device": p["device"],
        "gpu_peak_memory_gb": torch.cuda.max_memory_allocated() / 2**30,
        "spline_curvature": p.get("spline_curvature"), "sigma": p.get("sigma"),
        "mean_growth": float(a.obs["scam_growth"].mean()),
    })
    print(rows[-1])
json.dump({"torch": torch.__version__, "gpu": torch.cuda.get_device_name(), "fits": rows}, open(sys.argv[1], "w"),
          indent=2, default=str)
PY
step scale 200 $py -m scam.cli benchmark scale --device cuda --out "$OUT/scale"
step lot_quick 120 $py -m scam.cli benchmark --data eb --quick --device cuda --jobs 2 --threads 4 \
  --methods scam ot_midpoint --out /tmp/lot_quick
cp /tmp/lot_quick/*.md "$OUT/" 2> /dev/null
ls -R "$OUT" >> "$OUT/log.txt"
