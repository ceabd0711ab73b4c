"""The source's SMPTE timecode, carried to the outputs so an editor lines them up with the camera's
original (relink, multicam sync by timecode).

Cameras write the start timecode of a clip (a MOV/MP4 ``tmcd`` track, MXF, Matroska tags); FFmpeg
shows it as a ``timecode`` tag. The outputs get the timecode of their own first frame: the source's
moved on by a trim's first frame. NTSC rates count in drop-frame timecode (``HH:MM:SS;FF``): frame
numbers 0 and 1 (2 and 3 at 60000/1001) are skipped at the start of every minute but each tenth,
so that the timecode keeps to the clock.
"""

from __future__ import annotations

import logging
import re
from fractions import Fraction

logger = logging.getLogger(__name__)

_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")


def read_timecode(container, stream) -> str | None:
    """The start timecode of a clip: the video track's tag, else a timecode track's, else the file's."""
    candidates = [stream.metadata, *(s.metadata for s in container.streams if s.type == "data"), container.metadata]
    for tags in candidates:
        for key, value in tags.items():
            if key.lower() == "timecode" and _TIMECODE.match(value.strip()):  # Matroska: TIMECODE
                return value.strip()
    return None


def _drop_per_minute(fps: Fraction, separator: str) -> int:
    """Frame numbers skipped each minute: 2 at 30000/1001, 4 at 60000/1001, 0 when not drop-frame."""
    nominal = round(fps)
    if separator not in ";," or fps.denominator != 1001 or nominal % 30:
        return 0
    return nominal // 15


def timecode_at(start: str, frames: int, fps: Fraction) -> str:
    """The timecode ``frames`` frames after ``start`` (a clip's start timecode) at ``fps``."""
    hours, minutes, seconds, separator, count = _TIMECODE.match(start.strip()).groups()
    nominal = max(1, round(fps))
    drop = _drop_per_minute(Fraction(fps), separator)
    total_minutes = 60 * int(hours) + int(minutes)
    number = (3600 * int(hours) + 60 * int(minutes) + int(seconds)) * nominal + int(count)
    number -= drop * (total_minutes - total_minutes // 10)  # the frame's place in the clip's count
    number += frames
    if drop:  # back to the displayed count: put the skipped numbers in again
        per_ten = nominal * 600 - 9 * drop
        per_minute = nominal * 60 - drop
        tens, rest = divmod(number, per_ten)
        number += 9 * drop * tens + (drop * ((rest - drop) // per_minute) if rest > drop else 0)
    number %= 24 * 3600 * nominal
    seconds_total, count_out = divmod(number, nominal)
    return (f"{seconds_total // 3600:02d}:{seconds_total // 60 % 60:02d}:{seconds_total % 60:02d}"
            f"{separator}{count_out:0{len(count)}d}")
