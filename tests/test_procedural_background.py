"""Procedural backgrounds: the weight-free ``procedural:`` kind and the generated background's fallback."""

from __future__ import annotations

import time

import numpy as np
import pytest

from core.exceptions import BackgroundSpecError
from models.backgrounds.base import OutputGeometry
from models.backgrounds.procedural import (
    STYLES,
    ProceduralBackground,
    palette_from_text,
    parse_argument,
    render,
    style_for_text,
)

GEOMETRY = OutputGeometry(width=160, height=90, frame_count=60, fps=30.0)


@pytest.mark.parametrize("style", STYLES)
def test_each_style_fills_the_output_size_with_a_picture(style):
    source = ProceduralBackground(style)
    source.open(GEOMETRY)
    picture = source.frame(0, np.zeros((90, 160, 3), np.uint8), np.zeros((90, 160), np.float32))
    assert picture.shape == (90, 160, 3) and picture.dtype == np.uint8
    assert picture.std() > 5.0, "a procedural background should not be one flat colour"
    again = ProceduralBackground(style)
    again.open(GEOMETRY)
    assert np.array_equal(picture, again.frame(0, None, None)), "same spec, same picture"


def test_gradient_and_studio_have_their_shape():
    gradient = render("gradient", 200, 100, ((250, 250, 250), (0, 0, 0)))
    assert gradient[:10].mean() > gradient[-10:].mean() + 100  # light top, dark bottom
    studio = render("studio", 200, 100, ((200, 200, 200), (20, 20, 20)))
    centre = studio[35:50, 90:110].mean()
    assert centre > studio[:10, :10].mean() + 40 and centre > studio[-10:, -10:].mean() + 40  # spotlight


def test_bokeh_drifts_cheaply_and_statics_do_not_move():
    bokeh = ProceduralBackground("bokeh", seed=4)
    bokeh.open(OutputGeometry(1280, 720, frame_count=400, fps=30.0))
    first = bokeh.frame(0, None, None)
    later = bokeh.frame(90, None, None)  # a quarter of the 12 s drift cycle
    assert first.shape == later.shape == (720, 1280, 3)
    assert not np.array_equal(first, later)
    started = time.perf_counter()
    for index in range(20):
        bokeh.frame(index, None, None)
    assert (time.perf_counter() - started) / 20 < 0.05, "frame() must be a cheap crop"
    still = ProceduralBackground("bokeh", seed=4, animate=False)
    still.open(GEOMETRY)
    assert still.frame(0, None, None) is still.frame(50, None, None)


def test_seed_set_after_construction_is_used():
    """The registry builds ``cls(argument)`` and sets ``seed`` afterwards."""
    a, b, c = (ProceduralBackground("bokeh", animate=False) for _ in range(3))
    a.seed, b.seed, c.seed = 1, 1, 2
    for source in (a, b, c):
        source.open(GEOMETRY)
    assert np.array_equal(a.frame(0, None, None), b.frame(0, None, None))
    assert not np.array_equal(a.frame(0, None, None), c.frame(0, None, None))


def test_colours_in_the_spec():
    assert parse_argument("studio:#FF0000,#000080") == ("studio", ((255, 0, 0), (0, 0, 128)))
    style, palette = parse_argument("gradient:#102030")
    assert style == "gradient" and palette[0] == (16, 32, 48)
    assert parse_argument("") == ("gradient", None)
    source = ProceduralBackground("gradient:#ff0000,#800000")
    source.open(GEOMETRY)
    picture = source.frame(0, None, None).astype(int)
    assert picture[..., 0].mean() > 3 * picture[..., 1].mean()


@pytest.mark.parametrize("spec", ["plasma", "gradient:#12", "studio:#ffffff,#000000,#ff0000", "bokeh:red"])
def test_bad_specs_get_a_coded_error(spec):
    with pytest.raises(BackgroundSpecError) as err:
        ProceduralBackground(spec)
    assert err.value.code == "E301" and err.value.hint


def test_prompt_words_choose_style_and_colours():
    assert style_for_text("city lights at night") == "bokeh"
    assert style_for_text("a plain studio backdrop") == "studio"
    assert style_for_text("a mountain lake") == "gradient"
    red, _ = palette_from_text("a red barn")
    assert red[0] > red[1] and red[0] > red[2]
    assert palette_from_text("a mountain lake", 1) == palette_from_text("a mountain lake", 1)
    assert palette_from_text("a mountain lake", 1) != palette_from_text("a mountain lake", 2)


@pytest.mark.parametrize("style", ["bokeh", "gradient"])
def test_wide_pixels_get_the_picture_drawn_as_shown_then_squeezed(style):
    """On an anamorphic clip (pixels shown 2x as wide), a still is drawn at the shown size and
    squeezed into the stored one; the drifting bokeh keeps the stored size on every frame."""
    wide = OutputGeometry(width=80, height=90, frame_count=60, fps=30.0, pixel_aspect=2.0)
    assert wide.display_width == 160
    source = ProceduralBackground(style, seed=3)
    source.open(wide)
    frames = [source.frame(i, np.zeros((90, 80, 3), np.uint8), np.zeros((90, 80), np.float32)) for i in (0, 17)]
    assert all(f.shape == (90, 80, 3) for f in frames)
    if not source.animate:
        drawn = render(style, 160, 90, source.palette, 3)
        assert np.array_equal(frames[0], wide.stored(drawn))
