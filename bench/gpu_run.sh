#!/usr/bin/env bash
# The one device call for the real engines (see bench/RESULTS.md, "Real engines"), random weights:
#   0. tests/test_cuda_graphs.py, whose CUDA tests are skipped on machines without a GPU (-> gpu.txt);
#   1. bench.real_engines gpu (bench/gpu_engines.py): SAM2 + MatAnyone per stage at 1080p and 720p, MatAnyone's network
#      calls eager and as CUDA graphs on the same frames (with their largest alpha difference);
#   2. bench.real_engines gpu-jobs: whole run_job calls in one process (models loaded once, as the studio);
#   3. `app.py process --engine sam2` in a fresh process (the CLI, model build included) on a
#      240-frame and an 1800-frame 1080p clip: speed, and peak RSS against the clip's length.
# Nothing is downloaded: the pure-Python packages the device image lacks travel in .gpu_site/py,
# PyAV as a wheel in .gpu_site/wheels. Make .gpu_site once here (git-ignored via .git/info/exclude):
#   S=.venv/lib/python3.11/site-packages; mkdir -p .gpu_site/py .gpu_site/wheels
#   for p in sam2 matanyone2 hugging_face hydra omegaconf antlr4 iopath easydict; do cp -r $S/$p .gpu_site/py/; done
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 -d .gpu_site/wheels av==18.1.0
#   device:  bash bench/gpu_run.sh            (results under $OUT; carry .gpu_site)
#   dry run: OUT=/tmp/gpu_dry SIZES=256x192 FRAMES=12 JOB_FRAMES=10 CLI_FRAMES="10 20" PY=.venv/bin/python \
#            bash bench/gpu_run.sh
set -u
OUT=${OUT:-/tmp/gpu_out}
PY=${PY:-python3}
SIZES=${SIZES:-1920x1080,1280x720}
FRAMES=${FRAMES:-40}
JOB_FRAMES=${JOB_FRAMES:-240}
CLI_FRAMES=${CLI_FRAMES:-240 1800}
mkdir -p "$OUT"
if ! "$PY" -c "import av" 2>/dev/null && ls .gpu_site/wheels/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu_site/wheels/*.whl
fi
export PYTHONPATH="$PWD:$PWD/.gpu_site/py:/tmp/site:${PYTHONPATH:-}"
export BGFX_WEIGHTS=random HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 BGFX_WORK_DIR=/tmp/bgfx-work
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1; nproc
  "$PY" -c "import torch; print(torch.__version__)"; } > "$OUT/gpu.txt"
timeout 150 "$PY" -m pytest -q -rs -p no:cacheprovider tests/test_cuda_graphs.py >> "$OUT/gpu.txt" 2>&1  # CUDA tests
timeout 150 "$PY" -m bench.real_engines gpu --frames "$FRAMES" --sizes "$SIZES" --json "$OUT/stages.json" \
  > "$OUT/stages.log" 2>&1 || echo "stages exit $?" >> "$OUT/stages.log"
timeout 200 "$PY" -m bench.real_engines gpu-jobs --frames "$JOB_FRAMES" --sizes "$SIZES" --work /tmp/bgfx-gpu-jobs \
  --json "$OUT/jobs.json" > "$OUT/jobs.log" 2>&1 || echo "jobs exit $?" >> "$OUT/jobs.log"
for n in $CLI_FRAMES; do  # the CLI in a fresh process, a clip and one 7.5 times as long (peak RSS)
  "$PY" -m bench.gpu_engines clip --frames "$n" --sizes "${SIZES%%,*}" --work "/tmp/clip-$n" --json "/tmp/clip-$n.json" >/dev/null 2>&1
  point=$("$PY" -c "import json; print(json.load(open('/tmp/clip-$n.json'))['point'])")
  timeout 150 env BGFX_SAM2_MODEL=sam2.1-tiny "$PY" app.py process "/tmp/clip-$n/clip.mp4" --out "/tmp/cli-$n" \
    --point "$point" --engine sam2 --quality fast --formats composite.mp4 --background color:#00ff00 --no-audio \
    --quiet >> "$OUT/cli.log" 2>&1 || echo "cli $n exit $?" >> "$OUT/cli.log"
  [ -f "/tmp/cli-$n/report.json" ] && cp "/tmp/cli-$n/report.json" "$OUT/cli_$n.json"
done
ls -la "$OUT"
