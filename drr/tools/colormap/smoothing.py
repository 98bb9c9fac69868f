"""Spatial step: a sigma filter inside each pixel's interval (Lee 1983), then the texture that noise
cannot explain put back by a local Wiener gain (Lee 1980); for JPEG, the noise model checked
against the high frequencies of the quietest blocks."""

from __future__ import annotations

import numba
import numpy as np

_TEXTURE_EXCESS = 1.5  # residual/noise power ratio up to which the smoothing is kept whole
# JPEG: the model's value variance is checked against the high frequencies of the quietest
# blocks (:func:`_quiet_block_scale`); block side, quantile (%) and the factor on it, measured
# on benchmarks/colormap.py's jpeg75 and jpeg75+noise renders (results_colormap.md, round 10)
_QUIET_BLOCK = 8
_QUIET_QUANTILE = 25.0
_QUIET_GAIN = 10.0
_QUIET_TILES = 2000  # tiles enough for the quartile: larger images use every k-th band of tiles
# least factor: on the smoothest fields the quietest blocks show no high frequencies at all,
# yet the 3 x 3 step still removes the 8-bit LUT staircase and JPEG's smooth luma errors
# (benchmark jpeg75, floors 0 / 0.05 / 0.1 / 0.2: viridis 0.612 / 0.608 / 0.607 / 0.615 %)
_QUIET_FLOOR = 0.1


def _sigma_filter(v, t_lo, t_hi, k_half, valid, radius, n_iter):
    """Sigma filter of ``v`` (window ``2 radius + 1``), ``n_iter`` passes.

    Each valid pixel becomes the mean of the valid neighbours (itself
    included) whose value lies in ``v ± k_half (t_hi - t_lo)`` (the pixel's
    acceptance band, fixed from the input), clipped to ``[t_lo, t_hi]``; a
    pixel with no such neighbour keeps its value; invalid pixels keep ``v``.
    """
    cur = _sigma_padded(v, t_lo, t_hi, k_half, valid, radius, n_iter)
    r = int(radius)
    h, w = v.shape
    return np.where(valid, cur[r:r + h, r:r + w], v)


def _sigma_padded(v, t_lo, t_hi, k_half, valid, radius, n_iter):
    """:func:`_sigma_filter` padded by ``radius`` (NaN there and at invalid pixels).

    Invalid pixels are NaN and so is the padding, so the inner loop has
    neither bounds nor validity tests (a NaN fails both comparisons): the
    same sums, in the same order, as testing them.
    """
    h, w = v.shape
    r = int(radius)
    cur = np.empty((h + 2 * r, w + 2 * r))
    out = np.empty((h + 2 * r, w + 2 * r))
    _sigma_init(v, valid, cur, out, r)
    for _ in range(n_iter):
        if r == 1:
            _sigma_pass1(cur, out, v, float(k_half), t_lo, t_hi, valid)
        else:
            _sigma_pass(cur, out, v, float(k_half), t_lo, t_hi, valid, r)
        cur, out = out, cur
    return cur


@numba.njit(cache=True, parallel=True)  # two 8 MB arrays at 1000^2 (was a copy by numpy)
def _sigma_init(v, valid, cur, out, r):
    """Padded copy of ``v`` (NaN at the padding and invalid pixels) into ``cur`` and ``out``."""
    h, w = v.shape
    for y in numba.prange(h + 2 * r):
        if y < r or y >= h + r:
            for x in range(w + 2 * r):
                cur[y, x] = np.nan
                out[y, x] = np.nan
            continue
        yy = y - r
        for x in range(r):
            cur[y, x] = np.nan
            cur[y, w + r + x] = np.nan
            out[y, x] = np.nan
            out[y, w + r + x] = np.nan
        for x in range(w):
            q = v[yy, x] if valid[yy, x] else np.nan
            cur[y, x + r] = q
            out[y, x + r] = q


