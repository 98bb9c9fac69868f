"""Colour-noise estimates: off-curve distances (2-D Rayleigh), second differences along the curve,
and the model that carries sRGB noise into CIELAB and along the curve."""

from __future__ import annotations

import math

import numba
import numpy as np

from .cielab import srgb_to_lab

_RAYLEIGH_MEDIAN = math.sqrt(2.0 * math.log(2.0))  # median of |N(0, I_2)|
_NOISE_SAMPLE = 1 << 16  # distinct colours used by the global noise estimates
_NOISE_FLOOR = 0.2  # ΔE; 8-bit rounding of sRGB is about 0.1-0.2
# 8-bit rounding as _estimate_rgb_noise sees it: uniform error of sd 1 / (255 sqrt 12)
# per channel has a Rayleigh-median scale 1.175 times that (Monte Carlo)
_RGB_ROUNDING = 1.175 / (255.0 * math.sqrt(12.0))
_FACTORS_CACHE = {}  # curve (sRGB samples, t) -> (along, across, speed, rgb_speed), a few kept


def _thin(*arrays):
    """Every k-th element of each array, k chosen so that at most ``_NOISE_SAMPLE`` remain."""
    step = max(1, -(-len(arrays[0]) // _NOISE_SAMPLE))
    return tuple(a[::step] for a in arrays)


def _median(x):
    """``np.median`` of a 1-D float array, the same value: the middle order
    statistic, or the mean ``(a + b) / 2`` of the two middle ones (as numpy's
    mean of the two partitioned elements), found by a histogram pass
    (:func:`_order_pair`; 245 k values 3.0 -> ~0.7 ms).  Arrays with a NaN or
    an infinity go to ``np.median``."""
    n = len(x)
    if n == 0:
        return float(np.median(x))
    ok, med = _median_kernel(np.ascontiguousarray(x, dtype=np.float64))
    return float(med) if ok else float(np.median(x))


@numba.njit(cache=True)
def _median_kernel(x):
    """(all finite, median) of a non-empty array (see :func:`_median`)."""
    n = x.shape[0]
    k1 = n // 2
    if n % 2 == 1:
        ok, a, _ = _order_pair(x, k1, k1)
        return ok, a
    ok, a, b = _order_pair(x, k1 - 1, k1)
    return ok, (a + b) / 2.0


@numba.njit(cache=True)
def _order_pair(x, k0, k1):
    """(all finite, the ``k0``-th and ``k1``-th smallest values of ``x``) (0-based,
    ``k0 <= k1``); with a NaN or an infinity in ``x``: (False, 0, 0).

    Counts per bin of a 4096-bin histogram over the range (bins are
    monotone in the value) locate the two ranks; the values of the bins
    from the first to the second are sorted.
    """
    nb = 4096
    lo = np.inf
    hi = -np.inf
    for i in range(x.shape[0]):
        if not abs(x[i]) < np.inf:
            return False, 0.0, 0.0
        lo = min(lo, x[i])
        hi = max(hi, x[i])
    if not hi > lo:
        return True, lo, lo
    scale = nb / (hi - lo)
    if not scale < 1e300:
        scale = 0.0
    hist = np.zeros(nb, dtype=np.int64)
    for i in range(x.shape[0]):
        hist[min(int((x[i] - lo) * scale), nb - 1)] += 1
    c = 0
    b0 = 0
    while c + hist[b0] <= k0:
        c += hist[b0]
        b0 += 1
    c0 = c
    b1 = b0
    while c + hist[b1] <= k1:
        c += hist[b1]
        b1 += 1
    m = 0
    for b in range(b0, b1 + 1):
        m += hist[b]
    vals = np.empty(m)
    j = 0
    for i in range(x.shape[0]):
        b = min(int((x[i] - lo) * scale), nb - 1)
        if b0 <= b <= b1:
            vals[j] = x[i]
            j += 1
    vals.sort()
    return True, vals[k0 - c0], vals[k1 - c0]


def _weighted_median(values, weights, sel):
    """Count-weighted median of ``values[sel]``: the value at the first place where the
    cumulative weight, in the order of the values, reaches half the total.

    That is ``v[order][np.searchsorted(cumsum(w[order]), 0.5 * total)]`` with
    ``order = argsort(v)``; when every weight is a whole number the sums are
    exact in any order and the answer is the smallest value whose weight at or
    below it reaches half the total, found by a histogram pass
    (:func:`_weighted_median_kernel`) instead of a sort (an argsort of 65 k
    values cost ~4 ms; same result).  Otherwise the sort.
    """
    w = weights[sel]
    if len(w) and float(w.max()) < 2.0**40 and bool(np.all(w == np.floor(w))):
        ok, med = _weighted_median_kernel(values, weights, sel)
        if ok:
            return float(med)
    v = values[sel]
    order = np.argsort(v)
    cum = np.cumsum(w[order])
    return float(v[order][np.searchsorted(cum, 0.5 * cum[-1])])


@numba.njit(cache=True)
def _weighted_median_kernel(values, weights, sel):
    """:func:`_weighted_median` for whole-number weights (>= 0, some > 0): (True, the
    smallest selected value ``v`` with ``sum(weights[sel & (values <= v)]) >= total / 2``);
    (False, 0) when a selected value is a NaN or an infinity.

    Weights are summed per bin of a 4096-bin histogram over the values' range
    (bins are monotone in the value), then the values of the bin where half
    the total is reached are sorted.
    """
    nb = 4096
    lo = np.inf
    hi = -np.inf
    total = 0.0
    for i in range(values.shape[0]):
        if sel[i]:
            if not abs(values[i]) < np.inf:
                return False, 0.0
            lo = min(lo, values[i])
            hi = max(hi, values[i])
            total += weights[i]
    half = 0.5 * total
    if not hi > lo:
        return True, lo
    scale = nb / (hi - lo)
    if not scale < 1e300:  # a range too narrow to bin: one bin, sorted
        scale = 0.0
    hist = np.zeros(nb)
    for i in range(values.shape[0]):
        if sel[i]:
            hist[min(int((values[i] - lo) * scale), nb - 1)] += weights[i]
    c0 = 0.0
    b = 0
    while b < nb - 1 and c0 + hist[b] < half:
        c0 += hist[b]
        b += 1
    n = 0
    for i in range(values.shape[0]):
        if sel[i] and min(int((values[i] - lo) * scale), nb - 1) == b:
            n += 1
    vb = np.empty(n)
    wb = np.empty(n)
    n = 0
    for i in range(values.shape[0]):
        if sel[i] and min(int((values[i] - lo) * scale), nb - 1) == b:
            vb[n] = values[i]
            wb[n] = weights[i]
            n += 1
    order = np.argsort(vb)
    for j in range(n):
        c0 += wb[order[j]]
        if c0 >= half:
            return True, vb[order[j]]
    return True, vb[order[n - 1]]


def _estimate_noise(d, counts):
    """Noise per Lab axis from the off-curve distances of near-curve colours (2-D Rayleigh).

    Counts are clipped at their 90th percentile so that a large flat
    background (one colour, many pixels) cannot dominate the median.  At most
    ``_NOISE_SAMPLE`` colours are used (a regular stride).
    """
    d, counts = _thin(d, counts)
    counts = np.minimum(counts, max(1.0, float(np.percentile(counts, 90))))
    cap = 20.0
    sigma = _NOISE_FLOOR
    for _ in range(2):
        sel = d < cap
        if counts[sel].sum() == 0:
            break
        med = _weighted_median(d, counts, sel)
        sigma = max(med / _RAYLEIGH_MEDIAN, _NOISE_FLOOR)
        cap = max(5.0, 5.0 * sigma)
    return float(sigma)


def _along_noise(s, valid, t, inv, period=None, n_bins=16):
    """Noise along the curve (ΔE), per bin of the curve parameter, from second differences.

    ``s``, ``valid``, ``t``: per distinct colour; ``inv``: (H, W) colour index
    of each pixel (the kernel reads the pixels' values through it).

    For a smooth field the arc-length position ``s`` of a pixel minus the mean
    of its two neighbours (along rows and along columns) is noise with
    variance ``1.5 σ²`` plus a curvature term; ``σ = 1.4826 MAD / sqrt(1.5)``
    (median absolute value), computed per parameter bin (>= 200 samples,
    else the global value; at most 3 times the global value).  On a cyclic
    map differences are taken modulo the curve length ``period``.
    """
    # medians from about 4 * _NOISE_SAMPLE residuals (every row_step-th row): plenty for 16 bins
    row_step = max(1, -(-2 * inv.size // (4 * _NOISE_SAMPLE)))
    r, w = _second_differences(s, valid, t, inv, -1.0 if period is None else float(period), row_step)
    if len(r) < 50:
        return None
    k = 1.4826 / math.sqrt(1.5)
    glob = max(k * _median(r), _NOISE_FLOOR)
    sig = np.full(n_bins, glob)
    # residuals grouped by bin once (a median does not depend on the order)
    r_sorted, ends = _group_by_bin(r, w, n_bins)
    for b in range(n_bins):
        rb = r_sorted[(ends[b - 1] if b else 0):ends[b]]
        if len(rb) >= 200:
            sig[b] = min(max(k * _median(rb), _NOISE_FLOOR), 3.0 * glob)
    return glob, sig


@numba.njit(cache=True)  # serial: see _SERIAL_MS
def _search_radius(d, sigma_u, sig_bins, t, k_near, r3d):
    """Ambiguity radius per colour, in one pass: with ``nb = len(sig_bins)`` (0: none),
    ``s = max(sigma_u, sig_bins[min(int(t[k_near] nb), nb - 1)])`` and
    ``max(d + 3 s, r3d s) + 1e-6`` -- the operations of the numpy expressions
    it replaces, in the same order."""
    nb = sig_bins.shape[0]
    out = np.empty(d.shape[0])
    for u in range(d.shape[0]):
        s = sigma_u[u]
        if nb > 0:
            s = max(s, sig_bins[max(min(np.int64(t[k_near[u]] * nb), nb - 1), 0)])  # t in [0, 1]
        out[u] = max(d[u] + 3.0 * s, r3d * s) + 1e-6
    return out


@numba.njit(cache=True)
def _group_by_bin(r, w, n_bins):
    """``r`` grouped by the bin ``min(int(w n_bins), n_bins - 1)`` of each element (``w``
    in [0, 1]; clamped at 0 so that no index leaves the bins), in order within a bin
    (a counting sort), and the cumulative bin sizes (ends)."""
    counts = np.zeros(n_bins, dtype=np.int64)
    for i in range(r.shape[0]):
        counts[max(min(np.int64(w[i] * n_bins), n_bins - 1), 0)] += 1
    ends = np.cumsum(counts)
    pos = ends - counts
    out = np.empty(r.shape[0])
    for i in range(r.shape[0]):
        b = max(min(np.int64(w[i] * n_bins), n_bins - 1), 0)
        out[pos[b]] = r[i]
        pos[b] += 1
    return out, ends


@numba.njit(cache=True, inline="always")
def _py_mod(x, p):
    """Python's ``x % p`` for ``p > 0`` without the libm ``fmod`` where ``-p <= x < 2 p``
    (the same value: ``fmod`` is exact, ``x - p`` is exact there by Sterbenz's
    lemma, and a negative ``x`` gets ``x + p`` as Python adds it)."""
    if x == 0.0:
        return 0.0  # Python: +0.0 for a zero (of either sign) modulo p > 0
    if 0.0 < x < p:
        return x
    if -p <= x < 0.0:
        return x + p
    if p <= x < 2.0 * p:
        return x - p
    return x % p


@numba.njit(cache=True, parallel=True)
def _second_differences(s_u, valid_u, t_u, inv, period, row_step):
    """|s - mean of the two neighbours| along rows and columns, where all three are valid.

    Pixel ``(y, x)`` has ``s = s_u[inv[y, x]]`` (likewise ``valid``, ``t``).
    Centre pixels on every ``row_step``-th row.  Returns the absolute
    residuals and the curve parameter ``t`` at the centre pixel;
    ``period > 0``: differences taken modulo ``period``.

    The sampled rows in parallel (~4.6 ms serially at 1000^2 noisy, the
    reads through ``inv`` being scattered), each into its own stretch of
    ``2 w`` slots, then packed in row order: the same arrays, in the same
    order, as one pass over the rows.
    """
    h, w = inv.shape
    n_rows = (h + row_step - 1) // row_step
    res = np.empty(2 * w * n_rows)
    where = np.empty(res.shape[0])
    count = np.empty(n_rows, dtype=np.int64)
    half = 0.5 * period
    for j in numba.prange(n_rows):
        y = j * row_step
        n = j * 2 * w
        for x in range(w):
            if not valid_u[inv[y, x]]:
                continue
            c = s_u[inv[y, x]]
            for axis in range(2):
                if axis == 0:
                    if y == 0 or y == h - 1 or not (valid_u[inv[y - 1, x]] and valid_u[inv[y + 1, x]]):
                        continue
                    a = s_u[inv[y - 1, x]]
                    b = s_u[inv[y + 1, x]]
                else:
                    if x == 0 or x == w - 1 or not (valid_u[inv[y, x - 1]] and valid_u[inv[y, x + 1]]):
                        continue
                    a = s_u[inv[y, x - 1]]
                    b = s_u[inv[y, x + 1]]
                if period > 0.0:
                    d1 = _py_mod(a - c + half, period) - half
                    d2 = _py_mod(b - c + half, period) - half
                    r = 0.5 * (d1 + d2)
                else:
                    r = c - 0.5 * (a + b)
                res[n] = abs(r)
                where[n] = t_u[inv[y, x]]
                n += 1
        count[j] = n - j * 2 * w
    # pack the rows' stretches in row order (in place: each moves to or below where it is)
    n = 0
    for j in range(n_rows):
        src = j * 2 * w
        for i in range(count[j]):
            res[n + i] = res[src + i]
            where[n + i] = where[src + i]
        n += count[j]
    return res[:n], where[:n]


def _curve_factors(curve):
    """:func:`_rgb_noise_factors` and ``|d rgb / dt|`` of a curve, cached (they depend on it alone)."""
    import hashlib

    key = hashlib.blake2b(np.ascontiguousarray(curve.rgb).tobytes() + curve.t.tobytes(), digest_size=16).hexdigest()
    got = _FACTORS_CACHE.get(key)
    if got is None:
        along, across, speed = _rgb_noise_factors(curve)
        rgb_speed = np.linalg.norm(np.gradient(curve.rgb, curve.t, axis=0), axis=1)
        got = (along, across, speed, rgb_speed)
        if len(_FACTORS_CACHE) >= 16:
            _FACTORS_CACHE.pop(next(iter(_FACTORS_CACHE)))
        _FACTORS_CACHE[key] = got
    return got


def _rgb_noise_factors(curve):
    """How isotropic sRGB noise looks along and across the curve, per curve sample.

    With ``J`` the Jacobian of sRGB -> CIELAB at the sample and ``τ`` the unit
    tangent of the curve in CIELAB, sRGB noise of variance ``s²`` per channel
    becomes Lab noise of covariance ``s² J Jᵀ``: variance ``s² |Jᵀτ|²`` along
    the curve and ``s² (tr(J Jᵀ) - |Jᵀτ|²) / 2`` per axis across it.

    Returns
    -------
    along, across : ndarray of float64, shape (M,)
        The two variances per unit sRGB variance.
    speed : ndarray of float64, shape (M,)
        ``|d Lab / d t|`` (ΔE per unit of the curve parameter).
    """
    h = 1e-4
    rgb = np.clip(curve.rgb, h, 1.0 - h)
    jac = np.stack([(srgb_to_lab(rgb + h * e) - srgb_to_lab(rgb - h * e)) / (2 * h) for e in np.eye(3)], axis=2)
    tangent = np.gradient(curve.lab, curve.t, axis=0)
    speed = np.linalg.norm(tangent, axis=1)
    tau = tangent / np.maximum(speed, 1e-12)[:, None]
    along = (np.einsum("mi,mij->mj", tau, jac) ** 2).sum(axis=1)
    across = 0.5 * np.maximum((jac**2).sum(axis=(1, 2)) - along, 1e-12)
    return along, across, speed


def _estimate_rgb_noise(d, across, counts):
    """sRGB noise per channel from the off-curve distances ``d`` (ΔE) of the distinct colours.

    Texture of the field cannot raise it: a textured field stays on the
    curve.  ``d / sqrt(across)`` (``across``: Lab variance per axis across the
    curve per unit sRGB variance, :func:`_rgb_noise_factors`, at each colour's
    nearest sample) follows a 2-D Rayleigh law of scale ``s``: ``s`` is its
    count-weighted median / 1.177 over colours near the curve (counts clipped
    at their 90th percentile so that a flat background cannot dominate),
    at least the 8-bit rounding ``1 / (255 sqrt 12)``.  At most
    ``_NOISE_SAMPLE`` colours are used (a regular stride, :func:`_thin`);
    ``across`` is given for those colours only (``d`` and ``counts`` for all).
    """
    d, counts = _thin(d, counts)
    z = d / np.sqrt(across)
    w = np.minimum(counts, max(1.0, float(np.percentile(counts, 90))))
    sel = d < max(5.0, 5.0 * _median(d))
    if not sel.any():
        return _RGB_ROUNDING
    med = _weighted_median(z, w, sel)
    return max(float(med) / _RAYLEIGH_MEDIAN, _RGB_ROUNDING)


def _noise_model(curve, d, k_near, counts, noise, sigma_perp):
    """Colour-noise model per distinct colour.

    Without a given ``noise`` the sRGB noise ``s`` comes from the off-curve
    distances (:func:`_estimate_rgb_noise`) and is carried into Lab by the
    Jacobian (:func:`_rgb_noise_factors`); a given ``noise`` (ΔE per Lab axis)
    is used as is, in every direction.

    Returns
    -------
    sigma_along : ndarray, shape (U,)
        Noise along the curve (ΔE) that sets the ambiguity radius; at least
        ``sigma_perp`` (the off-curve estimate, per Lab axis).
    var_lab : ndarray, shape (U,)
        Bound on the noise variance per Lab axis (``s² tr(J Jᵀ)``), for the
        χ² plausibility of branches.
    var_raw : ndarray, shape (U,)
        Variance of the pixelwise value (curve-parameter units²) due to noise
        that averaging removes: ``(s² - s_8bit²) / |d rgb / dt|²`` (the value
        is the sRGB projection; least squares on a line); the 8-bit
        rounding is left out (on a clean image it is a fixed offset per LUT
        bin, which neighbours share).
    noise : float
        The per-axis noise reported (ΔE): given, or ``s sqrt(tr(J Jᵀ) / 3)``
        at the median colour.
    """
    along, across, speed, rgb_speed = _curve_factors(curve)
    if noise is not None:
        speed = speed[k_near]
        var = np.full(len(d), max(noise, 1e-9) ** 2)
        return np.sqrt(var), var, var / np.maximum(speed, 1e-12) ** 2, noise
    # the strided sample of the estimate needs ``across`` of those colours only
    step = max(1, -(-len(d) // _NOISE_SAMPLE))
    s_rgb = _estimate_rgb_noise(d, across[k_near[::step]], counts)
    # the three outputs are rows of one block: at 1000^2 noisy (324 k colours) three arrays of
    # 2.6 MB each, below numpy's 4 MiB threshold for huge pages, took ~1200 fresh 4 KB page
    # faults in this serial step; one block of 7.8 MB is advised huge pages (the same values)
    var_lab, var_raw, sigma_along = np.empty((3, len(d)))
    _noise_terms(k_near, along, across, rgb_speed, s_rgb**2, s_rgb**2 - _RGB_ROUNDING**2, s_rgb, sigma_perp,
                 var_lab, var_raw, sigma_along)
    noise = max(math.sqrt(_median(var_lab) / 3.0), _NOISE_FLOOR)
    return sigma_along, var_lab, var_raw, noise


@numba.njit(cache=True)  # serial: see _SERIAL_MS
def _noise_terms(k_near, along, across, rgb_speed, s2, c_raw, s_rgb, sigma_perp, var_lab, var_raw, sigma_along):
    """Per colour (curve factors at its nearest sample), in one pass, what numpy computed as
    ``var_lab = s2 * (along + 2 across)`` (>= the largest axis), ``var_raw =
    c_raw / max(rgb_speed, 1e-12)²`` (the pixelwise value is the sRGB projection,
    :func:`_refine_in_rgb`: variance s² / |d rgb / dt|², less the 8-bit rounding)
    and ``sigma_along = max(s_rgb sqrt(along), sigma_perp)``: the same operations."""
    for u in range(k_near.shape[0]):
        k = k_near[u]
        al = along[k]
        var_lab[u] = s2 * (al + 2.0 * across[k])
        m = max(rgb_speed[k], 1e-12)
        var_raw[u] = c_raw / (m * m)
        sigma_along[u] = max(s_rgb * math.sqrt(al), sigma_perp)
