"""Spatial step: a Wiener filter of the pixelwise values estimated from the image's own spectrum
(in the DCT domain) and clipped to each pixel's interval, then the texture that noise cannot
explain put back by a local Wiener gain (Lee 1980); for JPEG, the noise model checked against
the high frequencies of the quietest blocks."""

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


def _keep_texture(raw, smooth, var_raw, inv, valid, radius, excess=_TEXTURE_EXCESS):
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
    ``smooth`` is read at valid pixels only; invalid pixels come back as
    ``raw``.
    """
    out = np.empty_like(raw)  # by numpy (allocation note in __init__)
    _keep_texture_kernel(raw, smooth, var_raw, inv, valid, int(radius), float(excess), out)
    return out


@numba.njit(cache=True, parallel=True)
def _keep_texture_kernel(raw, smooth, var_raw, inv, valid, radius, excess, out):
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
                    r = raw[y, x] - smooth[y, x]
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
                sm = smooth[y, x]
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


# Wiener filter of the pixelwise values (:func:`_wiener_smooth`): the power spectrum is
# averaged over a Gaussian of this many DCT bins, as a geometric mean (see there)
_WIENER_BINS = 2.0
_LINE_SIGMAS = 6.0  # a coefficient this many noise sd from 0 is a spectral line: its own power counts


def _wiener_smooth(raw, var_raw, inv, valid, clip_lo, clip_hi, bins=_WIENER_BINS):
    """The pixelwise values filtered by a Wiener filter estimated from the image, clipped to the intervals.

    ``x`` = ``raw`` with its invalid pixels filled (:func:`_fill_invalid`),
    ``X`` = its orthonormal 2-D DCT-II (the DFT of ``x`` extended
    symmetrically: no wrap-around at the edges).  White noise of variance
    ``s²`` per pixel gives every coefficient of ``X`` variance ``s²``; here
    ``s²`` is the mean of ``var_raw[inv]`` over the valid pixels.  Each
    coefficient is multiplied by the power-subtraction gain (Wiener 1949;
    Lim 1990, *Two-Dimensional Signal and Image Processing*, sec. 9.2)

        g = max(0, 1 - s² / P),   P = max(exp(A), X² / 6²),

    ``A`` being the log power ``log X²`` averaged over blocks of 2 x 2 DCT
    bins and smoothed on that coarse grid by a Gaussian of ``bins / 2``
    blocks (``bins`` DCT bins), the block's value serving its 4 bins.  So
    ``exp(A)`` is a local geometric mean of the power.  Where ``X`` is noise
    alone (each ``X²`` a ``s² χ²₁`` variable) that is ``2 e^{ψ(1/2)} ≈
    0.28`` times the arithmetic mean, so such bands get ``g = 0`` with a
    margin, and a band passes where its power (field and noise) is more
    than about 3.6 times the noise's; one strong coefficient does not raise
    it much.  Measured
    in a first version (full-resolution average, no line term): mean error
    of the viridis png+noise renders of ``benchmarks/colormap.py`` 0.540 %
    with the geometric mean against 0.605 / 0.553 % with the arithmetic mean
    over 5 x 5 / 9 x 9 bins; the 2 x 2 blocks (4x fewer smoothing sums)
    changed no map's mean error by more than +-0.01 % of range
    (``results_colormap.md``, round 13).  The second term keeps a spectral
    line (a periodic pattern, or a field whose power sits in a few
    coefficients), which the mean over its neighbours would bury: a
    coefficient 6 noise standard deviations from 0 (``X² >= 36 s²``; for
    Gaussian noise about 2e-9 of the coefficients) keeps
    ``1 - 36 s² / X²`` of itself.  (36 and more changed no benchmark mean
    in the third decimal; 9 let JPEG's 8-pixel grid lines through, +5 % on
    viridis jpeg75+noise.)

    The filter is linear and shift-invariant, so it smooths edges and
    texture as much as flat regions; :func:`_keep_texture` afterwards puts
    back what the noise cannot explain.  Its result is clipped to
    ``[clip_lo, clip_hi]`` (the pixel's interval; a cyclic map's seam
    smoothed across stays within it too).  Invalid pixels come back as
    ``raw``.  ``var_raw`` is per distinct colour, ``inv`` the (H, W) colour
    index of each pixel; ``var_raw`` all zero (or no valid pixel): ``raw``.
    """
    from scipy import fft  # noqa: PLC0415  (SciPy: the tools extra, as elsewhere here)

    if not valid.any():
        return raw.copy()
    # the transforms in float32 (at 1000^2 the whole step took 25 ms with them in float64, 16
    # in float32: fewer bytes to move and to fault in; 13 with the per-block log and gain);
    # the values differ from float64 ones by ~1e-6 of the range, far below any LUT step.
    # The filled image is written in float32 directly (each value rounded once, as a float64
    # fill then cast would be) and transformed in place; the clip reads the float32 result:
    # two passes over the image and a float64 buffer fewer than a cast and a copy back
    x = np.empty(raw.shape, dtype=np.float32)  # by numpy (allocation note in __init__)
    s2 = _fill_invalid(raw, valid, var_raw, inv, x)
    if not s2 > 0.0:
        return raw.copy()
    # the 1-D transforms of each axis shared among as many threads as the kernels use
    # (pocketfft's own threads; the same numbers whatever the count)
    workers = numba.get_num_threads()
    coef = fft.dctn(x, type=2, norm="ortho", overwrite_x=True, workers=workers)
    # log by numpy (vectorised; numba's scalar log is ~10 ns here): one per 2 x 2 block
    log_avg = np.log(_block_power_product(coef)) / _block_counts(coef.shape)
    avg = np.exp(_gaussian_mirror(log_avg, _gaussian_taps(float(bins) / 2.0)))
    _apply_gain(coef, avg, s2, _LINE_SIGMAS**2)
    smooth = fft.idctn(coef, type=2, norm="ortho", overwrite_x=True, workers=workers)
    out = np.empty_like(raw)
    _clip_valid(smooth, raw, valid, clip_lo, clip_hi, out)
    return out


@numba.njit(cache=True)  # serial: see _SERIAL_MS (~0.5 ms at 1000^2)
def _block_power_product(coef):
    """Product of ``max(coef², tiny)`` over blocks of 2 x 2 coefficients (a last odd row or
    column: over its 2 or 1), ``tiny`` that of float32: the log of it over the count is the
    block's mean log power.  Each of the <= 4 factors is >= 1.2e-38 and, for values in
    [0, 1], <= the squared DC term (<= the pixel count), so the float64 product neither
    underflows nor overflows."""
    h, w = coef.shape
    tiny = np.float64(np.finfo(np.float32).tiny)
    out = np.ones(((h + 1) // 2, (w + 1) // 2))
    for y in range(h):
        for x in range(w):
            c = np.float64(coef[y, x])
            out[y // 2, x // 2] *= max(c * c, tiny)
    return out


def _block_counts(shape):
    """Coefficients per 2 x 2 block of :func:`_block_power_product` (4, or 2 / 1 at an odd edge)."""
    h, w = shape
    ny = np.full((h + 1) // 2, 2.0)
    nx = np.full((w + 1) // 2, 2.0)
    ny[-1] = 2.0 - h % 2
    nx[-1] = 2.0 - w % 2
    return ny[:, None] * nx[None, :]


@numba.njit(cache=True)  # serial: see _SERIAL_MS (~1 ms at 1000^2)
def _apply_gain(coef, avg, s2, line2):
    """In place: ``coef *= max(0, 1 - s2 / max(avg[y // 2, x // 2], coef² / line2))``.

    The gain ``1 - s2 / avg`` is computed once per block; a coefficient
    whose own power passes ``line2 avg`` (rare: a spectral line) takes
    ``1 - line2 s2 / coef²`` instead.
    """
    h, w = coef.shape
    block_gain = np.empty(avg.shape)
    for by in range(avg.shape[0]):
        for bx in range(avg.shape[1]):
            block_gain[by, bx] = max(1.0 - s2 / avg[by, bx], 0.0)
    for y in range(h):
        for x in range(w):
            c = np.float64(coef[y, x])
            c2 = c * c
            if c2 > line2 * avg[y // 2, x // 2]:
                coef[y, x] = c * max(1.0 - line2 * s2 / c2, 0.0)
            else:
                coef[y, x] = c * block_gain[y // 2, x // 2]


def _gaussian_taps(sigma, truncate=4.0):
    """Normalised Gaussian taps of ``scipy.ndimage.gaussian_filter`` (radius ``int(truncate sigma + 0.5)``)."""
    r = int(truncate * sigma + 0.5)
    t = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    return t / t.sum()


@numba.njit(cache=True)
def _mirror(i, n):
    """Index ``i`` reflected about the end samples into ``[0, n)`` (``d c b | a b c d | c b a``)."""
    if n == 1:
        return 0
    period = 2 * n - 2
    i = abs(i) % period
    return i if i < n else period - i


def _gaussian_mirror(a, taps):
    """``scipy.ndimage.gaussian_filter(a, sigma, mode="mirror")`` for the normalised ``taps`` of
    :func:`_gaussian_taps`: the separable sums in a compiled kernel (2-D float64 ``a``)."""
    tmp = np.empty_like(a)  # by numpy (allocation note in __init__)
    out = np.empty_like(a)
    _gaussian_mirror_kernel(a, np.asarray(taps, dtype=np.float64), tmp, out)
    return out


@numba.njit(cache=True)  # serial: see _SERIAL_MS (~1 ms on the 500 x 500 coarse grid)
def _gaussian_mirror_kernel(a, taps, tmp, out):
    """:func:`_gaussian_mirror`: along x into ``tmp`` (each row copied with its mirrored ends
    into a buffer), then along y into ``out`` (each output row the weighted sum of whole input
    rows); both loops run over x innermost, so they vectorise."""
    h, w = a.shape
    r = (len(taps) - 1) // 2
    for y in range(h):
        buf = np.empty(w + 2 * r)
        for x in range(-r, w + r):
            buf[x + r] = a[y, _mirror(x, w)]
        acc = tmp[y]
        for x in range(w):
            acc[x] = 0.0
        for k in range(2 * r + 1):
            t = taps[k]
            for x in range(w):
                acc[x] += t * buf[x + k]
    for y in range(h):
        acc = out[y]
        for x in range(w):
            acc[x] = 0.0
        for k in range(2 * r + 1):
            src = tmp[_mirror(y + k - r, h)]
            t = taps[k]
            for x in range(w):
                acc[x] += t * src[x]


@numba.njit(cache=True)  # serial: see _SERIAL_MS
def _clip_valid(smooth, raw, valid, lo, hi, out):
    """``out = clip(smooth, lo, hi)`` (``smooth`` taken as float64) at valid pixels, ``raw`` at the others."""
    h, w = out.shape
    for y in range(h):
        for x in range(w):
            out[y, x] = min(max(np.float64(smooth[y, x]), lo[y, x]), hi[y, x]) if valid[y, x] else raw[y, x]


def _fill_invalid(raw, valid, var_raw, inv, out):
    """``out`` = ``raw`` with its invalid pixels filled; returns the mean of ``var_raw[inv]``
    over the valid pixels (the noise variance :func:`_wiener_smooth` removes).

    ``out`` float64 or float32: each value is computed in float64 and rounded
    once when stored.

    Along each row, a run of invalid pixels is interpolated linearly between
    the valid pixels on either side (or takes the one valid pixel beside it,
    at the ends of the row); a row with no valid pixel is a copy of the
    nearest row that has one (the row above on a tie).  ``valid`` must have
    a valid pixel.
    """
    return _fill_kernel(raw, valid, var_raw, inv, out)


@numba.njit(cache=True)  # serial: see _SERIAL_MS (~2 ms at 1000^2)
def _fill_kernel(raw, valid, var_raw, inv, out):
    """:func:`_fill_invalid`."""
    h, w = raw.shape
    has = np.zeros(h, dtype=np.bool_)
    s = 0.0
    n = 0
    for y in range(h):
        last = -1  # last valid x so far
        for x in range(w):
            if not valid[y, x]:
                continue
            out[y, x] = raw[y, x]
            s += var_raw[inv[y, x]]
            n += 1
            if last < 0:
                for xx in range(x):  # the row's start: the first valid value
                    out[y, xx] = raw[y, x]
            elif x > last + 1:
                a = raw[y, last]
                b = raw[y, x]
                for xx in range(last + 1, x):
                    f = (xx - last) / (x - last)
                    out[y, xx] = a + f * (b - a)
            last = x
        if last >= 0:
            has[y] = True
            for xx in range(last + 1, w):  # the row's end: the last valid value
                out[y, xx] = raw[y, last]
    for y in range(h):
        if has[y]:
            continue
        for d in range(1, h):  # the nearest row with a valid pixel, above first
            if y - d >= 0 and has[y - d]:
                out[y] = out[y - d]
                break
            if y + d < h and has[y + d]:
                out[y] = out[y + d]
                break
    return s / n
