"""Nearest curve sample of each colour, memoised per curve in a table over the 8-bit sRGB cube."""

from __future__ import annotations

import math

import numba
import numpy as np

from .curve import _BLOCK
from .search import _nearest_cells, _nearest_scan, _nearest_scan_seeded

_CUBE_MIN = 1 << 16  # distinct colours from which the cube table is used
# table entry of a colour not searched yet; a searched colour's entry is its nearest sample + 1,
# so a new table is all zeros: numpy's zeros leave it to the system's zeroed pages (a table
# filled with a marker took ~8 ms to write, 32 MB, on every first image of a map)
_CUBE_EMPTY = 0
_CUBE_LIMIT = 0xFFFF  # curves of more samples than this do not fit the uint16 entries
_CUBE_CACHE_SIZE = 4  # curves whose cube table is kept (32 MiB each)
_CELLS_MIN = 1 << 16  # colours to search from which the search goes by cells (search._nearest_cells)
_cube_cache = {}


def _nearest(curve, lab_pts, keys=None):
    """Distance (ΔE) to and index of the nearest curve sample: (U,), (U,).

    With the 24-bit ``keys`` of many colours (at least ``_CUBE_MIN``) the
    index comes from the curve's table over the 8-bit cube
    (:func:`_cube_table`), which is filled as colours are met: only colours
    not seen before with this curve are searched, and the distance is
    recomputed from the index.  The same numbers as searching every colour.
    A new table is not read (every colour a miss without a start); at least
    ``_CELLS_MIN`` misses are searched over cells (:func:`_nearest_cells`),
    fewer one by one (:func:`_nearest_scan_seeded`).
    """
    dist = np.empty(len(lab_pts))
    index = np.empty(len(lab_pts), dtype=np.int64)
    lab_pts = np.ascontiguousarray(lab_pts)
    if keys is None or len(keys) < _CUBE_MIN or len(curve.lab) > _CUBE_LIMIT:
        _nearest_scan(lab_pts, curve.lab, curve.block_center, curve.block_radius, _BLOCK, dist, index)
        return dist, index
    table, fresh = _cube_table(curve)
    if fresh:  # all _CUBE_EMPTY: every colour a miss without a start (the lookup's answer, unread)
        miss = np.arange(len(keys))
        index[:] = -1
    else:
        miss = np.flatnonzero(_cube_lookup(keys, table, lab_pts, curve.lab, dist, index))
    if len(miss) >= _CELLS_MIN:
        _nearest_cells(lab_pts, miss, curve.lab, curve.block_center, curve.block_radius, _BLOCK, dist, index)
    elif len(miss):
        _nearest_scan_seeded(lab_pts, miss, curve.lab, curve.block_center, curve.block_radius, _BLOCK, dist, index)
    if len(miss):
        _cube_store(table, keys, miss, index)
    return dist, index


@numba.njit(cache=True)  # serial: see _SERIAL_MS
def _cube_store(table, keys, rows, index):
    """``table[keys[rows]] = index[rows] + 1`` in one pass: no gathered temporaries and no
    casting of int64 to the table's uint16 by numpy's fancy assignment (98 k misses of a
    warm twilight noisy 1000^2 image: 1.4 -> 0.2 ms; 324 k cold: 3.9 -> 2.7 ms)."""
    for i in range(rows.shape[0]):
        u = rows[i]
        table[keys[u]] = index[u] + 1


def _cube_table(curve):
    """Nearest curve sample + 1 of each 8-bit sRGB colour met so far, uint16 (2**24,) by 24-bit key,
    and whether the table is new (all ``_CUBE_EMPTY``).

    ``_CUBE_EMPTY`` (0) where not searched yet.  Cached per curve (its sRGB
    samples); the least recently used is dropped beyond ``_CUBE_CACHE_SIZE``.
    """
    import hashlib

    key = hashlib.blake2b(np.ascontiguousarray(curve.rgb).tobytes(), digest_size=16).hexdigest()
    table = _cube_cache.pop(key, None)
    fresh = table is None
    if fresh:
        table = np.zeros(1 << 24, dtype=np.uint16)  # all _CUBE_EMPTY
        while len(_cube_cache) >= _CUBE_CACHE_SIZE:
            _cube_cache.pop(next(iter(_cube_cache)))
    _cube_cache[key] = table
    return table, fresh


@numba.njit(cache=True, parallel=True)
def _cube_lookup(keys, table, p, lab, dist, index):
    """Where ``table[keys[u]]`` is set: index (the entry - 1) and ΔE (as :func:`_nearest_scan`);
    returns the misses.

    For a miss, ``index[u]`` is the index of the first set colour among B + 1,
    B - 1, G + 1, G - 1, R + 1, R - 1, or -1: a start for :func:`_nearest_scan_seeded`.
    Colours in parallel (each writes only its own entries): the reads of the
    32 MB table miss the caches, 2.5 ms serially at 324 k colours, 1.1-1.6 ms
    on two threads with a core free (twilight noisy 1000^2 warm).
    """
    todo = np.zeros(keys.shape[0], dtype=np.bool_)
    for u in numba.prange(keys.shape[0]):
        key = np.int64(keys[u])
        k = np.int64(table[key]) - 1
        if k < 0:  # _CUBE_EMPTY
            todo[u] = True
            # a start for the search: the entry of a colour one step away (B, then G, then R)
            index[u] = -1
            for j in range(6):
                nk = key + (np.int64(1) << (8 * (j >> 1))) * (1 - 2 * (j & 1))
                if 0 <= nk < table.shape[0] and table[nk] != _CUBE_EMPTY:
                    index[u] = np.int64(table[nk]) - 1
                    break
            continue
        dx = p[u, 0] - lab[k, 0]
        dy = p[u, 1] - lab[k, 1]
        dz = p[u, 2] - lab[k, 2]
        dist[u] = math.sqrt(dx * dx + dy * dy + dz * dz)
        index[u] = k
    return todo
