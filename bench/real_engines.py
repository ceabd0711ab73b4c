"""Speed and memory of the real engines (SAM2 + MatAnyone): our streaming pipeline vs MatAnyone's demo.

    .venv/bin/python -m bench.real_engines [--frames 150] [--width 1280 --height 720] [--quality fast]
    .venv/bin/python -m bench.real_engines gpu [--frames 40]          # per-stage fps on a CUDA device
    .venv/bin/python -m bench.real_engines gpu-jobs [--frames 240]    # whole jobs on a CUDA device
    .venv/bin/python -m bench.real_engines ours --frames 30           # our side alone (minutes, not 40)

The weights are random (``BGFX_WEIGHTS=random``): the architectures, and so the compute and the
memory, are the real ones, and nothing has to be downloaded. Both sides use the same networks, the
same clip, the same internal size (the quality preset's ``matanyone_max_size``) and warm-up.

- ours: ``app.py process --engine sam2`` in a fresh process: streaming decode -> SAM2 click ->
  MatAnyone frame by frame -> composite over green -> composite.mp4 + alpha.mp4.
- demo: MatAnyone's own loop as its demo runs it, in a fresh process: every frame decoded into a
  list first (cv2, as ``load_video_state``), SAM2 click, the package's ``matanyone2()`` wrapper over
  the whole list (keeping every foreground and alpha), then both videos written with imageio's
  libx264 writer (as ``generate_video_from_frames``).

Peak RSS is each child process's own (``os.wait4``), so the two runs do not see each other.
``gpu`` and ``gpu-jobs`` run bench/gpu_engines.py on a CUDA device (per-stage timings with
MatAnyone eager and as CUDA graphs; whole jobs as the studio runs them) at 1080p and 720p with the
autocast type of core/device_manager.py.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
GREEN = "#789b9b"  # any flat colour: both sides composite over one
DEMO_GREEN = np.array([120, 255, 155], dtype=np.float32) / 255  # the demo's own composite colour


def child_env() -> dict[str, str]:
    env = dict(os.environ, BGFX_WEIGHTS="random", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_measured(cmd: list[str], log: Path) -> tuple[int, float, float]:
    """Run ``cmd``; return (exit code, wall seconds, peak RSS MiB of that process alone)."""
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=child_env(), stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.perf_counter() - start, usage.ru_maxrss / 1024  # ru_maxrss is KiB


def make_clip(work: Path, frames: int, width: int, height: int) -> tuple[Path, tuple[int, int]]:
    from bench.synthetic import make_clip as synthetic_clip
    from bench.synthetic import write_clip

    clip = synthetic_clip("static", width, height, frames, seed=7)
    return write_clip(clip, work / "clip"), clip.point


# --- the demo side, run in its own process ------------------------------------------------
def demo_main(clip: Path, point: tuple[int, int], quality: str, out: Path) -> dict:
    """MatAnyone's demo path on ``clip`` (see the module docstring); returns its timings."""
    import cv2
    import imageio
    from hugging_face.matanyone2_wrapper import matanyone2 as demo_matting
    from matanyone2.inference.inference_core import InferenceCore
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    from app_config import PRESETS, Settings
    from core.device_manager import pick_device
    from models.matanyone_matter import matanyone_config
    from models.model_loader import get_network, spec_for

    preset = PRESETS[quality]
    settings = Settings(weights="random", quality=quality)
    device = pick_device("auto")
    t = {}
    t0 = time.perf_counter()
    sam_net = get_network(spec_for(preset.sam2_model, "segmenter"), settings, device)
    mat_net = get_network(spec_for(preset.matanyone_model, "matter"), settings, device)
    t["load"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    frames, cap = [], cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    t["decode"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    predictor = SAM2ImagePredictor(sam_net)
    predictor.set_image(frames[0])
    masks, scores, _ = predictor.predict(point_coords=np.array([point], np.float32), point_labels=np.array([1]),
                                         multimask_output=True)
    mask = masks[int(np.argmax(scores))] > 0.5
    mask[0, 0] = mask[0, 0] or not mask.any()  # the demo's ensure_non_empty_mask
    t["segment"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    processor = InferenceCore(mat_net, cfg=matanyone_config(preset.matanyone_max_size), device=device)
    foreground, alpha = demo_matting(processor, frames, mask.astype(np.uint8) * 255, r_erode=10, r_dilate=10,
                                     n_warmup=preset.matanyone_warmup)
    t["matte"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    for name, seq, gray in (("foreground.mp4", foreground, False), ("alpha.mp4", alpha, True)):
        writer = imageio.get_writer(str(out / name), fps=fps, quality=7, codec="libx264", macro_block_size=1)
        for frame in seq:
            writer.append_data(np.repeat(frame, 3, axis=2) if gray else frame)
        writer.close()
    t["encode"] = time.perf_counter() - t0
    return {"frames": len(frames), "seconds": {k: round(v, 3) for k, v in t.items()}}


# --- CPU comparison -------------------------------------------------------------------------
def run_ours(work: Path, clip: Path, point: tuple[int, int], quality: str) -> dict:
    """``app.py process --engine sam2`` on ``clip`` in a fresh process: its report and peak RSS."""
    ours_out = work / "ours"
    cmd = [sys.executable, "app.py", "process", str(clip), "--out", str(ours_out), "--point", f"{point[0]},{point[1]}",
           "--engine", "sam2", "--quality", quality, "--formats", "composite.mp4,alpha.mp4",
           "--background", f"color:{GREEN}", "--no-audio", "--quiet"]
    code, wall, rss = run_measured(cmd, work / "ours.log")
    if code != 0:
        raise SystemExit(f"ours failed ({code}): see {work / 'ours.log'}")
    report = json.loads((ours_out / "report.json").read_text())
    return {"frames": report["frames"], "seconds": report["seconds"], "wall_s": round(wall, 2),
            "peak_rss_mb": round(rss, 1)}


def ours_only(args: argparse.Namespace) -> dict:
    """Our side alone, for quick memory checks on a short clip: in our runs the peak RSS levelled
    off once the encoders were full (about 15 frames). Quote the full ``compare`` run, not this."""
    work = Path(args.work or tempfile.mkdtemp(prefix="bgfx-real-"))
    work.mkdir(parents=True, exist_ok=True)
    clip, point = make_clip(work, args.frames, args.width, args.height)
    return {"ours": run_ours(work, clip, point, args.quality),
            "setup": {"frames": args.frames, "size": f"{args.width}x{args.height}", "quality": args.quality}}


def compare(args: argparse.Namespace) -> dict:
    work = Path(args.work or tempfile.mkdtemp(prefix="bgfx-real-"))
    work.mkdir(parents=True, exist_ok=True)
    clip, point = make_clip(work, args.frames, args.width, args.height)
    results = {"ours": run_ours(work, clip, point, args.quality)}

    demo_out = work / "demo"
    demo_out.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "bench.real_engines", "demo-child", "--clip", str(clip), "--point",
           f"{point[0]},{point[1]}", "--quality", args.quality, "--work", str(demo_out)]
    code, wall, rss = run_measured(cmd, work / "demo.log")
    if code != 0:
        raise SystemExit(f"demo failed ({code}): see {work / 'demo.log'}")
    results["demo"] = json.loads((demo_out / "timings.json").read_text()) | {"wall_s": round(wall, 2),
                                                                           "peak_rss_mb": round(rss, 1)}
    for side in results.values():
        s = side["seconds"]
        side["fps_end_to_end"] = round(side["frames"] / (side["wall_s"] - s["load"]), 3)
        side["fps_matte"] = round(side["frames"] / s["matte"], 3)
    ours, demo = results["ours"], results["demo"]
    results["ratios"] = {
        "speed_end_to_end": round(ours["fps_end_to_end"] / demo["fps_end_to_end"], 3),
        "speed_matte": round(ours["fps_matte"] / demo["fps_matte"], 3),
        "peak_rss": round(ours["peak_rss_mb"] / demo["peak_rss_mb"], 3),
    }
    results["setup"] = {"frames": args.frames, "size": f"{args.width}x{args.height}", "quality": args.quality,
                        "threads": os.cpu_count(), "clip": str(clip)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", nargs="?", default="compare",
                        choices=("compare", "ours", "gpu", "gpu-jobs", "demo-child"))
    parser.add_argument("--frames", type=int, default=None, help="compare/ours 150, gpu 40, gpu-jobs 240")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--quality", default="fast")
    parser.add_argument("--work", default=None, help="folder for the clip and outputs (default: a temp dir)")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--sizes", default="1920x1080,1280x720", help="gpu modes: frame sizes WxH,WxH")
    parser.add_argument("--qualities", default="fast,balanced", help="gpu modes: presets")
    parser.add_argument("--clip", default=None)
    parser.add_argument("--point", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("BGFX_WEIGHTS", "random")
    if args.mode == "demo-child":
        x, y = (int(v) for v in args.point.split(","))
        result = demo_main(Path(args.clip), (x, y), args.quality, Path(args.work))
        (Path(args.work) / "timings.json").write_text(json.dumps(result))
        return
    from bench import gpu_engines

    args.frames = args.frames or {"gpu": 40, "gpu-jobs": 240}.get(args.mode, 150)
    modes = {"compare": compare, "ours": ours_only, "gpu": gpu_engines.stages, "gpu-jobs": gpu_engines.jobs}
    results = modes[args.mode](args)
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)


if __name__ == "__main__":
    main()
