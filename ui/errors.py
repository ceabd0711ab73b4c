"""Turning errors into what a person (or a gradio_client script) sees, without stopping the server.

Every handler and endpoint is wrapped with ``coded_errors``: a ``StudioError`` becomes a
``gr.Error`` whose text is the coded line (``error E201: ... — hint``), which the browser shows
as a toast and gradio_client raises as ``AppError``; any other exception is a bug, logged with
its traceback and shown as ``E900`` so the person still gets a line they can report.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

from core.exceptions import InternalError, StudioError

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def to_gr_error(exc: BaseException) -> gr.Error:
    """The ``gr.Error`` for ``exc``: its coded line for a StudioError, E900 for anything else."""
    if isinstance(exc, gr.Error):
        return exc
    if isinstance(exc, StudioError):
        return gr.Error(exc.user_line(), duration=12)
    logger.exception("unexpected error in the studio")
    internal = InternalError(f"{type(exc).__name__}: {exc}")
    return gr.Error(internal.user_line(), duration=None)


def coded_errors(fn: F) -> F:
    """Wrap a handler so that every failure reaches the user as one coded line."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise to_gr_error(exc) from exc

    return wrapper  # type: ignore[return-value]
