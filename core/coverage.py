"""Which frames of a finished job have no subject in their matte, told to the person as a warning.

Why: a subject that runs out of the frame and is not found again, or a matte that lost it, leaves
stretches of the result with nothing in them. On a long clip nobody watches every second of the
output before using it, so the job's report says where those stretches are and what to do: a
correction click on one of their frames (``--correct``, the studio's later-frame clicks).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

logger = logging.getLogger(__name__)

MIN_SECONDS = 1.0  # a stretch shorter than this (a blink behind something) is not reported
SHOWN_RUNS = 3


def runs_of(indexes: list[int]) -> list[tuple[int, int]]:
    """(first, last) of each stretch of consecutive numbers in the sorted ``indexes``."""
    runs: list[tuple[int, int]] = []
    for i in indexes:
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


class EmptyFrames:
    """Collects, frame by frame, where the matte holds no subject (alpha nowhere above 0.5); with
    ``subject``, where that one subject's own matte (core/subject_tracks.py) holds nothing."""

    def __init__(self, subject: int | None = None) -> None:
        self._empty: list[int] = []
        self.subject = subject

    def add(self, index: int, alpha: np.ndarray) -> None:
        # every fourth pixel of every fourth row: a subject of a few pixels is not worth a full pass
        if float(alpha[::4, ::4].max(initial=0.0)) < 0.5:
            self._empty.append(index)

    def runs(self) -> list[tuple[int, int]]:
        """(first, last) frame indexes of each stretch of empty frames, in order."""
        return runs_of(self._empty)

    def warning(self, fps: float) -> str | None:
        """What to tell the person, or None when every stretch is shorter than ``MIN_SECONDS``."""
        long = [(a, b) for a, b in self.runs() if b - a + 1 >= MIN_SECONDS * max(fps, 1.0)]
        if not long:
            return None
        spans = ", ".join(f"{a}-{b}" for a, b in long[:SHOWN_RUNS]) + (", ..." if len(long) > SHOWN_RUNS else "")
        a, b = long[0]
        who, tag = ("no subject", "") if self.subject is None else (f"subject {self.subject} not", f"@{self.subject}")
        return (f"{who} in frames {spans} ({sum(b - a + 1 for a, b in long)} frames): it left the frame "
                f"or was lost; if it is there, click on it in one of those frames, e.g. frame {(a + b) // 2} "
                f"(the command line's --correct {(a + b) // 2}:X,Y{tag})")


class Coverage:
    """Empty stretches of the whole matte and, with several subjects, of each subject's own."""

    def __init__(self) -> None:
        self.whole = EmptyFrames()
        self.each: dict[int, EmptyFrames] = {}

    def add(self, index: int, alpha: np.ndarray, by_subject: Mapping[int, np.ndarray]) -> None:
        """``by_subject``: the subjects tracked on this frame (one taken out by a correction, or not
        yet marked, is absent: it is not lost)."""
        self.whole.add(index, alpha)
        if len(by_subject) > 1 or self.each:
            for oid, own in by_subject.items():
                self.each.setdefault(oid, EmptyFrames(oid)).add(index, own)

    def warnings(self, fps: float) -> list[str]:
        found = [self.whole.warning(fps), *(self.each[oid].warning(fps) for oid in sorted(self.each))]
        return [w for w in found if w]
