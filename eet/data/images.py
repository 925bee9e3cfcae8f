"""Image decoding that turns every supported file into an 8-bit RGB image or fails loudly."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from tqdm import tqdm

from eet.data.errors import DatasetError, ImageDecodeError

logger = logging.getLogger(__name__)

# Background that transparent pixels are composited onto.
_ALPHA_BACKGROUND = (255, 255, 255)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB: 16-bit and 32-bit greyscale are rescaled to 8 bits, alpha
    is composited onto white, CMYK and palette images go through Pillow's converters."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        # 16-bit files hold 0..65535; 32-bit integer and float modes are scaled by their maximum.
        top = 65535.0 if image.mode.startswith("I;16") else max(float(values.max()), 1.0)
        image = Image.fromarray(np.clip(np.rint(values / top * 255.0), 0, 255).astype(np.uint8))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, _ALPHA_BACKGROUND + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_rgb(path: Path | str) -> Image.Image:
    """Decode an image file completely and return it in RGB with its EXIF orientation applied.

    Greyscale, 16-bit, CMYK, palette and alpha images become 8-bit RGB (alpha composited onto
    white). A truncated or undecodable file raises ImageDecodeError naming the file.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise DatasetError(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set, which would decode truncated files silently; "
            "remove the code that sets it"
        )
    try:
        with Image.open(path) as image:
            image.load()
            oriented = ImageOps.exif_transpose(image)
            return _to_rgb(oriented)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
        raise ImageDecodeError(f"cannot decode image {path}: {error}; replace the file or list it in "
                               f"known_bad_images for this dataset") from error


def verify_images(table: pd.DataFrame, root: Path, known_bad: list[str], report_path: Path) -> dict:
    """Decode every image of a split table once and write a JSON report of the bad ones.

    ``known_bad`` contains paths relative to ``root`` that the config excludes. Raises DatasetError
    with the count and the report path when any other image fails; returns the report otherwise.
    """
    root_text = Path(root).as_posix().rstrip("/") + "/"
    known = set(known_bad)
    bad = []
    for path in tqdm(table["path"], desc="decoding images", unit="image"):
        try:
            load_rgb(path)
        except ImageDecodeError as error:
            relative = path[len(root_text):] if path.startswith(root_text) else path
            logger.warning("%s", error)
            bad.append({"path": path, "relative_path": relative, "error": str(error.__cause__ or error), "known": relative in known})
    unknown = [entry for entry in bad if not entry["known"]]
    report = {"images": len(table), "bad": bad, "bad_count": len(bad), "unexcused_count": len(unknown)}

    report_path = Path(report_path)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = report_path.with_name(report_path.name + ".tmp")
    temporary.write_text(json.dumps(report, indent=2) + "\n")
    if unknown:
        # Keep the report for the user, but under a name that does not look finished.
        failed = report_path.with_name(report_path.name + ".failed")
        os.replace(temporary, failed)
        raise DatasetError(
            f"{len(unknown)} of {len(table)} images cannot be decoded; see {failed}. Replace them, or "
            f"list their relative paths under known_bad_images for this dataset to exclude them."
        )
    os.replace(temporary, report_path)
    logger.info("decoded %d images, %d known bad", len(table), len(bad))
    return report