@numba.njit(cache=True, parallel=True)  # ~3.3 ms a pass serially at 1000^2: over _SERIAL_MS
def _sigma_pass1(src, dst, v, k_half, clip_lo, clip_hi, valid):
    """One sigma-filter pass, 3 x 3 window, on NaN-padded ``src`` into ``dst``.

    The acceptance band of pixel (y, x) is ``v ∓ k_half (clip_hi - clip_lo)``
    there (``v``: the unfiltered values), computed as numpy would.
    """
    h, w = v.shape
    for y in numba.prange(h):
        r0 = src[y]
        r1 = src[y + 1]
        r2 = src[y + 2]
        for x in range(w):
            if not valid[y, x]:
                continue
            half = k_half * (clip_hi[y, x] - clip_lo[y, x])
            a = v[y, x] - half
            b = v[y, x] + half
            s = 0.0
            c = 0
            for row in (r0, r1, r2):
                for xx in range(x, x + 3):
                    q = row[xx]
                    if a <= q <= b:
                        s += q
                        c += 1
            if c > 0:
                dst[y + 1, x + 1] = min(max(s / c, clip_lo[y, x]), clip_hi[y, x])


@numba.njit(cache=True, parallel=True)
def _sigma_pass(src, dst, v, k_half, clip_lo, clip_hi, valid, r):
    """One sigma-filter pass, window ``2 r + 1``, on NaN-padded ``src`` into ``dst``
    (acceptance band as in :func:`_sigma_pass1`)."""
    h, w = v.shape
    for y in numba.prange(h):
        for x in range(w):
            if not valid[y, x]:
                continue
            half = k_half * (clip_hi[y, x] - clip_lo[y, x])
            a = v[y, x] - half
            b = v[y, x] + half
            s = 0.0
            c = 0
            for yy in range(y, y + 2 * r + 1):
                for xx in range(x, x + 2 * r + 1):
                    q = src[yy, xx]
                    if a <= q <= b:
                        s += q
                        c += 1
            if c > 0:
                dst[y + r, x + r] = min(max(s / c, clip_lo[y, x]), clip_hi[y, x])


def _keep_texture(raw, smooth, var_raw, inv, valid, radius, excess=_TEXTURE_EXCESS, pad=0):
    """Put back the part of ``raw - smooth`` that noise cannot explain (local Wiener gain).

    In a window of ``2 radius + 1`` pixels the mean square of the residual
    ``r = raw - smooth`` is compared with the mean variance of the pixelwise
    estimate: ``g = clip(1 - excess * var / mean(r²), 0, 1)`` and the result
    is ``smooth + g r`` (Lee 1980, *IEEE PAMI* 2:165, with the smoothed image
    as the local mean).  Where the field is smooth and the image noisy the
    residual is noise and ``g ≈ 0``; where smoothing removed texture or an
    edge of the field, ``r`` exceeds the noise and ``g → 1``: the pixelwise
    value is kept.  The result lies between ``smooth`` and ``raw`` (both in the
    pixel's interval).  ``excess > 1`` because ``mean(r²)`` is itself noisy
    (relative sd ``sqrt(2) / (2 radius + 1)``): with ``excess = 1`` noise
    leaks back into smooth regions wherever the estimate runs high.
    Window sums are separable box sums with zero padding (as
    ``scipy.ndimage.uniform_filter(mode="constant")``, whose ``1/size²``
    cancels in both ratios), in a compiled kernel.  ``var_raw`` is per
    distinct colour, ``inv`` the (H, W) colour index of each pixel.
    ``smooth`` may be padded by ``pad`` on each side (as from
    :func:`_sigma_padded`); it is read at valid pixels only, invalid pixels
    come back as ``raw``.
    """
    out = np.empty_like(raw)  # by numpy (allocation note in __init__)
    _keep_texture_kernel(raw, smooth, var_raw, inv, valid, int(radius), float(excess), int(pad), out)
    return out


