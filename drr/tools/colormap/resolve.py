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
    # summed-area tables: only the rows the largest window spans (a ring, see _resolve_kernel)
    rows = min(2 * (_WINDOWS[-1] // 2) + 2, h + 1)
    # work arrays by numpy (allocation note in __init__), not initialised: the kernels write
    # every element that is read (clearing them took ~15 MB of memset in this serial step)
    per_u = np.empty((est_t.shape[0], 3))
    _colour_terms(est_t, nstored, cyclic, per_u)
    if cyclic:
        slot, trig = _branch_trig(est_t, nstored)
    else:  # unused
        slot, trig = np.zeros(1, dtype=np.int32), np.zeros((1, 1, 2))
    settled = np.empty((h, w), dtype=np.bool_)
    amb = np.empty((h, w), dtype=np.bool_)
    # va and vb rows of one block on a cyclic map (huge pages for all of it; see _branch_arrays)
    va, vb = np.empty((2, h, w)) if cyclic else (np.empty((h, w)), np.empty(big))
    row_n = np.zeros(h, dtype=np.int64)
    _pixel_terms(inv, valid, per_u, cyclic, va, vb, settled, amb, row_n)
    ring = np.empty((3 if cyclic else 2, rows, w + 1))
    ring[:, :, 0] = 0.0  # the tables' column 0, never written by the kernel
    _resolve_kernel(est_t, inv, nstored, cyclic, slot, trig, choice, settled, amb, row_n, va, vb, ring)
    return choice


_WINDOWS = (5, 17, 65, 257)


@numba.njit(cache=True, inline="always")
def _ring_sum(sat, r0, r1, x0, x1):
    """Window sum from rows r0 (top) and r1 (bottom) of a summed-area table, columns x0..x1."""
    return sat[r1, x1] - sat[r0, x1] - sat[r1, x0] + sat[r0, x0]


@numba.njit(cache=True, parallel=True)
def _colour_terms(est_t, nstored, cyclic, per_u):
    """Per colour: (a, b, branches), the summands of its first branch (the value, or the
    cosine and sine of its angle on a cyclic map) and its number of branches.

    The summands are read at settled pixels only: a colour with several
    branches settles on the branch it picks, so its first-branch terms are
    not computed (0).
    """
    two_pi = 2.0 * np.pi
    for u in numba.prange(est_t.shape[0]):
        per_u[u, 0] = 0.0
        per_u[u, 1] = 0.0
        if nstored[u] == 1:
            if cyclic:
                per_u[u, 0] = math.cos(two_pi * est_t[u, 0])
                per_u[u, 1] = math.sin(two_pi * est_t[u, 0])
            else:
                per_u[u, 0] = est_t[u, 0]
        per_u[u, 2] = nstored[u]


def _branch_trig(est_t, nstored):
    """Cosine and sine of the angle of every branch of the colours with several (a cyclic map).

    Returns ``slot`` (U,) int32, the row of colour ``u`` in ``trig`` (-1 for a
    colour with one branch), and ``trig`` (M, B, 2): ``cos``, ``sin`` of
    ``2 pi est_t[u, j]`` for ``j < nstored[u]`` (M colours with several
    branches).  Once per colour instead of once per pixel and window: the
    picks compare dot products with the window's sums (no ``atan2``) and a
    settled pixel takes its branch's terms from here (no ``cos``/``sin``).
    """
    slot = np.empty(est_t.shape[0], dtype=np.int32)
    m = _multi_slots(nstored, slot)
    trig = np.empty((m, est_t.shape[1], 2))  # by numpy (allocation note in __init__)
    _trig_fill(est_t, nstored, slot, trig)
    return slot, trig


@numba.njit(cache=True)  # serial: see _SERIAL_MS (~0.3 ms at 324 k colours)
def _multi_slots(nstored, slot):
    """``slot[u]``: rank of colour ``u`` among the colours with several branches, else -1; their count."""
    m = 0
    for u in range(nstored.shape[0]):
        if nstored[u] > 1:
            slot[u] = m
            m += 1
        else:
            slot[u] = -1
    return m


@numba.njit(cache=True, parallel=True)
def _trig_fill(est_t, nstored, slot, trig):
    """:func:`_branch_trig`'s table, colours in parallel (``math.cos``/``math.sin`` of
    ``2 pi t``, as :func:`_colour_terms`)."""
    two_pi = 2.0 * np.pi
    for u in numba.prange(est_t.shape[0]):
        s = slot[u]
        if s < 0:
            continue
        for j in range(min(nstored[u], est_t.shape[1])):
            trig[s, j, 0] = math.cos(two_pi * est_t[u, j])
            trig[s, j, 1] = math.sin(two_pi * est_t[u, j])


@numba.njit(cache=True, parallel=True)
def _pixel_terms(inv, valid, per_u, cyclic, va, vb, settled, amb, row_n):
    """Per pixel, rows in parallel: the summands ``va``, ``vb`` of its colour's first branch
    (read only where settled), and whether it is settled (valid, one branch) or
    ambiguous (valid, several branches: ``amb``, ``row_n`` of them per row)."""
    h, w = inv.shape
    for y in numba.prange(h):
        n = 0
        for x in range(w):
            u = inv[y, x]
            va[y, x] = per_u[u, 0]
            if cyclic:
                vb[y, x] = per_u[u, 1]
            # (every pixel written: the two masks come uninitialised)
            settled[y, x] = valid[y, x] and per_u[u, 2] == 1.0
            amb[y, x] = valid[y, x] and per_u[u, 2] > 1.0
            if amb[y, x]:
                n += 1
        row_n[y] = n


_PARALLEL_PICKS = 20000  # pixels to settle from which a window size picks their branches in parallel


@numba.njit(cache=True, inline="always")
def _pick(win, i, todo_y, todo_x, inv, est_t, nstored, cyclic, slot, trig):
    """Branch of pixel ``i`` to settle nearest the mean of its window (``win[i]``: count and
    sums), or -1 where the window holds no settled pixel.

    On a cyclic map the mean is the direction of the summed unit vectors
    ``(C, S)``, and the branch at the least circular distance from it is the
    one whose unit vector ``(cos, sin)`` (``trig``) has the largest dot
    product with ``(C, S)``: ``cos`` of the angle between them decreases with
    the angle over [0, pi].  (``C = S = 0``, no direction: the first branch.)
    """
    cnt = win[i, 0]
    if cnt <= 0.5:
        return -1
    u = inv[todo_y[i], todo_x[i]]
    nb = min(nstored[u], est_t.shape[1])
    jb = 0
    if cyclic:
        c = win[i, 1]
        s = win[i, 2]
        k = slot[u]
        best = -np.inf
        for j in range(nb):
            dot = c * trig[k, j, 0] + s * trig[k, j, 1]
            if dot > best:
                best = dot
                jb = j
        return jb
    ref = win[i, 1] / cnt
    best = np.inf
    for j in range(nb):
        dd = abs(est_t[u, j] - ref)
        if dd < best:
            best = dd
            jb = j
    return jb


@numba.njit(cache=True, parallel=True)
def _pick_parallel(win, todo_y, todo_x, n_todo, inv, est_t, nstored, cyclic, slot, trig, pick):
    """:func:`_pick` for the first ``n_todo`` pixels to settle, in parallel."""
    for i in numba.prange(n_todo):
        pick[i] = _pick(win, i, todo_y, todo_x, inv, est_t, nstored, cyclic, slot, trig)


@numba.njit(cache=True)
def _resolve_kernel(est_t, inv, nstored, cyclic, slot, trig, choice, settled, amb, row_n, va, vb, ring):
    """:func:`_resolve_branches` in one compiled pass per window size.

    Inputs from :func:`_pixel_terms`: ``settled`` (H, W) bool, ``amb`` (H, W)
    bool and ``row_n`` (H,) its count per row, the summands ``va``, ``vb``
    (H, W) (``vb`` unused, any shape, when not cyclic); work array ``ring``
    (2 or 3, R, W+1) zeros, R = min(2 r + 2, H + 1) for the largest window
    radius r: rolling rows of the summed-area tables of the count, ``va`` and
    ``vb``.  ``slot``, ``trig``: :func:`_branch_trig` (cyclic maps; unused
    otherwise).

    The pixels still to settle are visited in row order, so a window of
    radius r needs table rows y - r .. y + r + 1 only: rows are added as the
    visit reaches them (row ``s`` of the table lives in ring row ``s % R``),
    and the sums of earlier rows are overwritten once no window needs them
    (24 MB -> 6 MB at 1000^2, and no rows below the last pixel to settle).
    A window sum is the difference of two table rows, so the table may
    start at any row above the window: it starts at the first window's top
    row and starts again wherever the next window's top row lies below the
    rows built (a gap of more than 2 r + 1 rows without pixels to settle is
    skipped; twilight noisy 1000^2: after the 5 px window the pixels left lie
    in rows 674-999, the 17 and 65 px tables then build ~330 and ~280 rows
    instead of 1000 each).  The sums are those of the whole table up to the
    rounding of the partial sums (the count exactly).
    """
    h, w = inv.shape
    # the ambiguous pixels still to settle, in row order; a settled pixel sums its
    # colour's first-branch terms (va, vb), or those of the branch it picked
    n_todo = 0
    for y in range(h):
        n_todo += row_n[y]
    todo_y = np.empty(n_todo, dtype=np.int64)
    todo_x = np.empty(n_todo, dtype=np.int64)
    i = 0
    for y in range(h):
        if row_n[y] == 0:
            continue
        for x in range(w):
            if amb[y, x]:
                todo_y[i] = y
                todo_x[i] = x
                i += 1
    pick = np.empty(n_todo, dtype=np.int64)
    win = np.empty((n_todo, 3))  # window sums of the count, va and vb at each pixel to settle
    sat_n = ring[0]
    sat_a = ring[1]
    sat_b = ring[ring.shape[0] - 1]  # cyclic only
    for size in _WINDOWS:
        if n_todo == 0:
            break
        r = size // 2
        nr = min(2 * r + 2, h + 1)
        built = -1  # the table's rows base..built are in the ring (none yet)
        for i in range(n_todo):
            y = todo_y[i]
            x = todo_x[i]
            y0 = max(0, y - r)
            y1 = min(h, y + r + 1)
            if built < y0:  # (re)start the table at row y0: no later window reaches above it
                p = y0 % nr
                for xx in range(w + 1):  # (column 0 is never written: zeros)
                    sat_n[p, xx] = 0.0
                    sat_a[p, xx] = 0.0
                    if cyclic:
                        sat_b[p, xx] = 0.0
                built = y0
            while built < y1:  # table row built + 1 from image row built
                yy = built
                p0 = yy % nr
                p1 = (yy + 1) % nr
                rn = 0.0
                ra = 0.0
                rb = 0.0
                for xx in range(w):
                    if settled[yy, xx]:
                        rn += 1.0
                        ra += va[yy, xx]
                        if cyclic:
                            rb += vb[yy, xx]
                    sat_n[p1, xx + 1] = sat_n[p0, xx + 1] + rn
                    sat_a[p1, xx + 1] = sat_a[p0, xx + 1] + ra
                    if cyclic:
                        sat_b[p1, xx + 1] = sat_b[p0, xx + 1] + rb
                built += 1
            r0 = y0 % nr
            r1 = y1 % nr
            x0 = max(0, x - r)
            x1 = min(w, x + r + 1)
            win[i, 0] = _ring_sum(sat_n, r0, r1, x0, x1)
            win[i, 1] = _ring_sum(sat_a, r0, r1, x0, x1)
            if cyclic:
                win[i, 2] = _ring_sum(sat_b, r0, r1, x0, x1)
        if n_todo >= _PARALLEL_PICKS:
            _pick_parallel(win, todo_y, todo_x, n_todo, inv, est_t, nstored, cyclic, slot, trig, pick)
        else:
            for i in range(n_todo):
                pick[i] = _pick(win, i, todo_y, todo_x, inv, est_t, nstored, cyclic, slot, trig)
        # settle the picked pixels; the others stay on the list, in order
        n_left = 0
        for i in range(n_todo):
            y = todo_y[i]
            x = todo_x[i]
            if pick[i] >= 0:
                choice[y, x] = pick[i]
                u = inv[y, x]
                if cyclic:
                    va[y, x] = trig[slot[u], pick[i], 0]
                    vb[y, x] = trig[slot[u], pick[i], 1]
                else:
                    va[y, x] = est_t[u, pick[i]]
                settled[y, x] = True
            else:
                todo_y[n_left] = y
                todo_x[n_left] = x
                n_left += 1
        n_todo = n_left
