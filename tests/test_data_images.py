"""load_rgb and verify_images on real image files of every awkward kind."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from eet.data.errors import DatasetError, ImageDecodeError
from eet.data.images import load_rgb, verify_images


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(path, format="JPEG", quality=100)
    image = load_rgb(path)
    assert image.mode == "RGB"
    red, green, blue = image.getpixel((4, 4))
    assert red > 200
    assert green < 60
    assert blue < 60


def test_grayscale_jpeg_becomes_rgb(tmp_path):
    path = tmp_path / "grey.jpg"
    Image.new("L", (8, 8), 100).save(path, format="JPEG", quality=100)
    image = load_rgb(path)
    assert image.mode == "RGB"
    assert all(abs(channel - 100) <= 2 for channel in image.getpixel((4, 4)))


def test_png_alpha_composited_on_white(tmp_path):
    path = tmp_path / "alpha.png"
    pixels = np.zeros((4, 4, 4), dtype=np.uint8)
    pixels[..., 0] = 255
    pixels[0, 0, 3] = 255  # one opaque red pixel, the rest fully transparent
    Image.fromarray(pixels, mode="RGBA").save(path)
    image = load_rgb(path)
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 0, 0)
    assert image.getpixel((1, 1)) == (255, 255, 255)


def test_palette_png_becomes_rgb(tmp_path):
    path = tmp_path / "palette.png"
    Image.new("RGB", (4, 4), (10, 200, 30)).convert("P", palette=Image.Palette.ADAPTIVE).save(path)
    image = load_rgb(path)
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (10, 200, 30)


def test_16bit_png_scaled_to_8bit(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((4, 4), 65535 // 2, dtype=np.uint16)).save(path)
    image = load_rgb(path)
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (127, 127, 127)


def test_exif_orientation_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored image must be rotated 90 degrees clockwise for display
    Image.new("RGB", (16, 8), (0, 0, 255)).save(path, format="JPEG", exif=exif.tobytes())
    assert load_rgb(path).size == (8, 16)


def test_truncated_jpeg_rejected_with_path(tmp_path):
    path = tmp_path / "truncated.jpg"
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, format="JPEG")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ImageDecodeError, match=str(path)):
        load_rgb(path)


def test_non_image_rejected_with_path(tmp_path):
    path = tmp_path / "text.jpg"
    path.write_text("not an image")
    with pytest.raises(ImageDecodeError, match=str(path)):
        load_rgb(path)


def _table_with_one_bad_image(tmp_path):
    good = tmp_path / "root" / "good.jpg"
    good.parent.mkdir()
    Image.new("RGB", (4, 4)).save(good)
    bad = tmp_path / "root" / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff broken")
    return pd.DataFrame({"path": [good.as_posix(), bad.as_posix()]})


def test_verify_images_fails_with_report(tmp_path):
    table = _table_with_one_bad_image(tmp_path)
    report_path = tmp_path / "out" / "report.json"
    with pytest.raises(DatasetError, match=r"1 of 2 images cannot be decoded; see .*report.json.failed"):
        verify_images(table, tmp_path / "root", [], report_path)
    report = json.loads((tmp_path / "out" / "report.json.failed").read_text())
    assert [entry["relative_path"] for entry in report["bad"]] == ["bad.jpg"]
    assert not report_path.exists()


def test_verify_images_accepts_known_bad(tmp_path):
    table = _table_with_one_bad_image(tmp_path)
    report = verify_images(table, tmp_path / "root", ["bad.jpg"], tmp_path / "report.json")
    assert report["bad_count"] == 1
    assert report["unexcused_count"] == 0
    assert (tmp_path / "report.json").is_file()
