"""Generated fine-grained dataset written in CUB-200-2011's on-disk layout.

Every image shows one "bird": a body (an ellipse in a neutral colour that carries no class
information) with a small head patch at one end. The class is the head's hue and texture pattern,
so only a local part of about 1/36 of the image separates the classes, and the bird sits at a random
place on a cluttered background with low-saturation distractor shapes. Attending to the head region
is therefore what a model must learn, which is the situation CTP and DRG are designed for.

The output is deterministic given the arguments: image ``i`` is drawn from a random generator
seeded with ``(seed, i)``, so regenerating writes byte-identical metadata and images.
"""

from __future__ import annotations

import colorsys
import logging
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from eet.atomic import atomic_output

logger = logging.getLogger(__name__)

PATTERNS = ("solid", "hstripes", "vstripes", "checker")
PATTERN_NAMES = {"solid": "Plain", "hstripes": "Barred", "vstripes": "Streaked", "checker": "Spotted"}
JPEG_QUALITY = 92
MIN_IMAGE_SIZE = 32


def class_names(num_classes: int) -> list[str]:
    """Return CUB-style class folder names, ``001.Hue0_Plain_Finch`` and so on."""
    names = []
    for class_index in range(num_classes):
        hue_index, pattern = _class_hue_and_pattern(class_index, num_classes)
        names.append(f"{class_index + 1:03d}.Hue{hue_index}_{PATTERN_NAMES[pattern]}_Finch")
    return names


def _num_hues(num_classes: int) -> int:
    return math.ceil(num_classes / len(PATTERNS))


def _class_hue_and_pattern(class_index: int, num_classes: int) -> tuple[int, str]:
    return class_index // len(PATTERNS), PATTERNS[class_index % len(PATTERNS)]


def _hsv_to_rgb(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return int(red * 255), int(green * 255), int(blue * 255)


def _draw_background(rng: np.random.Generator, size: int) -> Image.Image:
    """Low-frequency colour noise with random lines and blobs (clutter)."""
    grid = rng.uniform(60, 200, size=(4, 4, 3)).astype(np.uint8)
    image = Image.fromarray(grid, "RGB").resize((size, size), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 9))):
        colour = _hsv_to_rgb(rng.uniform(), rng.uniform(0.0, 0.35), rng.uniform(0.3, 0.9))
        x0, y0, x1, y1 = rng.uniform(0, size, size=4)
        draw.line([(x0, y0), (x1, y1)], fill=colour, width=int(rng.integers(1, 3)))
    for _ in range(int(rng.integers(2, 5))):
        colour = _hsv_to_rgb(rng.uniform(), rng.uniform(0.0, 0.35), rng.uniform(0.3, 0.9))
        radius = rng.uniform(size * 0.04, size * 0.12)
        cx, cy = rng.uniform(0, size, size=2)
        draw.ellipse([cx - radius, cy - radius * 0.7, cx + radius, cy + radius * 0.7], fill=colour)
    return image


