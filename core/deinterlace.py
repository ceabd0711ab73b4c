"""Interlaced video (a camcorder's 1080i, a broadcast recording) deinterlaced as it is decoded.

Why: each frame of an interlaced clip holds two fields, half a frame apart in time, on alternate
lines; wherever something moves, its edges are combs. A player deinterlaces as it shows such a clip,
but the job's outputs are progressive: without this they carried the combs for good, in the
composite and in the matte, whose edge followed them. FFmpeg's bwdif (motion adaptive: still parts
keep both fields, moving parts are filled from one) in ``send_frame`` mode gives one frame for each
frame, so the frame count, the timestamps and the sound stay as they are; frames not flagged
interlaced pass through untouched.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator

import av

logger = logging.getLogger(__name__)

FILTER = "mode=send_frame:parity=auto:deint=interlaced"


def deinterlaced(frames: Iterable[av.VideoFrame]) -> Iterator[av.VideoFrame]:
    """``frames`` deinterlaced, in order, each with its own timestamp (bwdif halves the time base:
    the frames are given the timestamps they came in with). bwdif looks one frame ahead, so a frame
    comes out once the next has gone in, the last one at the end. A frame the filter will not take
    (the picture size changed mid-stream) ends the filtering: it and the rest pass through as decoded."""
    graph = None
    waiting: deque[av.VideoFrame] = deque()  # frames pushed and not yet out: their timestamps
    frames = iter(frames)
    for frame in frames:
        if graph is None:
            graph = _graph(frame)
        try:
            graph.push(frame)
        except av.FFmpegError as exc:
            logger.warning("deinterlacing stopped at pts %s: %s", frame.pts, exc)
            yield from _drain(graph, waiting, final=True)
            yield frame
            yield from frames
            return
        waiting.append(frame)
        yield from _drain(graph, waiting, final=False)
    if graph is not None:
        graph.push(None)
        yield from _drain(graph, waiting, final=True)


def _graph(first: av.VideoFrame) -> av.filter.Graph:
    graph = av.filter.Graph()
    source = graph.add_buffer(width=first.width, height=first.height, format=first.format,
                              time_base=first.time_base)
    bwdif = graph.add("bwdif", FILTER)
    sink = graph.add("buffersink")
    source.link_to(bwdif)
    bwdif.link_to(sink)
    graph.configure()
    return graph


def _drain(graph: av.filter.Graph, waiting: deque[av.VideoFrame], final: bool) -> Iterator[av.VideoFrame]:
    """The frames the filter has ready, each given the timestamp of the frame it stands for."""
    while waiting:
        try:
            out = graph.pull()
        except (av.error.BlockingIOError, av.error.EOFError):
            break
        source = waiting.popleft()
        out.pts, out.time_base = source.pts, source.time_base
        yield out
    if final:
        yield from waiting  # nothing came out for them (should not happen): as decoded
        waiting.clear()
