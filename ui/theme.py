"""Look of the studio: a calm theme, a header, and a little CSS so the frame gets the room.

In Gradio 6 the theme and CSS are given to ``launch`` (``ui.studio.launch`` does so).
"""

from __future__ import annotations

import logging

import gradio as gr

logger = logging.getLogger(__name__)

HEADER = """
<div id="bgfx-header">
  <div class="title">BackgroundFX <span>Studio</span></div>
  <div class="steps"><b>①</b> load a clip or photo &nbsp;→&nbsp; <b>②</b> click on the subject
  &nbsp;→&nbsp; <b>③</b> pick a background and process</div>
</div>
"""

CSS = """
#bgfx-header { display: flex; align-items: baseline; gap: 1.5rem; flex-wrap: wrap; padding: 0.25rem 0 0.5rem; }
#bgfx-header .title { font-size: 1.6rem; font-weight: 700; letter-spacing: -0.01em; }
#bgfx-header .title span { color: var(--color-accent); }
#bgfx-header .steps { color: var(--body-text-color-subdued); font-size: 0.95rem; }
#frame img { cursor: crosshair; object-fit: contain; }
#status, #job-status { min-height: 1.6rem; }
#process { font-size: 1.1rem; }
"""


def theme() -> gr.themes.Base:
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="sky", neutral_hue="slate",
                          radius_size="md", font=[gr.themes.GoogleFont("Inter"), "system-ui", "sans-serif"])
