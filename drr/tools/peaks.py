"""Robust peak finding in noisy 2-D images and the centre of a cluster of points.

Two functions:

* :func:`find_peaks` -- the significant peaks of an image (stars, spots, the
  bins of a 2-D histogram), one row per peak in a numpy structured array with a
  sub-pixel position and its uncertainty, height, local background and noise,
  signal-to-noise ratio, 2-D topographic prominence and isolation.
* :func:`cluster_center` -- the mode of the densest cluster of 2-D points,
  refined on the raw points by mean shift, then by a local Poisson fit of a
  Gaussian plus a plane to the histogram, with a close neighbouring cluster
  modelled as a second Gaussian (removes the kernel's pull towards it), with an
  uncertainty.

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

import builtins
import math
import numbers
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np

from ..errors import InputError

__all__ = [
    "find_peaks",
    "cluster_center",
    "ClusterCenter",
    "PEAK_DTYPE",
    "FLAG_BORDER",
    "FLAG_MASKED",
    "FLAG_FIT_FAILED",
    "FLAG_PLATEAU",
    "FLAG_PROMINENCE_BOUND",
]

#: The stamp used for the sub-pixel estimate reaches past the image border.
FLAG_BORDER = 1
#: The stamp contains masked or NaN pixels (they were left out of the estimate).
FLAG_MASKED = 2
#: The sub-pixel estimate failed: after a failed Gaussian fit the position is the
#: Gaussian-weighted centroid, after a failed centroid it is the peak pixel.
FLAG_FIT_FAILED = 4
#: The peak is a plateau of equal values in the detection image; its position is the centroid.
FLAG_PLATEAU = 8
#: The key col lies below the detection level: ``prominence`` is a lower bound.
FLAG_PROMINENCE_BOUND = 16

#: Columns of the table returned by :func:`find_peaks`.
PEAK_DTYPE = np.dtype([
    ("x", "f8"),             # column coordinate (px)
    ("y", "f8"),             # row coordinate (px)
    ("x_err", "f8"),         # 1-sigma uncertainty of x (px)
    ("y_err", "f8"),         # 1-sigma uncertainty of y (px)
    ("height", "f8"),        # peak amplitude above the local background (image units)
    ("background", "f8"),    # local background, sigma-clipped (image units)
    ("noise", "f8"),         # local per-pixel noise, sigma-clipped (image units)
    ("snr", "f8"),           # height / noise
    ("prominence", "f8"),    # 2-D topographic prominence in the detection image (image units)
    ("isolation", "f8"),     # distance to the nearest higher peak of the table (px), inf for the top
    ("significance", "f8"),  # detection-image peak / its noise (sigma_D units)
    ("sigma", "f8"),         # fitted Gaussian sigma (px); NaN unless subpixel="gauss" fitted it
    ("npix", "i4"),          # pixels in the detection-image plateau (1 for an ordinary peak)
    ("flags", "i4"),         # bitwise OR of the FLAG_* constants
])

_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
_MAD_TO_SIGMA = 1.482602218505602
_SUBPIXEL = ("gauss", "centroid", "none")
_SAMPLE = 1 << 15          # pixels used for the global background statistics


# --------------------------------------------------------------------------- validation

def _real_scalar(value, name, *, low=None, low_open=False, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InputError(f"`{name}` must be a real number, not {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"`{name}` must be finite, not {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        rel = ">" if low_open else ">="
        raise InputError(f"`{name}` must be {rel} {low}, not {value!r}")
    return value


def _image_array(image):
    if isinstance(image, np.ma.MaskedArray):
        raise InputError("`image` must be a plain array, not a masked array; pass its mask as "
                         "`mask=np.ma.getmaskarray(image)` and its data as `image.data`")
    try:
        arr = np.asarray(image)
    except Exception as exc:  # noqa: BLE001 - anything not array-like
        raise InputError(f"`image` must be a 2-D array of real numbers, not {type(image).__name__}") from exc
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise InputError(f"`image` must hold real numbers (integer or float), not dtype {arr.dtype}")
    if arr.ndim != 2:
        raise InputError(f"`image` must be 2-D (rows, columns), not an array of shape {arr.shape}")
    if min(arr.shape) < 3:
        raise InputError(f"`image` must be at least 3x3 pixels, not {arr.shape}")
    return arr


def _mask_array(mask, shape):
    if mask is None:
        return None
    arr = np.asarray(mask)
    if arr.shape != shape:
        raise InputError(f"`mask` must have the image's shape {shape}, not {arr.shape}")
    if arr.dtype != bool:
        if arr.dtype.kind not in "iu" or not np.all((arr == 0) | (arr == 1)):
            raise InputError(f"`mask` must be boolean (True = pixel to ignore), not dtype {arr.dtype} "
                             "with values other than 0 and 1")
        arr = arr.astype(bool)
    return arr


def _map_or_scalar(value, name, shape, *, positive):
    if value is None:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        v = float(value)
        if not math.isfinite(v) or (positive and v < 0):
            rel = "finite and >= 0" if positive else "finite"
            raise InputError(f"`{name}` must be {rel}, not {value!r}")
        return v
    arr = np.asarray(value)
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise InputError(f"`{name}` must be a real number or an array of the image's shape, not {value!r}")
    if arr.shape != shape:
        raise InputError(f"`{name}` must be a number or have the image's shape {shape}, not {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)) or (positive and np.any(arr < 0)):
        rel = "finite and >= 0" if positive else "finite"
        raise InputError(f"`{name}` must be {rel} everywhere")
    return arr


# --------------------------------------------------------------------------- statistics

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


# --------------------------------------------------------------------------- Numba kernels

@numba.njit(cache=True, nogil=True)
def _count_invalid(img, mask, has_mask):
    """Number of NaN or masked pixels."""
    ny, nx = img.shape
    n = 0
    for y in range(ny):
        for x in range(nx):
            v = img[y, x]
            if not (v == v) or (has_mask and mask[y, x]):
                n += 1
    return n


@numba.njit(cache=True, nogil=True)
def _load_row(img, mask, has_mask, check, y, r, row, wrow):
    """Row ``y`` into ``row[r:r + nx]``; with ``check``, invalid pixels as 0 and the validity into ``wrow``."""
    if not check:
        for x in range(img.shape[1]):
            row[r + x] = img[y, x]
        return
    for x in range(img.shape[1]):
        v = img[y, x]
        if not (v == v) or (has_mask and mask[y, x]):
            row[r + x] = 0
            wrow[r + x] = 0
        else:
            row[r + x] = v
            wrow[r + x] = 1


@numba.njit(cache=True, nogil=True)
def _hconv(row, kk, out):
    """``out[x] = sum_j kk[j] row[x + j]`` (``row`` zero-padded by ``kk.size // 2`` on each side)."""
    nx = out.size
    k0 = kk[0]
    for x in range(nx):
        out[x] = k0 * row[x]
    for j in range(1, kk.size):
        kj = kk[j]
        for x in range(nx):
            out[x] += kj * row[x + j]


@numba.njit(cache=True, nogil=True)
def _vconv(ring, kk, y, ny, out):
    """``out = sum_j kk[j] row[y + j - r]`` over the rows ``0 <= y + j - r < ny`` (zero padding).

    Row ``yy`` is ``ring[yy % kk.size]`` (a ring buffer of the last rows).
    """
    m = kk.size
    r = m // 2
    for x in range(out.size):      # explicit loops here and below: slice assignment costs compile time
        out[x] = 0
    for j in range(m):
        yy = y + j - r
        if 0 <= yy < ny:
            kj = kk[j]
            t = ring[yy % m]
            for x in range(out.size):
                out[x] += kj * t[x]


@numba.njit(cache=True, nogil=True)
def _detect(img, mask, has_mask, normalise, k, fy, fx, gy, gx, bg, sig, tsig, proto, y0, y1):
    """Candidates of the detection image ``D`` in output rows ``y0 <= y < y1``.

    Smooths with the separable kernel ``k`` (zero padding, in ``proto``'s
    dtype).  ``normalise`` False (an image with no invalid pixel): the edge
    normalisation is separable, ``D = s * fy[y] * fx[x] - bg`` with noise
    factor ``gy[y] * gx[x]``.  ``normalise`` True (NaN or masked pixels):
    normalised convolution, ``D = G*(w I) / G*w - bg`` with noise factor
    ``sqrt(G^2*w) / G*w`` (``w`` the validity; ``fy, fx, gy, gx`` unused), and
    only valid pixels can be candidates.  A pixel is a candidate if
    ``D > tsig * sig * factor``.  ``bg``, ``sig``: (1, 1) or full maps.  The
    band of rows lets bands run in threads (the kernel releases the GIL).
    Returns flat indices (ascending), D values and noise factors of the
    candidates; the smoothed image is never stored whole.
    """
    ny, nx = img.shape
    m = k.size
    r = m // 2
    kk = k.astype(proto.dtype)
    k2 = (k * k).astype(proto.dtype)
    nw = m if normalise else 0               # weight rows only for the normalised convolution
    ta = np.empty((m, nx), proto.dtype)      # ring buffers of horizontally smoothed rows
    tw = np.empty((nw, nx), proto.dtype)
    tw2 = np.empty((nw, nx), proto.dtype)
    row = np.zeros(nx + 2 * r, proto.dtype)
    wrow = np.zeros(nx + 2 * r, proto.dtype)
    done = max(0, y0 - r)                    # next row of the horizontal pass
    acc = np.empty(nx, proto.dtype)
    accw = np.empty(nx, proto.dtype)
    accw2 = np.empty(nx, proto.dtype)
    excess = np.empty(nx, np.float64)
    hits = np.empty(nx, np.int64)
    brow = np.full(nx, bg[0, 0])
    srow = np.full(nx, sig[0, 0])
    cap = (y1 - y0) * nx           # worst case; untouched pages of np.empty cost nothing
    idx = np.empty(cap, np.int64)
    vals = np.empty(cap, np.float64)
    fac = np.empty(cap, np.float64)
    n = 0
    for y in range(y0, y1):
        while done < min(ny, y + r + 1):
            _load_row(img, mask, has_mask, normalise, done, r, row, wrow)
            _hconv(row, kk, ta[done % m])
            if normalise:
                _hconv(wrow, kk, tw[done % m])
                _hconv(wrow, k2, tw2[done % m])
            done += 1
        _vconv(ta, kk, y, ny, acc)
        if bg.shape[0] > 1:
            for x in range(nx):
                brow[x] = bg[y, x]
        if sig.shape[0] > 1:
            for x in range(nx):
                srow[x] = sig[y, x]
        nh = 0
        if normalise:
            _vconv(tw, kk, y, ny, accw)
            _vconv(tw2, k2, y, ny, accw2)
            for x in range(nx):
                v0 = img[y, x]
                if not (v0 == v0) or (has_mask and mask[y, x]):
                    continue
                dw = np.float64(accw[x])
                if not dw > 1e-6:
                    continue
                v = acc[x] / dw - brow[x]
                f = math.sqrt(max(np.float64(accw2[x]), 0.0)) / dw
                if v > tsig * srow[x] * f:
                    hits[nh] = x
                    nh += 1
        else:
            f = fy[y]
            g = gy[y] * tsig
            if bg.shape[0] > 1 or sig.shape[0] > 1:
                for x in range(nx):      # vectorisable; the rare candidates are collected below
                    excess[x] = acc[x] * f * fx[x] - brow[x] - g * gx[x] * srow[x]
            else:                        # (global statistics: two arrays fewer to read)
                b0 = brow[0]
                s0 = srow[0]
                for x in range(nx):
                    excess[x] = acc[x] * f * fx[x] - b0 - g * gx[x] * s0
            for x in range(nx):
                if excess[x] > 0.0:
                    hits[nh] = x
                    nh += 1
        for q in range(nh):
            x = hits[q]
            idx[n] = y * nx + x
            if normalise:
                dw = np.float64(accw[x])
                vals[n] = acc[x] / dw - brow[x]
                fac[n] = math.sqrt(max(np.float64(accw2[x]), 0.0)) / dw
            else:
                vals[n] = acc[x] * fy[y] * fx[x] - brow[x]
                fac[n] = gy[y] * gx[x]
            n += 1
    return idx[:n].copy(), vals[:n].copy(), fac[:n].copy()


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


@numba.njit(cache=True, nogil=True)
def _solve5(h, g, n, m, z):
    """Solve the n x n symmetric system h z = g by Gaussian elimination with partial pivoting.

    ``m``: scratch of shape (n, n + 1); the solution goes into ``z``.  Returns
    False (``z`` undefined) for a singular system."""
    for i in range(n):
        for j in range(n):
            m[i, j] = h[i, j]
        m[i, n] = g[i]
    for c in range(n):
        piv = c
        for r in range(c + 1, n):
            if abs(m[r, c]) > abs(m[piv, c]):
                piv = r
        if not abs(m[piv, c]) > 1e-300:
            return False
        if piv != c:
            for j in range(n + 1):
                t = m[c, j]
                m[c, j] = m[piv, j]
                m[piv, j] = t
        for r in range(c + 1, n):
            f = m[r, c] / m[c, c]
            for j in range(c, n + 1):
                m[r, j] -= f * m[c, j]
    for r in range(n - 1, -1, -1):
        s = m[r, n]
        for j in range(r + 1, n):
            s -= m[r, j] * z[j]
        z[r] = s / m[r, r]
    return True


@numba.njit(cache=True, nogil=True)
def _centroid_one(img, mask, has_mask, cx, cy, x0, y0, bgv, sw, h, noise):
    """Gaussian-weighted iterative centroid on the stamp of half-width h around (cx, cy).

    Returns (x, y, x_err, y_err, ok).  Fixed point of
    ``x = sum(W I x) / sum(W I)``, ``W = exp(-r^2 / (2 sw^2))``; the error is the
    linear propagation of white pixel noise through one step, divided by
    ``1 - dF/dx`` at the fixed point (``dF/dx`` estimated numerically from the
    weighted second moment: ``var_W / sw^2``).  ``W`` is separable, from
    per-column and per-row tables (2 (2h+1) exps per step instead of (2h+1)^2).
    """
    ny, nx = img.shape
    x = x0
    y = y0
    ok = False
    sum_wi = 0.0
    inv = 1.0 / (2.0 * sw * sw)
    tx = np.empty(2 * h + 1)
    ty = np.empty(2 * h + 1)
    for _it in range(50):
        for c in range(2 * h + 1):
            tx[c] = math.exp(-((cx - h + c) - x) ** 2 * inv)
            ty[c] = math.exp(-((cy - h + c) - y) ** 2 * inv)
        swi = 0.0
        swix = 0.0
        swiy = 0.0
        for yy in range(max(0, cy - h), min(ny, cy + h + 1)):
            for xx in range(max(0, cx - h), min(nx, cx + h + 1)):
                v = np.float64(img[yy, xx])
                if not (v == v) or (has_mask and mask[yy, xx]):
                    continue
                wt = tx[xx - (cx - h)] * ty[yy - (cy - h)]
                iv = v - bgv
                swi += wt * iv
                swix += wt * iv * xx
                swiy += wt * iv * yy
        if not swi > 0.0:
            ok = False
            break
        xn = swix / swi
        yn = swiy / swi
        if abs(xn - cx) > h or abs(yn - cy) > h:
            ok = False
            break
        step = abs(xn - x) + abs(yn - y)
        x = xn
        y = yn
        sum_wi = swi
        ok = True
        if step < 1e-5:
            break
    if not ok:
        return x0, y0, math.nan, math.nan, False
    # error propagation
    for c in range(2 * h + 1):
        tx[c] = math.exp(-((cx - h + c) - x) ** 2 * inv)
        ty[c] = math.exp(-((cy - h + c) - y) ** 2 * inv)
    vx = 0.0
    vy = 0.0
    mxx = 0.0
    myy = 0.0
    for yy in range(max(0, cy - h), min(ny, cy + h + 1)):
        for xx in range(max(0, cx - h), min(nx, cx + h + 1)):
            v = np.float64(img[yy, xx])
            if not (v == v) or (has_mask and mask[yy, xx]):
                continue
            wt = tx[xx - (cx - h)] * ty[yy - (cy - h)]
            iv = v - bgv
            vx += (wt * (xx - x)) ** 2
            vy += (wt * (yy - y)) ** 2
            mxx += wt * iv * (xx - x) ** 2
            myy += wt * iv * (yy - y) ** 2
    gx = 1.0 - (mxx / sum_wi) / (sw * sw)     # 1 - dF/dx
    gy = 1.0 - (myy / sum_wi) / (sw * sw)
    if not (gx > 0.05 and gy > 0.05):
        gx = max(gx, 0.05)
        gy = max(gy, 0.05)
    ex = noise * math.sqrt(vx) / sum_wi / gx
    ey = noise * math.sqrt(vy) / sum_wi / gy
    return x, y, ex, ey, True


@numba.njit(cache=True, nogil=True)
def _gauss_one(img, mask, has_mask, cx, cy, x0, y0, a0, b0, s0, h, noise, out):
    """Levenberg-Marquardt fit of B + A exp(-r^2/(2 s^2)) on the stamp around (cx, cy).

    Writes (x, y, x_err, y_err, A, B, s) into ``out``; returns True on success.

    The Gaussian is separable, ``exp(-(dx^2 + dy^2) / 2s^2) = ex[col] ey[row]``,
    so a model evaluation takes 2 (2h+1) exps.  On a complete stamp (no pixel
    masked, NaN or past the border: nearly every peak) the normal equations
    ``J^T J`` are also separable -- every entry is a product of one-axis sums
    ``sum ex^k dx^p`` and ``sum ey^k dy^p`` -- and ``J^T r`` follows from row
    sums of the residuals that the chi^2 pass leaves behind; an incomplete
    stamp sums ``J^T J`` and ``J^T r`` pixel by pixel.
    """
    ny, nx = img.shape
    w = 2 * h + 1
    m = w * w
    px = np.empty(m)
    py = np.empty(m)
    pv = np.empty(m)
    kx = np.empty(m, np.int64)   # column / row of each pixel within the stamp
    ky = np.empty(m, np.int64)
    pw = np.empty((w, w))        # the complete stamp as rows x columns
    n = 0
    for yy in range(max(0, cy - h), min(ny, cy + h + 1)):
        for xx in range(max(0, cx - h), min(nx, cx + h + 1)):
            v = np.float64(img[yy, xx])
            if not (v == v) or (has_mask and mask[yy, xx]):
                continue
            px[n] = xx
            py[n] = yy
            pv[n] = v
            kx[n] = xx - (cx - h)
            ky[n] = yy - (cy - h)
            pw[yy - (cy - h), xx - (cx - h)] = v
            n += 1
    if n < 8:
        return False
    full = n == m
    ex = np.empty(w)
    ey = np.empty(w)
    rs = np.empty((3, w))        # complete stamp: per row, sum_col res ex dx^k (k = 0, 1, 2)
    rsum = np.zeros(1)           # and the sum of the residuals
    mx = np.empty((3, 5))        # one-axis sums: mx[k, p] = sum ex^k dx^p (k = 1, 2)
    my = np.empty((3, 5))
    p = np.array([a0, x0, y0, s0, b0])
    hh = np.empty((5, 5))
    g = np.empty(5)
    jac = np.empty(5)
    hd = np.empty((5, 5))        # scratch of the iterations (no allocation per step)
    step = np.zeros(5)
    q = np.empty(5)
    work = np.empty((5, 6))

    def table(e, c0, mu, inv, q2):
        # e[c] = exp(-(c0 + c - mu)^2 inv) by ratios from the column nearest mu outwards:
        # e[c + 1] / e[c] = exp(-(2 d + 1) inv), and that ratio shrinks by q2 = exp(-2 inv) per
        # column (4 exps per axis instead of w; every factor is <= 1 away from the centre)
        k = min(max(int(math.floor(mu - c0 + 0.5)), 0), w - 1)
        d = c0 + k - mu
        e[k] = math.exp(-d * d * inv)
        rt = math.exp(-(2.0 * d + 1.0) * inv)
        for c in range(k + 1, w):
            e[c] = e[c - 1] * rt
            rt *= q2
        rt = math.exp((2.0 * d - 1.0) * inv)
        for c in range(k - 1, -1, -1):
            e[c] = e[c + 1] * rt
            rt *= q2

    def tables(q, inv):
        q2 = math.exp(-2.0 * inv)
        table(ex, cx - h, q[1], inv, q2)
        table(ey, cy - h, q[2], inv, q2)

    def chi2(q):
        c = 0.0
        inv = 1.0 / (2.0 * q[3] * q[3])
        tables(q, inv)
        if full:
            tot = 0.0
            for r in range(w):
                e_r = ey[r]
                s0r = 0.0
                s1r = 0.0
                s2r = 0.0
                for k in range(w):
                    res = pw[r, k] - q[4] - q[0] * (ex[k] * e_r)
                    c += res * res
                    tot += res
                    t = res * ex[k]
                    d = (cx - h + k) - q[1]
                    s0r += t
                    s1r += t * d
                    s2r += t * d * d
                rs[0, r] = s0r
                rs[1, r] = s1r
                rs[2, r] = s2r
            rsum[0] = tot
            return c
        for k in range(n):
            e = ex[kx[k]] * ey[ky[k]]
            r = pv[k] - q[4] - q[0] * e
            c += r * r
        return c

    def moments(e, c0, d0, out2):
        for k in range(1, 3):
            for j in range(5):
                out2[k, j] = 0.0
        for c in range(w):
            d = (c0 + c) - d0
            e1 = e[c]
            e2 = e1 * e1
            d2 = d * d
            out2[1, 0] += e1
            out2[1, 1] += e1 * d
            out2[1, 2] += e1 * d2
            out2[2, 0] += e2
            out2[2, 1] += e2 * d
            out2[2, 2] += e2 * d2
            out2[2, 3] += e2 * d2 * d
            out2[2, 4] += e2 * d2 * d2

    def normal(p, with_g):
        """J^T J (into hh) and, with ``with_g``, J^T r (into g) at p; needs the tables (and rs) of p."""
        for i in range(5):
            g[i] = 0.0
            for j in range(5):
                hh[i, j] = 0.0
        s2 = p[3] * p[3]
        if full:
            moments(ex, cx - h, p[1], mx)
            moments(ey, cy - h, p[2], my)
            k1 = p[0] / s2
            k3 = p[0] / (s2 * p[3])
            hh[0, 0] = mx[2, 0] * my[2, 0]
            hh[1, 0] = k1 * mx[2, 1] * my[2, 0]
            hh[2, 0] = k1 * mx[2, 0] * my[2, 1]
            hh[3, 0] = k3 * (mx[2, 2] * my[2, 0] + mx[2, 0] * my[2, 2])
            hh[4, 0] = mx[1, 0] * my[1, 0]
            hh[1, 1] = k1 * k1 * mx[2, 2] * my[2, 0]
            hh[2, 1] = k1 * k1 * mx[2, 1] * my[2, 1]
            hh[3, 1] = k1 * k3 * (mx[2, 3] * my[2, 0] + mx[2, 1] * my[2, 2])
            hh[4, 1] = k1 * mx[1, 1] * my[1, 0]
            hh[2, 2] = k1 * k1 * mx[2, 0] * my[2, 2]
            hh[3, 2] = k1 * k3 * (mx[2, 2] * my[2, 1] + mx[2, 0] * my[2, 3])
            hh[4, 2] = k1 * mx[1, 0] * my[1, 1]
            hh[3, 3] = k3 * k3 * (mx[2, 4] * my[2, 0] + 2.0 * mx[2, 2] * my[2, 2] + mx[2, 0] * my[2, 4])
            hh[4, 3] = k3 * (mx[1, 2] * my[1, 0] + mx[1, 0] * my[1, 2])
            hh[4, 4] = m
            if with_g:
                g0 = 0.0
                g1 = 0.0
                g2 = 0.0
                g3 = 0.0
                for r in range(w):
                    d = (cy - h + r) - p[2]
                    e_r = ey[r]
                    g0 += e_r * rs[0, r]
                    g1 += e_r * rs[1, r]
                    g2 += e_r * d * rs[0, r]
                    g3 += e_r * (rs[2, r] + d * d * rs[0, r])
                g[0] = g0
                g[1] = k1 * g1
                g[2] = k1 * g2
                g[3] = k3 * g3
                g[4] = rsum[0]
        else:
            for k in range(n):
                dx = px[k] - p[1]
                dy = py[k] - p[2]
                r2 = dx * dx + dy * dy
                e = ex[kx[k]] * ey[ky[k]]
                jac[0] = e
                jac[1] = p[0] * e * dx / s2
                jac[2] = p[0] * e * dy / s2
                jac[3] = p[0] * e * r2 / (s2 * p[3])
                jac[4] = 1.0
                if with_g:
                    r = pv[k] - p[4] - p[0] * e
                    for i in range(5):
                        g[i] += jac[i] * r
                for i in range(5):
                    for j in range(i + 1):
                        hh[i, j] += jac[i] * jac[j]
        for i in range(5):
            for j in range(i + 1, 5):
                hh[i, j] = hh[j, i]

    chi = chi2(p)
    current = True              # ex, ey (and rs) hold the values at p
    lam = 1e-3
    conv = False
    for _it in range(40):
        if not current:
            chi = chi2(p)       # (after an accepted step chi2 left the tables of p in place)
            current = True
        normal(p, True)
        accepted = False
        for _try in range(12):
            for i in range(5):
                for j in range(5):
                    hd[i, j] = hh[i, j]
            for i in range(5):
                hd[i, i] += lam * hh[i, i] + 1e-300
            ok = _solve5(hd, g, 5, work, step)
            if not ok:
                lam *= 10.0
                continue
            for i in range(5):
                q[i] = p[i] + step[i]
            if q[3] < 0.2 * s0 or q[3] > 5.0 * s0 or abs(q[1] - cx) > h + 0.5 or abs(q[2] - cy) > h + 0.5:
                lam *= 10.0
                continue
            cq = chi2(q)
            current = False
            if cq <= chi:
                for i in range(5):
                    p[i] = q[i]
                chi = cq
                current = True
                lam = max(lam * 0.3, 1e-7)
                accepted = True
                break
            lam *= 10.0
        if not accepted:
            conv = True     # no downhill step left: at the minimum (or stuck)
            break
        if abs(step[1]) < 1e-4 and abs(step[2]) < 1e-4 and abs(step[3]) < 1e-4 * p[3]:
            conv = True
            break
    if not conv or not p[0] > 0.0:
        return False
    # covariance at the solution: noise^2 (J^T J)^-1 (undamped, recomputed at p)
    tables(p, 1.0 / (2.0 * p[3] * p[3]))
    normal(p, False)
    e1 = np.zeros(5)
    e1[1] = 1.0
    z1 = np.empty(5)
    ok1 = _solve5(hh, e1, 5, work, z1)
    e2 = np.zeros(5)
    e2[2] = 1.0
    z2 = np.empty(5)
    ok2 = _solve5(hh, e2, 5, work, z2)
    if not (ok1 and ok2 and z1[1] > 0.0 and z2[2] > 0.0):
        return False
    out[0] = p[1]
    out[1] = p[2]
    out[2] = noise * math.sqrt(z1[1])
    out[3] = noise * math.sqrt(z2[2])
    out[4] = p[0]
    out[5] = p[4]
    out[6] = p[3]
    return True


@numba.njit(cache=True, nogil=True)
def _refine(img, mask, has_mask, ix, iy, x0, y0, plateau, a0, b0, noise, s0, h, method):
    """Sub-pixel positions of all peaks.  method: 0 gauss, 1 centroid, 2 none.

    Returns an (n, 7) array (x, y, x_err, y_err, height, sigma, flags-extra) where
    flags-extra holds FLAG_BORDER | FLAG_MASKED | FLAG_FIT_FAILED bits.
    """
    ny, nx = img.shape
    npk = ix.size
    res = np.empty((npk, 7))
    out = np.empty(7)
    for i in range(npk):
        cx = ix[i]
        cy = iy[i]
        fl = 0
        if cx - h < 0 or cy - h < 0 or cx + h >= nx or cy + h >= ny:
            fl |= 1
        for yy in range(max(0, cy - h), min(ny, cy + h + 1)):
            for xx in range(max(0, cx - h), min(nx, cx + h + 1)):
                v = np.float64(img[yy, xx])
                if not (v == v) or (has_mask and mask[yy, xx]):
                    fl |= 2
        x = x0[i]
        y = y0[i]
        ex = math.sqrt(1.0 / 12.0)
        ey = ex
        height = np.float64(img[cy, cx]) - b0[i]
        sig = math.nan
        if method == 2:
            if plateau[i] > 1:
                ex = math.sqrt(1.0 / 12.0 / plateau[i])   # documented convention
                ey = ex
        elif method == 0:
            if _gauss_one(img, mask, has_mask, cx, cy, x, y, a0[i], b0[i], s0, h, noise[i], out):
                x, y, ex, ey, height, sig = out[0], out[1], out[2], out[3], out[4], out[6]
            else:
                fl |= 4
                xc, yc, exc, eyc, okc = _centroid_one(img, mask, has_mask, cx, cy, x, y, b0[i], s0, h, noise[i])
                if okc:
                    x, y, ex, ey = xc, yc, exc, eyc
        else:
            xc, yc, exc, eyc, okc = _centroid_one(img, mask, has_mask, cx, cy, x, y, b0[i], s0, h, noise[i])
            if okc:
                x, y, ex, ey = xc, yc, exc, eyc
            else:
                fl |= 4
        res[i, 0] = x
        res[i, 1] = y
        res[i, 2] = ex
        res[i, 3] = ey
        res[i, 4] = height
        res[i, 5] = sig
        res[i, 6] = fl
    return res


# --------------------------------------------------------------------------- find_peaks

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


def _gauss_kernel(sigma):
    r = max(1, int(math.ceil(3.0 * sigma)))
    t = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def _edge_norm(n, k):
    """Per-index in-bounds kernel sum and sum of squares for a 1-D axis of length n."""
    r = k.size // 2
    c1 = np.concatenate([[0.0], np.cumsum(k)])
    c2 = np.concatenate([[0.0], np.cumsum(k * k)])
    i = np.arange(n)
    lo = np.maximum(0, r - i)                   # first kernel index inside
    hi = np.minimum(k.size, n - i + r)          # one past the last
    return c1[hi] - c1[lo], c2[hi] - c2[lo]


def _threads(workers, work_units):
    """Threads to use: ``workers`` (None: the CPU count, at most 8), at most one per work unit."""
    w = min(os.cpu_count() or 1, 8) if workers is None else workers
    return max(1, min(w, work_units))


_POOLS = {}                    # threads -> (pid, ThreadPoolExecutor), kept between calls
_POOLS_LOCK = threading.Lock()


def _pool(nthreads):
    """A thread pool of ``nthreads`` workers, created once per process and size.

    Starting threads costs ~3 ms per call on a loaded 2-core machine (three pools
    per :func:`find_peaks` call); a pool made before a ``fork`` has no threads in
    the child, so the child makes its own.
    """
    with _POOLS_LOCK:
        pid, ex = _POOLS.get(nthreads, (None, None))
        if ex is None or pid != os.getpid():
            ex = ThreadPoolExecutor(max_workers=nthreads, thread_name_prefix="drr-peaks")
            _POOLS[nthreads] = (os.getpid(), ex)
        return ex


def _run_chunks(fn, bounds):
    """``[fn(bounds[i], bounds[i + 1]) ...]``, in threads when there are several chunks.

    The Numba kernels release the GIL, so the chunks run in parallel; each
    chunk's result is independent of the chunking, so the output is too.  The
    chunks never submit work to the pool themselves, so they cannot deadlock it.
    """
    if bounds.size <= 2:
        return [fn(bounds[0], bounds[-1])]
    return list(_pool(bounds.size - 1).map(fn, bounds[:-1], bounds[1:]))


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


@numba.njit(cache=True, nogil=True)
def _grid_near(x, y, dist, mode):
    """Nearest-earlier-point queries on a uniform grid, points inserted in order.

    ``mode`` 0 (isolation): for each point, the distance to the nearest point
    earlier in the order (inf for the first).  ``mode`` 1 (greedy thinning):
    1 where no *kept* earlier point lies within ``dist`` (the point is kept
    and inserted), else 0.  Cells hold linked lists of the inserted points
    (about two points per cell of the occupied area, at least ``dist`` wide in
    mode 1); the search visits rings of cells around the query's cell until
    the best distance found is below the nearest cell of the next ring.  Distances are
    compared squared, as ``scipy.spatial.cKDTree`` does.
    """
    n = x.size
    out = np.full(n, np.inf) if mode == 0 else np.zeros(n)
    if n == 0:
        return out
    x0 = np.inf
    x1 = -np.inf
    y0 = np.inf
    y1 = -np.inf
    for i in range(n):
        x0 = min(x0, x[i])
        x1 = max(x1, x[i])
        y0 = min(y0, y[i])
        y1 = max(y1, y[i])
    wx = max(x1 - x0, 1e-9)
    wy = max(y1 - y0, 1e-9)
    # the area the points occupy: cells of a coarse grid (about n / 2 cells) that hold any,
    # so that a crowded patch in a wide field still gets small cells
    gc = min(128, max(8, int(math.sqrt(n / 2.0))))
    occ = np.zeros(gc * gc, np.bool_)
    for i in range(n):
        ox = min(max(int((x[i] - x0) / wx * gc), 0), gc - 1)
        oy = min(max(int((y[i] - y0) / wy * gc), 0), gc - 1)
        occ[oy * gc + ox] = True
    area = wx * wy * np.count_nonzero(occ) / (gc * gc)
    c = math.sqrt(2.0 * area / n)
    c = max(c, max(wx, wy) / 1024.0, 1e-9)
    if mode == 1:
        c = max(c, dist)
    gx = min(int(wx / c) + 1, 1 << 20)
    gy = min(int(wy / c) + 1, 1 << 20)
    head = np.full(gx * gy, -1, np.int64)
    nxt = np.empty(n, np.int64)
    lim2 = dist * dist
    for i in range(n):
        cx = min(max(int((x[i] - x0) / c), 0), gx - 1)      # (NaN: cell 0, never nearest)
        cy = min(max(int((y[i] - y0) / c), 0), gy - 1)
        best = np.inf
        r = 0
        while True:              # the cells at Chebyshev distance r from (cx, cy)
            for yy in range(max(0, cy - r), min(gy, cy + r + 1)):
                step = 1 if (yy == cy - r or yy == cy + r) else 2 * r
                for xx in range(cx - r, cx + r + 1, step):
                    if 0 <= xx < gx:
                        j = head[yy * gx + xx]
                        while j >= 0:
                            d2 = (x[j] - x[i]) ** 2 + (y[j] - y[i]) ** 2
                            if d2 < best:
                                best = d2
                            j = nxt[j]
            if mode == 1:
                if r == 1:
                    break        # c >= dist: the 3 x 3 cells hold every point within dist
            elif best <= (r * c) ** 2 or (r >= cx and r >= cy and r >= gx - 1 - cx and r >= gy - 1 - cy):
                break            # any point in ring r + 1 is at least r c away
            r += 1
        if mode == 0:
            out[i] = math.sqrt(best)
        elif not best <= lim2:
            out[i] = 1.0
        if mode == 0 or out[i] == 1.0:
            cell = cy * gx + cx
            nxt[i] = head[cell]
            head[cell] = i
    return out


def _greedy_keep(x, y, dist):
    """Mask keeping each point unless a kept point earlier in the order lies within ``dist``."""
    return _grid_near(np.ascontiguousarray(x, np.float64), np.ascontiguousarray(y, np.float64),
                      float(dist), 1) > 0


def _isolation(x, y):
    """Distance from each point to the nearest point earlier in the order (inf for the first)."""
    return _grid_near(np.ascontiguousarray(x, np.float64), np.ascontiguousarray(y, np.float64), 0.0, 0)


# --------------------------------------------------------------------------- cluster_center

class ClusterCenter(NamedTuple):
    """Result of :func:`cluster_center` (data units)."""

    x: float
    y: float
    x_err: float
    y_err: float
    bandwidth_x: float
    bandwidth_y: float
    n_eff: float      # effective number of points under the kernel, (sum w)^2 / sum w^2
    n_iter: int
    refined: bool     # True: x, y, x_err, y_err from the local fit (step 5); False: mean shift
    nearby: int = 0   # neighbouring clusters modelled in that fit (0 without a fit)


def _nearby_clusters(hist, ex, ey, m, h, *, nsigma=5.0, reach=2.5, max_count=2):
    """Clusters next to the mode ``m`` whose tails reach into its fit window (step 5 of cluster_center).

    The histogram smoothed by a Gaussian of the bandwidth ``h`` (in bins) has the
    local maxima (3 x 3) that rise more than ``nsigma`` times its Poisson noise
    at the median count, ``sqrt(median / (4 pi hx hy))``, above its median; those
    more than 2 bandwidths from ``m``, whose +-``reach`` sigma box meets the
    window +-3 ``h`` around ``m``, are returned (at most ``max_count``, the
    highest first) as starting values ``(amplitude, x, y, sx, sy)`` of a
    bin-integrated Gaussian: the maximum's position, its half-maximum widths
    along the axes (walking down only) deconvolved from the smoothing, and the
    count that a Gaussian of that height and width holds.
    """
    from scipy import ndimage

    bx, by = float(np.median(np.diff(ex))), float(np.median(np.diff(ey)))
    hb = np.array([h[0] / bx, h[1] / by])
    sm = ndimage.gaussian_filter(hist.astype(np.float64), hb, mode="constant")
    base = float(np.median(sm))
    noise = math.sqrt(max(float(np.median(hist)), 1.0) / (4.0 * math.pi * hb[0] * hb[1]))
    top = ndimage.maximum_filter(sm, size=3, mode="constant")
    ii, jj = np.nonzero((sm == top) & (sm > base + nsigma * noise))
    xc, yc = 0.5 * (ex[1:] + ex[:-1]), 0.5 * (ey[1:] + ey[:-1])
    found = []
    for t in np.argsort(-sm[ii, jj], kind="stable"):
        i, j = int(ii[t]), int(jj[t])
        px, py = float(xc[i]), float(yc[j])
        if math.hypot((px - m[0]) / h[0], (py - m[1]) / h[1]) < 2.0:
            continue                                   # the mode itself
        half = base + 0.5 * (sm[i, j] - base)

        def width(profile, c):                         # FWHM in bins / 2.3548, walking downhill only
            lo = c
            while lo > 0 and half < profile[lo - 1] <= profile[lo]:
                lo -= 1
            hi = c
            while hi < profile.size - 1 and half < profile[hi + 1] <= profile[hi]:
                hi += 1
            return max((hi - lo + 1) / _FWHM_PER_SIGMA, 0.5)

        sx = math.sqrt(max(width(sm[:, j], i) ** 2 - hb[0] ** 2, 0.25)) * bx
        sy = math.sqrt(max(width(sm[i, :], j) ** 2 - hb[1] ** 2, 0.25)) * by
        if abs(px - m[0]) > 3.0 * h[0] + reach * sx or abs(py - m[1]) > 3.0 * h[1] + reach * sy:
            continue                                   # too far to matter in the window
        amp = ((sm[i, j] - base) * 2.0 * math.pi * math.sqrt(sx * sx + h[0] * h[0])
               * math.sqrt(sy * sy + h[1] * h[1]) / (bx * by))
        found.append((amp, px, py, sx, sy))
        if len(found) >= max_count:
            break
    return found


def _fit_mode(hist, ex, ey, m, h, nearby=(), *, half_width=3.0, nearby_reach=2.0, max_move=0.5, max_iter=100):
    """Refine a mean-shift mode by a local Poisson fit of Gaussians plus a plane to the histogram.

    The mean-shift fixed point is a mode of the *smoothed* density, which a neighbouring
    structure pulls by ``(s^2 + h^2) grad(rho_2) / rho_1`` (``s`` the cluster sigma, ``h``
    the kernel bandwidth, ``rho_1, rho_2`` the cluster and neighbour densities).  A fit
    with an explicit local background removes that pull: within a window of
    ``+-half_width * h`` (at least +-3.5 bins) around ``m``, the counts ``n_ij`` of the
    bins are modelled as

        mu_ij = sum_k A_k Fx_ki Fy_kj + c + gx (xc_i - m_x) + gy (yc_j - m_y),
        Fx_ki = Phi((ex[i+1] - x_k) / sx_k) - Phi((ex[i] - x_k) / sx_k)  (Fy likewise),

    axis-aligned Gaussians of total count ``A_k`` integrated over each bin (exact for any
    bin size, non-uniform edges included) plus a plane.  Component 0 is the cluster at
    ``m``; the others are the neighbouring clusters ``nearby`` (starting values
    ``(A, x, y, sx, sy)`` from :func:`_nearby_clusters`), whose curved tails a plane alone
    cannot follow; with them the window grows to include each one's ``+-nearby_reach``
    sigma box, so that its parameters are measured on its core.  By point symmetry the
    centre is unbiased for any centrally symmetric cluster, correlated ones included.  The
    ``5 K + 3`` parameters maximise the Poisson likelihood by Fisher scoring
    (Gauss-Newton with weights ``1/mu``, whose fixed point is the likelihood equation;
    McCullagh & Nelder, *Generalized Linear Models*, 2nd ed., sec. 2.5), each step halved
    until the deviance ``2 sum(n ln(n/mu) - (n - mu))`` does not increase (and every
    sigma stays positive).  The covariance is the inverse Fisher information
    ``(J^T diag(1/mu) J)^-1``, which assumes Poisson counts (frequency weights).

    Returns ``(x0, y0, x_err, y_err)`` of component 0 or None -- the caller keeps the
    mean-shift answer -- when the window holds fewer than 5 bins per axis or 40 in all,
    the information matrix is singular or ill-conditioned, the fit does not converge,
    ``A_0 <= 0``, a fitted sigma of component 0 leaves ``[h/3, 3h]``, or its centre moves
    more than ``max_move * h`` from ``m`` on either axis.
    """
    from scipy.special import ndtr

    xc = 0.5 * (ex[1:] + ex[:-1])
    yc = 0.5 * (ey[1:] + ey[:-1])
    # the window: +-half_width bandwidths, but at least +-3.5 bins (7 x 7 bins), and the
    # +-nearby_reach sigma box of each neighbour
    wx = max(half_width * h[0], 3.5 * float(np.median(np.diff(ex))))
    wy = max(half_width * h[1], 3.5 * float(np.median(np.diff(ey))))
    x_lo, x_hi, y_lo, y_hi = m[0] - wx, m[0] + wx, m[1] - wy, m[1] + wy
    for _a, px, py, sx, sy in nearby:
        x_lo, x_hi = min(x_lo, px - nearby_reach * sx), max(x_hi, px + nearby_reach * sx)
        y_lo, y_hi = min(y_lo, py - nearby_reach * sy), max(y_hi, py + nearby_reach * sy)
    ix = np.flatnonzero((xc >= x_lo) & (xc <= x_hi))
    iy = np.flatnonzero((yc >= y_lo) & (yc <= y_hi))
    if ix.size < 5 or iy.size < 5 or ix.size * iy.size < 40:
        return None
    n = hist[ix[0]:ix[-1] + 1, iy[0]:iy[-1] + 1].astype(np.float64)
    exw, eyw = ex[ix[0]:ix[-1] + 2], ey[iy[0]:iy[-1] + 2]
    dx, dy = xc[ix] - m[0], yc[iy] - m[1]
    rim = np.concatenate([n[0], n[-1], n[1:-1, 0], n[1:-1, -1]])
    c0 = float(np.median(rim))
    inner = (np.abs(dx) <= wx)[:, None] & (np.abs(dy) <= wy)[None, :]    # the window around m
    a0 = float((n - c0)[inner].sum())
    if not a0 > 0:
        return None
    ncomp = 1 + len(nearby)
    npar = 5 * ncomp + 3
    k = 1.0 / math.sqrt(2.0 * math.pi)

    def parts(q):
        mu = q[-3] + q[-2] * dx[:, None] + q[-1] * dy[None, :]
        jac = np.empty((npar,) + n.shape)
        for c in builtins.range(ncomp):
            a, x0, y0, sx, sy = q[5 * c:5 * c + 5]
            ux, uy = (exw - x0) / sx, (eyw - y0) / sy
            px, py = np.exp(-0.5 * ux * ux), np.exp(-0.5 * uy * uy)     # sqrt(2 pi) phi(u)
            fx, fy = np.diff(ndtr(ux)), np.diff(ndtr(uy))
            dfx = -k * np.diff(px) / sx              # d Fx / d x0
            dfy = -k * np.diff(py) / sy
            dsx = -k * np.diff(ux * px) / sx         # d Fx / d sx
            dsy = -k * np.diff(uy * py) / sy
            f = np.outer(fx, fy)
            mu = mu + a * f
            jac[5 * c] = f
            jac[5 * c + 1] = a * np.outer(dfx, fy)
            jac[5 * c + 2] = a * np.outer(fx, dfy)
            jac[5 * c + 3] = a * np.outer(dsx, fy)
            jac[5 * c + 4] = a * np.outer(fx, dsy)
        jac[-3] = 1.0
        jac[-2] = dx[:, None]
        jac[-1] = dy[None, :]
        return mu.ravel(), jac.reshape(npar, -1)

    nf = n.ravel()
    pos = nf > 0

    def deviance(mu):
        if not np.all(mu > 0):
            return math.inf
        return 2.0 * float((nf[pos] * np.log(nf[pos] / mu[pos])).sum() - (nf - mu).sum())

    q = np.array([a0, m[0], m[1], h[0], h[1]] + [v for comp in nearby for v in comp] + [c0, 0.0, 0.0])
    widths = np.array([5 * c + j for c in builtins.range(ncomp) for j in (3, 4)])
    mu, jac = parts(q)
    dev = deviance(mu)
    if not math.isfinite(dev):
        return None
    conv = False
    for _ in builtins.range(max_iter):
        wj = jac / mu
        info = wj @ jac.T
        try:
            step = np.linalg.solve(info, wj @ (nf - mu))
        except np.linalg.LinAlgError:
            return None
        t = 1.0
        for _half in builtins.range(30):
            qn = q + t * step
            if np.all(qn[widths] > 0):
                mun, jacn = parts(qn)
                devn = deviance(mun)
                if devn <= dev:
                    break
            t *= 0.5
        else:
            break                     # no step lowers the deviance: at the optimum
        q, mu, jac, dev = qn, mun, jacn, devn
        if abs(t * step[1]) < 1e-6 * h[0] and abs(t * step[2]) < 1e-6 * h[1]:
            conv = True
            break
    else:
        return None
    if not conv:
        # stopped by the step halving: accept only if the last full step was negligible
        if not (abs(step[1]) < 1e-5 * h[0] and abs(step[2]) < 1e-5 * h[1]):
            return None
    a, x0, y0, sx, sy = q[:5]
    if not (a > 0 and h[0] / 3 <= sx <= 3 * h[0] and h[1] / 3 <= sy <= 3 * h[1]):
        return None
    if abs(x0 - m[0]) > max_move * h[0] or abs(y0 - m[1]) > max_move * h[1]:
        return None
    # (mu floored at 1% of the mean count: with a sparse background the likelihood may put
    # the plane's edge at mu -> 0 in empty bins, whose weight 1/mu would swamp the matrix)
    info = (jac / np.maximum(mu, 0.01 * max(float(nf.mean()), 1e-300))) @ jac.T
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return None
    d = np.sqrt(np.abs(np.diag(info)))
    if not (cov[1, 1] > 0 and cov[2, 2] > 0 and np.all(d > 0)) or np.linalg.cond(info / np.outer(d, d)) > 1e10:
        return None      # (condition number of the scaled information matrix)
    return float(x0), float(y0), math.sqrt(cov[1, 1]), math.sqrt(cov[2, 2])


def _points(values, name):
    try:
        arr = np.asarray(values)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"`{name}` must be a 1-D array of real numbers, not {type(values).__name__}") from exc
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise InputError(f"`{name}` must hold real numbers, not dtype {arr.dtype}")
    if arr.ndim != 1:
        raise InputError(f"`{name}` must be 1-D, not an array of shape {arr.shape}")
    return arr.astype(np.float64)