@numba.njit(cache=True, parallel=True)
def _keep_texture_kernel(raw, smooth, var_raw, inv, valid, radius, excess, pad, out):
    """:func:`_keep_texture`: box sums of (valid, r², var) by rows, then by columns.

    Threads take bands of 32 rows; each band keeps the row sums of its rows
    and ``radius`` halo rows in a small buffer of its own (a full-image
    buffer cost more in page faults than the sums).  Same sums, same order:
    each window is summed from its first column (row) to its last, with
    zeros for invalid pixels and the padding (adding +0.0 to these
    non-negative sums changes nothing), one window offset at a time over the
    whole row so that the loops run branch-free over x (21 -> ~8 ms at
    1000^2, one thread).
    """
    h, w = raw.shape
    band = 32
    win = 2 * radius + 1
    for bi in numba.prange((h + band - 1) // band):
        y0 = bi * band
        y1 = min(h, y0 + band)
        ya = max(0, y0 - radius)
        yb = min(h, y1 + radius)
        rows = np.empty((yb - ya, 3, w))  # horizontal sums of n, r², var
        # one row's (valid, r², var), zero where invalid and in the padding of radius on each side
        m_n = np.zeros(w + 2 * radius)
        m_r = np.zeros(w + 2 * radius)
        m_v = np.zeros(w + 2 * radius)
        for y in range(ya, yb):
            for x in range(w):
                if valid[y, x]:
                    r = raw[y, x] - smooth[y + pad, x + pad]
                    m_n[x + radius] = 1.0
                    m_r[x + radius] = r * r
                    m_v[x + radius] = var_raw[inv[y, x]]
                else:
                    m_n[x + radius] = 0.0
                    m_r[x + radius] = 0.0
                    m_v[x + radius] = 0.0
            rn = rows[y - ya, 0]
            rr = rows[y - ya, 1]
            rv = rows[y - ya, 2]
            for x in range(w):
                rn[x] = 0.0
                rr[x] = 0.0
                rv[x] = 0.0
            for i in range(win):
                for x in range(w):
                    rn[x] += m_n[x + i]
                    rr[x] += m_r[x + i]
                    rv[x] += m_v[x + i]
        sn = np.empty(w)
        se = np.empty(w)
        sv = np.empty(w)
        for y in range(y0, y1):
            for x in range(w):
                sn[x] = 0.0
                se[x] = 0.0
                sv[x] = 0.0
            for yy in range(max(0, y - radius), min(h, y + radius + 1)):
                rn = rows[yy - ya, 0]
                rr = rows[yy - ya, 1]
                rv = rows[yy - ya, 2]
                for x in range(w):
                    sn[x] += rn[x]
                    se[x] += rr[x]
                    sv[x] += rv[x]
            for x in range(w):
                if not valid[y, x]:
                    out[y, x] = raw[y, x]
                    continue
                n = sn[x]
                e = se[x]
                v = sv[x]
                g = 0.0
                if n > 0.0 and e > 0.0:
                    g = min(max(1.0 - excess * (v / n) / (e / n), 0.0), 1.0)
                sm = smooth[y + pad, x + pad]
                out[y, x] = sm + g * (raw[y, x] - sm)


def _quiet_block_scale(raw, var_raw, inv, valid, block=_QUIET_BLOCK, quantile=_QUIET_QUANTILE,
                       gain=_QUIET_GAIN, tiles=_QUIET_TILES, floor=_QUIET_FLOOR):
    """Factor in [floor, 1] for the model's value variance: how much of it the quietest blocks show.

    The pixelwise values are filtered with ``K = [1, -2, 1] ⊗ [1, -2, 1]``
    (Immerkær 1996, *CVIU* 64:300: the product of the second differences
    along x and y, which cancels any field that is linear along either
    axis, so smooth texture hardly passes; white noise of variance ``σ²``
    comes out with variance ``sum(K²) σ² = 36 σ²``).  Per block of
    ``block x block`` pixels the ratio ``rho = sum((K * raw)²) / sum(36
    var)`` (over the pixels whose
    3 x 3 neighbourhood is valid, at least half of the block; ``var =
    var_raw[inv]``) is the share of the modelled noise power seen at the
    highest frequencies; texture of the field only raises it, so the
    quietest blocks are the closest to noise alone (the noise level from
    the flattest patches).  The factor is ``min(1, gain * quantile-th
    percentile of rho)``, at least ``floor`` (``_QUIET_FLOOR``), over the
    tiles of every ``k``-th band of tiles, ``k = max(1, n_tiles // tiles)``
    (at least ``tiles`` of them, or all: plenty for a quartile, and ~0.4
    instead of ~2 ms at 1000^2).

    Why it is needed (JPEG): the model's variance comes from the colours'
    distances *off* the curve, which on a clean JPEG are the chroma errors
    of the compression; the pixelwise value is the projection in Y Cb Cr
    with chroma weighted down, which those errors hardly move (luma is kept
    at full resolution and quantised finely).  The texture gain then took
    real texture for noise and smoothed it away.  JPEG also removes most of
    the high frequencies of noise added before compression, hence
    ``gain > 1``.  Measured on ``benchmarks/colormap.py``'s five fields (25th
    percentile of ``rho`` over 8 x 8 blocks, all tiles): jpeg75 + noise
    0.04-0.26 for viridis, plasma and cividis (camera lowest); clean jpeg75
    0.000-0.065 (dem, texture everywhere, highest); jet, turbo and hsv +
    noise 0.01-0.15 (their model overstates the noise: they lose nothing
    by less smoothing).  ``gain = 10`` keeps most noisy renders at their
    old factor of 1 and cuts the clean ones to 0.1 (the floor) - 0.65;
    5 smoothed noisy renders too little, 20 clean ones too much
    (``results_colormap.md``, round 10).  A cyclic map's seam (values
    jumping by ~1) only raises the blocks it crosses.

    Returns 1.0 when no block qualifies.
    """
    h, w = raw.shape
    nby, nbx = h // block, w // block
    if nby == 0 or nbx == 0:
        return 1.0
    step = max(1, nby * nbx // int(tiles))
    rho = np.empty((nby + step - 1) // step * nbx)
    _block_hf_ratios(raw, var_raw, inv, valid, int(block), step, rho)
    rho = rho[np.isfinite(rho)]
    if len(rho) == 0:
        return 1.0
    return float(max(floor, min(1.0, gain * np.percentile(rho, quantile))))


@numba.njit(cache=True)  # serial: see _SERIAL_MS (~0.4 ms at 1000^2 with the stride of _quiet_block_scale)
def _block_hf_ratios(raw, var_raw, inv, valid, block, step, out):
    """Per ``block x block`` tile of every ``step``-th band of tiles (bands 0, step, 2 step,
    ...; row-major, whole tiles only): ``sum (K * raw)² / sum 36 var_raw[inv]`` over the
    pixels whose 3 x 3 neighbourhood lies in the image and is valid (``K = [1, -2, 1] ⊗
    [1, -2, 1]``); NaN for a tile with fewer than half of its pixels so, or no variance.

    Separable: per band the rows' ``[1, -2, 1]`` differences along x
    are computed once for the band and its two halo rows (0 where one of the
    three pixels is invalid, with a 0/1 mask), then combined along y without
    branches (the masked terms add +0.0 to non-negative sums).  One thread
    at 1000^2, all bands: ~29 ms pixel by pixel, ~4.5 ms so.
    """
    h, w = raw.shape
    nby, nbx = h // block, w // block
    for j in range((nby + step - 1) // step):
        y0 = j * step * block
        ya = max(y0 - 1, 0)
        yb = min(y0 + block + 1, h)
        dx = np.zeros((yb - ya, w))  # raw[y, x-1] - 2 raw[y, x] + raw[y, x+1]; 0 if one is invalid
        okx = np.zeros((yb - ya, w))  # 1.0 where the three are valid (x inside), else 0.0
        for y in range(ya, yb):
            for x in range(1, w - 1):
                if valid[y, x - 1] and valid[y, x] and valid[y, x + 1]:
                    dx[y - ya, x] = raw[y, x - 1] - 2.0 * raw[y, x] + raw[y, x + 1]
                    okx[y - ya, x] = 1.0
        for bx in range(nbx):
            e = 0.0
            v = 0.0
            n = 0.0
            for y in range(max(y0, 1), min(y0 + block, h - 1)):
                i = y - ya
                for x in range(bx * block, bx * block + block):
                    m = okx[i - 1, x] * okx[i, x] * okx[i + 1, x]
                    k = dx[i - 1, x] - 2.0 * dx[i, x] + dx[i + 1, x]
                    e += m * (k * k)
                    v += m * (36.0 * var_raw[inv[y, x]])
                    n += m
            out[j * nbx + bx] = e / v if (2.0 * n >= block * block and v > 0.0) else np.nan
