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
    if xt.shape[2] == 3:
        return _column_grad_stats3(xt)
    return _column_grad_stats_any(xt)


@numba.njit(cache=True, nogil=True)
def _column_grad_stats_any(xt):
    """:func:`_column_grad_stats` for any number of channels."""
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
def _column_grad_stats3(xt):
    """:func:`_column_grad_stats` for three channels: the same sums in the same order (so
    the same values, bit for bit), kept in scalars rather than in the output arrays,
    which the compiler must otherwise load and store at every row (3 ms -> 1 ms on a
    512x512 colour image)."""
    w, h = xt.shape[0], xt.shape[1]
    mu = np.zeros((w - 1, 3))
    sc = np.zeros((w - 1, 3, 3))
    for b in range(w - 1):
        m0 = 0.0
        m1 = 0.0
        m2 = 0.0
        for row in range(h):
            m0 += xt[b + 1, row, 0] - xt[b, row, 0]
            m1 += xt[b + 1, row, 1] - xt[b, row, 1]
            m2 += xt[b + 1, row, 2] - xt[b, row, 2]
        m0 /= h
        m1 /= h
        m2 /= h
        s00 = 0.0
        s01 = 0.0
        s02 = 0.0
        s11 = 0.0
        s12 = 0.0
        s22 = 0.0
        for row in range(h):
            g0 = xt[b + 1, row, 0] - xt[b, row, 0] - m0
            g1 = xt[b + 1, row, 1] - xt[b, row, 1] - m1
            g2 = xt[b + 1, row, 2] - xt[b, row, 2] - m2
            s00 += g0 * g0
            s01 += g0 * g1
            s02 += g0 * g2
            s11 += g1 * g1
            s12 += g1 * g2
            s22 += g2 * g2
        mu[b, 0] = m0
        mu[b, 1] = m1
        mu[b, 2] = m2
        sc[b, 0, 0] = s00
        sc[b, 0, 1] = s01
        sc[b, 0, 2] = s02
        sc[b, 1, 0] = s01
        sc[b, 1, 1] = s11
        sc[b, 1, 2] = s12
        sc[b, 2, 0] = s02
        sc[b, 2, 1] = s12
        sc[b, 2, 2] = s22
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


# The pruned seam sums of :func:`_partner_min`: a pair is abandoned once its running sum
# exceeds the bound by a relative _PRUNE_MARGIN (the sum only grows, every term being
# log(v >= 1); the margin covers the rounding of the partial sums, ~1e-13 relative).
_PRUNE_MARGIN = 1e-9


@numba.njit(cache=True, nogil=True, inline="always")
def _bounded_step(acc, prod, lim, v, bound):
    """:func:`_log_step` (the same operations), and ``lim = exp(bound - acc)`` updated
    where ``acc`` changes: the running sum ``acc + log(prod)`` can exceed ``bound`` only
    where ``prod > lim``.  Returns the new ``(acc, prod, lim)``."""
    if v > _LOG_BIG:
        acc = acc + math.log(v)
        return acc, prod, math.exp(bound - acc)
    prod *= v
    if prod > _PROD_MAX:
        acc = acc + math.log(prod)
        return acc, 1.0, math.exp(bound - acc)
    return acc, prod, lim