def cluster_center(x, y, *, bins=64, range=None, weights=None, bandwidth=None, tol=1e-6,
                   max_iter=500, refine=True):
    """Centre of the densest cluster of 2-D points: the mode, refined by mean shift.

    1. Seed: the maximum of the point histogram (``bins``, ``range`` as in
       :func:`numpy.histogram2d`) smoothed by a Gaussian of 1 bin.
    2. Bandwidth (unless given): per axis, the cluster's sigma from the
       half-maximum width of the smoothed histogram around the seed (above its
       median level), deconvolved from the 1-bin smoothing, at least half a bin.
    3. Mean shift (Comaniciu & Meer 2002, IEEE TPAMI 24(5), eq. 17) with a
       Gaussian kernel of that bandwidth on the raw points: ``m <- sum(K_i p_i)
       / sum(K_i)``, ``K_i = w_i exp(-|(p_i - m) / h|^2 / 2)``, until the step is
       below ``tol`` bandwidths.  The fixed point is a mode of the kernel
       density estimate, which a uniform background does not move.
    4. Uncertainty: the sandwich (M-estimator) covariance of the fixed point
       ``sum K_i (p_i - m) = 0``: ``J^-1 V J^-T`` with
       ``J = sum K_i ((p_i - m)(p_i - m)^T / h^2 - I)`` and
       ``V = sum w_i k_i^2 (p_i - m)(p_i - m)^T`` (``k_i`` the kernel value).
    5. Refinement (``refine=True``): the mean-shift mode is pulled towards a
       neighbouring cluster by the kernel smoothing, by about
       ``(s^2 + h^2) grad(rho_2) / rho_1``; a Poisson maximum-likelihood fit of a
       bin-integrated Gaussian plus a plane to the histogram within +-3 bandwidths
       of the mode (:func:`_fit_mode`) absorbs the neighbour's local slope.  A
       neighbouring cluster close enough for its curved tail to reach into that
       window (a significant local maximum of the histogram smoothed at the
       bandwidth, :func:`_nearby_clusters`; at most two) is modelled as a further
       bin-integrated Gaussian, the window then covering its core as well
       (``nearby`` in the result counts them; if that fit fails, the fit without
       them is tried).  The fitted centre and Fisher-information errors replace
       the mean-shift ones unless the fit is ill-conditioned, does not converge,
       or moves more than half a bandwidth (then ``refined`` is False and steps
       3-4 are the answer).  The histogram of step 1 (``bins``, ``range``) is the
       one fitted, so the bins should be at most about a cluster sigma wide (at
       least 5 per axis in the window).

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Point coordinates (any units).  Pairs with a non-finite coordinate are
        ignored; at least 3 finite points are needed.
    bins : int or (int, int) or (array, array), keyword-only
        Histogram bins for the seed, as in :func:`numpy.histogram2d`.
    range : ((xmin, xmax), (ymin, ymax)) or None, keyword-only
        Histogram range (default: the data's extent).
    weights : array_like, shape (n,), optional
        Non-negative frequency weights (e.g. counts when ``x, y`` are bin
        centres of an existing histogram).
    bandwidth : float or (float, float) or None, keyword-only
        Gaussian kernel sigma per axis (data units); None: automatic (step 2).
    tol : float, keyword-only
        Convergence tolerance in bandwidths.
    max_iter : int, keyword-only
        At most this many mean-shift steps.
    refine : bool, keyword-only
        Refine the mean-shift mode by the local histogram fit (step 5).

    Returns
    -------
    ClusterCenter
        ``x, y`` (the centre), ``x_err, y_err`` (1 sigma), the bandwidth used,
        the effective number of points under the kernel, the mean-shift
        iterations, whether the fit of step 5 gave ``x, y``, and how many
        neighbouring clusters that fit modelled.
    """
    xs = _points(x, "x")
    ys = _points(y, "y")
    if xs.shape != ys.shape:
        raise InputError(f"`x` and `y` must have the same length, not {xs.size} and {ys.size}")
    wts = None
    if weights is not None:
        wts = _points(weights, "weights")
        if wts.shape != xs.shape:
            raise InputError(f"`weights` must have the length of `x` ({xs.size}), not {wts.size}")
        if not np.all(np.isfinite(wts)) or np.any(wts < 0):
            raise InputError("`weights` must be finite and >= 0")
    tol = _real_scalar(tol, "tol", low=0.0, low_open=True)
    if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise InputError(f"`max_iter` must be an int >= 1, not {max_iter!r}")
    if not isinstance(refine, (bool, np.bool_)):
        raise InputError(f"`refine` must be True or False, not {refine!r}")
    if bandwidth is not None:
        try:
            bw = np.asarray(bandwidth, dtype=np.float64)
        except (TypeError, ValueError):
            bw = np.zeros(0)
        if bw.shape == ():
            bw = np.full(2, float(bw))
        if bw.shape != (2,) or not np.all(np.isfinite(bw)) or np.any(bw <= 0):
            raise InputError(f"`bandwidth` must be a positive number or two (x, y), not {bandwidth!r}")
    ok = np.isfinite(xs) & np.isfinite(ys)
    if wts is not None:
        ok &= wts > 0
    xs, ys = xs[ok], ys[ok]
    wts = np.ones(xs.size) if wts is None else wts[ok]
    if xs.size < 3:
        raise InputError(f"`x`, `y` must hold at least 3 finite points (with weight > 0), not {xs.size}")
    try:
        hist, ex, ey = np.histogram2d(xs, ys, bins=bins, range=range, weights=wts)
    except (ValueError, TypeError) as exc:
        raise InputError(f"`bins`/`range` are not valid for numpy.histogram2d: {exc}") from exc
    from scipy import ndimage

    sm = ndimage.gaussian_filter(hist, 1.0, mode="constant")
    i, j = np.unravel_index(int(np.argmax(sm)), sm.shape)
    cxb, cyb = 0.5 * (ex[i] + ex[i + 1]), 0.5 * (ey[j] + ey[j + 1])
    bwx, bwy = np.diff(ex), np.diff(ey)
    if bandwidth is None:
        base = float(np.median(sm))
        half = base + 0.5 * (sm[i, j] - base)

        def width(profile, c):
            lo = c
            while lo > 0 and profile[lo - 1] > half:
                lo -= 1
            hi = c
            while hi < profile.size - 1 and profile[hi + 1] > half:
                hi += 1
            # linear interpolation of the half-maximum crossings (in bins)
            left = lo - (0.5 if lo == 0 else (profile[lo] - half) / max(profile[lo] - profile[lo - 1], 1e-300))
            right = hi + (0.5 if hi == profile.size - 1 else
                          (profile[hi] - half) / max(profile[hi] - profile[hi + 1], 1e-300))
            fw = (right - left) / _FWHM_PER_SIGMA
            return math.sqrt(max(fw * fw - 1.0, 0.25))

        bw = np.array([width(sm[:, j], i) * bwx[i], width(sm[i, :], j) * bwy[j]])
    h = bw.astype(np.float64)
    m = np.array([cxb, cyb])
    pts = np.column_stack([xs, ys])
    n_iter = 0
    for n_iter in builtins.range(1, max_iter + 1):
        d = (pts - m) / h
        k = wts * np.exp(-0.5 * np.einsum("ij,ij->i", d, d))
        sk = k.sum()
        if not sk > 0:
            raise InputError("no point lies near the histogram maximum; give `bandwidth` or `bins`")
        new = k @ pts / sk
        step = np.abs((new - m) / h).max()
        m = new
        if step < tol:
            break
    d = pts - m
    kern = np.exp(-0.5 * np.einsum("ij,ij->i", d / h, d / h))
    kk = wts * kern
    # J = d/dm sum K_i (p_i - m) = sum K_i ((p_i - m)(p_i - m)^T / h^2 - I), h per axis
    jmat = np.einsum("i,ij,ik->jk", kk, d, d / (h * h)) - np.eye(2) * kk.sum()
    vmat = np.einsum("i,ij,ik->jk", wts * kern * kern, d, d)
    try:
        jinv = np.linalg.inv(jmat)
        cov = jinv @ vmat @ jinv.T
        ex_, ey_ = math.sqrt(max(cov[0, 0], 0.0)), math.sqrt(max(cov[1, 1], 0.0))
    except np.linalg.LinAlgError:
        ex_ = ey_ = math.nan
    n_eff = float(kk.sum() ** 2 / max((wts * kern * kern).sum(), 1e-300))
    mx, my, refined = float(m[0]), float(m[1]), False
    if refine:
        nearby = _nearby_clusters(hist, ex, ey, m, h)
        fit = _fit_mode(hist, ex, ey, m, h, nearby) if nearby else None
        if fit is None:                      # no neighbour, or the fit with them failed
            nearby = []
            fit = _fit_mode(hist, ex, ey, m, h)
        if fit is not None:
            (mx, my, ex_, ey_), refined = fit, True
    return ClusterCenter(mx, my, ex_, ey_, float(h[0]), float(h[1]), n_eff, int(n_iter), refined,
                         len(nearby) if refined else 0)

