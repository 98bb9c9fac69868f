"""Per-pixel outputs from the per-colour branches: the chosen value and interval (curve parameter),
then values in the units of ``vmin``/``vmax``."""

from __future__ import annotations

import numba
import numpy as np


def _gather_branch(inv, choice, est_t, lo, hi, t, dt, half_bin, d, nbr, valid):
    """:func:`_gather_kernel` into fresh arrays allocated by numpy (allocation note in __init__)."""
    out = (np.empty(inv.shape), np.empty(inv.shape), np.empty(inv.shape), np.empty(inv.shape),
           np.empty(inv.shape, dtype=np.int32))
    first = np.empty((est_t.shape[0], 5))  # the per-colour records too (8-13 MB at 1000^2 noisy)
    hw = inv.shape if inv.ndim == 2 else (inv.shape[0], 1)  # 2-D views (a list of colours: one column)
    _gather_kernel(inv.reshape(hw), choice.reshape(hw), est_t, lo, hi, t, dt, half_bin, d, nbr, valid.reshape(hw),
                   first, *(a.reshape(hw) for a in out))
    return out


@numba.njit(cache=True, parallel=True)
def _gather_kernel(inv, choice, est_t, lo, hi, t, dt, half_bin, d, nbr, valid, first, t_val, t_lo, t_hi, dist, n_br):
    """Per pixel, the chosen branch's value and interval ends (curve parameter), widened.

    ``t_val = est_t[inv, choice]``; ``t_lo = clip(t[lo[inv, choice]] - dt - half_bin, 0, 1)``
    and ``t_hi = clip(t[hi[inv, choice]] + dt + half_bin, 0, 1)``: half a
    sample step and half a LUT bin beyond the branch's samples.  Also the
    outputs that are per colour: ``distance = d[inv]`` and
    ``n_branches = where(valid, nbr[inv], 0)`` (int32).  The first branch's
    numbers and these two are packed per colour first (one cache line per
    pixel instead of five scattered reads), into ``first`` (U, 5); per row
    they are copied to every pixel, then the pixels on another branch and
    the invalid ones are corrected (2-D arrays: indexing flattened views
    cost twice the time, 20 -> 8 ms at 1000^2 on one thread).
    """
    u_n = est_t.shape[0]
    for u in numba.prange(u_n):  # ~2 ms serially at 1000^2 noisy (324 k colours): in parallel
        first[u, 0] = est_t[u, 0]
        first[u, 1] = min(max(t[lo[u, 0]] - dt - half_bin, 0.0), 1.0)
        first[u, 2] = min(max(t[hi[u, 0]] + dt + half_bin, 0.0), 1.0)
        first[u, 3] = d[u]
        first[u, 4] = nbr[u]
    h, w = inv.shape
    for y in numba.prange(h):
        for x in range(w):
            u = inv[y, x]
            t_val[y, x] = first[u, 0]
            t_lo[y, x] = first[u, 1]
            t_hi[y, x] = first[u, 2]
            dist[y, x] = first[u, 3]
            n_br[y, x] = np.int32(first[u, 4])
        for x in range(w):
            if not valid[y, x]:
                n_br[y, x] = 0
            j = choice[y, x]
            if j != 0:
                u = inv[y, x]
                t_val[y, x] = est_t[u, j]
                t_lo[y, x] = min(max(t[lo[u, j]] - dt - half_bin, 0.0), 1.0)
                t_hi[y, x] = min(max(t[hi[u, j]] + dt + half_bin, 0.0), 1.0)


@numba.njit(cache=True)
def _to_values(t_val, t_lo, t_hi, valid, vmin, span):
    """Curve parameters -> values and ordered interval ends; NaN where not valid.

    Written over the three inputs (each element is read before it is
    written), which are returned as ``values, low, high``.
    """
    values, low, high = t_val, t_lo, t_hi
    fv, fl, fh = values.reshape(-1), low.reshape(-1), high.reshape(-1)
    tv, tl, th, ok = t_val.reshape(-1), t_lo.reshape(-1), t_hi.reshape(-1), valid.reshape(-1)
    for i in range(fv.shape[0]):
        if not ok[i]:
            fv[i] = fl[i] = fh[i] = np.nan
            continue
        a = vmin + span * tl[i]
        b = vmin + span * th[i]
        fv[i] = vmin + span * tv[i]
        fl[i] = min(a, b)
        fh[i] = max(a, b)
    return values, low, high
