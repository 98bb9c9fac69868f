"""Sigma-clipped background and noise: median and MAD by quickselect, globally, in tiles and in annuli."""

from __future__ import annotations

import math

import numba
import numpy as np


_MAD_TO_SIGMA = 1.482602218505602


_SAMPLE = 1 << 15          # pixels used for the global background statistics


def _sigma_clip(values, nsigma=3.0):
    """Sigma-clipped (median, sigma) of a 1-D float array; sigma from the MAD.

    Clipped at ``nsigma`` until stable (at most 10 rounds).  If the MAD is 0
    (more than half the values equal) sigma falls back to sqrt(pi/2) times the
    mean absolute deviation about the median; both are consistent estimators
    of sigma for Gaussian noise.
    """
    v = np.array(values, dtype=np.float64)       # a copy: the selection permutes it
    med, sig = _clipped_stats(v, v.size, nsigma, np.empty(v.size), np.empty((3, v.size)))
    return float(med), float(sig)


def _global_stats(img, mask):
    """Sigma-clipped background and noise from a strided sample of the valid pixels.

    The sample has about 2**15 pixels; its stride is coprime with the row
    length so that it does not keep hitting the same columns.
    """
    flat = img.ravel()
    n = flat.size
    step = max(1, n // _SAMPLE)
    while step > 1 and math.gcd(step, img.shape[1]) != 1:
        step += 1
    sample = flat[::step].astype(np.float64)
    ok = np.isfinite(sample)
    if mask is not None:
        ok &= ~mask.ravel()[::step]
    sample = sample[ok]
    if sample.size < 64:     # sparse valid pixels: use all of them
        valid = np.isfinite(flat) if mask is None else np.isfinite(flat) & ~mask.ravel()
        sample = flat[valid].astype(np.float64)
    return _sigma_clip(sample)


def _tile_stats(img, mask_nb, has_mask, mask_arr, tile):
    """Background and noise maps from sigma-clipped statistics in ``tile`` x ``tile`` tiles.

    Tile values with fewer than 16 valid pixels are replaced by the global value;
    the tile grid is bilinearly interpolated to every pixel (constant beyond the
    outer tile centres).  (No median filter over the grid: on structured
    backgrounds it smooths away what the tiles follow.)
    """
    ny, nx = img.shape
    ty, tx = max(1, round(ny / tile)), max(1, round(nx / tile))
    ey = np.linspace(0, ny, ty + 1).round().astype(np.int64)
    ex = np.linspace(0, nx, tx + 1).round().astype(np.int64)
    gbg, gsig = _global_stats(img, mask_arr)
    bg, sig = _tile_grid(img, mask_nb, has_mask, ey, ex, gbg, gsig)

    def interp_matrix(n, edges):
        centres = 0.5 * (edges[:-1] + edges[1:]) - 0.5
        m = np.zeros((n, centres.size))
        pos = np.arange(n, dtype=np.float64)
        if centres.size == 1:
            m[:, 0] = 1.0
            return m
        k = np.clip(np.searchsorted(centres, pos) - 1, 0, centres.size - 2)
        t = np.clip((pos - centres[k]) / (centres[k + 1] - centres[k]), 0.0, 1.0)
        m[np.arange(n), k] = 1.0 - t
        m[np.arange(n), k + 1] = t
        return m

    wy, wx = interp_matrix(ny, ey), interp_matrix(nx, ex)
    return wy @ bg @ wx.T, wy @ sig @ wx.T


@numba.njit(cache=True, nogil=True)
def _shell_sort(a):
    """Sort the small 1-D array ``a`` in place (Ciura gaps; cheaper to compile than np.sort)."""
    n = a.size
    for g in (701, 301, 132, 57, 23, 10, 4, 1):
        for i in range(g, n):
            v = a[i]
            j = i
            while j >= g and a[j - g] > v:
                a[j] = a[j - g]
                j -= g
            a[j] = v


@numba.njit(cache=True, nogil=True)
def _kth(a, n, k, sc):
    """The k-th and (k-1)-th smallest (0-based) of ``a[:n]`` by quickselect; ``a`` is not modified.

    ``sc``: scratch of shape (3, >= n).  Each round partitions the current
    values three ways around a median-of-3 pivot without branches (every value
    is written to both the "less" and the "greater" buffer, and only the
    matching buffer's count advances), so the cost does not depend on how
    well the comparisons can be predicted; O(n) expected.  The rest, at most
    12 values, is sorted by insertion.  The (k-1)-th value (``-inf`` for
    ``k = 0``) comes along: when the search moves above the pivot, the largest
    value left below is the pivot itself.
    """
    m = n
    src = a
    cur = -1                 # row of ``sc`` that holds ``src`` (-1: ``a`` itself)
    below = -np.inf          # the largest value known to rank below the window
    while m > 12:
        x0 = src[0]
        x1 = src[m // 2]
        x2 = src[m - 1]
        p = max(min(x0, x1), min(max(x0, x1), x2))
        r1 = 0 if cur != 0 else 2
        r2 = 1 if cur != 1 else 2
        lo = sc[r1]
        hi = sc[r2]
        nl = 0
        nh = 0
        for i in range(m):
            v = src[i]
            lo[nl] = v
            hi[nh] = v
            nl += v < p
            nh += v > p
        if k < nl:
            m = nl
            src = lo
            cur = r1
        elif k >= m - nh:
            k -= m - nh
            m = nh
            src = hi
            cur = r2
            below = p
        else:                    # the pivot's value occupies rank k
            if k > nl:
                return p, p
            for i in range(nl):
                below = max(below, lo[i])
            return p, below
    t = sc[2] if cur != 2 else sc[0]
    for i in range(m):
        v = src[i]
        j = i
        while j > 0 and t[j - 1] > v:
            t[j] = t[j - 1]
            j -= 1
        t[j] = v
    return t[k], (t[k - 1] if k > 0 else below)


@numba.njit(cache=True, nogil=True)
def _median(a, n, sc):
    """Median of ``a[:n]`` (n >= 1; mean of the two middle values for even n); ``a`` is not modified.

    ``sc``: scratch of shape (3, >= n) for :func:`_kth`.
    """
    hi, lo = _kth(a, n, n // 2, sc)
    if n % 2 == 1:
        return hi
    return 0.5 * (lo + hi)


@numba.njit(cache=True, nogil=True)
def _clipped_stats(v, m, nsigma, dev, sc):
    """Sigma-clipped (median, MAD sigma) of ``v[:m]`` (m >= 1); scratch ``dev`` (>= m) and ``sc`` (3, >= m).

    Clipped at ``|v - median| <= nsigma sigma`` until stable (at most 10
    rounds); median and MAD by selection (:func:`_kth`), O(m) per round.  A
    zero MAD falls back to sqrt(pi/2) times the mean absolute deviation about
    the median (summed in ascending order).  Permutes and compacts ``v[:m]``.
    """
    med = 0.0
    sig = 0.0
    for _it in range(10):
        if m < 1:
            break
        med = _median(v, m, sc)
        for i in range(m):
            dev[i] = abs(v[i] - med)
        sig = 1.482602218505602 * _median(dev, m, sc)
        if sig == 0.0:
            _shell_sort(v[:m])
            t = 0.0
            for q in range(m):
                t += abs(v[q] - med)
            sig = math.sqrt(math.pi / 2.0) * t / m
        if sig == 0.0:
            break
        lo_t = med - nsigma * sig
        hi_t = med + nsigma * sig
        kept = 0
        for i in range(m):
            if lo_t <= v[i] <= hi_t:
                v[kept] = v[i]
                kept += 1
        if kept == m:
            break
        m = kept
    return med, sig


@numba.njit(cache=True, nogil=True)
def _tile_grid(img, mask, has_mask, ey, ex, gbg, gsig):
    """Sigma-clipped (median, MAD sigma) of the valid pixels of each tile ``[ey[i]:ey[i+1], ex[j]:ex[j+1]]``.

    Tiles with fewer than 16 valid pixels, or a zero spread, get ``gbg``/``gsig``.
    """
    ty = ey.size - 1
    tx = ex.size - 1
    bg = np.full((ty, tx), gbg)
    sig = np.full((ty, tx), gsig)
    cap = 0
    for i in range(ty):
        for j in range(tx):
            cap = max(cap, (ey[i + 1] - ey[i]) * (ex[j + 1] - ex[j]))
    buf = np.empty(cap)
    dev = np.empty(cap)
    sc = np.empty((3, cap))
    for i in range(ty):
        for j in range(tx):
            m = 0
            for y in range(ey[i], ey[i + 1]):
                for x in range(ex[j], ex[j + 1]):
                    v = np.float64(img[y, x])
                    if not (v == v) or (has_mask and mask[y, x]):
                        continue
                    buf[m] = v
                    m += 1
            if m >= 16:
                med, sg = _clipped_stats(buf, m, 3.0, dev, sc)
                if sg > 0.0:
                    bg[i, j] = med
                    sig[i, j] = sg
    return bg, sig


@numba.njit(cache=True, nogil=True)
def _annulus_stats(img, mask, has_mask, px, py, r_in, r_out, fb_bg, fb_sig):
    """Sigma-clipped (median, MAD sigma) of the valid pixels in an annulus around each peak.

    Falls back to ``fb_bg``/``fb_sig`` (per peak) with fewer than 8 valid pixels
    or a zero spread.
    """
    ny, nx = img.shape
    npk = px.size
    bg = np.empty(npk)
    sg = np.empty(npk)
    ro = int(math.ceil(r_out))
    buf = np.empty((2 * ro + 1) ** 2)
    dev = np.empty(buf.size)
    sc = np.empty((3, buf.size))
    for i in range(npk):
        cx = int(round(px[i]))
        cy = int(round(py[i]))
        m = 0
        for y in range(max(0, cy - ro), min(ny, cy + ro + 1)):
            for x in range(max(0, cx - ro), min(nx, cx + ro + 1)):
                r2 = (x - px[i]) ** 2 + (y - py[i]) ** 2
                if r2 < r_in * r_in or r2 > r_out * r_out:
                    continue
                v = np.float64(img[y, x])
                if not (v == v) or (has_mask and mask[y, x]):
                    continue
                buf[m] = v
                m += 1
        med = fb_bg[i]
        sig = fb_sig[i]
        if m >= 8:
            med, sig = _clipped_stats(buf, m, 3.0, dev, sc)
            if sig == 0.0:
                sig = fb_sig[i]
        bg[i] = med
        sg[i] = sig
    return bg, sg
