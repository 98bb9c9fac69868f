"""Branch choice for ambiguous pixels: chi-square plausibility of each branch, then multi-scale
spatial resolution (nearest the mean of settled neighbours, summed-area tables)."""

from __future__ import annotations

import math

import numba
import numpy as np

from .noise import _NOISE_FLOOR

_CHI2_3_99 = 11.34  # 99th percentile of chi-square, 3 degrees of freedom


def _plausible_branches(bd, nstored, var_lab):
    """Number of branches (a prefix: ``bd`` is sorted) whose colour fit is not rejected.

    The true colour lies ``|n|`` from the pixel colour, ``n`` Gaussian with
    variance ``var_lab`` (per colour) per Lab axis, so ``bd_j² - bd_0² <= |n|²``
    for the true branch ``j``; ``|n|² / var_lab`` is χ² with 3 degrees of freedom, whose 99th
    percentile is 11.34.  Branches beyond that are kept in ``n_branches`` and
    the count of runs, but the spatial step may not choose them.
    """
    return _plausible_kernel(bd, nstored, var_lab, _CHI2_3_99, _NOISE_FLOOR**2)


@numba.njit(cache=True)  # serial: see _SERIAL_MS
def _plausible_kernel(bd, nstored, var_lab, chi2, floor2):
    """:func:`_plausible_branches` per colour (the same arithmetic as the array form)."""
    out = np.empty(bd.shape[0], dtype=np.int64)
    for u in numba.prange(bd.shape[0]):
        lim = chi2 * max(var_lab[u], floor2)
        b0 = bd[u, 0] ** 2
        n = 0
        for j in range(bd.shape[1]):
            if bd[u, j] ** 2 - b0 <= lim:
                n += 1
        out[u] = min(n, nstored[u])
    return out


def _resolve_branches(est_t, inv, nstored, valid, cyclic):
    """Index of the chosen branch per pixel: the one nearest the mean of settled neighbours.

    ``est_t``: (U, B) branch values per distinct colour; ``inv``: (H, W) colour
    index of each pixel; ``nstored``: (U,) branches per colour that may be
    chosen.  Windows of 5, 17, 65 and 257 px in turn: an ambiguous pixel with a
    settled pixel in the window takes the branch nearest their mean (circular
    mean on a cyclic map) and is settled for the next, larger window.  Window
    sums come from summed-area tables at the pixels that need them (the
    windows of ``scipy.ndimage.uniform_filter(mode="constant")``).
    """
    choice = np.zeros(inv.shape, dtype=np.int8)  # at most _MAX_BRANCHES
    h, w = inv.shape
    cyclic = bool(cyclic)
    big = (h, w) if cyclic else (1, 1)  # the sine terms: cyclic maps only
    # work arrays by numpy (allocation note in __init__)
    work = (np.zeros((h, w), dtype=np.bool_), np.empty((h, w)), np.empty(big), np.zeros((h + 1, w + 1)),
            np.zeros((h + 1, w + 1)), np.zeros((big[0] + 1, big[1] + 1)), np.zeros((est_t.shape[0], 3)))
    _resolve_kernel(est_t, inv, nstored, valid, cyclic, choice, *work)
    return choice


@numba.njit(cache=True)
def _window_sum(sat, y, x, r):
    """Sum over rows y-r..y+r and columns x-r..x+r (clipped) from a summed-area table (H+1, W+1)."""
    h = sat.shape[0] - 1
    w = sat.shape[1] - 1
    y0 = max(0, y - r)
    y1 = min(h, y + r + 1)
    x0 = max(0, x - r)
    x1 = min(w, x + r + 1)
    return sat[y1, x1] - sat[y0, x1] - sat[y1, x0] + sat[y0, x0]


