"""JPEG: detection by the 8-pixel block grid, the value variance in the whitened Y Cb Cr metric, and
intervals widened to the values of the neighbours."""

from __future__ import annotations

import numba
import numpy as np

from .noise import _RAYLEIGH_MEDIAN, _RGB_ROUNDING, _median, _thin, _weighted_median

# JPEG (ITU-T T.871): full-range sRGB -> Y Cb Cr
_RGB_TO_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_JPEG_BLOCKINESS = 1.06  # luma step at the 8-px grid / median step, above which an image is taken for JPEG
_JPEG_CHROMA = 8.0  # chroma / luma error variance assumed for JPEG (4:2:0 subsampling, coarser tables)


def _jpeg_blockiness(f):
    """Luma step across the JPEG 8 x 8 block grid relative to elsewhere (1: no grid).

    For rows and for columns: the mean absolute luma difference between
    neighbours, per phase of the position modulo 8; the largest phase over
    the median phase.  The smaller of the two ratios is returned (a JPEG
    grid shows in both directions).  Images smaller than 32 x 32: 1.
    """
    h, w = f.shape[:2]
    if h < 32 or w < 32:
        return 1.0
    ratios = []
    steps = _phase_steps_u8 if f.dtype == np.uint8 else _phase_steps
    for ph in steps(f, _RGB_TO_YCC[0], 255.0 if f.dtype == np.uint8 else 1.0):
        med = float(np.median(ph))
        ratios.append(float(ph.max()) / med if med > 0 else 1.0)
    return min(ratios)


