"""Label-derived target hash codes (the first step of two-step hashing).

Before any network is trained, every training image gets a ±1 code learnt from its label alone by
alternating minimisation of

    sigma * ||Y - U V||^2 + delta * ||B - R V||^2

where Y (C x n) contains one-hot labels, V (K x n) real-valued codes, U (C x K) a linear decoder of
labels, R (K x K) an orthogonal rotation and B = sign(R V) the binary codes. Y is never built: every
product with it is computed from the label vector (a sum of columns per class, or a row lookup), so
memory grows with C*K + n*K, not with C*n.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

RIDGE = 1e-6  # keeps V V^T invertible when K exceeds the number of distinct classes


def learn_target_codes(
    labels: np.ndarray,
    num_classes: int,
    bits: int,
    *,
    sigma: float = 1.0,
    delta: float = 1e-4,
    iterations: int = 15,
    seed: int = 0,
) -> np.ndarray:
    """Learn one ±1 target code per training image from its class label.

    Args:
        labels: (n,) integer class ids in 0..num_classes-1.
        num_classes: number of classes C.
        bits: code length K.
        sigma, delta: weights of the label-reconstruction and quantisation terms.
        iterations: rounds of alternating updates of U, V, R and B.
        seed: seed of the random initialisation of V and R.

    Returns:
        (n, K) int8 array of ±1 (a zero from sign() becomes +1). Images of one class share a code.

    Raises:
        ValueError: on an empty label vector, a label outside 0..C-1 or a non-positive setting.
    """
    labels = np.asarray(labels)
    _check_inputs(labels, num_classes, bits, sigma, delta, iterations)
    rng = np.random.default_rng(seed)
    num_items = labels.shape[0]

    # NOTE: V starts with one random column per class rather than per image. Every update keeps
    # images of a class equal, so they share a code even when K exceeds the number of classes.
    # With per-image starts, the K - C directions that labels leave undetermined stay random per image.
    codes_real = rng.standard_normal((bits, num_classes))[:, labels]
    rotation, _ = np.linalg.qr(rng.standard_normal((bits, bits)))
    codes_binary = _sign(rotation @ codes_real)

    for iteration in range(iterations):
        # U = Y V^T (V V^T)^-1, with Y V^T summed per class instead of multiplied by Y.
        label_by_code = _sum_columns_per_class(codes_real, labels, num_classes)  # (C, K)
        gram = codes_real @ codes_real.T + RIDGE * np.eye(bits)
        decoder = np.linalg.solve(gram, label_by_code.T).T  # (C, K)

        # V = (sigma U^T U + delta I)^-1 (sigma U^T Y + delta R^T B); U^T Y is a row lookup of U.
        system = sigma * decoder.T @ decoder + delta * np.eye(bits)
        right_side = sigma * decoder[labels].T + delta * rotation.T @ codes_binary
        codes_real = np.linalg.solve(system, right_side)

        # R: orthogonal Procrustes between B and V.
        left, _, right_t = np.linalg.svd(codes_binary @ codes_real.T)
        rotation = left @ right_t

        codes_binary = _sign(rotation @ codes_real)
        if logger.isEnabledFor(logging.DEBUG):
            quantisation = float(np.sum((codes_binary - rotation @ codes_real) ** 2))
            logger.debug("target codes iteration %d: quantisation loss %.4f", iteration + 1, quantisation)

    codes = codes_binary.T.astype(np.int8)
    distinct = len(np.unique(codes[np.unique(labels, return_index=True)[1]], axis=0))
    logger.info(
        "learnt %d-bit target codes for %d images of %d classes (%d distinct class codes)",
        bits, num_items, len(np.unique(labels)), distinct,
    )
    return codes


def _sign(values: np.ndarray) -> np.ndarray:
    return np.where(values >= 0, 1.0, -1.0)


def _sum_columns_per_class(codes_real: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    sums = np.zeros((num_classes, codes_real.shape[0]))
    np.add.at(sums, labels, codes_real.T)
    return sums


def _check_inputs(
    labels: np.ndarray, num_classes: int, bits: int, sigma: float, delta: float, iterations: int
) -> None:
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"labels must lie in 0..{num_classes - 1} for {num_classes} classes, found {low}..{high}; "
            "check the split table's label column"
        )
    for name, value in (("bits", bits), ("iterations", iterations)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}; fix it in the config")
    for name, value in (("sigma", sigma), ("delta", delta)):
        if value <= 0:
            raise ValueError(f"targets.{name} must be positive, got {value}; fix it in the config")
