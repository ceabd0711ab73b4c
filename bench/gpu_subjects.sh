#!/usr/bin/env bash
# Device check of several subjects on the real engines (random weights): each subject its own
# MatAnyone pass with its own CUDA graphs (core/subject_tracks.py). Runs the CUDA tests and the
# subject-tracking tests, then the same clip three ways through `app.py process --engine sam2`:
# one subject; two subjects; two subjects with a removal correction of one and a fresh mask for the
# other later on. Results (report.json of each, tests.txt) under $OUT. Needs .gpu_site (see gpu_run.sh).
#   device:  bash bench/gpu_subjects.sh
#   dry run: OUT=/tmp/gs SIZE=256x192 FRAMES=20 PY=.venv/bin/python bash bench/gpu_subjects.sh
set -u
OUT=${OUT:-/tmp/gpu_subjects}
PY=${PY:-python3}
SIZE=${SIZE:-1280x720}
FRAMES=${FRAMES:-240}
mkdir -p "$OUT"
if ! "$PY" -c "import av" 2>/dev/null && ls .gpu_site/wheels/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu_site/wheels/*.whl
fi
export PYTHONPATH="$PWD:$PWD/.gpu_site/py:/tmp/site:${PYTHONPATH:-}"
export BGFX_WEIGHTS=random HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 BGFX_WORK_DIR=/tmp/bgfx-work BGFX_SAM2_MODEL=sam2.1-tiny
timeout 200 "$PY" -m pytest -q -rs -p no:cacheprovider tests/test_cuda_graphs.py tests/test_subject_tracks.py \
  > "$OUT/tests.txt" 2>&1
"$PY" -m bench.gpu_engines clip --frames "$FRAMES" --sizes "$SIZE" --work /tmp/gs-clip --json /tmp/gs-clip.json >/dev/null
P=$("$PY" -c "import json; print(json.load(open('/tmp/gs-clip.json'))['point'])")
W=${SIZE%x*}; H=${SIZE#*x}; Q="$((W / 6)),$((H / 5))"  # a second subject: whatever is there
A=$((FRAMES / 3)); B=$((2 * FRAMES / 3))
run() {  # name, extra arguments
  timeout 200 "$PY" app.py process /tmp/gs-clip/clip.mp4 --out "/tmp/gs-$1" --point "$P" "${@:2}" --engine sam2 \
    --quality fast --formats composite.mp4,alpha.mp4 --background color:#00ff00 --no-audio --quiet \
    >> "$OUT/cli.log" 2>&1 || echo "$1 exit $?" >> "$OUT/cli.log"
  [ -f "/tmp/gs-$1/report.json" ] && cp "/tmp/gs-$1/report.json" "$OUT/$1.json"
}
run one
run two --point "$Q@2"
run corrected --point "$Q@2" --correct "$A:-$Q@2" --correct "$B:$P"
ls -la "$OUT"
