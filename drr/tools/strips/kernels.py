"""Numba kernels of the seam statistic: sums over rows of ``log(1 + |A r|^2 / c)`` (logs of running
products) for all pairs of strip edges and for every column boundary, and the gradient
statistics of every column.
"""

from __future__ import annotations

import math

import numba
import numpy as np

# Sums of log(1 + d) over rows are taken as the log of running products (one log per
# many rows instead of one per row; the log is most of the cost of the seam kernels):
# the product is logged and reset when it exceeds _PROD_MAX, and a term above _LOG_BIG
# (possible only for integer images of a huge range) is logged on its own, so nothing
# overflows.  The sum differs from the sum of logs by rounding only (~1e-14 absolute).
_LOG_BIG = 1e50
_PROD_MAX = 1e250


@numba.njit(cache=True, nogil=True, inline="always")
def _log_step(acc, prod, v):
    """One term ``v >= 1`` of ``acc + log(prod) = sum(log(v))``: returns the new ``(acc, prod)``."""
    if v > _LOG_BIG:
        return acc + math.log(v), prod
    prod *= v
    if prod > _PROD_MAX:
        return acc + math.log(prod), 1.0
    return acc, prod


@numba.njit(cache=True, nogil=True, inline="always")
def _tri_norm2(a_, k, r):
    """``|A_k r|^2`` for the upper-triangular ``A_k = a_[k]`` (the generic-channel loops)."""
    c = r.shape[0]
    d = 0.0
    for i in range(c):
        e = 0.0
        for j in range(i, c):
            e += a_[k, i, j] * r[j]
        d += e * e
    return d


@numba.njit(cache=True, nogil=True)
def _rho_pair_sums(a_, y, z, cn):
    """``out[k, m] = sum_r log(1 + |A_k (y_m,r - z_k,r)|^2 / cn)``: the seam term of
    :func:`_whitened_sq` and :func:`_rho` fused, without the (K, M, H) intermediate.

    ``a_``: (K, C, C) upper triangular (``A^T A = S^{-1}``, :func:`_edge_stats`), ``y``:
    (M, H, C), ``z``: (K, H, C), all C-contiguous.  ``log(1 + t)`` rather than ``log1p``
    (about twice as fast; the same to 1e-15 absolute for t >= 0).  Written out for
    C = 1 and C = 3 (grey and colour), a generic loop otherwise."""
    k_, c = a_.shape[0], a_.shape[1]
    m_, h = y.shape[0], y.shape[1]
    out = np.zeros((k_, m_))
    inv = 1.0 / cn
    if c == 3:
        for k in range(k_):
            a00 = a_[k, 0, 0] * math.sqrt(inv)
            a01 = a_[k, 0, 1] * math.sqrt(inv)
            a02 = a_[k, 0, 2] * math.sqrt(inv)
            a11 = a_[k, 1, 1] * math.sqrt(inv)
            a12 = a_[k, 1, 2] * math.sqrt(inv)
            a22 = a_[k, 2, 2] * math.sqrt(inv)
            zk = z[k]
            for m in range(m_):
                ym = y[m]
                acc = 0.0
                prod = 1.0
                for row in range(h):
                    r0 = ym[row, 0] - zk[row, 0]
                    r1 = ym[row, 1] - zk[row, 1]
                    r2 = ym[row, 2] - zk[row, 2]
                    e0 = a00 * r0 + a01 * r1 + a02 * r2
                    e1 = a11 * r1 + a12 * r2
                    e2 = a22 * r2
                    v = 1.0 + (e0 * e0 + e1 * e1 + e2 * e2)
                    acc, prod = _log_step(acc, prod, v)
                out[k, m] = acc + math.log(prod)
        return out
    if c == 1:
        for k in range(k_):
            a00 = a_[k, 0, 0] * a_[k, 0, 0] * inv
            zk = z[k, :, 0]
            for m in range(m_):
                ym = y[m, :, 0]
                acc = 0.0
                prod = 1.0
                for row in range(h):
                    r0 = ym[row] - zk[row]
                    v = 1.0 + a00 * r0 * r0
                    acc, prod = _log_step(acc, prod, v)
                out[k, m] = acc + math.log(prod)
        return out
    r = np.empty(c)
    for k in range(k_):
        for m in range(m_):
            acc = 0.0
            prod = 1.0
            for row in range(h):
                for i in range(c):
                    r[i] = y[m, row, i] - z[k, row, i]
                v = 1.0 + _tri_norm2(a_, k, r) * inv
                acc, prod = _log_step(acc, prod, v)
            out[k, m] = acc + math.log(prod)
    return out


