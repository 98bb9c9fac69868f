"""Distinct colours of an image: 16-bit quantised keys, or 24-bit keys counted over the 8-bit cube."""

from __future__ import annotations

import numba
import numpy as np

_CUBE_SCRATCH = []  # reusable (zeroed bitmap, word prefix) of the 8-bit cube for _unique_24bit
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
        return _cols_of_keys(uniq), inv, counts, uniq
    q = np.rint(flat * 65535.0).astype(np.int64)
    key = (q[:, 0] << 32) | (q[:, 1] << 16) | q[:, 2]
    uniq, inv = np.unique(key, return_inverse=True)
    cols = np.stack([(uniq >> 32) & 0xFFFF, (uniq >> 16) & 0xFFFF, uniq & 0xFFFF], axis=1) / 65535.0
    counts = np.bincount(inv, minlength=len(uniq))
    return cols, inv.reshape(-1), counts, None


@numba.njit(cache=True)  # serial: see _SERIAL_MS
def _cols_of_keys(uniq):
    """Colours in [0, 1] of 24-bit keys: ``stack([R, G, B], axis=1) / 255.0`` in one pass."""
    cols = np.empty((uniq.shape[0], 3))
    for j in range(uniq.shape[0]):
        k = uniq[j]
        cols[j, 0] = ((k >> 16) & 0xFF) / 255.0
        cols[j, 1] = ((k >> 8) & 0xFF) / 255.0
        cols[j, 2] = (k & 0xFF) / 255.0
    return cols


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

    A bitmap of the cube (2 MB, cached in the fast caches) marks the keys
    present; per 64-bit word the number of keys before it gives each key its
    index (the old count array of 64 MB missed the caches on every pixel:
    13.9 -> ~6 ms at 1000^2 noisy).  The bitmap and the word prefix are kept
    between calls (the bitmap zeroed again after use); a call that finds
    them in use (another thread) allocates its own.
    """
    if _CUBE_SCRATCH_LOCK.acquire(blocking=False):
        try:
            if not _CUBE_SCRATCH:
                _CUBE_SCRATCH.append((np.zeros(1 << 18, dtype=np.uint64), np.zeros(1 << 18, dtype=np.int32)))
            bits, prefix = _CUBE_SCRATCH[0]
            return _unique_24bit_kernel(key, bits, prefix)
        finally:
            _CUBE_SCRATCH_LOCK.release()
    return _unique_24bit_kernel(key, np.zeros(1 << 18, dtype=np.uint64), np.zeros(1 << 18, dtype=np.int32))


@numba.njit(cache=True, inline="always")
def _popcount64(x):
    """Set bits of a uint64 (SWAR)."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@numba.njit(cache=True, parallel=True)
def _ranks(key, bits, prefix, inv):
    """Index of each key among the keys present (bitmap ``bits``, keys before each word
    ``prefix``), in parallel."""
    one = np.uint64(1)
    for i in numba.prange(key.shape[0]):
        k = key[i]
        below = bits[k >> 6] & ((one << np.uint64(k & 63)) - one)
        inv[i] = prefix[k >> 6] + _popcount64(below)


@numba.njit(cache=True)
def _unique_24bit_kernel(key, bits, prefix):
    """:func:`_unique_24bit` with a zeroed bitmap ``bits`` (2**18 uint64), left zeroed,
    and scratch ``prefix`` (2**18 int32)."""
    one = np.uint64(1)
    for i in range(key.shape[0]):
        k = key[i]
        bits[k >> 6] |= one << np.uint64(k & 63)
    n = 0
    for wi in range(bits.shape[0]):
        prefix[wi] = n
        if bits[wi] != 0:
            n += _popcount64(bits[wi])
    uniq = np.empty(n, dtype=np.int64)
    j = 0
    for wi in range(bits.shape[0]):
        wd = bits[wi]
        while wd != 0:
            low = wd & (~wd + one)  # lowest set bit
            uniq[j] = (wi << 6) + _popcount64(low - one)
            j += 1
            wd ^= low
    inv = np.empty(key.shape[0], dtype=np.int32)  # fewer than 2**24 colours
    _ranks(key, bits, prefix, inv)
    counts = np.zeros(n, dtype=np.int64)
    for i in range(key.shape[0]):
        counts[inv[i]] += 1
    for j in range(n):
        bits[uniq[j] >> 6] = 0
    return uniq, inv, counts
