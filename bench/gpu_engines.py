"""The real engines on a CUDA device (random weights): per-stage timings and whole jobs.

    python -m bench.gpu_engines stages [--frames 40] [--sizes 1280x720,1920x1080]
    python -m bench.gpu_engines jobs [--frames 240] [--sizes 1920x1080,1280x720]
    python -m bench.gpu_engines clip --frames 1800 --sizes 1920x1080 --work DIR   # DIR/clip.mp4

``stages``: SAM2 encode + click, and the MatAnyone step (frame upload, ``InferenceCore.step``,
alpha back at full size) with its network calls eager and replayed as CUDA graphs
(models/cuda_graphs.py), side by side on the same frames; the largest alpha difference between
the two says the graphs compute what the eager calls compute.

``jobs``: whole ``run_job`` calls in this process, as the studio makes them (models loaded once):
the first job of the process (cuDNN and cuBLAS set up, graphs captured) and later ones, with the
graphs on and off. Each reports the job's own report.json figures. The clip is a textured picture
panning under a moving square, encoded with libx264 (the content is irrelevant to the speed of a
random-weights network; its bitrate is that of an ordinary clip).

The one device call is bench/gpu_run.sh; the figures go to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def sizes(text: str) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in size.split("x")) for size in text.split(",")]  # type: ignore[misc]


class RollingClip:
    """A smooth textured picture panning, a square moving over it: frame ``i`` made on demand."""

    def __init__(self, width: int, height: int, seed: int = 0) -> None:
        import cv2

        rng = np.random.default_rng(seed)
        small = (rng.random((height // 8, width // 8, 3)) * 255).astype(np.uint8)
        self.base = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
        self.width, self.height, self.side = width, height, height // 3

    def frame(self, i: int) -> np.ndarray:
        frame = np.roll(self.base, 3 * i, axis=1)
        x, y = self.width // 3 + (2 * i) % (self.width // 3), self.height // 3
        frame[y:y + self.side, x:x + self.side] = (200, 90 + i % 100, 60)
        return frame

    def first_mask(self) -> np.ndarray:
        mask = np.zeros((self.height, self.width), bool)
        mask[self.height // 3:self.height // 3 + self.side, self.width // 3:self.width // 3 + self.side] = True
        return mask


def rolling_frames(width: int, height: int, count: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """``count`` frames of a ``RollingClip`` in memory, and the subject's mask on the first."""
    clip = RollingClip(width, height, seed)
    return [clip.frame(i) for i in range(count)], clip.first_mask()


def write_rolling_clip(path: Path, width: int, height: int, count: int) -> tuple[int, int]:
    """A ``RollingClip`` as H.264 at 30 fps, one frame in memory at a time; a point on the subject."""
    import av

    clip = RollingClip(width, height)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        for i in range(count):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(clip.frame(i), format="rgb24")))
        container.mux(stream.encode())
    ys, xs = np.nonzero(clip.first_mask())
    return int(xs.mean()), int(ys.mean())


def stages(args: argparse.Namespace) -> dict:
    """Per-stage timings at each size, MatAnyone eager and graphed on the same frames."""
    import torch

    from app_config import Settings
    from core.device_manager import autocast_dtype, pick_device
    from models.base import ObjectPrompt
    from models.model_loader import load_real_engine

    device = pick_device("auto")
    out: dict = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
                 "dtype": str(autocast_dtype(device)), "torch": torch.__version__, "runs": []}

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for quality in args.qualities.split(","):
        for width, height in sizes(args.sizes):
            frames, mask = rolling_frames(width, height, args.frames)
            run: dict = {"quality": quality, "size": f"{width}x{height}"}
            alphas: dict[bool, list[np.ndarray]] = {}
            for graphs in (False, True):
                settings = Settings(weights="random", quality=quality, sam2_model="sam2.1-tiny", cuda_graphs=graphs)
                segmenter, new_matter, description = load_real_engine(settings)
                run["engine"] = description
                if not graphs:
                    sync()
                    t0 = time.perf_counter()
                    segmenter.set_image(frames[0])
                    segmenter.segment(ObjectPrompt(points=[(width / 2, height / 2)], labels=[1]))
                    sync()
                    run["sam2_encode_and_click_s"] = round(time.perf_counter() - t0, 4)
                matter = new_matter()
                sync()
                t0 = time.perf_counter()
                first = matter.start(frames[0], mask)
                sync()
                start_s = time.perf_counter() - t0
                seen = [first] + [matter.step(frame) for frame in frames[1:8]]  # graphs captured here
                sync()
                t0 = time.perf_counter()
                seen += [matter.step(frame) for frame in frames[8:]]
                sync()
                step_s = (time.perf_counter() - t0) / (len(frames) - 8)
                tag = "graphs" if graphs else "eager"
                run[f"{tag}_start_s"] = round(start_s, 3)
                run[f"{tag}_step_ms"] = round(step_s * 1000, 2)
                run[f"{tag}_fps"] = round(1 / step_s, 1)
                if graphs:
                    run["graph_stats"] = matter.graph_stats()
                alphas[graphs] = seen
                matter.close()
            run["max_abs_alpha_diff_graphs_vs_eager"] = float(max(
                np.abs(a - b).max() for a, b in zip(alphas[False], alphas[True], strict=True)))
            run["alpha_std"] = round(float(np.std(alphas[True][-1])), 4)
            if device.type == "cuda":
                run["gpu_peak_mib"] = round(torch.cuda.max_memory_allocated() / 2**20)
                torch.cuda.reset_peak_memory_stats()
            logger.info("%s", run)
            out["runs"].append(run)
    worst = max(run["max_abs_alpha_diff_graphs_vs_eager"] for run in out["runs"])
    if worst > 1e-3:  # the graphs must compute what the eager calls compute
        raise SystemExit(f"CUDA graphs changed the alphas by up to {worst}: see the runs above")
    return out