def _head_patch(pattern: str, colour: tuple[int, int, int], side: int) -> Image.Image:
    """Draw the class-defining head texture on a square of ``side`` pixels."""
    dark = tuple(channel // 4 for channel in colour)
    pixels = np.empty((side, side, 3), dtype=np.uint8)
    pixels[:] = colour
    period = max(2, side // 4)
    rows, cols = np.mgrid[0:side, 0:side]
    if pattern == "hstripes":
        mask = (rows // (period // 2 or 1)) % 2 == 1
    elif pattern == "vstripes":
        mask = (cols // (period // 2 or 1)) % 2 == 1
    elif pattern == "checker":
        mask = ((rows // period) + (cols // period)) % 2 == 1
    else:
        mask = np.zeros((side, side), dtype=bool)
    pixels[mask] = dark
    return Image.fromarray(pixels, "RGB")


def draw_bird(class_index: int, num_classes: int, size: int, rng: np.random.Generator) -> Image.Image:
    """Draw one image of class ``class_index`` with the random choices taken from ``rng``."""
    image = _draw_background(rng, size)
    draw = ImageDraw.Draw(image)

    body_width = rng.uniform(0.30, 0.42) * size
    body_height = body_width * rng.uniform(0.55, 0.7)
    head_side = max(4, size // 6)
    margin = head_side + 2
    cx = rng.uniform(margin + body_width / 2, size - margin - body_width / 2)
    cy = rng.uniform(margin + body_height / 2, size - margin - body_height / 2)
    body_colour = _hsv_to_rgb(rng.uniform(0.05, 0.12), rng.uniform(0.1, 0.35), rng.uniform(0.35, 0.7))
    draw.ellipse(
        [cx - body_width / 2, cy - body_height / 2, cx + body_width / 2, cy + body_height / 2],
        fill=body_colour,
    )

    hue_index, pattern = _class_hue_and_pattern(class_index, num_classes)
    hue = hue_index / _num_hues(num_classes) + rng.uniform(-0.02, 0.02)
    head_colour = _hsv_to_rgb(hue, rng.uniform(0.8, 1.0), rng.uniform(0.8, 1.0))
    facing_right = rng.uniform() < 0.5
    head_x = cx + body_width / 2 - head_side / 3 if facing_right else cx - body_width / 2 - 2 * head_side / 3
    head_y = cy - body_height / 2 - head_side / 3
    image.paste(_head_patch(pattern, head_colour, head_side), (int(round(head_x)), int(round(head_y))))
    return image


def generate_synthetic_cub(
    root: Path,
    *,
    num_classes: int,
    train_per_class: int,
    test_per_class: int,
    image_size: int,
    seed: int,
) -> None:
    """Write the generated dataset into ``root`` in CUB-200-2011's layout.

    ``root`` plays the part of the extracted ``CUB_200_2011`` folder: it receives
    ``images/<NNN.Class_Name>/<file>.jpg``, ``images.txt``, ``image_class_labels.txt``,
    ``train_test_split.txt`` and ``classes.txt`` with 1-based ids, as in the real dataset. Metadata
    files are written last, each to a temporary name and then renamed, so an interrupted run never
    leaves a complete-looking folder.

    Raises:
        ValueError: when a count or the image size is out of range.
    """
    _check_positive("num_classes", num_classes, minimum=2)
    _check_positive("train_per_class", train_per_class)
    _check_positive("test_per_class", test_per_class)
    _check_positive("image_size", image_size, minimum=MIN_IMAGE_SIZE)

    root = Path(root)
    names = class_names(num_classes)
    per_class = train_per_class + test_per_class
    image_lines, label_lines, split_lines = [], [], []
    total = num_classes * per_class
    with tqdm(total=total, desc="generating synthetic_cub", unit="img", disable=None) as progress:
        for class_index, class_folder in enumerate(names):
            (root / "images" / class_folder).mkdir(parents=True, exist_ok=True)
            for rank in range(per_class):
                image_id = class_index * per_class + rank + 1
                rng = np.random.default_rng([seed, image_id])
                relative = f"{class_folder}/{class_folder.split('.', 1)[1]}_{image_id:05d}.jpg"
                image = draw_bird(class_index, num_classes, image_size, rng)
                _save_atomically(image, root / "images" / relative)
                image_lines.append(f"{image_id} {relative}")
                label_lines.append(f"{image_id} {class_index + 1}")
                split_lines.append(f"{image_id} {1 if rank < train_per_class else 0}")
                progress.update()

    _write_text_atomically(root / "classes.txt", [f"{i + 1} {name}" for i, name in enumerate(names)])
    _write_text_atomically(root / "image_class_labels.txt", label_lines)
    _write_text_atomically(root / "train_test_split.txt", split_lines)
    # images.txt goes last: a folder with it present has every other file too.
    _write_text_atomically(root / "images.txt", image_lines)
    logger.info(
        "generated synthetic_cub in %s: %d classes, %d train + %d test images per class, %d px",
        root, num_classes, train_per_class, test_per_class, image_size,
    )


def _check_positive(name: str, value: int, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(
            f"synthetic_cub option {name} must be an integer >= {minimum}, got {value!r}; "
            f"fix datasets.synthetic_cub.options.{name} in the config"
        )


def _save_atomically(image: Image.Image, path: Path) -> None:
    with atomic_output(path) as temporary:
        image.save(temporary, format="JPEG", quality=JPEG_QUALITY)


def _write_text_atomically(path: Path, lines: list[str]) -> None:
    with atomic_output(path) as temporary:
        temporary.write_text("\n".join(lines) + "\n")
