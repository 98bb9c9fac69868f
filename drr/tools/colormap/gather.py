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
    _gather_kernel(inv, choice, est_t, lo, hi, t, dt, half_bin, d, nbr, valid, first, *out)
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
    pixel instead of five scattered reads), into ``first`` (U, 5); other
    branches are read as is.
    """
    u_n = est_t.shape[0]
    for u in range(u_n):  # serial: see _SERIAL_MS
        first[u, 0] = est_t[u, 0]
        first[u, 1] = min(max(t[lo[u, 0]] - dt - half_bin, 0.0), 1.0)
        first[u, 2] = min(max(t[hi[u, 0]] + dt + half_bin, 0.0), 1.0)
        first[u, 3] = d[u]
        first[u, 4] = nbr[u]
    h = inv.shape[0]
    w = inv.shape[1] if inv.ndim == 2 else 1
    fi, fc, fok = inv.reshape(-1), choice.reshape(-1), valid.reshape(-1)
    fv, fl, fh = t_val.reshape(-1), t_lo.reshape(-1), t_hi.reshape(-1)
    fd, fn = dist.reshape(-1), n_br.reshape(-1)
    for y in numba.prange(h):
        for i in range(y * w, (y + 1) * w):
            u = fi[i]
            j = fc[i]
            fd[i] = first[u, 3]
            fn[i] = np.int32(first[u, 4]) if fok[i] else 0
            if j == 0:
                fv[i] = first[u, 0]
                fl[i] = first[u, 1]
                fh[i] = first[u, 2]
            else:
                fv[i] = est_t[u, j]
                fl[i] = min(max(t[lo[u, j]] - dt - half_bin, 0.0), 1.0)
                fh[i] = min(max(t[hi[u, j]] + dt + half_bin, 0.0), 1.0)


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
