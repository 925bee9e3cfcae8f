"""Bit packing of binary hash codes into 64-bit words.

Column ``j`` of a code is stored in word ``j // 64`` at bit ``j % 64`` (least significant bit
first), so the Hamming distance of two packed codes is the popcount of their XOR summed over
words. Bits past the code length are zero in every packed array this module returns, which keeps
them out of every distance.
"""

from __future__ import annotations

import numpy as np

WORD_BITS = 64


def words_for_bits(bits: int) -> int:
    """Return the number of 64-bit words that hold a code of ``bits`` bits."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits < 1:
        raise ValueError(f"bits must be a positive integer, got {bits!r}")
    return (int(bits) + WORD_BITS - 1) // WORD_BITS


def pack_codes(codes: np.ndarray) -> np.ndarray:
    """Pack real-valued or ±1 codes into bits.

    A value ``>= 0`` becomes bit 1 and a value ``< 0`` becomes bit 0, so ``sign`` outputs with
    ``sign(0) = 0`` pack as 1, the same as ``+1``.

    Args:
        codes: ``(n, K)`` array of real numbers, ±1 values or booleans (True is bit 1).

    Returns:
        ``(n, ceil(K / 64))`` C-contiguous ``uint64`` array whose unused high bits are zero.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be a 2-D (items, bits) array, got shape {codes.shape}")
    if codes.shape[1] < 1:
        raise ValueError(f"codes must have at least one bit column, got shape {codes.shape}")
    if codes.dtype == bool:
        bit_matrix = codes
    elif np.issubdtype(codes.dtype, np.number):
        if np.issubdtype(codes.dtype, np.inexact) and not np.isfinite(codes).all():
            bad_row = int(np.argwhere(~np.isfinite(codes))[0, 0])
            raise ValueError(
                f"codes contain NaN or infinite values (first in row {bad_row}); "
                "binarise finite model outputs only"
            )
        bit_matrix = codes >= 0
    else:
        raise ValueError(f"codes must be numeric or boolean, got dtype {codes.dtype}")

    num_items, bits = bit_matrix.shape
    words = words_for_bits(bits)
    packed_bytes = np.packbits(bit_matrix, axis=1, bitorder="little")
    padded = np.zeros((num_items, words * 8), dtype=np.uint8)
    padded[:, : packed_bytes.shape[1]] = packed_bytes
    # Reading the bytes as little-endian words puts column j at bit j % 64 on every platform.
    return padded.view("<u8").astype(np.uint64, copy=False).reshape(num_items, words).copy()


def unpack_codes(packed: np.ndarray, bits: int) -> np.ndarray:
    """Unpack codes from :func:`pack_codes` into an ``(n, bits)`` ``int8`` array of ±1."""
    packed = check_packed(packed, bits, name="packed")
    as_bytes = np.ascontiguousarray(packed.astype("<u8", copy=False)).view(np.uint8)
    bit_matrix = np.unpackbits(as_bytes, axis=1, count=bits, bitorder="little")
    return (bit_matrix.astype(np.int8) * 2 - 1).astype(np.int8)


def check_packed(packed: np.ndarray, bits: int, name: str = "codes") -> np.ndarray:
    """Validate a packed code array and return it as a C-contiguous ``uint64`` array.

    Raises:
        ValueError: when the array is not 2-D ``uint64`` with ``ceil(bits / 64)`` columns, or
            when a bit past ``bits`` is set (such a bit would silently change distances).
    """
    words = words_for_bits(bits)
    packed = np.asarray(packed)
    if packed.dtype != np.uint64:
        raise ValueError(
            f"{name} must be packed uint64 codes from eet.hashing.packing.pack_codes, "
            f"got dtype {packed.dtype}"
        )
    if packed.ndim != 2 or packed.shape[1] != words:
        raise ValueError(
            f"{name} must have shape (n, {words}) for {bits}-bit codes, got {packed.shape}; "
            "check the bits argument or pack the codes with pack_codes"
        )
    tail_bits = bits - (words - 1) * WORD_BITS
    if tail_bits < WORD_BITS and packed.shape[0] > 0:
        unused_mask = np.uint64(~((1 << tail_bits) - 1) & (2**WORD_BITS - 1))
        dirty_rows = np.flatnonzero(packed[:, -1] & unused_mask)
        if dirty_rows.size:
            raise ValueError(
                f"{name} has bits set past bit {bits} (first in row {int(dirty_rows[0])}); "
                f"the codes were packed for a longer code length than bits={bits}"
            )
    return np.ascontiguousarray(packed)