@numba.njit(cache=True)
def _phase_steps(f, wy, div):
    """Mean |luma step| to the next row / next column, per phase (position mod 8) of the step.

    Only whole groups of 8 steps count (as a reshape to (-1, 8) would).  The
    colour is ``f / div`` (``div`` 255 for uint8, 1 for floats in [0, 1]).
    """
    h, w = f.shape[0], f.shape[1]
    nr = (h - 1) // 8 * 8
    nc = (w - 1) // 8 * 8
    rows = np.zeros(8)
    cols = np.zeros(8)
    luma = np.empty(w)  # row y
    below = np.empty(w)  # row y + 1
    for x in range(w):
        luma[x] = wy[0] * (f[0, x, 0] / div) + wy[1] * (f[0, x, 1] / div) + wy[2] * (f[0, x, 2] / div)
    for y in range(h):
        step_down = y + 1 < h and y < nr
        if y + 1 < h:
            for x in range(w):
                below[x] = (wy[0] * (f[y + 1, x, 0] / div) + wy[1] * (f[y + 1, x, 1] / div)
                            + wy[2] * (f[y + 1, x, 2] / div))
        for x in range(w):
            v = luma[x]
            if x > 0 and x - 1 < nc:
                cols[(x - 1) % 8] += abs(v - luma[x - 1])
            if step_down:
                rows[y % 8] += abs(below[x] - v)
        luma, below = below, luma
    return rows / max(1, nr // 8 * w), cols / max(1, nc // 8 * h)


@numba.njit(cache=True)
def _phase_steps_u8(f, wy, div):
    """:func:`_phase_steps` for uint8 images, the same sums in the same order: each
    channel's luma term from a 256-entry table (the same products), the 8
    column phases in registers (unrolled by 8) and a row's steps summed in a
    register before they join their phase (7.2 -> ~3 ms at 1000^2)."""
    h, w = f.shape[0], f.shape[1]
    nr = (h - 1) // 8 * 8
    nc = (w - 1) // 8 * 8
    tab = np.empty((3, 256))
    for c in range(3):
        for v in range(256):
            tab[c, v] = wy[c] * (np.uint8(v) / div)
    rows = np.zeros(8)
    c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = 0.0
    luma = np.empty(w)  # row y
    below = np.empty(w)  # row y + 1
    for x in range(w):
        luma[x] = tab[0, f[0, x, 0]] + tab[1, f[0, x, 1]] + tab[2, f[0, x, 2]]
    for y in range(h):
        if y + 1 < h:
            for x in range(w):
                below[x] = tab[0, f[y + 1, x, 0]] + tab[1, f[y + 1, x, 1]] + tab[2, f[y + 1, x, 2]]
        for x in range(1, nc + 1, 8):  # step x - 1 -> x has phase (x - 1) % 8
            c0 += abs(luma[x] - luma[x - 1])
            c1 += abs(luma[x + 1] - luma[x])
            c2 += abs(luma[x + 2] - luma[x + 1])
            c3 += abs(luma[x + 3] - luma[x + 2])
            c4 += abs(luma[x + 4] - luma[x + 3])
            c5 += abs(luma[x + 5] - luma[x + 4])
            c6 += abs(luma[x + 6] - luma[x + 5])
            c7 += abs(luma[x + 7] - luma[x + 6])
        if y + 1 < h and y < nr:
            acc = rows[y % 8]
            for x in range(w):
                acc += abs(below[x] - luma[x])
            rows[y % 8] = acc
        luma, below = below, luma
    cols = np.array([c0, c1, c2, c3, c4, c5, c6, c7])
    return rows / max(1, nr // 8 * w), cols / max(1, nc // 8 * h)


def _jpeg_value_variance(pw, cw, t, est, k_near, d, counts):
    """Variance of the pixelwise value (t units²) under the JPEG metric, per colour.

    ``pw``, ``cw``: colours and curve samples in the whitened Y Cb Cr metric;
    ``est``: fractional sample index of each colour's projection.  The
    residual ``pw - curve(est)`` is perpendicular to the curve, so its
    length is ``s`` times a 2-D Rayleigh variable: ``s`` = count-weighted
    median (counts clipped at their 90th percentile, near-curve colours)
    / 1.177; the value variance is ``s² / |d cw / dt|²`` less the 8-bit
    rounding seen the same way.
    """
    m = len(cw)
    k0 = np.clip(np.floor(est).astype(np.int64), 0, m - 2)
    frac = (est - k0)[:, None]
    res = pw - ((1.0 - frac) * cw[k0] + frac * cw[k0 + 1])
    r = np.sqrt((res**2).sum(axis=1))
    rs, ds, cs = _thin(r, d, counts)
    wgt = np.minimum(cs, max(1.0, float(np.percentile(cs, 90))))
    sel = ds < max(5.0, 5.0 * _median(ds))
    if not sel.any():
        return np.zeros(len(pw))
    s = _weighted_median(rs, wgt, sel) / _RAYLEIGH_MEDIAN
    speed_w = np.linalg.norm(np.gradient(cw, t, axis=0), axis=1)
    wm = np.diag([1.0, _JPEG_CHROMA**-0.5, _JPEG_CHROMA**-0.5]) @ _RGB_TO_YCC
    rounding = _RGB_ROUNDING**2 * (wm**2).sum() / 3.0  # 8-bit rounding per whitened axis (mean)
    var = (s * s - rounding) / np.maximum(speed_w, 1e-12) ** 2
    return np.maximum(var, 0.0)[k_near]


def _widen_by_neighbours(t_val, t_lo, t_hi, valid, radius, edge, off, inv):
    """:func:`_widen_kernel` on copies of ``t_lo``, ``t_hi`` made by numpy (allocation note in __init__)."""
    out = (t_lo.copy(), t_hi.copy(), t_lo.copy(), t_hi.copy())
    _widen_kernel(t_val, valid, radius, edge, off, inv, *out)
    return out


@numba.njit(cache=True, parallel=True)
def _widen_kernel(t_val, valid, radius, edge, off, inv, lo, hi, lo_e, hi_e):
    """Interval ends widened to take in the values of the valid neighbours (window 2 radius + 1).

    Returns ``(lo, hi)``, so widened, and ``(lo_e, hi_e)``, widened further
    by ``edge * off[inv] * (max - min)`` beyond the neighbours' lowest and
    highest value (within [0, 1]; ``off`` per distinct colour in [0, 1]):
    wide across edges of the field where the colour is off the curve
    (JPEG ringing), unchanged on smooth stretches.
    """
    h, w = t_val.shape
    for y in numba.prange(h):
        for x in range(w):
            if not valid[y, x]:
                continue
            nmin = t_val[y, x]
            nmax = nmin
            for yy in range(max(0, y - radius), min(h, y + radius + 1)):
                for xx in range(max(0, x - radius), min(w, x + radius + 1)):
                    if valid[yy, xx]:
                        v = t_val[yy, xx]
                        if v < nmin:
                            nmin = v
                        if v > nmax:
                            nmax = v
            lo[y, x] = min(lo[y, x], nmin)
            hi[y, x] = max(hi[y, x], nmax)
            spread = edge * off[inv[y, x]] * (nmax - nmin)
            lo_e[y, x] = min(lo[y, x], max(nmin - spread, 0.0))
            hi_e[y, x] = max(hi[y, x], min(nmax + spread, 1.0))
