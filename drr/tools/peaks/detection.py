"""The detection image: matched filter by normalised convolution, and its candidates above the threshold."""

from __future__ import annotations

import math

import numba
import numpy as np


_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


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
