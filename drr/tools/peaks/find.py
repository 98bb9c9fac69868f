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
from typing import NamedTuple

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
        Known background level and per-pixel noise sigma (image units; the noise
        must be > 0).
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
    # the steps of the method in the module docstring, one function each
    args = _check_args(image, threshold_sigma, fwhm, min_distance, prominence_sigma, exclude_border, mask,
                       background, noise, tile_size, smooth_fwhm, subpixel, max_peaks, workers)
    px = _valid_pixels(args.image, args.mask)
    bg_map, noise_map = _background_and_noise(px, args)
    cand, d, fac = _candidates(px, bg_map, noise_map, args.smooth_sigma, args.threshold_sigma, args.workers)
    peaks = _select_peaks(cand, d, fac, noise_map, px.img.shape, args.threshold_sigma, args.prominence_sigma)
    chunks = _peak_chunks(peaks.x.size, args.workers)
    local_bg, local_noise = _local_stats(px, peaks, bg_map, noise_map, args, chunks)
    fit = _refine_positions(px, peaks, local_bg, local_noise, args, chunks)
    table = _peak_table(peaks, fit, local_bg, local_noise)
    table = _prune(table, px.img.shape, args.border, args.min_distance, args.max_peaks)
    table["isolation"] = _isolation(table["x"], table["y"])
    return table


class _Args(NamedTuple):
    """The checked arguments of :func:`find_peaks`, with the lengths they imply (px)."""

    image: np.ndarray                       # (ny, nx), integer or float, as given
    mask: np.ndarray | None                 # (ny, nx) bool, True = ignore; None: no mask
    background: float | np.ndarray | None   # given background: a float or a float64 (ny, nx) map
    noise: float | np.ndarray | None        # given noise sigma, likewise
    threshold_sigma: float
    prominence_sigma: float
    fwhm: float
    sigma: float                            # the source's Gaussian sigma, fwhm / 2.3548
    smooth_sigma: float                     # sigma of the detection filter; 0: no smoothing
    half: int                               # half-width of the sub-pixel stamp
    border: int                             # margin of the border policy; 0: keep all
    min_distance: float                     # 0: keep all
    tile_size: int | None
    method: int                             # index into _SUBPIXEL
    max_peaks: int | None
    workers: int | None


def _is_int(value, low):
    """True for an int (not a bool) ``>= low``."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Integral) and value >= low


def _check_args(image, threshold_sigma, fwhm, min_distance, prominence_sigma, exclude_border, mask,
                background, noise, tile_size, smooth_fwhm, subpixel, max_peaks, workers):
    """The arguments of :func:`find_peaks`, checked (InputError), as :class:`_Args`.

    The checks run in a fixed order, so that the first bad argument is the one reported.
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
    if tile_size is not None and not _is_int(tile_size, 8):
        raise InputError(f"`tile_size` must be None or an int >= 8, not {tile_size!r}")
    if subpixel not in _SUBPIXEL:
        raise InputError(f"`subpixel` must be one of {_SUBPIXEL}, not {subpixel!r}")
    if workers is not None and not _is_int(workers, 1):
        raise InputError(f"`workers` must be None or an int >= 1, not {workers!r}")
    if max_peaks is not None and not _is_int(max_peaks, 1):
        raise InputError(f"`max_peaks` must be None or an int >= 1, not {max_peaks!r}")
    mask_arr = _mask_array(mask, shape)
    bg_in = _map_or_scalar(background, "background", shape, positive=False)
    noise_in = _map_or_scalar(noise, "noise", shape, positive=True)
    if arr.dtype.kind == "f" and np.isinf(arr).any():
        raise InputError("`image` must not contain +-inf; replace those pixels by NaN or pass them in `mask`")

    s0 = fwhm / _FWHM_PER_SIGMA
    half = max(2, int(math.ceil(2.2 * s0)))
    return _Args(
        image=arr, mask=mask_arr, background=bg_in, noise=noise_in,
        threshold_sigma=threshold_sigma, prominence_sigma=prominence_sigma, fwhm=fwhm, sigma=s0,
        smooth_sigma=s0 if smooth_fwhm is None else smooth_fwhm / _FWHM_PER_SIGMA, half=half,
        border=half if border is None else border,
        min_distance=0.5 * fwhm if min_distance is None else min_distance,
        tile_size=None if tile_size is None else int(tile_size), method=_SUBPIXEL.index(subpixel),
        max_peaks=max_peaks, workers=workers)


