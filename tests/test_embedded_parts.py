"""Which split-off parts of the subject's mask stay (models/embedded/parts.py), condition by condition."""

from __future__ import annotations

import numpy as np

from models.embedded.parts import LooseEvidence, subject_parts

TAN, GREEN = (180, 140, 100), (60, 150, 60)


def _scene(gap: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A 100x140 mask: a body (60x60) and a small part (10x10) ``gap`` px to its right, both carried;
    the frame's colours (tan, green elsewhere), and the small part's pixels."""
    fg = np.zeros((100, 140), bool)
    fg[20:80, 20:80] = True
    part = np.zeros_like(fg)
    part[45:55, 80 + gap:90 + gap] = True
    fg |= part
    colours = np.zeros((100, 140, 3), np.uint8)
    colours[:] = GREEN
    colours[fg] = TAN
    return fg, fg.astype(np.float32), colours, part


def _evidence(colours: np.ndarray, fg: np.ndarray, **change) -> LooseEvidence:
    evidence = LooseEvidence(colours=colours, off_plate=fg.copy(), palette=np.float32([TAN, (40, 30, 20)]),
                             near_px=15.0, beside=None)
    for name, value in change.items():
        setattr(evidence, name, value)
    return evidence


def test_a_small_part_stays_only_when_all_the_evidence_says_it_is_the_subjects():
    fg, carried, colours, part = _scene()
    body = fg & ~part
    assert np.array_equal(subject_parts(fg, carried), body)  # a moving camera: sizeable parts only
    assert np.array_equal(subject_parts(fg, carried, lambda: _evidence(colours, fg)), fg)  # shed: it stays

    far = _scene(gap=30)
    assert not subject_parts(far[0], far[1], lambda: _evidence(far[2], far[0]))[far[3]].any()  # too far off
    like_plate = fg & ~part
    assert not subject_parts(fg, carried, lambda: _evidence(colours, fg, off_plate=like_plate))[part].any()
    foreign = colours.copy()
    foreign[part] = (250, 250, 90)  # a fleck of sunlight: none of the subject's colours
    assert not subject_parts(fg, carried, lambda: _evidence(foreign, fg))[part].any()
    touching = np.zeros_like(fg)
    touching[40:60, 95:110] = True  # another body beside it
    assert not subject_parts(fg, carried, lambda: _evidence(colours, fg, beside=touching))[part].any()


def test_the_evidence_is_asked_for_only_when_a_small_part_is_there():
    fg, carried, colours, part = _scene()
    asked = []

    def loose() -> LooseEvidence:
        asked.append(1)
        return _evidence(colours, fg)

    body = fg & ~part
    assert np.array_equal(subject_parts(body, carried, loose), body)  # one part: nothing to ask
    uncarried = carried.copy()
    uncarried[part] = 0.0  # a new island that overlaps nothing carried goes, whatever the evidence
    assert np.array_equal(subject_parts(fg, uncarried, loose), body)
    assert not asked
    subject_parts(fg, carried, loose)
    assert asked == [1]
