"""Merge tree of the super-level sets (union-find watershed): peaks, plateaus and key cols (prominence)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _find(parent, c):
    root = c
    while parent[root] != root:
        root = parent[root]
    while parent[c] != root:
        nxt = parent[c]
        parent[c] = root
        c = nxt
    return root


@numba.njit(cache=True, nogil=True, inline="always")
def _neighbours(p, ny, nx, rank, keys, limit, out):
    """The members ``j < limit`` of a pixel set among the 8 neighbours of pixel ``p``.

    The set is ``keys[:limit]`` (flat pixel indices), found through the map
    ``rank`` (pixel -> index, uninitialised where not in the set: a value is
    valid only if ``keys[rank[q]] == q``, the sparse-set trick).  Writes
    their indices into ``out`` (size >= 8) and returns how many.
    """
    y = p // nx
    x = p - y * nx
    nb = 0
    for dy in range(-1, 2):
        yy = y + dy
        if yy < 0 or yy >= ny:
            continue
        for dx in range(-1, 2):
            xx = x + dx
            if (dy == 0 and dx == 0) or xx < 0 or xx >= nx:
                continue
            q = yy * nx + xx
            j = rank[q]
            if 0 <= j < limit and keys[j] == q:
                out[nb] = j
                nb += 1
    return nb


@numba.njit(cache=True, nogil=True)
def _label_starts(cand, vals, ny, nx):
    """Connected components (8-connectivity) of the candidate pixels, and where sweeps start.

    ``cand``: flat indices of the candidates (ascending), ``vals`` their D.
    Returns, per candidate, the smallest candidate index of its component
    (the component's label) and whether it is a *start*: no 8-neighbour is
    higher or equal with a smaller index, i.e. the descending sweep of
    :func:`_sweep` would open a new component there.  A component with one
    start is a single peak; only components with several need the sweep.

    Each neighbour pair is visited once, from the later pixel: its left
    neighbour is the previous candidate, and its three upper neighbours (flat
    indices ``p - nx - 1 .. p - nx + 1``) follow a pointer into ``cand`` that
    only moves forward, so no pixel -> candidate map is needed.
    """
    n = cand.size
    parent = np.arange(n).astype(np.int32)
    start = np.ones(n, np.bool_)
    u = 0                        # first candidate at or after p - nx - 1 (non-decreasing in p)
    nbr = np.empty(4, np.int64)
    for i in range(n):
        p = cand[i]
        x = p % nx
        v = vals[i]
        nb = 0
        if x > 0 and i > 0 and cand[i - 1] == p - 1:
            nbr[nb] = i - 1
            nb += 1
        if p >= nx:
            t = p - nx - 1
            while cand[u] < t:
                u += 1
            for q in range(u, min(u + 3, i)):
                d = cand[q] - t
                if d > 2:
                    break
                if (d == 0 and x == 0) or (d == 2 and x == nx - 1):
                    continue     # the flat index wraps to another row
                nbr[nb] = q
                nb += 1
        for t2 in range(nb):
            j = nbr[t2]          # j < i
            if vals[j] >= v:
                start[i] = False
            else:
                start[j] = False
            a = _find(parent, i)
            b = _find(parent, j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    label = np.empty(n, np.int32)
    for i in range(n):
        label[i] = _find(parent, i)
    return label, start


@numba.njit(cache=True, nogil=True)
def _sweep(order, vals, ny, nx):
    """Union-find merge tree of the super-level sets over the candidate pixels.

    ``order``: flat pixel indices sorted by their value ``vals`` (descending,
    ties by index); pixels not in ``order`` are walls.  Returns, per component
    (in creation order): index into ``order`` of its peak, peak value, key col
    value (NaN if none: it never met a higher component), absorbed flag (a
    plateau fragment merged into an equal plateau: no peak of its own) and the
    plateau sums (sum x, sum y, count).

    The pixel -> rank map uses uninitialised memory validated by
    ``order[rank[q]] == q`` (the sparse-set trick, :func:`_neighbours`), so
    only pages near the candidates are ever touched.
    """
    n = order.size
    rank = np.empty(ny * nx, np.int32)
    comp_of = np.empty(n, np.int32)
    parent = np.empty(n, np.int32)
    peak = np.empty(n, np.int64)
    peak_val = np.empty(n, np.float64)
    col = np.full(n, np.nan)
    absorbed = np.zeros(n, np.bool_)
    sx = np.zeros(n, np.float64)
    sy = np.zeros(n, np.float64)
    cnt = np.zeros(n, np.int64)
    roots = np.empty(8, np.int32)
    nbr = np.empty(8, np.int64)
    nc = 0
    for i in range(n):
        p = order[i]
        v = vals[i]
        y = p // nx
        x = p - y * nx
        nr = 0
        for t in range(_neighbours(p, ny, nx, rank, order, i, nbr)):     # processed neighbours
            r = _find(parent, comp_of[nbr[t]])
            seen = False
            for kk in range(nr):
                if roots[kk] == r:
                    seen = True
                    break
            if not seen:
                roots[nr] = r
                nr += 1
        rank[p] = i
        if nr == 0:
            c = nc
            nc += 1
            parent[c] = c
            peak[c] = i
            peak_val[c] = v
            sx[c] = x
            sy[c] = y
            cnt[c] = 1
            comp_of[i] = c
            continue
        win = roots[0]
        for kk in range(1, nr):
            r = roots[kk]
            if peak_val[r] > peak_val[win] or (peak_val[r] == peak_val[win] and r < win):
                win = r
        for kk in range(nr):
            r = roots[kk]
            if r == win:
                continue
            if peak_val[r] == v and peak_val[win] == v:
                absorbed[r] = True          # two fragments of one plateau meet
                sx[win] += sx[r]
                sy[win] += sy[r]
                cnt[win] += cnt[r]
            else:
                col[r] = v
            parent[r] = win
        comp_of[i] = win
        if peak_val[win] == v:
            sx[win] += x
            sy[win] += y
            cnt[win] += 1
    return (peak[:nc].copy(), peak_val[:nc].copy(), col[:nc].copy(), absorbed[:nc].copy(),
            sx[:nc].copy(), sy[:nc].copy(), cnt[:nc].copy())


@numba.njit(cache=True, nogil=True)
def _single_start_peaks(cand, vals, label, start, nx):
    """The components of :func:`_label_starts` with a single start, which are single peaks.

    Returns the candidate index of each such peak (ascending), the sums of x and
    y and the count of its plateau (its pixels at the peak value, summed in
    candidate order), and a mask of the candidates in the other components.
    """
    n = cand.size
    nstart = np.zeros(n, np.int32)
    for i in range(n):
        if start[i]:
            nstart[label[i]] += 1
    multi = np.empty(n, np.bool_)
    nsingle = 0
    for i in range(n):
        multi[i] = nstart[label[i]] > 1
        if start[i] and not multi[i]:
            nsingle += 1
    one = np.empty(nsingle, np.int64)
    slot = np.empty(n, np.int64)          # label -> index into ``one`` (set for single-start labels)
    top = np.empty(n, np.float64)
    q = 0
    for i in range(n):
        if start[i] and not multi[i]:
            one[q] = i
            slot[label[i]] = q
            top[label[i]] = vals[i]
            q += 1
    sx = np.zeros(nsingle)
    sy = np.zeros(nsingle)
    cnt = np.zeros(nsingle, np.int64)
    for i in range(n):
        if not multi[i] and vals[i] == top[label[i]]:
            j = slot[label[i]]
            yy = cand[i] // nx
            sx[j] += cand[i] - yy * nx
            sy[j] += yy
            cnt[j] += 1
    return one, sx, sy, cnt, multi


def _merge_tree(cand, vals, ny, nx):
    """Merge tree of the super-level sets of the candidates, as :func:`_sweep` returns it.

    ``cand`` ascending flat indices, ``vals`` their D.  Returns, per component
    in creation order (D of its first pixel descending, ties by pixel index):
    the candidate index of its peak, the peak value, the key col (NaN if
    none), the absorbed flag and the plateau sums (sum x, sum y, count).

    Components are independent (non-candidates are walls), so a component
    with a single start (:func:`_label_starts`) is one peak with no key col,
    whose plateau is its pixels at the peak value; only the pixels of the
    other components are sorted and swept.  The result equals the sweep over
    all candidates.
    """
    label, start = _label_starts(cand, vals, ny, nx)
    one, sums_x, sums_y, cnt, multi = _single_start_peaks(cand, vals, label, start, nx)
    sums = (sums_x, sums_y)
    # the others: the sweep over their pixels, D descending, ties by pixel index (cand ascending)
    sub = np.flatnonzero(multi)
    sub = sub[np.argsort(-vals[sub], kind="stable")]
    pk, pval, pcol, absorbed, psx, psy, pcnt = _sweep(cand[sub], vals[sub], ny, nx)
    peak = np.concatenate([one, sub[pk]])
    pval = np.concatenate([vals[one], pval])
    rank = np.lexsort((cand[peak], -pval))
    return (peak[rank], pval[rank], np.concatenate([np.full(one.size, np.nan), pcol])[rank],
            np.concatenate([np.zeros(one.size, bool), absorbed])[rank],
            np.concatenate([sums[0], psx])[rank], np.concatenate([sums[1], psy])[rank],
            np.concatenate([cnt, pcnt])[rank])
