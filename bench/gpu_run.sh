#!/usr/bin/env bash
# The one device call for the real engines (see bench/RESULTS.md, "Real engines"): per-stage timings
# of SAM2 + MatAnyone with random weights, then whole `app.py process --engine sam2` jobs, all on the
# GPU with the autocast type of core/device_manager.py. Nothing is downloaded: the pure-Python
# packages the device image lacks travel in .gpu_site/py, PyAV as a wheel in .gpu_site/wheels.
# Make .gpu_site once here (it is git-ignored through .git/info/exclude):
#   S=.venv/lib/python3.11/site-packages; mkdir -p .gpu_site/py .gpu_site/wheels
#   for p in sam2 matanyone2 hugging_face hydra omegaconf antlr4 iopath easydict; do cp -r $S/$p .gpu_site/py/; done
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 -d .gpu_site/wheels av==18.1.0
#   device:  bash bench/gpu_run.sh            (results under $OUT; carry .gpu_site)
#   dry run: OUT=/tmp/gpu_dry SIZES=192x128 FRAMES=8 E2E_SIZES=192x128 PY=.venv/bin/python bash bench/gpu_run.sh
set -u
OUT=${OUT:-/tmp/gpu_out}
PY=${PY:-python3}
SIZES=${SIZES:-1280x720,1920x1080}
E2E_SIZES=${E2E_SIZES:-1920x1080 1280x720}
FRAMES=${FRAMES:-40}
E2E_FRAMES=${E2E_FRAMES:-120}
mkdir -p "$OUT"
if ! "$PY" -c "import av" 2>/dev/null && ls .gpu_site/wheels/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu_site/wheels/*.whl
fi
export PYTHONPATH="$PWD:$PWD/.gpu_site/py:/tmp/site:${PYTHONPATH:-}"
export BGFX_WEIGHTS=random HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 BGFX_WORK_DIR=/tmp/bgfx-work
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1; "$PY" -c "import torch; print(torch.__version__)"; } > "$OUT/gpu.txt"
timeout 170 "$PY" -m bench.real_engines gpu --frames "$FRAMES" --sizes "$SIZES" --json "$OUT/stages.json" \
  > "$OUT/stages.log" 2>&1 || echo "stages exit $?" >> "$OUT/stages.log"
for size in $E2E_SIZES; do
  w=${size%x*}; h=${size#*x}
  "$PY" - "$w" "$h" "$E2E_FRAMES" <<'PYEOF' >> "$OUT/e2e.log" 2>&1
import sys, json
from bench.synthetic import make_clip, write_clip
clip = make_clip("static", int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), seed=7)
path = write_clip(clip, f"/tmp/e2e-{sys.argv[1]}")
open(f"/tmp/e2e-{sys.argv[1]}/point", "w").write("%d,%d" % clip.point)
PYEOF
  for q in fast balanced; do
    timeout 100 env BGFX_SAM2_MODEL=sam2.1-tiny "$PY" app.py process "/tmp/e2e-$w/clip.mp4" --out "/tmp/e2e-$w-$q" \
      --point "$(cat /tmp/e2e-$w/point)" --engine sam2 --quality $q --formats composite.mp4 \
      --background color:#00ff00 --no-audio --quiet >> "$OUT/e2e.log" 2>&1 || echo "e2e $size $q exit $?" >> "$OUT/e2e.log"
    [ -f "/tmp/e2e-$w-$q/report.json" ] && cp "/tmp/e2e-$w-$q/report.json" "$OUT/e2e_${w}_${q}.json"
  done
done
ls -la "$OUT"