@numba.njit(cache=True)
def _resolve_kernel(est_t, inv, nstored, valid, cyclic, choice, settled, va, vb, sat_n, sat_a, sat_b, per_u):
    """:func:`_resolve_branches` in one compiled pass per window size.

    Work arrays (given zeroed where so allocated): ``settled`` (H, W) bool;
    ``va``, ``vb`` (H, W) summands; ``sat_n``, ``sat_a``, ``sat_b`` (H+1, W+1)
    summed-area tables (``vb``, ``sat_b`` unused, any shape, when not cyclic);
    ``per_u`` (U, 3) zeros.
    """
    h, w = inv.shape
    nb = est_t.shape[1]
    two_pi = 2.0 * np.pi
    # per pixel: settled (valid, one branch), or the first of the ambiguous pixels
    # (valid, several branches) still to settle; the summands of a settled pixel
    # (its value, or the cosine and sine of its angle on a cyclic map) are
    # computed once: per colour for the first branch, per pixel on another one;
    # per_u holds (a, b, branches) per colour: one cache line per pixel
    for u in range(est_t.shape[0]):
        if cyclic:
            per_u[u, 0] = math.cos(two_pi * est_t[u, 0])
            per_u[u, 1] = math.sin(two_pi * est_t[u, 0])
        else:
            per_u[u, 0] = est_t[u, 0]
        per_u[u, 2] = nstored[u]
    amb = np.zeros((h, w), dtype=np.bool_)
    n_todo = 0
    for y in range(h):
        for x in range(w):
            u = inv[y, x]
            va[y, x] = per_u[u, 0]
            if cyclic:
                vb[y, x] = per_u[u, 1]
            if valid[y, x]:
                if per_u[u, 2] == 1.0:
                    settled[y, x] = True
                elif per_u[u, 2] > 1.0:
                    amb[y, x] = True
                    n_todo += 1
    todo_y = np.empty(n_todo, dtype=np.int64)
    todo_x = np.empty(n_todo, dtype=np.int64)
    i = 0
    for y in range(h):
        for x in range(w):
            if amb[y, x]:
                todo_y[i] = y
                todo_x[i] = x
                i += 1
    pick = np.empty(n_todo, dtype=np.int64)
    for size in (5, 17, 65, 257):
        if n_todo == 0:
            break
        for y in range(h):
            rn = 0.0
            ra = 0.0
            rb = 0.0
            for x in range(w):
                if settled[y, x]:
                    rn += 1.0
                    ra += va[y, x]
                    if cyclic:
                        rb += vb[y, x]
                sat_n[y + 1, x + 1] = sat_n[y, x + 1] + rn
                sat_a[y + 1, x + 1] = sat_a[y, x + 1] + ra
                if cyclic:
                    sat_b[y + 1, x + 1] = sat_b[y, x + 1] + rb
        r = size // 2
        for i in range(n_todo):
            y = todo_y[i]
            x = todo_x[i]
            pick[i] = -1
            cnt = _window_sum(sat_n, y, x, r)
            if cnt <= 0.5:
                continue
            if cyclic:
                ref = (math.atan2(_window_sum(sat_b, y, x, r), _window_sum(sat_a, y, x, r)) / two_pi) % 1.0
            else:
                ref = _window_sum(sat_a, y, x, r) / cnt
            u = inv[y, x]
            best = np.inf
            jb = 0
            for j in range(min(nstored[u], nb)):
                dd = abs(est_t[u, j] - ref)
                if cyclic:
                    dd = min(dd, 1.0 - dd)
                if dd < best:
                    best = dd
                    jb = j
            pick[i] = jb
        # settle the picked pixels; the others stay on the list, in order
        n_left = 0
        for i in range(n_todo):
            y = todo_y[i]
            x = todo_x[i]
            if pick[i] >= 0:
                choice[y, x] = pick[i]
                t = est_t[inv[y, x], pick[i]]
                if cyclic:
                    va[y, x] = math.cos(two_pi * t)
                    vb[y, x] = math.sin(two_pi * t)
                else:
                    va[y, x] = t
                settled[y, x] = True
            else:
                todo_y[n_left] = y
                todo_x[n_left] = x
                n_left += 1
        n_todo = n_left
