"""BackgroundFX Studio entry point.

    python app.py                       # the studio in the browser (port 7860)
    python app.py process IN --out DIR --point X,Y [--background blur:25] [...]

Both go through core.video_processor.run_job; this file only turns arguments into a JobRequest
and errors into one line: ``error E<code>: <what> — <hint>`` on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from app_config import DEFAULT_FORMATS, ENGINES, OUTPUT_FORMATS, QUALITIES, get_settings
from core.exceptions import (
    ArgumentError,
    FrameOutOfRangeError,
    StudioError,
)
from core.job import EdgeOptions, JobRequest, first_kept_frame
from core.prompts import read_mask_file
from models.base import NEGATIVE, POSITIVE, ObjectPrompt

logger = logging.getLogger("bgfx")

EXIT_USER_ERROR = 2
EXIT_INTERNAL = 3
EXIT_CANCELLED = 130


def _pair(text: str, what: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise ArgumentError(f"{what} {text!r} is not X,Y", f"write {what} as two numbers, e.g. 640,360") from None
    return x, y


def _with_object(text: str) -> tuple[str, int]:
    """``X,Y`` or ``X,Y@ID`` (ID = which subject, for several subjects)."""
    body, _, oid = text.partition("@")
    try:
        return body, int(oid) if oid else 1
    except ValueError:
        raise ArgumentError(f"subject id in {text!r} is not a number", "write X,Y@2 for subject 2") from None




def build_prompts(args: argparse.Namespace) -> dict[int, list[ObjectPrompt]]:
    """Clicks/box/mask of the command line -> prompts per frame and subject."""
    objects: dict[int, ObjectPrompt] = {}

    def obj(oid: int) -> ObjectPrompt:
        return objects.setdefault(oid, ObjectPrompt(object_id=oid))

    for label, spec in args.clicks:  # in the order typed: the segmenter takes them one at a time
        body, oid = _with_object(spec)
        obj(oid).points.append(_pair(body, "--point" if label else "--negative"))
        obj(oid).labels.append(label)
    if args.box:
        body, oid = _with_object(args.box)
        try:
            x0, y0, x1, y1 = (float(v) for v in body.split(","))
        except ValueError:
            raise ArgumentError(f"--box {args.box!r} is not X0,Y0,X1,Y1") from None
        obj(oid).box = (x0, y0, x1, y1)
    if args.mask:
        objects = {1: ObjectPrompt(object_id=1, mask=read_mask_file(args.mask))}
    frame = frame_number(str(args.frame), Path(args.input), "--frame")  # a number, or a time: 4.2s
    prompts = {frame: list(objects.values())} if objects else {}
    for spec in args.correct:
        frame_text, _, point = spec.partition(":")
        body, oid = _with_object(point)
        if not frame_text:
            raise ArgumentError(f"--correct {spec!r} is not FRAME:X,Y")
        frame = frame_number(frame_text, Path(args.input), "--correct")
        label = NEGATIVE if body.startswith("-") else POSITIVE
        target = next((o for o in prompts.setdefault(frame, []) if o.object_id == oid), None)
        if target is None:
            target = ObjectPrompt(object_id=oid)
            prompts[frame].append(target)
        target.points.append(_pair(body.lstrip("-"), "--correct"))
        target.labels.append(label)
    return prompts


def frame_number(text: str, path: Path, option: str) -> int:
    """A frame given as its number (``120``) or as the time it is on screen (``4.2s``)."""
    try:
        if not text.lower().endswith("s"):
            return int(text)
        seconds = float(text[:-1])
    except ValueError:
        raise ArgumentError(f"{option} {text!r} is neither a frame number nor a time such as 4.2s") from None
    from core.video_io import probe

    if seconds < 0:
        raise ArgumentError(f"{option} {text!r}: a time is not negative")
    info = probe(path)
    if seconds > info.duration_s:
        raise FrameOutOfRangeError(f"{option} {text!r} is past the end of the clip ({info.duration_s:.2f} s)",
                                   f"give {option} a time between 0s and {info.duration_s:.2f}s, or a frame number")
    return info.frame_at(seconds)


def default_prompt_frame(path: Path, trim_start_s: float | None) -> int:
    """The prompt frame of a command line without ``--frame``: the first frame the trim keeps."""
    from core.image_io import is_image_path

    if trim_start_s is None or (path.is_file() and is_image_path(path)):  # a photo has one frame: a trim is said
        return 0  # not to apply (core/photo_processor.py), not to move its prompt off it
    from core.video_io import probe

    try:
        return first_kept_frame(probe(path), trim_start_s)
    except StudioError:  # not a video (a photo, a bad file): the job itself says what is wrong
        return 0


class _Click(argparse.Action):
    """``--point`` / ``--negative``: kept in its own list and, with its label, in ``clicks``, the
    order the clicks were typed in (a further click refines the mask of those before it)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: ANN001
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), values])
        label = NEGATIVE if self.dest == "negative" else POSITIVE
        namespace.clicks = [*getattr(namespace, "clicks", []), (label, values)]


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as a coded one-line error like every other."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ArgumentError(message, f"see `python {self.prog} --help`")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="app.py", description="BackgroundFX Studio")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    studio = sub.add_parser("studio", help="serve the studio (the default with no arguments)")
    studio.add_argument("--port", type=int, default=None)
    studio.add_argument("--share", action="store_true")
    p = sub.add_parser("process", help="run one job headless")
    p.add_argument("input", help="a video (MP4, MOV, WebM, MKV) or a photo (PNG, JPEG, WebP)")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--point", action=_Click, default=[], metavar="X,Y[@ID]",
                   help="on the subject (repeatable: each click refines the mask of those before it)")
    p.add_argument("--negative", action=_Click, default=[], metavar="X,Y[@ID]", help="not the subject")
    p.add_argument("--box", metavar="X0,Y0,X1,Y1[@ID]")
    p.set_defaults(clicks=[])
    p.add_argument("--mask", metavar="PNG", help="mask of the prompt frame (nonzero = subject)")
    p.add_argument("--frame", default=None, metavar="N|SECONDSs",
                   help="the prompt frame, by number or by the time it is on screen (4.2s) (default: the "
                   "first frame kept, 0 without --trim-start)")
    p.add_argument("--correct", action="append", default=[], metavar="N:X,Y[@ID]",
                   help="a correction click on a later frame N, by number or time (4.2s:X,Y) (N:-X,Y for not "
                   "subject): refines the "
                   "subject's matte as carried to frame N, which restarts from there; the second before N "
                   "eases into it (not for not-subject clicks alone); repeatable, applied in order")
    p.add_argument("--background", default="blur:25", metavar="SPEC",
                   help="color:#RRGGBB, blur:RADIUS, image:PATH, video:PATH, transparent, prompt:TEXT, "
                   "procedural:gradient|bokeh|studio")
    p.add_argument("--engine", choices=ENGINES, default=None, help="default: BGFX_ENGINE or auto")
    p.add_argument("--quality", choices=QUALITIES, default=None, help="default: BGFX_QUALITY or balanced")
    p.add_argument("--formats", default=",".join(DEFAULT_FORMATS),
                   help=f"comma-separated output files, of {', '.join(OUTPUT_FORMATS)} (default: %(default)s)")
    p.add_argument("--matte-frames", action="store_true", help="also write alpha/000000.png ... (lossless)")
    p.add_argument("--seed", type=int, default=None, help="seed for a generated background")
    p.add_argument("--trim-start", type=float, default=None, metavar="SECONDS")
    p.add_argument("--trim-end", type=float, default=None, metavar="SECONDS")
    p.add_argument("--no-audio", action="store_true", help="leave the sound out")
    p.add_argument("--feather", type=float, default=0.0, metavar="PX")
    p.add_argument("--choke", type=float, default=0.0, metavar="PX", help=">0 shrinks, <0 grows the matte")
    p.add_argument("--despill", type=float, default=0.0, metavar="0..1")
    p.add_argument("--light-wrap", type=float, default=0.0, metavar="0..1")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--debug", action="store_true", help="tracebacks and debug logs")
    return parser.parse_args(argv)


