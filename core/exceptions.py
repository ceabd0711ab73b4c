"""Errors that reach a user: each has a stable code and a hint that says what to do next.

Front ends (CLI, studio, API) print ``error E<code>: <what> — <hint>`` and keep running;
a traceback is only for bugs (``InternalError``), never for a user's mistake.
"""

from __future__ import annotations


class StudioError(Exception):
    """Base of every error a user may see. Subclasses set ``code`` and a default ``hint``."""

    code: str = "E000"
    hint: str = "see the job report and the logs for details"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def user_line(self) -> str:
        """The one line a front end shows: ``error E101: not a media file — hint``."""
        return f"error {self.code}: {self.message} — {self.hint}"

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "hint": self.hint}


# --- input media (E1xx) ---------------------------------------------------------------
class InputError(StudioError):
    code = "E100"
    hint = "upload a video (MP4, MOV, WebM, MKV) or a photo (PNG, JPEG, WebP)"


class NotMediaError(InputError):
    code = "E101"


class TruncatedMediaError(InputError):
    code = "E102"
    hint = "the file looks cut short or damaged: export or download it again"


class NoVideoStreamError(InputError):
    code = "E103"
    hint = "the file has no picture (audio only?): choose a video or a photo"


class EmptyVideoError(InputError):
    code = "E104"
    hint = "the video has no decodable frames: export it again"


class LimitExceededError(InputError):
    code = "E105"
    hint = "trim or downscale the clip, or raise the limit in the settings (BGFX_MAX_*)"


class InputPathError(InputError):
    code = "E106"
    hint = "give a local file path; URLs and folders are not accepted"


# --- prompts (E2xx) -------------------------------------------------------------------
class PromptError(StudioError):
    code = "E200"
    hint = "click on the subject, draw a box, or give a mask"


class PointOutOfFrameError(PromptError):
    code = "E201"
    hint = "points are in pixels of the source frame: x in [0, width), y in [0, height)"


class MaskSizeError(PromptError):
    code = "E202"
    hint = "the mask must have the same width and height as the video"


class EmptyMaskError(PromptError):
    code = "E203"
    hint = "the mask is empty: mark the subject with nonzero pixels"


class FrameOutOfRangeError(PromptError):
    code = "E204"
    hint = "choose a prompt frame between 0 and the last frame"


class NoPromptError(PromptError):
    code = "E205"


class MaskUnreadableError(PromptError):
    code = "E206"
    hint = "give the mask as a PNG the size of the video, nonzero = subject"


class ArgumentError(PromptError):
    code = "E207"
    hint = "see `python app.py process --help`"


# --- backgrounds (E3xx) ---------------------------------------------------------------
class BackgroundError(StudioError):
    code = "E300"
    hint = "use color:#RRGGBB, blur:RADIUS, image:PATH, video:PATH, transparent or prompt:TEXT"


class BackgroundSpecError(BackgroundError):
    code = "E301"


class BackgroundUnreadableError(BackgroundError):
    code = "E302"
    hint = "the background file cannot be read: use a PNG/JPEG/WebP image or an MP4/WebM video"


class BackgroundNotAvailableError(BackgroundError):
    code = "E303"
    hint = "this background kind is not available here: pick a colour, blur, image or video"


# --- output (E4xx) --------------------------------------------------------------------
class OutputError(StudioError):
    code = "E400"
    hint = "choose an output folder you can write to, with free disk space"


class OutputNotWritableError(OutputError):
    code = "E401"


class FormatError(OutputError):
    code = "E402"
    hint = "choose the outputs among those `python app.py process --help` lists under --formats"


class DiskFullError(OutputError):
    code = "E403"
    hint = "free some disk space there, or choose an output folder on another disk; nothing was written"


# --- engines (E5xx) -------------------------------------------------------------------
class EngineError(StudioError):
    code = "E500"
    hint = "try --engine embedded, which needs no weights"


class WeightsUnavailableError(EngineError):
    code = "E501"
    hint = (
        "the model weights are not in the Hugging Face cache and cannot be downloaded: connect "
        "to the network once (unset HF_HUB_OFFLINE), set BGFX_CHECKPOINT_DIR to a folder with "
        "the checkpoints, or use --engine embedded"
    )


class EngineUnavailableError(EngineError):
    code = "E502"


class EngineFailedError(EngineError):
    code = "E503"


# --- jobs and settings (E6xx, E7xx, E9xx) ---------------------------------------------
class JobCancelledError(StudioError):
    code = "E601"
    hint = "the job was cancelled; nothing was written"


class ServerBusyError(StudioError):
    code = "E602"
    hint = "the studio is busy: try again in a minute"


class ConfigError(StudioError):
    code = "E701"
    hint = "fix the environment variable named above (see README, Settings)"


class InternalError(StudioError):
    code = "E900"
    hint = "this is a bug: please report it with the job report"
