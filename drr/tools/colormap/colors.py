"""Distinct colours of an image: 16-bit quantised keys, or 24-bit keys counted over the 8-bit cube."""

from __future__ import annotations

import numba
import numpy as np

_CUBE_SCRATCH = []  # reusable zeroed (slot, block) arrays for _unique_24bit
_CUBE_SCRATCH_LOCK = __import__("threading").Lock()


def _pack_colors(f):
    """Unique colours of a float (..., 3) image quantised to 16 bits: (unique (U,3), inverse, counts).

    Colours come out sorted by their 48-bit key (as ``np.unique`` sorts them).
    When every channel is an 8-bit level (``k / 255``, the usual case) a
    counting pass over the 2**24 colour cube replaces the sort.
    """
    cols, inv, counts, _ = _pack_colors_keyed(f)
    return cols, inv, counts


def _pack_colors_keyed(f):
    """:func:`_pack_colors` plus the 24-bit keys ``(R << 16) | (G << 8) | B`` of the
    unique colours when all are 8-bit levels (else ``None``)."""
    if f.dtype == np.uint8:  # 8-bit input (:func:`_uint8_pixels`), >= 4096 pixels
        key = _keys_bytes(f.reshape(-1, 3))
    else:
        flat = f.reshape(-1, 3)
        key = _keys_8bit(flat) if len(flat) >= 4096 else None
    if key is not None and key[0] >= 0:
        uniq, inv, counts = _unique_24bit(key)
        cols = np.stack([(uniq >> 16) & 0xFF, (uniq >> 8) & 0xFF, uniq & 0xFF], axis=1) / 255.0
        return cols, inv, counts, uniq
    q = np.rint(flat * 65535.0).astype(np.int64)
    key = (q[:, 0] << 32) | (q[:, 1] << 16) | q[:, 2]
    uniq, inv = np.unique(key, return_inverse=True)
    cols = np.stack([(uniq >> 32) & 0xFFFF, (uniq >> 16) & 0xFFFF, uniq & 0xFFFF], axis=1) / 65535.0
    counts = np.bincount(inv, minlength=len(uniq))
    return cols, inv.reshape(-1), counts, None


@numba.njit(cache=True)
def _keys_bytes(flat):
    """24-bit keys ``(R << 16) | (G << 8) | B`` of uint8 colours (N, 3), the same as
    :func:`_keys_8bit` gives for ``flat / 255`` (as int32)."""
    key = np.empty(flat.shape[0], dtype=np.int32)
    for i in range(flat.shape[0]):
        key[i] = (np.int32(flat[i, 0]) << 16) | (np.int32(flat[i, 1]) << 8) | np.int32(flat[i, 2])
    return key


@numba.njit(cache=True)
def _keys_8bit(flat):
    """24-bit keys ``(R << 16) | (G << 8) | B`` of float colours that are all 8-bit levels.

    Returns ``[-1]`` as soon as one channel is not ``k / 255`` exactly.
    """
    key = np.empty(flat.shape[0], dtype=np.int64)
    for i in range(flat.shape[0]):
        k = 0
        for ch in range(3):
            v = flat[i, ch] * 255.0
            q = np.rint(v)
            if q != v:
                return np.full(1, -1, dtype=np.int64)
            k = (k << 8) | int(q)
        key[i] = k
    return key


def _unique_24bit(key):
    """np.unique(key, return_inverse=True, return_counts=True) for keys in [0, 2**24).

    The 64 MiB count array is kept between calls (zeroed again after use:
    a fresh one costs page faults on every call); a call that finds it in
    use (another thread) allocates its own.
    """
    if _CUBE_SCRATCH_LOCK.acquire(blocking=False):
        try:
            if not _CUBE_SCRATCH:
                _CUBE_SCRATCH.append((np.zeros(1 << 24, dtype=np.int32), np.zeros(1 << 16, dtype=np.int32)))
            slot, block = _CUBE_SCRATCH[0]
            return _unique_24bit_kernel(key, slot, block)
        finally:
            _CUBE_SCRATCH_LOCK.release()
    return _unique_24bit_kernel(key, np.zeros(1 << 24, dtype=np.int32), np.zeros(1 << 16, dtype=np.int32))


@numba.njit(cache=True)
def _unique_24bit_kernel(key, slot, block):
    """:func:`_unique_24bit` with zeroed scratch ``slot`` (2**24) and ``block`` (2**16), left zeroed.

    A count per key, then a sweep in key order that visits only the
    256-key blocks holding at least one key.
    """
    n = 0
    for i in range(key.shape[0]):
        k = key[i]
        if slot[k] == 0:
            n += 1
            block[k >> 8] += 1
        slot[k] += 1
    uniq = np.empty(n, dtype=np.int64)
    counts = np.empty(n, dtype=np.int64)
    j = 0
    for b in range(1 << 16):
        if block[b] == 0:
            continue
        for k in range(b << 8, (b + 1) << 8):
            if slot[k] > 0:
                uniq[j] = k
                counts[j] = slot[k]
                slot[k] = j
                j += 1
    inv = np.empty(key.shape[0], dtype=np.int32)  # fewer than 2**24 colours
    for i in range(key.shape[0]):
        inv[i] = slot[key[i]]
    for j in range(n):
        slot[uniq[j]] = 0
        block[uniq[j] >> 8] = 0
    return uniq, inv, counts
