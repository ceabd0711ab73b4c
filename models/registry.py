"""Which engine does what: one line per implementation, imported lazily by dotted name.

Adding a model = one file implementing a role (models/base.py) + one line here. Lazy imports keep
start-up fast and let the embedded engine run where torch, sam2 or MatAnyone cannot be imported.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

logger = logging.getLogger(__name__)

#: role -> name -> "module:Class"
SEGMENTERS: dict[str, str] = {
    "embedded": "models.embedded_segmenter:EmbeddedSegmenter",
    "sam2": "models.sam2_segmenter:SAM2Segmenter",
}
MATTERS: dict[str, str] = {
    "embedded": "models.embedded_matter:EmbeddedMatter",
    "matanyone": "models.matanyone_matter:MatAnyoneMatter",
}


def load_class(dotted: str) -> Any:
    """Import ``"package.module:Class"`` and return the class."""
    module_name, _, attr = dotted.partition(":")
    return getattr(importlib.import_module(module_name), attr)