@contextmanager
def _stopped_like_ctrl_c():
    """While a job runs, a request to stop (SIGTERM: ``kill``, a job scheduler, a container stopping;
    SIGHUP: the terminal closed) ends it as Ctrl-C does: cancelled, nothing half-written left in
    --out. Python's default for those ends the process on the spot, and the job's staging folder
    (``.bgfx-partial-*``) stayed behind. Only from the main thread, and only where the signal
    still has its default handling (a caller's own handler is left alone)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    kept = {}
    for sig in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)):
        if sig is not None and signal.getsignal(sig) is signal.SIG_DFL:
            kept[sig] = signal.signal(sig, stop)
    try:
        yield
    finally:
        for sig, handler in kept.items():
            signal.signal(sig, handler)


def run_process(args: argparse.Namespace) -> int:
    from core.video_processor import run_job
    from models.model_loader import release_after_use

    release_after_use()  # one job, then exit: SAM2 is freed as soon as the masks are made
    settings = get_settings()
    if args.frame is None:
        args.frame = default_prompt_frame(Path(args.input), args.trim_start)
    request = JobRequest(
        input_path=args.input,  # as typed: a Path would fold a URL's "//", and the job's check names URLs
        out_dir=Path(args.out),
        prompts=build_prompts(args),
        background=args.background,
        engine=args.engine or settings.engine,
        quality=args.quality or settings.quality,
        formats=tuple(f.strip() for f in args.formats.split(",") if f.strip()),
        matte_frames=args.matte_frames,
        keep_audio=not args.no_audio,
        trim_start_s=args.trim_start,
        trim_end_s=args.trim_end,
        edges=EdgeOptions(args.feather, args.choke, args.despill, args.light_wrap),
        seed=args.seed,
        read_files=tuple(Path(p).expanduser() for p in [args.mask] if p),
    )

    def show(update) -> None:
        print(f"\r{update.line():<70}", end="", file=sys.stderr, flush=True)

    cancel = threading.Event()
    try:
        with _stopped_like_ctrl_c():
            result = run_job(request, progress=None if args.quiet else show, cancel=cancel, settings=settings)
    except KeyboardInterrupt:
        cancel.set()
        raise
    finally:
        release_after_use(False)  # called in-process (tests, scripts): leave the loader as it was
    if not args.quiet:
        print(file=sys.stderr)
    report = result.report
    print(json.dumps({"outputs": {k: str(v) for k, v in result.outputs.items()},
                      "engine": report["engine"], "engine_reason": report["engine_reason"],
                      "processing_fps": report.get("processing_fps"), "warnings": report["warnings"]}, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parse_args(argv or ["studio"])
    except StudioError as exc:
        print(exc.user_line(), file=sys.stderr)
        return EXIT_USER_ERROR
    logging.basicConfig(level=logging.DEBUG if getattr(args, "debug", False) else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = get_settings()
        if args.command == "process":
            return run_process(args)
        from models.space_setup import ensure_matanyone_code
        from ui.studio import launch

        ensure_matanyone_code()  # a Gradio-SDK Space installs MatAnyone's code here (no-op elsewhere)
        launch(settings, port=args.port, share=args.share)
        return 0
    except StudioError as exc:
        print(f"\n{exc.user_line()}" if not getattr(args, "quiet", True) else exc.user_line(), file=sys.stderr)
        if getattr(args, "debug", False):
            logger.exception("details")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("\nerror E601: cancelled — nothing was written", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception as exc:  # a bug: one line for the user, the traceback with --debug
        print(f"error E900: internal error: {exc!r} — this is a bug: rerun with --debug and report it",
              file=sys.stderr)
        logger.debug("internal error", exc_info=True)
        if getattr(args, "debug", False):
            raise
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
