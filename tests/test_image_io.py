"""Photos: EXIF orientation, alpha, 16-bit, coded errors for bad files, atomic PNG writes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.exceptions import InputPathError, LimitExceededError, NotMediaError, TruncatedMediaError
from core.image_io import is_image_path, read_image, save_image, save_png
from tests import media


def _upright(w=64, h=48):
    return media.frame_pattern(5, w, h)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_read_common_formats(tmp_path, suffix):
    path = tmp_path / f"photo{suffix}"
    Image.fromarray(_upright()).save(path, quality=95)
    rgb = read_image(path)
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    assert media.decode_index(rgb) == 5 and media.has_upright_mark(rgb)


@pytest.mark.parametrize(("orientation", "turn"), [(6, -1), (8, 1), (3, 2)])
def test_exif_orientation_is_applied(tmp_path, orientation, turn):
    """Stored sideways + EXIF tag (as phones do) reads back upright."""
    upright = _upright()
    stored = np.ascontiguousarray(np.rot90(upright, k=-turn))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    rgb = read_image(path)
    assert rgb.shape == upright.shape
    assert media.decode_index(rgb) == 5 and media.has_upright_mark(rgb)


def test_alpha_dropped_or_kept_and_png_round_trip(tmp_path):
    rgba = np.dstack([_upright(), np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))])
    path = save_png(tmp_path / "cut.png", rgba)
    assert read_image(path).shape == (48, 64, 3)
    back = read_image(path, keep_alpha=True)
    assert np.array_equal(back, rgba)
    opaque = read_image(save_image(tmp_path / "c.jpg", rgba), keep_alpha=True)
    assert opaque.shape == (48, 64, 4) and (opaque[..., 3] == 255).all()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_sixteen_bit_grey_is_scaled(tmp_path):
    grey = (np.arange(64, dtype=np.uint16) * 1000)[None].repeat(8, axis=0)
    path = tmp_path / "deep.png"
    Image.fromarray(grey).save(path)
    rgb = read_image(path)
    assert rgb.shape == (8, 64, 3) and rgb[0, 63, 0] == round(63000 * 255 / 65535)


def test_is_image_path(tmp_path):
    png = tmp_path / "noext"
    Image.fromarray(_upright()).save(png, format="PNG")
    assert is_image_path("x.JPG") and is_image_path("x.webp") and is_image_path(png)
    assert not is_image_path("clip.mp4") and not is_image_path(tmp_path / "missing")
    moving = tmp_path / "moving.png"
    Image.fromarray(_upright()).save(moving, save_all=True, append_images=[Image.fromarray(_upright())] * 2)
    assert not is_image_path(moving)  # an animated PNG is a clip
    for name in ("still.avif", "still.jp2", "still.gif", "still.heic"):  # FFmpeg: one-frame clips or nothing
        Image.fromarray(_upright()).save(tmp_path / name)
        assert is_image_path(tmp_path / name), name
        assert read_image(tmp_path / name).shape == _upright().shape
    Image.fromarray(_upright()).save(tmp_path / "moving.gif", save_all=True,
                                     append_images=[Image.fromarray(255 - _upright())] * 2)
    assert not is_image_path(tmp_path / "moving.gif")


def test_bad_images_give_coded_errors(tmp_path):
    with pytest.raises(NotMediaError):
        read_image(media.make_random_bytes(tmp_path / "noise.png"))
    good = tmp_path / "good.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(good)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(TruncatedMediaError):
        read_image(cut)
    with pytest.raises(LimitExceededError) as caught:
        read_image(good, max_side_px=100)
    assert caught.value.code == "E105" and caught.value.hint
    with pytest.raises(InputPathError):
        read_image(tmp_path)


def test_animated_webp_copies_are_made_once_and_only_the_recent_ones_kept(tmp_path, monkeypatch):
    """Each animated WebP's lossless copy is written once (the same file on a second ask) and the
    folder keeps the KEEP most recently used, so a long-running studio does not fill its disk."""
    import tempfile

    from core import animated_webp
    from core.video_io import probe

    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    copies = []
    for n in range(animated_webp.KEEP + 2):
        path = tmp_path / f"a{n}.webp"
        frames = [Image.fromarray(np.full((20, 30, 3), 20 * i + n, np.uint8)) for i in range(3)]
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=[50, 100, 150], lossless=True)
        copies.append(animated_webp.decodable(path))
        assert animated_webp.decodable(path) == copies[-1]
        info = probe(path)
        assert info.frame_count == 3 and info.duration_s == pytest.approx(0.3) and info.codec == "webp (animated)"
    left = sorted((tmp_path / "tmp" / "bgfx-animations").glob("*.mkv"))
    assert len(left) == animated_webp.KEEP and copies[-1] in left and copies[0] not in left
    still = tmp_path / "still.webp"
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(still)
    assert animated_webp.decodable(still) == still and is_image_path(still)
