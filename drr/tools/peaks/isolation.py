"""Nearest-earlier-point queries on a grid: isolation distances and greedy thinning by ``min_distance``."""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _grid_near(x, y, dist, mode):
    """Nearest-earlier-point queries on a uniform grid, points inserted in order.

    ``mode`` 0 (isolation): for each point, the distance to the nearest point
    earlier in the order (inf for the first).  ``mode`` 1 (greedy thinning):
    1 where no *kept* earlier point lies within ``dist`` (the point is kept
    and inserted), else 0.  Cells hold linked lists of the inserted points
    (about two points per cell of the occupied area, at least ``dist`` wide in
    mode 1); the search visits rings of cells around the query's cell until
    the best distance found is below the nearest cell of the next ring.  Distances are
    compared squared, as ``scipy.spatial.cKDTree`` does.
    """
    n = x.size
    out = np.full(n, np.inf) if mode == 0 else np.zeros(n)
    if n == 0:
        return out
    x0 = np.inf
    x1 = -np.inf
    y0 = np.inf
    y1 = -np.inf
    for i in range(n):
        x0 = min(x0, x[i])
        x1 = max(x1, x[i])
        y0 = min(y0, y[i])
        y1 = max(y1, y[i])
    wx = max(x1 - x0, 1e-9)
    wy = max(y1 - y0, 1e-9)
    # the area the points occupy: cells of a coarse grid (about n / 2 cells) that hold any,
    # so that a crowded patch in a wide field still gets small cells
    gc = min(128, max(8, int(math.sqrt(n / 2.0))))
    occ = np.zeros(gc * gc, np.bool_)
    for i in range(n):
        ox = min(max(int((x[i] - x0) / wx * gc), 0), gc - 1)
        oy = min(max(int((y[i] - y0) / wy * gc), 0), gc - 1)
        occ[oy * gc + ox] = True
    area = wx * wy * np.count_nonzero(occ) / (gc * gc)
    c = math.sqrt(2.0 * area / n)
    c = max(c, max(wx, wy) / 1024.0, 1e-9)
    if mode == 1:
        c = max(c, dist)
    gx = min(int(wx / c) + 1, 1 << 20)
    gy = min(int(wy / c) + 1, 1 << 20)
    head = np.full(gx * gy, -1, np.int64)
    nxt = np.empty(n, np.int64)
    lim2 = dist * dist
    for i in range(n):
        cx = min(max(int((x[i] - x0) / c), 0), gx - 1)      # (NaN: cell 0, never nearest)
        cy = min(max(int((y[i] - y0) / c), 0), gy - 1)
        best = np.inf
        r = 0
        while True:              # the cells at Chebyshev distance r from (cx, cy)
            for yy in range(max(0, cy - r), min(gy, cy + r + 1)):
                step = 1 if (yy == cy - r or yy == cy + r) else 2 * r
                for xx in range(cx - r, cx + r + 1, step):
                    if 0 <= xx < gx:
                        j = head[yy * gx + xx]
                        while j >= 0:
                            d2 = (x[j] - x[i]) ** 2 + (y[j] - y[i]) ** 2
                            if d2 < best:
                                best = d2
                            j = nxt[j]
            if mode == 1:
                if r == 1:
                    break        # c >= dist: the 3 x 3 cells hold every point within dist
            elif best <= (r * c) ** 2 or (r >= cx and r >= cy and r >= gx - 1 - cx and r >= gy - 1 - cy):
                break            # any point in ring r + 1 is at least r c away
            r += 1
        if mode == 0:
            out[i] = math.sqrt(best)
        elif not best <= lim2:
            out[i] = 1.0
        if mode == 0 or out[i] == 1.0:
            cell = cy * gx + cx
            nxt[i] = head[cell]
            head[cell] = i
    return out


def _greedy_keep(x, y, dist):
    """Mask keeping each point unless a kept point earlier in the order lies within ``dist``."""
    return _grid_near(np.ascontiguousarray(x, np.float64), np.ascontiguousarray(y, np.float64),
                      float(dist), 1) > 0


def _isolation(x, y):
    """Distance from each point to the nearest point earlier in the order (inf for the first)."""
    return _grid_near(np.ascontiguousarray(x, np.float64), np.ascontiguousarray(y, np.float64), 0.0, 0)