@numba.njit(cache=True, nogil=True, inline="always")
def _seam_sum(a_, k, y, m, z, inv, bound):
    """``sum_r log(1 + |A_k (y_m,r - z_k,r)|^2 inv)``: one entry of :func:`_rho_pair_sums`,
    by the same operations in the same order (the same value, bit for bit), or ``inf``
    once a partial sum exceeds ``bound``.

    The running sum is ``acc + log(prod)``; rather than a log per row, the product is
    compared with ``lim = exp(bound - acc)`` (:func:`_bounded_step`) and only where it
    exceeds ``lim`` is the sum itself compared with the bound.  One loop per channel
    count, as :func:`_rho_pair_sums` (a branch on it inside the loop costs a third)."""
    c = a_.shape[1]
    h = y.shape[1]
    ym = y[m]
    zk = z[k]
    acc = 0.0
    prod = 1.0
    lim = math.exp(bound)
    if c == 3:
        a00 = a_[k, 0, 0] * math.sqrt(inv)
        a01 = a_[k, 0, 1] * math.sqrt(inv)
        a02 = a_[k, 0, 2] * math.sqrt(inv)
        a11 = a_[k, 1, 1] * math.sqrt(inv)
        a12 = a_[k, 1, 2] * math.sqrt(inv)
        a22 = a_[k, 2, 2] * math.sqrt(inv)
        for row in range(h):
            r0 = ym[row, 0] - zk[row, 0]
            r1 = ym[row, 1] - zk[row, 1]
            r2 = ym[row, 2] - zk[row, 2]
            e0 = a00 * r0 + a01 * r1 + a02 * r2
            e1 = a11 * r1 + a12 * r2
            e2 = a22 * r2
            v = 1.0 + (e0 * e0 + e1 * e1 + e2 * e2)
            acc, prod, lim = _bounded_step(acc, prod, lim, v, bound)
            if prod > lim and acc + math.log(prod) > bound:
                return np.inf
    elif c == 1:
        a00 = a_[k, 0, 0] * a_[k, 0, 0] * inv
        for row in range(h):
            r0 = ym[row, 0] - zk[row, 0]
            v = 1.0 + a00 * r0 * r0
            acc, prod, lim = _bounded_step(acc, prod, lim, v, bound)
            if prod > lim and acc + math.log(prod) > bound:
                return np.inf
    else:
        r = np.empty(c)
        for row in range(h):
            for i in range(c):
                r[i] = ym[row, i] - zk[row, i]
            v = 1.0 + _tri_norm2(a_, k, r) * inv
            acc, prod, lim = _bounded_step(acc, prod, lim, v, bound)
            if prod > lim and acc + math.log(prod) > bound:
                return np.inf
    return acc + math.log(prod)


@numba.njit(cache=True, nogil=True, inline="always")
def _seam_cost_below(ar, first, pn, i, al, last, pp, j, cn, two_h, best):
    """The raw seam cost of the right edge ``i`` (``ar``, ``pn``, ``last``) against the
    left edge ``j`` (``al``, ``pp``, ``first``), ``(d1 + d2) / 2H`` as
    :func:`.costs._edge_pair_costs` computes it, or ``inf`` where it is sure to exceed
    ``best`` (its sums pruned, :func:`_seam_sum`)."""
    inv = 1.0 / cn
    bound = np.inf
    if best < np.inf:
        bound = best * two_h * (1.0 + _PRUNE_MARGIN)
    d1 = _seam_sum(ar, i, first, j, pn, inv, bound)
    if d1 == np.inf:
        return np.inf
    d2 = _seam_sum(al, j, last, i, pp, inv, bound - d1)
    if d2 == np.inf:
        return np.inf
    return (d1 + d2) / two_h


@numba.njit(cache=True, nogil=True)
def _partner_min(ar_b, al_b, first_b, last_b, pn_b, pp_b,
                 ar_c, al_c, first_c, last_c, pn_c, pp_c, far, cn):
    """For each edge pair ``i`` of the boundaries (``*_b``: the right edge ending at the
    boundary and the left edge starting there), the smallest raw seam cost of its right
    edge against the left edge of a candidate ``j`` (``*_c``) and of the candidate's right
    edge against its left edge, over the candidates with ``far[i, j]``: ``min(min_j
    D(b_i, c_j), min_j D(c_j, b_i))`` of :func:`.costs._edge_pair_costs`, the same value
    bit for bit.  A pair is abandoned as soon as its partial sums exceed the smallest cost
    found so far for ``i`` (most pairs join unrelated places: on astronaut, 20 strips,
    about half of the row terms are summed).  ``ar``/``al``: whitening matrices of the right/left edges,
    ``first``/``last``: the edge columns, ``pn``/``pp``: the columns the right/left
    edges predict (:func:`.costs._predict_next`, :func:`.costs._predict_prev`).
    Returns (nb,) float64, ``inf`` where no candidate is far."""
    nb, nc = far.shape
    two_h = 2.0 * first_b.shape[1]
    out = np.full(nb, np.inf)
    for i in range(nb):
        best = np.inf
        for j in range(nc):
            if not far[i, j]:
                continue
            d = _seam_cost_below(ar_b, first_c, pn_b, i, al_c, last_b, pp_c, j, cn,
                                 two_h, best)
            if d < best:
                best = d
            d = _seam_cost_below(ar_c, first_b, pn_c, j, al_b, last_c, pp_b, i, cn,
                                 two_h, best)
            if d < best:
                best = d
        out[i] = best
    return out