class _Pixels(NamedTuple):
    """The image as the kernels take it, with its validity."""

    img: np.ndarray         # (ny, nx) C-contiguous float32 or float64
    mask: np.ndarray        # (ny, nx) bool, or a (1, 1) placeholder when there is no mask
    has_mask: bool
    invalid: bool           # some pixel is NaN or masked


def _valid_pixels(arr, mask):
    """The image ``arr`` (ny, nx) as a float array, and its validity, as :class:`_Pixels`.

    The kernels are compiled for native float32 and float64 only (this keeps the
    compiled variants few): float32 and float64 images are used as they are (in
    native byte order); integer images of up to 16 bits and float16 become float32
    (exactly), wider integers float64 (exactly up to 2^53), long double float64.
    Raises InputError if no pixel is valid (finite and not set in ``mask``).
    """
    has_mask = mask is not None
    mask_nb = mask if has_mask else np.zeros((1, 1), np.bool_)
    size = arr.dtype.itemsize
    if arr.dtype.kind == "f" and size in (4, 8):
        kind = np.float32 if size == 4 else np.float64
    else:
        kind = np.float32 if size <= 2 else np.float64
    img = np.ascontiguousarray(arr, dtype=kind)
    nbad = _count_invalid(img, mask_nb, has_mask)
    if nbad == img.size:
        raise InputError("`image` has no valid pixel (all are NaN or masked)")
    return _Pixels(img, mask_nb, has_mask, nbad > 0)


def _background_and_noise(px, args):
    """The background and noise-sigma maps (image units).

    Each is float64, C-contiguous, of shape (ny, nx), or (1, 1) for a constant.  A
    given ``args.background`` / ``args.noise`` is used as it is; what is not given
    is estimated by sigma clipping, over the whole image or in tiles.
    """
    bg_in, noise_in = args.background, args.noise
    if bg_in is None or noise_in is None:
        if args.tile_size is None:
            # with a known background map, the noise is measured about it
            src = px.img if not isinstance(bg_in, np.ndarray) else px.img - bg_in
            gbg, gsig = _global_stats(src, args.mask)
            est_bg, est_sig = np.full((1, 1), gbg), np.full((1, 1), gsig)
        else:
            est_bg, est_sig = _tile_stats(px.img, px.mask, px.has_mask, args.mask, args.tile_size)
    bg_map = (est_bg if bg_in is None else
              (np.full((1, 1), bg_in) if isinstance(bg_in, float) else bg_in))
    noise_map = (est_sig if noise_in is None else
                 (np.full((1, 1), noise_in) if isinstance(noise_in, float) else noise_in))
    return np.ascontiguousarray(bg_map, dtype=np.float64), np.ascontiguousarray(noise_map, dtype=np.float64)


