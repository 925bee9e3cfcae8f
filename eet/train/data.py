"""Image datasets and transforms built from the split table."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from eet.data.images import load_rgb

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESIZE_RATIO = 256 / 224  # test images: resize the short side to img_size * 256/224, then centre-crop


def train_transform(img_size: int, crop_scale: Sequence[float]) -> v2.Compose:
    """RandomResizedCrop + horizontal flip + ImageNet normalisation."""
    return v2.Compose([
        v2.ToImage(),
        v2.RandomResizedCrop(img_size, scale=tuple(crop_scale), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


def eval_transform(img_size: int) -> v2.Compose:
    """Resize to img_size * 256/224 + centre crop + ImageNet normalisation."""
    return v2.Compose([
        v2.ToImage(),
        v2.Resize(round(img_size * RESIZE_RATIO), antialias=True),
        v2.CenterCrop(img_size),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


class SplitImageDataset(Dataset):
    """Images of one split; item ``i`` is (image tensor, label, i).

    The position ``i`` indexes the rows of ``table`` (and of the target-code array of the training
    split, which is stored in the same order).
    """

    def __init__(self, table: pd.DataFrame, transform: v2.Compose) -> None:
        self.paths = table["path"].tolist()
        self.labels = torch.tensor(table["label"].to_numpy(), dtype=torch.long)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        image = self.transform(load_rgb(self.paths[index]))
        return image, self.labels[index], index


def split_rows(table: pd.DataFrame, split: str) -> pd.DataFrame:
    """Return the rows of ``split`` ("train" or "test") ordered by image_id."""
    rows = table[table["split"] == split].sort_values("image_id").reset_index(drop=True)
    if rows.empty:
        raise ValueError(f"the split table has no {split!r} rows; rebuild it with the split_dataset rule")
    return rows


def make_loader(
    dataset: Dataset, batch_size: int, shuffle: bool, num_workers: int, seed: int, drop_last: bool = False
) -> DataLoader:
    """Build a DataLoader whose shuffling order depends only on ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        generator=generator,
        drop_last=drop_last,
        persistent_workers=False,
    )