@numba.njit(cache=True, nogil=True)
def _column_grad_stats(xt):
    """Mean ``mu`` (W-1, C) and scatter ``sum_r dev dev^T`` (W-1, C, C) over the rows of
    each column gradient ``x[:, b+1] - x[:, b]``, from the image given column-major
    ``xt`` (W, H, C) C-contiguous; two passes (mean, then deviations), as numpy would."""
    w, h, c = xt.shape
    mu = np.zeros((w - 1, c))
    sc = np.zeros((w - 1, c, c))
    g = np.empty(c)
    for b in range(w - 1):
        for row in range(h):
            for i in range(c):
                mu[b, i] += xt[b + 1, row, i] - xt[b, row, i]
        for i in range(c):
            mu[b, i] /= h
        for row in range(h):
            for i in range(c):
                g[i] = xt[b + 1, row, i] - xt[b, row, i] - mu[b, i]
            for i in range(c):
                for j in range(i, c):
                    sc[b, i, j] += g[i] * g[j]
        for i in range(c):
            for j in range(i):
                sc[b, i, j] = sc[b, j, i]
    return mu, sc


@numba.njit(cache=True, nogil=True)
def _boundary_terms(xt, mu, a_, alpha, cn):
    """The two seam terms of every boundary (:func:`_boundary_scores`) of the image
    ``xt`` given column-major, (W, H, C) C-contiguous: ``left[b]`` = sum over rows of
    ``log(1 + |A_{b-1} (g_b - p_b)|^2 / cn)`` with ``p_b = mu_{b-1} + alpha (g_{b-1} -
    mu_{b-1})`` (the gradient before the boundary predicts the one across it; b >= 1),
    ``right[b]`` the same with ``b + 1`` predicting (b <= W - 3); ``g_b = x[:, b+1] -
    x[:, b]``, ``mu`` (W-1, C), ``a_`` (W-1, C, C) upper triangular."""
    nb, h, c = xt.shape[0] - 1, xt.shape[1], xt.shape[2]
    left = np.zeros(nb)
    right = np.zeros(nb)
    inv = 1.0 / cn
    e = np.empty(c)
    for side in range(2):
        for b in range(1 - side, nb - side):
            o = b - 1 if side == 0 else b + 1
            acc = 0.0
            prod = 1.0
            for row in range(h):
                if c == 3:
                    e0 = 0.0
                    e1 = 0.0
                    e2 = 0.0
                    for i in range(3):
                        gb = xt[b + 1, row, i] - xt[b, row, i]
                        go = xt[o + 1, row, i] - xt[o, row, i]
                        ei = gb - (mu[o, i] + alpha * (go - mu[o, i]))
                        if i == 0:
                            e0 = ei
                        elif i == 1:
                            e1 = ei
                        else:
                            e2 = ei
                    t0 = a_[o, 0, 0] * e0 + a_[o, 0, 1] * e1 + a_[o, 0, 2] * e2
                    t1 = a_[o, 1, 1] * e1 + a_[o, 1, 2] * e2
                    t2 = a_[o, 2, 2] * e2
                    d = t0 * t0 + t1 * t1 + t2 * t2
                else:
                    for i in range(c):
                        gb = xt[b + 1, row, i] - xt[b, row, i]
                        go = xt[o + 1, row, i] - xt[o, row, i]
                        e[i] = gb - (mu[o, i] + alpha * (go - mu[o, i]))
                    d = _tri_norm2(a_, o, e)
                v = 1.0 + d * inv
                acc, prod = _log_step(acc, prod, v)
            acc += math.log(prod)
            if side == 0:
                left[b] = acc
            else:
                right[b] = acc
    return left, right
