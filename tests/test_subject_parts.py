"""A subject made of things apart gets a matter for each thing (core/subject_parts.py)."""

from __future__ import annotations

import av
import media
import numpy as np

import app
from app_config import PRESETS
from bench.metrics import iou
from core.subject_parts import SubjectParts, things_apart
from models.embedded_matter import EmbeddedMatter


def test_pieces_far_apart_are_things_and_specks_and_close_pieces_are_not():
    mask = np.zeros((216, 384), bool)
    mask[50:200, 40:80] = True  # a person
    mask[100:140, 170:230] = True  # a dog 90 px away: a thing of its own
    mask[100:140, 84:100] = True  # her arm, 4 px from her: part of her
    mask[10:13, 300:303] = True  # a speck of fringe far off: no thing to track alone
    things = things_apart(mask)
    assert len(things) == 2
    person, dog = things
    assert person[60, 60] and person[120, 90] and person[11, 301] and not person[120, 200]
    assert dog[120, 200] and np.count_nonzero(dog) == 40 * 60
    assert not (person & dog).any() and np.array_equal(person | dog, mask)
    one = mask[:, :150]
    assert len(things_apart(one)) == 1 and things_apart(one)[0] is not None
    soft = np.where(mask, 0.9, 0.1).astype(np.float32)  # an alpha: > 0.5 is the subject
    assert len(things_apart(soft)) == 2


def _track(matter, frames, dogs, people):
    matter.prepare(frames[::2])
    alpha = matter.start(frames[0], dogs[0] | people[0])
    for frame in frames[1:]:
        alpha = matter.step(frame)
    return alpha


def test_a_subject_of_two_things_finds_the_one_that_left_when_it_comes_back():
    """Her and her dog clicked as one subject (../shared/media/dog.mp4): the dog ran out of the frame
    and back, and one matter for both never looked for it, since she was still there; a matter each
    finds it again as it finds a subject of its own."""
    frames, dogs, people = media.two_things_frames()
    union = (dogs[-1] | people[-1]).astype(np.float32)
    one = _track(EmbeddedMatter(PRESETS["balanced"]), frames, dogs, people)
    assert one[dogs[-1]].mean() < 0.2  # 0.0: the dog stayed out
    each = _track(SubjectParts(lambda: EmbeddedMatter(PRESETS["balanced"])), frames, dogs, people)
    assert each[dogs[-1]].mean() > 0.8 and iou(each, union) > 0.85


def _job_mattes(tmp_path, frames: list[np.ndarray], *prompts: str) -> list[np.ndarray]:
    """Each frame's matte (float, 0-1) of an `app.py process` job on ``frames`` with ``prompts``."""
    clip = media.write_frames(tmp_path / "two.mp4", frames)
    out = tmp_path / "out"
    assert app.main(["process", str(clip), "--out", str(out), *prompts, "--formats", "alpha.mp4", "--quiet"]) == 0
    with av.open(str(out / "alpha.mp4")) as c:
        return [f.to_ndarray(format="gray").astype(np.float32) / 255 for f in c.decode(video=0)]


def test_a_job_clicked_on_her_and_her_dog_keeps_both_after_the_dog_comes_back(tmp_path):
    """The same from `app.py process` with two clicks on one subject: the second click, away from the
    first's mask, takes the dog (models/embedded_segmenter.py), the dog gets a matter of its own, and
    that matter looks at the clip after the job's start (the samples' memo stays for it)."""
    frames, dogs, people = media.two_things_frames()
    mattes = _job_mattes(tmp_path, frames, "--point", "50,125", "--point", "212,128")
    assert len(mattes) == len(frames)
    assert iou(mattes[0], (dogs[0] | people[0]).astype(np.float32)) > 0.85
    assert mattes[-1][dogs[-1]].mean() > 0.8 and mattes[-1][people[-1]].mean() > 0.8


def test_a_correction_click_on_her_dog_adds_it_as_a_thing_found_again_after_it_left(tmp_path):
    """Her alone clicked on frame 0, then a correction click on her dog at frame 1, well away from
    her matte: the click takes the dog whole (not a patch of its colour beside her), the subject is
    then two things, and the dog's matter, made at frame 1 after the job's look at the clip was
    over, still finds the dog again when it walks back in. (Right after the prompt frame there is no
    lead-in, which would keep the look for its own matters: without a correction's refinement
    counted as a matter made later, the look was gone, "the clip's samples are closed".)"""
    frames, dogs, people = media.two_things_frames()
    mattes = _job_mattes(tmp_path, frames, "--point", "50,125", "--correct", "1:234,128")
    assert mattes[0][dogs[0]].mean() < 0.2  # not the subject before the correction
    assert mattes[1][dogs[1]].mean() > 0.8 and mattes[1][people[1]].mean() > 0.8
    assert mattes[-1][dogs[-1]].mean() > 0.8 and mattes[-1][people[-1]].mean() > 0.8
