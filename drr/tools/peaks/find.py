""":func:`find_peaks`: the significant peaks of a noisy 2-D image.

One row per peak in a numpy structured array (:data:`PEAK_DTYPE`) with a
sub-pixel position and its uncertainty, height, local background and noise,
signal-to-noise ratio, 2-D topographic prominence and isolation.

Pixel convention: ``x`` is the column and ``y`` the row index, in pixels; the
centre of pixel ``image[r, c]`` is at ``(x, y) = (c, r)`` (``imshow`` with its
default ``origin="upper"`` draws a marker at ``(x, y)`` on that pixel's centre).

Method of :func:`find_peaks` (every step is deterministic):

1. Valid pixels are the finite ones not set in ``mask``.  The background and
   the per-pixel noise are sigma-clipped statistics (median, and 1.4826 times
   the median absolute deviation, clipped at 3 sigma until stable) of the valid
   pixels (median and MAD by quickselect), over the whole image or in tiles (bilinearly interpolated between
   tile centres; tiles of 4-8 FWHM follow a structured background).
2. Detection image ``D``: the image is smoothed with a normalised Gaussian of
   the source's width (the matched filter for a Gaussian source in white noise)
   by normalised convolution, ``D = G*(w I) / G*w - background`` with ``w`` the
   validity, so masked pixels, NaNs and the image border contribute nothing
   instead of a made-up value.  Its noise is exact for white noise:
   ``sigma_D = sigma sqrt(G^2*w) / G*w``.
3. Candidates are the valid pixels with ``D > threshold_sigma * sigma_D``.
   A union-find sweep over the candidates in descending order of ``D`` builds
   the merge tree of the super-level sets (the watershed construction): a
   pixel with no processed 8-neighbour starts a new peak; a pixel that joins
   several components merges them into the one with the highest peak, and the
   lower peaks get their *key col* (saddle) at this pixel's value.  Prominence
   is ``D(peak) - D(key col)`` (topographic prominence, e.g. Kirmse & de
   Ferranti 2017, "Calculating the prominence and isolation of every mountain
   in the world", Prog. Phys. Geogr. 41(6)).  A peak whose region never meets
   a higher one above the detection level has its key col below that level;
   its prominence is then reported as ``D(peak) - level`` (a lower bound) and
   flagged :data:`FLAG_PROMINENCE_BOUND`.  Equal-valued connected pixels (a
   plateau) form one peak at the plateau's centroid; a plateau that touches a
   higher pixel has prominence 0 and is no peak.  Only connected components
   of candidates where the sweep would start more than once are sorted and
   swept; any other component is a single peak (same result, less work).
4. A peak is kept when its prominence is ``> 0`` and, for a peak with a higher
   neighbour above the detection level, ``>= prominence_sigma * sigma_D``.
5. Sub-pixel position (default ``subpixel="gauss"``): a Levenberg-Marquardt
   least-squares fit of ``B + A exp(-((x-x0)^2 + (y-y0)^2) / (2 s^2))`` to the
   raw pixels of a square stamp of half-width ``max(2, ceil(2.2 fwhm /
   2.3548))`` (7x7 for ``fwhm=3``; valid pixels only), compiled with Numba; its
   uncertainty is ``noise * sqrt(diag((J^T J)^-1))`` at the solution (the
   Cramer-Rao bound of the fit for white noise).  ``subpixel="centroid"`` is a
   Gaussian-weighted iterative centroid (the fixed point of a weighted mean,
   uncertainty by linear propagation through the fixed point).  A fit that
   fails falls back to that centroid (flag :data:`FLAG_FIT_FAILED`).  Both
   start at the peak pixel, or at the centroid of a plateau; ``"none"``
   reports that start.  The local background and noise of each peak are
   sigma-clipped statistics of an annulus around it.
6. The border policy applies to the refined positions; peaks closer than
   ``min_distance`` to a higher kept peak are dropped (greedy, in rank
   order); the table is ranked by ``D(peak)`` (descending), and
   ``isolation`` is the distance to the nearest higher peak in the table.

The detection pass and the per-peak stages are Numba kernels that release the
GIL and run in threads over row bands / chunks of peaks (``workers``); the
result does not depend on the number of threads.  ``D`` is computed in
float64 for float64 images and in float32 otherwise (integer images of up to
16 bits are converted to float32 exactly, wider ones to float64).

"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ...errors import InputError
from .checks import _image_array, _map_or_scalar, _mask_array, _real_scalar
from .detection import _FWHM_PER_SIGMA, _count_invalid, _detect, _edge_norm, _gauss_kernel
from .isolation import _greedy_keep, _isolation
from .merge_tree import _merge_tree
from .stats import _annulus_stats, _global_stats, _tile_stats
from .subpixel import _refine
from .table import FLAG_PLATEAU, FLAG_PROMINENCE_BOUND, PEAK_DTYPE
from .threads import _run_chunks, _threads


_SUBPIXEL = ("gauss", "centroid", "none")


def find_peaks(image, *, threshold_sigma=5.0, fwhm=3.0, min_distance=None, prominence_sigma=2.0,
               exclude_border=True, mask=None, background=None, noise=None, tile_size=None,
               smooth_fwhm=None, subpixel="gauss", max_peaks=None, workers=None):
    """Find the significant peaks of a noisy 2-D image, with sub-pixel positions.

    Parameters
    ----------
    image : array_like, shape (ny, nx), integer or float
        The image (or a 2-D histogram).  NaN pixels are treated as masked;
        ``+-inf`` is refused.  Not modified.
    threshold_sigma : float, keyword-only
        Detection threshold: a pixel is a candidate when the detection image
        ``D`` (matched-filtered, background-subtracted) exceeds this many of its
        own noise sigmas ``sigma_D``.  Default 5.
    fwhm : float, keyword-only
        Expected full width at half maximum of a source (px, > 0).  Sets the
        matched filter, the fit's starting width, the stamp and the annulus.
    min_distance : float or None, keyword-only
        Peaks closer than this (px, between refined positions) to a higher kept
        peak are dropped.  ``None``: ``fwhm / 2`` (this removes the duplicates
        that two detections of one source would give); 0 keeps all.
    prominence_sigma : float, keyword-only
        A peak that meets a higher one above the detection level must rise at
        least this many ``sigma_D`` above their key col.  Default 2.
    exclude_border : bool or int, keyword-only
        Border policy.  An int ``b`` drops peaks whose refined position lies
        within ``b`` px of the image edge (``x < b`` or ``x > nx - 1 - b``,
        likewise ``y``).  ``True`` (default): ``b`` = the stamp half-width
        (``max(2, ceil(2.2 fwhm / 2.3548))``, 3 px for ``fwhm=3``), so that
        stamps are rarely cut; ``False`` or 0: keep all.  A peak whose stamp
        is cut by the edge carries :data:`FLAG_BORDER`.  (Near the edge the
        detection image is a one-sided average, so the detection pixel may sit
        closer to the edge than the source; the refined position does not.)
    mask : array_like of bool, shape (ny, nx), keyword-only, optional
        True where a pixel must be ignored (bad pixels, a beam stop, ...).
        Masked pixels are never peaks and take no part in statistics,
        filtering or fitting.
    background, noise : float or array (ny, nx), keyword-only, optional
        Known background level and per-pixel noise sigma (image units).
        Default: estimated by sigma clipping (globally, or per tile if
        ``tile_size`` is given).
    tile_size : int or None, keyword-only
        Estimate background and noise in tiles of about this many pixels
        (>= 8) instead of globally.
    smooth_fwhm : float or None, keyword-only
        FWHM of the detection filter (px); None: ``fwhm`` (matched filter);
        0: no smoothing (``D`` is the background-subtracted image itself).
    subpixel : {"gauss", "centroid", "none"}, keyword-only
        Sub-pixel estimator (see the module docstring), seeded at the peak
        pixel or, for a plateau, its centroid.  "none" reports that seed.
    max_peaks : int or None, keyword-only
        Keep at most this many peaks (the highest).
    workers : int or None, keyword-only
        Threads for the detection pass (bands of rows) and the per-peak
        stages; None: the CPU count (at most 8).  The result does not depend
        on it.

    Returns
    -------
    table : numpy structured array, shape (n_peaks,), dtype :data:`PEAK_DTYPE`
        One row per peak, ranked by ``D`` at the peak (highest first).
        Columns (``table["x"]`` ...): ``x, y`` (px; column, row), ``x_err,
        y_err`` (px, 1 sigma), ``height`` (fitted amplitude above the local
        background; the raw pixel minus the local background without a fit),
        ``background, noise`` (sigma-clipped statistics in an annulus of radii
        ``2 fwhm`` to ``2 fwhm + max(3, fwhm)`` around the peak), ``snr``
        (``height / noise``), ``prominence`` (in ``D``, image units),
        ``isolation`` (px, to the nearest higher peak in the table; inf for
        the first), ``significance`` (``D / sigma_D`` at the peak),
        ``sigma`` (fitted Gaussian sigma, px), ``npix`` (plateau size) and
        ``flags`` (``FLAG_*`` bits).  With ``subpixel="none"``, ``x_err =
        y_err = sqrt(1 / (12 npix))`` (uniform quantisation over the plateau).
        A given ``noise`` (``background``) replaces the annulus estimate in
        the ``noise`` (``background``) column.

    Raises
    ------
    InputError
        A bad argument, an image with ``+-inf``, or no valid pixel.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:64, :64]
    >>> img = 50 * np.exp(-((xx - 20.3) ** 2 + (yy - 40.6) ** 2) / (2 * 1.27 ** 2))
    >>> img += np.random.default_rng(0).normal(0, 1, img.shape)
    >>> t = find_peaks(img, fwhm=3.0)
    >>> t.size, round(float(t["x"][0]), 1), round(float(t["y"][0]), 1)
    (1, 20.3, 40.6)
    """
    arr = _image_array(image)
    shape = arr.shape
    threshold_sigma = _real_scalar(threshold_sigma, "threshold_sigma", low=0.0, low_open=True)
    fwhm = _real_scalar(fwhm, "fwhm", low=0.0, low_open=True)
    if fwhm > max(shape):
        raise InputError(f"`fwhm` must be at most the image size {max(shape)} px, not {fwhm!r}")
    min_distance = _real_scalar(min_distance, "min_distance", low=0.0, allow_none=True)
    prominence_sigma = _real_scalar(prominence_sigma, "prominence_sigma", low=0.0)
    smooth_fwhm = _real_scalar(smooth_fwhm, "smooth_fwhm", low=0.0, allow_none=True)
    if isinstance(exclude_border, (bool, np.bool_)):
        border = None if exclude_border else 0
    elif isinstance(exclude_border, numbers.Integral) and exclude_border >= 0:
        border = int(exclude_border)
    else:
        raise InputError(f"`exclude_border` must be True, False or an int >= 0, not {exclude_border!r}")
    if tile_size is not None and (isinstance(tile_size, (bool, np.bool_))
                                  or not isinstance(tile_size, numbers.Integral) or tile_size < 8):
        raise InputError(f"`tile_size` must be None or an int >= 8, not {tile_size!r}")
    if subpixel not in _SUBPIXEL:
        raise InputError(f"`subpixel` must be one of {_SUBPIXEL}, not {subpixel!r}")
    if workers is not None and (isinstance(workers, (bool, np.bool_))
                                or not isinstance(workers, numbers.Integral) or workers < 1):
        raise InputError(f"`workers` must be None or an int >= 1, not {workers!r}")
    if max_peaks is not None and (isinstance(max_peaks, (bool, np.bool_))
                                  or not isinstance(max_peaks, numbers.Integral) or max_peaks < 1):
        raise InputError(f"`max_peaks` must be None or an int >= 1, not {max_peaks!r}")
    mask_arr = _mask_array(mask, shape)
    bg_in = _map_or_scalar(background, "background", shape, positive=False)
    noise_in = _map_or_scalar(noise, "noise", shape, positive=True)
    if arr.dtype.kind == "f" and np.isinf(arr).any():
        raise InputError("`image` must not contain +-inf; replace those pixels by NaN or pass them in `mask`")

    s0 = fwhm / _FWHM_PER_SIGMA
    h = max(2, int(math.ceil(2.2 * s0)))
    if border is None:
        border = h
    sk = s0 if smooth_fwhm is None else smooth_fwhm / _FWHM_PER_SIGMA
    method = _SUBPIXEL.index(subpixel)

    # 1. validity
    has_mask = mask_arr is not None
    mask_nb = mask_arr if has_mask else np.zeros((1, 1), np.bool_)
    if arr.dtype.kind in "iu":     # exact in the float type; keeps the compiled variants few
        img = np.ascontiguousarray(arr, dtype=np.float32 if arr.dtype.itemsize <= 2 else np.float64)
    else:
        img = np.ascontiguousarray(arr)
    nbad = _count_invalid(img, mask_nb, has_mask)
    if nbad == img.size:
        raise InputError("`image` has no valid pixel (all are NaN or masked)")
    invalid = nbad > 0

    # 2. background and noise
    if bg_in is None or noise_in is None:
        if tile_size is None:
            # with a known background map, the noise is measured about it
            src = img if not isinstance(bg_in, np.ndarray) else img - bg_in
            gbg, gsig = _global_stats(src, mask_arr)
            est_bg, est_sig = np.full((1, 1), gbg), np.full((1, 1), gsig)
        else:
            est_bg, est_sig = _tile_stats(img, mask_nb, has_mask, mask_arr, int(tile_size))
    bgm = (est_bg if bg_in is None else
           (np.full((1, 1), bg_in) if isinstance(bg_in, float) else bg_in))
    sigm = (est_sig if noise_in is None else
            (np.full((1, 1), noise_in) if isinstance(noise_in, float) else noise_in))
    bgm = np.ascontiguousarray(bgm, dtype=np.float64)
    sigm = np.ascontiguousarray(sigm, dtype=np.float64)

    # 3. detection image D at the candidates (the smoothed image is never stored whole)
    ny, nx = shape
    proto = np.zeros(1, np.float64 if img.dtype == np.float64 else np.float32)
    k = _gauss_kernel(sk) if sk > 0 else np.ones(1)
    nthreads = _threads(workers, img.size // (1 << 18))
    bands = np.linspace(0, ny, nthreads + 1).round().astype(np.int64)
    if not invalid:               # separable edge normalisation
        ny1, ny2 = _edge_norm(ny, k)
        nx1, nx2 = _edge_norm(nx, k)
        norm = (1.0 / ny1, 1.0 / nx1, np.sqrt(ny2) / ny1, np.sqrt(nx2) / nx1)
    else:                         # normalised convolution; the factors are unused
        norm = (np.ones(1),) * 4
    args = (img, mask_nb, has_mask, invalid, k, *norm, bgm, sigm, threshold_sigma, proto)
    parts = _run_chunks(lambda a, b: _detect(*args, a, b), bands)
    cand, vals, fac = (np.concatenate([p[i] for p in parts]) for i in range(3))

    def at(m, iy, ix):
        return m[iy, ix] if m.shape[0] > 1 else np.full(iy.shape, m[0, 0])

    # 4. merge tree
    pk, pval, pcol, absorbed, psx, psy, pcnt = _merge_tree(cand, vals, ny, nx)
    ppix = cand[pk]
    iy_all, ix_all = np.divmod(ppix, nx)
    sig_d = at(sigm, iy_all, ix_all) * fac[pk]
    has_col = ~np.isnan(pcol)
    level = threshold_sigma * sig_d
    prom = np.where(has_col, pval - np.where(has_col, pcol, 0.0), pval - level)
    keep = ~absorbed & (prom > 0) & (~has_col | (prom >= prominence_sigma * sig_d))
    cx = psx / pcnt
    cy = psy / pcnt
    sel = np.flatnonzero(keep)        # components are created in rank order already
    npk = sel.size
    cxs, cys = cx[sel], cy[sel]
    ix = np.clip(np.rint(cxs).astype(np.int64), 0, nx - 1)
    iy = np.clip(np.rint(cys).astype(np.int64), 0, ny - 1)
    plateau = pcnt[sel]

    # 5. local statistics and sub-pixel refinement
    r_in = 2.0 * fwhm
    r_out = r_in + max(3.0, fwhm)
    fb_bg = at(bgm, iy, ix).astype(np.float64)
    fb_sig = at(sigm, iy, ix).astype(np.float64)
    chunks = np.linspace(0, npk, _threads(workers, npk // 256) + 1).round().astype(np.int64)
    parts = _run_chunks(lambda a, b: _annulus_stats(img, mask_nb, has_mask, cxs[a:b], cys[a:b], r_in, r_out,
                                                    fb_bg[a:b], fb_sig[a:b]), chunks)
    lbg = np.concatenate([p[0] for p in parts])
    lsig = np.concatenate([p[1] for p in parts]) if noise_in is None else fb_sig
    if bg_in is not None:
        lbg = fb_bg
    gain = 1.0 if sk <= 0 else (s0 * s0 + sk * sk) / (s0 * s0)
    a0 = np.maximum(pval[sel] * gain, 1e-12)
    res = np.concatenate(_run_chunks(
        lambda a, b: _refine(img, mask_nb, has_mask, ix[a:b], iy[a:b], cxs[a:b], cys[a:b], plateau[a:b],
                             a0[a:b], lbg[a:b], lsig[a:b], s0, h, method), chunks)).reshape(npk, 7)

    table = np.zeros(npk, dtype=PEAK_DTYPE)
    table["x"], table["y"] = res[:, 0], res[:, 1]
    table["x_err"], table["y_err"] = res[:, 2], res[:, 3]
    table["height"] = res[:, 4]
    table["background"], table["noise"] = lbg, lsig
    with np.errstate(divide="ignore", invalid="ignore"):
        table["snr"] = np.where(lsig > 0, res[:, 4] / np.where(lsig > 0, lsig, 1.0),
                                np.where(res[:, 4] > 0, np.inf, 0.0))
        sd = sig_d[sel]
        table["significance"] = np.where(sd > 0, pval[sel] / np.where(sd > 0, sd, 1.0), np.inf)
    table["prominence"] = prom[sel]
    table["sigma"] = res[:, 5]
    table["npix"] = plateau
    flags = res[:, 6].astype(np.int32)
    flags |= np.where(plateau > 1, FLAG_PLATEAU, 0).astype(np.int32)
    flags |= np.where(~has_col[sel], FLAG_PROMINENCE_BOUND, 0).astype(np.int32)
    table["flags"] = flags

    # 6. border policy (on the refined positions), duplicates / min_distance, max_peaks, isolation
    if border > 0:
        x, y = table["x"], table["y"]
        table = table[(x >= border) & (x <= nx - 1 - border) & (y >= border) & (y <= ny - 1 - border)]
        npk = table.size
    md = 0.5 * fwhm if min_distance is None else min_distance
    if npk > 1 and md > 0:
        table = table[_greedy_keep(table["x"], table["y"], md)]
    if max_peaks is not None:
        table = table[:max_peaks]
    table["isolation"] = _isolation(table["x"], table["y"])
    return table
