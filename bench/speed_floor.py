"""The speed target's floor: how fast the pipeline is with a matter that costs nothing.

    .venv/bin/python -m bench.speed_floor [--kind static] [--frames 240] [--repeat 2]

Why: on a still camera (``bench.speed --kind static``) the pipeline stays far under half of the
reference. This says how much of that any matter could win back. The same job as ``bench.speed``
(composite.mp4, blur:25, ``--mask``) runs, each in a fresh process and alternately with the
reference, as:

- ``real``: the embedded matter as it is;
- ``free-step``: its per-frame step replaced by nothing (every frame gets the prompt frame's alpha),
  its look at the clip (the still camera's plate) kept;
- ``free-all``: the look at the clip skipped as well: decode, compose and encode only.

The ratios are not the target's figure (that is ``bench.speed``): they bound it from above.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.speed import PY, ROOT, baseline_fps, prepare

MODES = ("real", "free-step", "free-all")


def child(mode: str, clip: str, mask: str, out: str) -> None:
    """Run one job in this process with the matter cut down as ``mode`` says."""
    import app
    from models.embedded_matter import EmbeddedMatter

    if mode in ("free-step", "free-all"):
        start = EmbeddedMatter.start

        def start_and_keep(self, frame, prompt_mask):
            self.kept_alpha = start(self, frame, prompt_mask)
            return self.kept_alpha

        EmbeddedMatter.start = start_and_keep
        EmbeddedMatter.step = lambda self, frame: self.kept_alpha
    if mode == "free-all":
        EmbeddedMatter.prepare = lambda self, samples: None
    app.main(["process", clip, "--out", out, "--mask", mask, "--formats", "composite.mp4",
              "--background", "blur:25", "--engine", "embedded", "--quiet"])


def run_mode(mode: str, clip: Path, mask: Path, out: Path) -> float:
    """End-to-end fps of one job, in a fresh process (the wall time its report gives)."""
    code = "import sys; from bench.speed_floor import child; child(*sys.argv[1:])"
    subprocess.run([PY, "-c", code, mode, str(clip), str(mask), str(out)], cwd=ROOT, check=True,
                   capture_output=True, text=True)
    report = json.loads((out / "report.json").read_text())
    return report["frames"] / report["seconds"]["total"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--kind", default="static", choices=("pan", "static"))
    parser.add_argument("--repeat", type=int, default=2, help="rounds of reference and the three jobs, alternately")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bgfx-floor-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        clip, masks = prepare(args.kind, 1280, 720, args.frames, work, "clip")
        print(f"clip: {args.kind} 1280x720, {args.frames} frames (made in {time.perf_counter() - t0:.0f} s)")
        ratios: dict[str, list[float]] = {m: [] for m in MODES}
        for run in range(1, args.repeat + 1):
            ref = baseline_fps(clip, work)
            line = [f"round {run}: reference {ref:6.1f} fps"]
            for mode in MODES:
                fps = run_mode(mode, clip, masks[0], work / f"out-{mode}-{run}")
                ratios[mode].append(fps / ref)
                line.append(f"{mode} {fps:5.1f} fps ({fps / ref:.2f})")
            print("; ".join(line))
        for mode in MODES:
            print(f"{mode:9s} ratio, median: {statistics.median(ratios[mode]):.2f}")


if __name__ == "__main__":
    sys.exit(main())