def _candidates(px, bg_map, noise_map, smooth_sigma, threshold_sigma, workers):
    """The candidate pixels: those where the detection image ``D`` exceeds ``threshold_sigma * sigma_D``.

    ``D`` is the image smoothed by a normalised Gaussian of sigma ``smooth_sigma``
    (px; 0: not smoothed) minus ``bg_map``; ``sigma_D`` is ``noise_map`` times the
    filter's noise factor.  Returns the candidates' flat pixel indices (int64,
    ascending), ``D`` there (float64, image units) and the noise factors
    ``sigma_D / noise`` (float64).  ``D`` is computed in bands of rows, in threads,
    and never stored whole.
    """
    img = px.img
    ny, nx = img.shape
    proto = np.zeros(1, np.float64 if img.dtype == np.float64 else np.float32)     # the dtype of D
    k = _gauss_kernel(smooth_sigma) if smooth_sigma > 0 else np.ones(1)
    nthreads = _threads(workers, img.size // (1 << 18))
    bands = np.linspace(0, ny, nthreads + 1).round().astype(np.int64)
    if not px.invalid:            # separable edge normalisation
        ny1, ny2 = _edge_norm(ny, k)
        nx1, nx2 = _edge_norm(nx, k)
        norm = (1.0 / ny1, 1.0 / nx1, np.sqrt(ny2) / ny1, np.sqrt(nx2) / nx1)
    else:                         # normalised convolution; the factors are unused
        norm = (np.ones(1),) * 4
    args = (img, px.mask, px.has_mask, px.invalid, k, *norm, bg_map, noise_map, threshold_sigma, proto)
    parts = _run_chunks(lambda a, b: _detect(*args, a, b), bands)
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


def _at(m, iy, ix):
    """The values of a (ny, nx) or (1, 1) map at the pixels ``(iy, ix)``."""
    return m[iy, ix] if m.shape[0] > 1 else np.full(iy.shape, m[0, 0])


class _Peaks(NamedTuple):
    """The selected peaks in rank order (``D`` at the peak, descending); arrays of shape (n,)."""

    x: np.ndarray           # float64, plateau centroid (px): where the sub-pixel estimate starts
    y: np.ndarray
    ix: np.ndarray          # int64, the pixel nearest (x, y), inside the image
    iy: np.ndarray
    npix: np.ndarray        # int64, plateau size (px)
    d: np.ndarray           # float64, D at the peak (image units)
    sigma_d: np.ndarray     # float64, sigma_D at the peak (image units)
    prominence: np.ndarray  # float64, in D (image units)
    bound: np.ndarray       # bool, key col below the detection level: prominence is a lower bound


def _select_peaks(cand, d, fac, noise_map, shape, threshold_sigma, prominence_sigma):
    """The merge tree of the candidates, and the peaks prominent enough, as :class:`_Peaks`.

    ``cand``, ``d``, ``fac``: as :func:`_candidates` returns them; ``noise_map`` as
    :func:`_background_and_noise`; ``shape`` (ny, nx).
    """
    ny, nx = shape
    pk, pval, pcol, absorbed, psx, psy, pcnt = _merge_tree(cand, d, ny, nx)
    iy_all, ix_all = np.divmod(cand[pk], nx)
    sig_d = _at(noise_map, iy_all, ix_all) * fac[pk]
    has_col = ~np.isnan(pcol)
    level = threshold_sigma * sig_d
    prom = np.where(has_col, pval - np.where(has_col, pcol, 0.0), pval - level)
    keep = ~absorbed & (prom > 0) & (~has_col | (prom >= prominence_sigma * sig_d))
    sel = np.flatnonzero(keep)        # components are created in rank order already
    cx = (psx / pcnt)[sel]
    cy = (psy / pcnt)[sel]
    ix = np.clip(np.rint(cx).astype(np.int64), 0, nx - 1)
    iy = np.clip(np.rint(cy).astype(np.int64), 0, ny - 1)
    return _Peaks(cx, cy, ix, iy, pcnt[sel], pval[sel], sig_d[sel], prom[sel], ~has_col[sel])


def _peak_chunks(npk, workers):
    """Bounds (int64, ascending) of the chunks of peaks that the per-peak stages run in threads."""
    return np.linspace(0, npk, _threads(workers, npk // 256) + 1).round().astype(np.int64)


def _local_stats(px, peaks, bg_map, noise_map, args, chunks):
    """The local background and noise of each peak (float64 (n,), image units), in ``chunks`` of peaks.

    Sigma-clipped statistics of the annulus of radii ``2 fwhm`` to ``2 fwhm +
    max(3, fwhm)`` around the start position; the maps' values at the peak pixel
    where the annulus has fewer than 8 valid pixels or no spread, or where
    ``background`` / ``noise`` is given.
    """
    r_in = 2.0 * args.fwhm
    r_out = r_in + max(3.0, args.fwhm)
    fb_bg = _at(bg_map, peaks.iy, peaks.ix).astype(np.float64)
    fb_sig = _at(noise_map, peaks.iy, peaks.ix).astype(np.float64)
    if args.background is not None and args.noise is not None:
        return fb_bg, fb_sig                      # both given: the annulus is not needed
    parts = _run_chunks(lambda a, b: _annulus_stats(px.img, px.mask, px.has_mask, peaks.x[a:b], peaks.y[a:b],
                                                    r_in, r_out, fb_bg[a:b], fb_sig[a:b]), chunks)
    local_bg = fb_bg if args.background is not None else np.concatenate([p[0] for p in parts])
    local_noise = fb_sig if args.noise is not None else np.concatenate([p[1] for p in parts])
    return local_bg, local_noise


def _refine_positions(px, peaks, local_bg, local_noise, args, chunks):
    """The sub-pixel estimate of each peak, started at its plateau centroid, in ``chunks`` of peaks.

    Returns a float64 array (n, 7): x, y, x_err, y_err (px), height (image units),
    sigma (px) and the FLAG_BORDER | FLAG_MASKED | FLAG_FIT_FAILED bits.
    """
    s0, sk = args.sigma, args.smooth_sigma
    # a Gaussian of amplitude A smoothed by one of sigma sk peaks at A s0^2 / (s0^2 + sk^2):
    # the fit starts at the amplitude that D implies
    gain = 1.0 if sk <= 0 else (s0 * s0 + sk * sk) / (s0 * s0)
    a0 = np.maximum(peaks.d * gain, 1e-12)
    npk = peaks.x.size
    return np.concatenate(_run_chunks(
        lambda a, b: _refine(px.img, px.mask, px.has_mask, peaks.ix[a:b], peaks.iy[a:b], peaks.x[a:b],
                             peaks.y[a:b], peaks.npix[a:b], a0[a:b], local_bg[a:b], local_noise[a:b], s0,
                             args.half, args.method), chunks)).reshape(npk, 7)


def _peak_table(peaks, fit, local_bg, local_noise):
    """The table (:data:`PEAK_DTYPE`, shape (n,)) of the peaks, in their order; isolation left 0."""
    table = np.zeros(peaks.x.size, dtype=PEAK_DTYPE)
    table["x"], table["y"] = fit[:, 0], fit[:, 1]
    table["x_err"], table["y_err"] = fit[:, 2], fit[:, 3]
    table["height"] = fit[:, 4]
    table["background"], table["noise"] = local_bg, local_noise
    with np.errstate(divide="ignore", invalid="ignore"):
        table["snr"] = np.where(local_noise > 0, fit[:, 4] / np.where(local_noise > 0, local_noise, 1.0),
                                np.where(fit[:, 4] > 0, np.inf, 0.0))
        sd = peaks.sigma_d
        table["significance"] = np.where(sd > 0, peaks.d / np.where(sd > 0, sd, 1.0), np.inf)
    table["prominence"] = peaks.prominence
    table["sigma"] = fit[:, 5]
    table["npix"] = peaks.npix
    flags = fit[:, 6].astype(np.int32)
    flags |= np.where(peaks.npix > 1, FLAG_PLATEAU, 0).astype(np.int32)
    flags |= np.where(peaks.bound, FLAG_PROMINENCE_BOUND, 0).astype(np.int32)
    table["flags"] = flags
    return table


def _prune(table, shape, border, min_distance, max_peaks):
    """The rows of ``table`` that pass the border policy, ``min_distance`` and ``max_peaks``.

    ``border`` (px) applies to the refined positions; a row closer than
    ``min_distance`` (px) to a kept row above it is dropped (greedy, in table
    order); then the first ``max_peaks`` rows are kept.
    """
    ny, nx = shape
    if border > 0:
        x, y = table["x"], table["y"]
        table = table[(x >= border) & (x <= nx - 1 - border) & (y >= border) & (y <= ny - 1 - border)]
    if table.size > 1 and min_distance > 0:
        table = table[_greedy_keep(table["x"], table["y"], min_distance)]
    if max_peaks is not None:
        table = table[:max_peaks]
    return table
