"""The studio in a real browser: Debian's chromium driven by Playwright, headless.

It loads the studio, uploads a clip, clicks on the subject and sees the mask overlay appear on
the frame, runs the job and gets a composite video the browser can play. Screenshots of the main
screens go to ``BGFX_SCREENSHOT_DIR`` when set (docs/screenshots/ is made that way, with
``BGFX_STUDIO_CLIP=assets/examples/dog.mp4 BGFX_STUDIO_CLICK="330,300;285,540;420,410;395,525"``:
her shirt, a shoe, her forearm, the other shoe), else to the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from studio_fixtures import (  # noqa: F401 - pytest fixtures
    CLIP_FRAMES,
    CLIP_H,
    studio,
    subject_center,
    subject_clip,
    subject_photo,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(autouse=True)
def _chromium() -> None:
    """Fail (not skip) without the browser: these tests are the only check of the real UI."""
    if not shutil.which(CHROMIUM):
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (see .ci/run)")


def _png(data: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _image_rect(page, selector: str) -> dict:
    """Where the picture really is inside an <img> shown with object-fit: contain."""
    return page.eval_on_selector(selector, """img => {
        const r = img.getBoundingClientRect();
        const s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
        const w = img.naturalWidth * s, h = img.naturalHeight * s;
        return {x: r.x + (r.width - w) / 2, y: r.y + (r.height - h) / 2, w: w, h: h,
                nw: img.naturalWidth, nh: img.naturalHeight};
    }""")


def test_browser_upload_click_mask_process_play(studio, subject_clip: Path, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    clip = Path(os.environ.get("BGFX_STUDIO_CLIP") or subject_clip)
    clicks = [tuple(float(v) for v in xy.split(",")) for xy in os.environ["BGFX_STUDIO_CLICK"].split(";")] \
        if os.environ.get("BGFX_STUDIO_CLICK") else [subject_center(0)]
    shots = Path(os.environ.get("BGFX_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(studio.url)
            expect(page.locator("#process")).to_be_visible()
            page.screenshot(path=str(shots / "01-start.png"))

            # ① upload: the first frame appears, large
            page.locator("#media-input input[type=file]").set_input_files(str(clip))
            frame_img = page.locator("#frame img").first
            expect(frame_img).to_be_visible()
            expect(page.locator("#status")).to_contain_text("frames")
            page.wait_for_function("() => document.querySelector('#frame img')?.naturalWidth > 0")
            before = _png(frame_img.screenshot())

            # ② click on the subject: the overlay (tint, outline, point) appears at once
            rect = _image_rect(page, "#frame img")
            sx, sy = rect["w"] / rect["nw"], rect["h"] / rect["nh"]
            scale = rect["nw"] / _source_width(page, clip)
            for n, (x, y) in enumerate(clicks, start=1):
                page.mouse.click(rect["x"] + x * scale * sx, rect["y"] + y * scale * sy)
                expect(page.locator("#status")).to_contain_text(f"{n} prompt")
            expect(page.locator("#status")).to_contain_text("A part missing? Click on it")  # what to do next
            page.wait_for_function(
                "() => document.querySelector('#bg-preview img')?.naturalWidth > 0", timeout=60_000)
            after = _png(frame_img.screenshot())
            assert after.shape == before.shape
            changed = np.abs(after.astype(int) - before.astype(int)).max(axis=2) > 30
            assert changed.mean() > 0.01, "the mask overlay did not appear"
            # background: the Image tab, then an example picture; the preview follows
            preview_src = page.eval_on_selector("#bg-preview img", "i => i.src")
            page.get_by_role("tab", name="Image").click()
            page.locator("img[src*='sunset']").first.click()
            page.wait_for_function("s => document.querySelector('#bg-preview img')?.src !== s", arg=preview_src)
            page.wait_for_timeout(1000)  # let the preview image paint for the screenshot
            page.screenshot(path=str(shots / "02-mask.png"))

            # a correction on a later frame: the slider to about frame 8, a click on the subject there;
            # the preview shows the subject's matte as the job carries it there, and says so
            if not os.environ.get("BGFX_STUDIO_CLIP"):
                shown = page.eval_on_selector("#frame img", "i => i.src")
                page.locator("#frame-slider").scroll_into_view_if_needed()
                track = page.locator("#frame-slider input[type=range]").bounding_box()
                page.mouse.click(track["x"] + track["width"] * 8 / (CLIP_FRAMES - 1), track["y"] + track["height"] / 2)
                number = page.locator("#frame-slider input[type=number]")
                page.wait_for_function("() => +document.querySelector('#frame-slider input[type=number]').value > 0")
                n = int(number.input_value())
                # the frame shown follows the slider (a click before that would go to the last frame)
                page.wait_for_function("s => document.querySelector('#frame img')?.src !== s", arg=shown)
                page.wait_for_function("() => document.querySelector('#frame img')?.naturalWidth > 0")
                rect = _image_rect(page, "#frame img")
                x, y = subject_center(n)
                page.mouse.click(rect["x"] + x * scale * sx, rect["y"] + y * scale * sy)
                expect(page.locator("#status")).to_contain_text(f"on frames 0, {n}")
                expect(page.locator("#frame")).to_contain_text(f"Frame {n}: a click corrects the subject's matte")
                expect(page.locator("#status")).to_contain_text(
                    "a correction of subject 1: shown is its matte as the job carries it here from frame 0")
                # 'Matte here': the matte the job carries to this frame, as opaque as it is there
                shown = page.eval_on_selector("#frame img", "i => i.src")
                page.locator("#matte-here").click()
                expect(page.locator("#status")).to_contain_text("the matte as the job carries it here from frame 0")
                expect(page.locator("#frame")).to_contain_text(f"Frame {n}: the matte the job carries here")
                page.wait_for_function("s => document.querySelector('#frame img')?.src !== s", arg=shown)

            # ③ process: progress, then a composite the browser can play
            if os.environ.get("BGFX_STUDIO_CLIP"):
                page.locator("#options").click()
                page.get_by_label("Trim end (s, 0 = to the end)").fill("2")
            page.locator("#process").click()
            if os.environ.get("BGFX_SCREENSHOT_DIR"):
                page.wait_for_timeout(1500)
                page.screenshot(path=str(shots / "03-processing.png"))
            page.wait_for_selector("#result-video video[src]", timeout=240_000)
            expect(page.locator("#job-status")).to_contain_text("Done")
            playable = page.wait_for_function("""() => {
                const v = document.querySelector('#result-video video');
                return v && v.readyState >= 2 && v.videoWidth > 0 && v.duration > 0 && !v.error
                    ? {w: v.videoWidth, d: v.duration} : false;
            }""", timeout=60_000).json_value()
            assert playable["w"] > 0 and playable["d"] > 0
            page.locator("#result-video").scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "04-result.png"), full_page=True)
        finally:
            browser.close()


def test_browser_photo_box_undo_and_second_subject(studio, subject_photo: Path) -> None:  # noqa: F811
    """A photo: box mode (two clicks), undo, a second subject, then the cut-out result image."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(studio.url)
            page.locator("#media-input input[type=file]").set_input_files(str(subject_photo))
            expect(page.locator("#status")).to_contain_text("photo")
            expect(page.locator("#frame-slider")).to_be_hidden()  # a photo has no frames to choose
            page.wait_for_function("() => document.querySelector('#frame img')?.naturalWidth > 0")
            rect = _image_rect(page, "#frame img")
            k = rect["w"] / _source_width(page, subject_photo)

            def click(x: float, y: float, then: str) -> None:
                """Click on the frame once the frame shown after the last click has loaded (a click on
                an image still being swapped in is lost: a slow machine's CI saw the box's second
                corner go missing), and wait for the status that answers it."""
                page.wait_for_function(
                    "() => { const i = document.querySelector('#frame img'); return i?.complete && i.naturalWidth > 0; }")
                page.mouse.click(rect["x"] + x * k, rect["y"] + y * k)
                expect(page.locator("#status")).to_contain_text(then, timeout=30_000)

            cx, cy = subject_center(0)
            r = CLIP_H // 4 + 5
            page.get_by_label("Box (2 clicks)").check()
            click(cx - r, cy - r, "opposite corner")
            click(cx + r, cy + r, "1 prompt")
            page.get_by_role("button", name="+ subject").click()
            expect(page.get_by_label("Subject 2")).to_be_checked()
            page.get_by_label("Subject (+)").check()
            click(5, 5, "2 prompts")
            page.get_by_role("button", name="Undo click").click()
            expect(page.locator("#status")).to_contain_text("1 prompt", timeout=30_000)
            page.get_by_role("tab", name="Colour").click()
            page.locator("#process").click()
            expect(page.locator("#job-status")).to_contain_text("Done")
            page.wait_for_function("() => document.querySelector('#result-photo img')?.naturalWidth > 0")
            result = _png(page.locator("#result-photo img").first.screenshot())
            h, w = result.shape[:2]
            assert result[h // 2, int(w * cx / (CLIP_H * 4 / 3))][0] > 180  # the orange subject stays
            expect(page.locator("#downloads")).to_contain_text("cutout")
        finally:
            browser.close()


def _source_width(page, clip: Path) -> float:
    from core.preview import media_info

    return float(media_info(clip).width)
