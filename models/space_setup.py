"""Getting MatAnyone's code onto a Hugging Face Space that installs only requirements.txt.

MatAnyone's model code comes from the `matanyone2-runtime` wheel, which must go in with
``--no-deps`` (its dependency list pins an old Gradio that conflicts with the studio's), and a
requirements file cannot say that per package. scripts/setup.sh and the Dockerfile do it at
install time; on a Gradio-SDK Space this runs it once at start-up instead. Anywhere else it does
nothing: a missing package there is a setup problem the engine fallback reports.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys

logger = logging.getLogger(__name__)

MATANYONE_PACKAGE = "matanyone2-runtime==0.2.0"


def on_space() -> bool:
    return bool(os.environ.get("SPACE_ID"))


def ensure_matanyone_code(timeout_s: float = 300.0) -> bool:
    """True when the `matanyone2` package is importable (installing it first on a Space)."""
    if importlib.util.find_spec("matanyone2") is not None:
        return True
    if not on_space():
        return False
    logger.warning("installing %s (--no-deps) for MatAnyone's model code", MATANYONE_PACKAGE)
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", MATANYONE_PACKAGE]
    try:
        subprocess.run(cmd, check=True, timeout=timeout_s)
    except (subprocess.SubprocessError, OSError) as exc:
        logger.error("could not install MatAnyone's code (%s): the embedded matter will be used", exc)
        return False
    importlib.invalidate_caches()
    return importlib.util.find_spec("matanyone2") is not None