def jobs(args: argparse.Namespace) -> dict:
    """Whole jobs in one process, as the studio runs them; the first one pays the set-up."""
    import cv2

    from app_config import Settings
    from core.job import JobRequest
    from core.video_processor import run_job
    from models.base import ObjectPrompt

    work = Path(args.work or "/tmp/bgfx-gpu-jobs")
    out: dict = {"jobs": []}
    for width, height in sizes(args.sizes):
        clip = work / f"{width}x{height}" / "clip.mp4"
        t0 = time.perf_counter()
        point = write_rolling_clip(clip, width, height, args.frames)
        logger.info("clip %s written in %.1f s", clip, time.perf_counter() - t0)
        qualities = args.qualities.split(",")
        # graphs on, off, on again (the first job of the process pays cuDNN's set-up), on with
        # OpenCV held to one thread (as jobs on two cores run it), then the other presets
        configs = [(qualities[0], True, False), (qualities[0], False, False), (qualities[0], True, False),
                   (qualities[0], True, True)]
        configs += [(q, g, False) for q in qualities[1:] for g in (True, False)]
        for quality, graphs, opencv_single in configs:
            settings = Settings(weights="random", quality=quality, sam2_model="sam2.1-tiny", cuda_graphs=graphs,
                                work_dir=work / "scratch")
            request = JobRequest(input_path=clip, out_dir=work / f"out-{width}-{quality}-{graphs}-{len(out['jobs'])}",
                                 prompts={0: [ObjectPrompt(points=[point], labels=[1])]},
                                 background="color:#00ff00", engine="sam2", quality=quality,
                                 formats=("composite.mp4",), keep_audio=False)
            opencv_threads = cv2.getNumThreads()
            cv2.setNumThreads(1 if opencv_single else opencv_threads)
            t0 = time.perf_counter()
            try:
                report = run_job(request, settings=settings).report
            finally:
                wall = time.perf_counter() - t0
                cv2.setNumThreads(opencv_threads)
            seconds = report["seconds"]
            frames = report["frames"]
            row = {"size": f"{width}x{height}", "quality": quality, "cuda_graphs": graphs, "frames": frames,
                   "opencv_threads": 1 if opencv_single else opencv_threads,
                   "nth_job_of_process": len(out["jobs"]) + 1, "wall_s": round(wall, 2),
                   "fps_whole_job": round(frames / wall, 1),
                   "fps_without_model_load": round(frames / max(wall - seconds.get("load", 0.0), 1e-6), 1),
                   "seconds": seconds, "peak_rss_mb": report["peak_rss_mb"]}
            logger.info("%s", row)
            out["jobs"].append(row)
    return out


def clip(args: argparse.Namespace) -> dict:
    """Only write the clip of the first size (for the CLI runs of bench/gpu_run.sh)."""
    width, height = sizes(args.sizes)[0]
    path = Path(args.work or "/tmp/bgfx-gpu-clip") / "clip.mp4"
    point = write_rolling_clip(path, width, height, args.frames)
    return {"clip": str(path), "point": f"{point[0]},{point[1]}", "frames": args.frames}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("stages", "jobs", "clip"))
    parser.add_argument("--frames", type=int, default=None, help="frames per run (stages 40, jobs 240)")
    parser.add_argument("--sizes", default="1920x1080,1280x720")
    parser.add_argument("--qualities", default="fast,balanced", help="the first one is run three times in jobs")
    parser.add_argument("--work", default=None)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    args.frames = args.frames or (40 if args.mode == "stages" else 240)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("BGFX_WEIGHTS", "random")
    results = {"stages": stages, "jobs": jobs, "clip": clip}[args.mode](args)
    text = json.dumps(results, indent=1, default=str)
    print(text)
    if args.json:
        Path(args.json).write_text(text)


if __name__ == "__main__":
    main()
