"""Seam costs of strip pairs: edge gradient statistics, the prediction-based MGC cost of every pair,
the cache of costs by edge position (:class:`_SeamCache`) and the best-buddy normalisation.
"""

from __future__ import annotations

import numpy as np

from .kernels import _column_grad_stats, _partner_min, _rho_pair_sums
from .model import _ALPHA


def _edge_stats(inner, outer, unit, fallback):
    """Statistics of the gradients just inside a strip edge.

    ``inner``: (K, H, C) the edge columns, ``outer``: (K, H, C) the columns next to them
    inside the strip (or NaN-free copies of ``inner`` when the strip is one column wide,
    flagged by ``fallback``).  Returns the per-row gradient ``G`` (K, H, C) pointing across
    the edge, its mean ``mu`` (K, C) and the whitening matrix ``A`` (K, C, C) with
    ``A^T A = S^{-1}``.
    """
    g = inner - outer
    k, h, c = g.shape
    mu = g.mean(axis=1)
    # residual of the prediction p_r = mu + a (G_r - mu) for a neighbouring row's
    # gradient: the spread of (1 - a) (G - mu) plus the row-to-row change, estimated here
    # from the edge itself.
    dev = g - mu[:, None, :]
    cov = np.einsum("khc,khd->kcd", dev, dev) / max(h - 1, 1)
    reg = (unit ** 2) * np.eye(c)
    cov = cov + reg
    if fallback is not None and np.any(fallback):
        glob = cov[~fallback].mean(axis=0) if np.any(~fallback) else reg * 16.0
        cov[fallback] = glob
        mu[fallback] = 0.0
        g = g.copy()
        g[fallback] = 0.0
    inv = np.linalg.inv(cov)
    inv = 0.5 * (inv + np.transpose(inv, (0, 2, 1)))
    a_ = np.linalg.cholesky(inv).transpose(0, 2, 1)  # A^T A = inv, A upper
    return g, mu, a_


_NU = 1.0


def _rho(d, c):
    if _NU <= 0:
        return d / c
    return np.log1p(d / (c * _NU))


def _strip_features(x, starts, ends, unit):
    """Edge columns and gradient statistics of each strip (vertical strips)."""
    starts = np.asarray(starts)
    ends = np.asarray(ends)
    w = ends - starts
    narrow = w < 2
    last = x[:, ends - 1, :].transpose(1, 0, 2)           # (N, H, C)
    last2 = x[:, np.maximum(ends - 2, starts), :].transpose(1, 0, 2)
    first = x[:, starts, :].transpose(1, 0, 2)
    first2 = x[:, np.minimum(starts + 1, ends - 1), :].transpose(1, 0, 2)
    # gradients pointing left-to-right: right edge  last - last2, left edge first2 - first
    gr, mur, ar = _edge_stats(last, last2, unit, narrow)
    gl, mul, al = _edge_stats(first2, first, unit, narrow)
    return dict(last=last, first=first, gr=gr, mur=mur, ar=ar, gl=gl, mul=mul, al=al)


def _whitened_sq(a_, y, z, chunk_elems=4_000_000):
    """``out[k, m, r] = |A_k (y_m,r - z_k,r)|^2`` for all pairs, by matrix products.

    ``a_``: (K, C, C), ``y``: (M, H, C), ``z``: (K, H, C); returns (K, M, H) float64.
    ``A_k y_m,r`` for all ``k, m, r`` is one (K C, C) x (C, M H) product (BLAS), which is
    much faster than broadcasting a C x C product over K M H rows.
    """
    k, c, _ = a_.shape
    m, h, _ = y.shape
    yt = y.reshape(m * h, c).T                                    # (C, M H)
    az = np.einsum("kcd,khd->kch", a_, z)                         # (K, C, H)
    out = np.empty((k, m, h))
    per = max(1, chunk_elems // max(1, c * m * h))
    for k0 in range(0, k, per):
        k1 = min(k, k0 + per)
        ay = (a_[k0:k1].reshape(-1, c) @ yt).reshape(k1 - k0, c, m, h)
        ay -= az[k0:k1, :, None, :]
        np.square(ay, out=ay)
        out[k0:k1] = ay.sum(axis=1)
    return out


def _pair_costs(f, alpha=_ALPHA):
    """Raw directed seam costs D[i, j] for strip i left of strip j: (N, N) float64.

    ``D[i, j] = (1 / 2H) sum_r [rho(|A_i (f_j,r - P_i,r)|^2) + rho(|A'_j (Q_j,r - l_i,r)|^2)]``
    where ``l_i``/``f_j`` are the last column of ``i`` and the first of ``j``,
    ``P_i = l_i + mu_i + alpha (G_i - mu_i)`` is the column that ``i``'s right edge predicts
    after it, ``Q_j`` the column that ``j``'s left edge predicts before it, and ``A``, ``A'``
    whiten the residual (:func:`_edge_stats`; Gallagher 2012 eq. 1-3 with the per-row term).
    """
    out = _edge_pair_costs(f, f, alpha)
    np.fill_diagonal(out, np.inf)
    return out


def _predict_next(fr, alpha):
    """The column that each right edge of ``fr`` predicts after it: ``P = l + mu + alpha
    (G - mu)`` (:func:`_pair_costs`), (K, H, C)."""
    return fr["last"] + fr["mur"][:, None, :] + alpha * (fr["gr"] - fr["mur"][:, None, :])


def _predict_prev(fl, alpha):
    """The column that each left edge of ``fl`` predicts before it: ``Q = f - (mu + alpha
    (G - mu))`` (:func:`_pair_costs`), (M, H, C)."""
    return fl["first"] - (fl["mul"][:, None, :] + alpha * (fl["gl"] - fl["mul"][:, None, :]))


def _partner_costs(r_b, l_b, r_c, l_c, far, alpha):
    """``min(min_j D(b, c_j), min_j D(c_j, b))`` for each boundary ``b`` over the
    candidates ``c_j`` with ``far[b, j]``: the smallest raw seam cost (as
    :func:`_edge_pair_costs`, bit for bit) of the right edge ending at ``b`` against a
    candidate's left edge, or of a candidate's right edge against the left edge starting
    at ``b``; ``inf`` where no candidate is far.  ``r_b``/``l_b``: the right/left edge
    features (:func:`_edge_features`) at the boundaries, ``r_c``/``l_c`` at the
    candidates.  Numba kernel :func:`_partner_min`, which abandons a pair once its
    partial sums exceed the best cost found so far (the same minimum as the full (B, K)
    matrices; 6.6 -> 4.8 ms on astronaut, 20 strips)."""
    ac = np.ascontiguousarray
    c = r_b["last"].shape[2]
    return _partner_min(ac(r_b["ar"]), ac(l_b["al"]), ac(l_b["first"]), ac(r_b["last"]),
                        ac(_predict_next(r_b, alpha)), ac(_predict_prev(l_b, alpha)),
                        ac(r_c["ar"]), ac(l_c["al"]), ac(l_c["first"]), ac(r_c["last"]),
                        ac(_predict_next(r_c, alpha)), ac(_predict_prev(l_c, alpha)),
                        ac(far), float(c * _NU))


def _edge_pair_costs(fr, fl, alpha):
    """:func:`_pair_costs` between the right edges of ``fr`` (K strips) and the left edges
    of ``fl`` (M strips): (K, M) float64, nothing excluded (the diagonal is finite)."""
    last, first = fr["last"], fl["first"]
    h, c = last.shape[1:]
    pred_next = _predict_next(fr, alpha)
    pred_prev = _predict_prev(fl, alpha)
    cn = c * _NU
    ac = np.ascontiguousarray
    d1 = _rho_pair_sums(ac(fr["ar"]), ac(first), ac(pred_next), cn)        # [i, j]
    d2 = _rho_pair_sums(ac(fl["al"]), ac(last), ac(pred_prev), cn).T       # [j, i] -> [i, j]
    return (d1 + d2) / (2.0 * h)


def _edge_features(xt, stats, side, pos):
    """Edge features (:func:`_strip_features`) of the right edges ending at ``pos``
    (``side`` "r") or the left edges starting at ``pos`` ("l") of strips at least 2 wide:
    the edge column, its per-row gradient into the strip and that gradient's statistics,
    which are those of a column gradient of the image (``stats``: :func:`_grad_whitening`
    of ``xt``, the image column-major)."""
    p = np.asarray(pos, dtype=np.int64)
    mu, a_ = stats
    if side == "r":
        return {"last": xt[p - 1], "gr": xt[p - 1] - xt[p - 2], "mur": mu[p - 2],
                "ar": a_[p - 2]}
    return {"first": xt[p], "gl": xt[p + 1] - xt[p], "mul": mu[p], "al": a_[p]}


class _SeamCache:
    """Raw seam costs by edge position, computed once per pair within one search.

    The cost of the seam ``i | j`` depends only on the two columns at the end of ``i`` and
    the two at the start of ``j`` (:func:`_strip_features`) when both strips are at least
    2 wide, so a strip's right edge is identified by its end ``e`` and a left edge by its
    start ``s``: ``D(e, s)`` is shared by every candidate cut set that has those edges.
    The candidates of the joint search differ by a few cuts, so most of their pairs are
    already known.  Lives for one call of :func:`reassemble` (passed explicitly).
    """

    def __init__(self, x, model, xt=None, stats=None):
        self.x, self.model = x, model
        self.xt = np.ascontiguousarray(x.transpose(1, 0, 2)) if xt is None else xt
        self.stats = _grad_whitening(self.xt, model.unit) if stats is None else stats
        self.rows, self.cols = {}, {}          # end -> row, start -> column of ``d``
        self.d = np.zeros((0, 0))
        # the seam-sum arrays (:func:`_edge_sides`) of the right edges in row order and of
        # the left edges in column order, each computed once, in buffers that grow by
        # doubling (``count``: how many edges are filled in)
        self.sides = {"r": None, "l": None}
        self.count = {"r": 0, "l": 0}

    def _features(self, side, pos):
        """Edge features (:func:`_strip_features`) of the right edges ending at ``pos``
        (``side`` "r") or the left edges starting at ``pos`` ("l"), stacked: the edge
        column, its per-row gradient into the strip and that gradient's statistics,
        which are those of a column gradient of the image (:func:`_grad_whitening`)."""
        return _edge_features(self.xt, self.stats, side, pos)

    def _append(self, side, pos):
        """Append the seam-sum arrays of the edges ``pos`` of ``side`` to ``self.sides``
        (the buffers doubled where full: a copy of all the edges at every append cost
        more than computing the new ones)."""
        new = _edge_sides(self._features(side, pos), side, self.model.alpha)
        n0 = self.count[side]
        n1 = n0 + len(pos)
        buf = self.sides[side]
        if buf is None or n1 > len(buf["a"]):
            grown = {k: np.empty((max(2 * n1, 16),) + v.shape[1:]) for k, v in new.items()}
            if buf is not None:
                for k in grown:
                    grown[k][:n0] = buf[k][:n0]
            buf = self.sides[side] = grown
        for k, v in new.items():
            buf[k][n0:n1] = v
        self.count[side] = n1

    def costs(self, starts, ends):
        """Raw costs (N, N) of strips ``[starts[k], ends[k])``, each at least 2 wide."""
        new_e = [e for e in dict.fromkeys(int(v) for v in ends) if e not in self.rows]
        new_s = [s for s in dict.fromkeys(int(v) for v in starts) if s not in self.cols]
        if new_e or new_s:
            k0, m0 = len(self.rows), len(self.cols)
            d = np.zeros((k0 + len(new_e), m0 + len(new_s)))
            d[:k0, :m0] = self.d
            self.rows.update((e, k0 + i) for i, e in enumerate(new_e))
            self.cols.update((s, m0 + i) for i, s in enumerate(new_s))
            if new_e:
                self._append("r", new_e)
            if new_s:
                self._append("l", new_s)
            r, left = self.sides["r"], self.sides["l"]
            k1, m1 = self.count["r"], self.count["l"]
            if new_e:                              # the new ends against every start
                d[k0:, :] = _side_pair_costs(_side_slice(r, k0, k1), _side_slice(left, 0, m1))
            if new_s and k0:                       # the old ends against the new starts
                d[:k0, m0:] = _side_pair_costs(_side_slice(r, 0, k0),
                                               _side_slice(left, m0, m1))
            self.d = d
        r = np.array([self.rows[int(e)] for e in ends])
        c = np.array([self.cols[int(s)] for s in starts])
        out = self.d[np.ix_(r, c)]
        np.fill_diagonal(out, np.inf)
        return out


def _edge_sides(f, side, alpha):
    """What the seam sums of :func:`_edge_pair_costs` need of the right edges (``side``
    "r": whitening ``ar``, edge column ``last``, predicted next column) or of the left
    edges ("l": ``al``, ``first``, predicted previous column) of the edge features ``f``,
    as C-contiguous arrays: ``{"a", "col", "pred"}``."""
    ac = np.ascontiguousarray
    if side == "r":
        return {"a": ac(f["ar"]), "col": ac(f["last"]), "pred": ac(_predict_next(f, alpha))}
    return {"a": ac(f["al"]), "col": ac(f["first"]), "pred": ac(_predict_prev(f, alpha))}


def _side_slice(side, lo, hi):
    """The edges ``lo:hi`` of the stacked arrays ``side`` (:func:`_edge_sides`)."""
    return {k: v[lo:hi] for k, v in side.items()}


def _side_pair_costs(r, left):
    """:func:`_edge_pair_costs` (the same values, bit for bit) from the arrays of
    :func:`_edge_sides` of the right edges ``r`` and the left edges ``left``."""
    h, c = r["col"].shape[1:]
    cn = c * _NU
    d1 = _rho_pair_sums(r["a"], left["col"], r["pred"], cn)                # [i, j]
    d2 = _rho_pair_sums(left["a"], r["col"], left["pred"], cn).T           # [j, i] -> [i, j]
    return (d1 + d2) / (2.0 * h)


def _whitened_rows(a_, r):
    """``|A_k r_k,h|^2`` for ``a_`` (K, C, C) and ``r`` (K, H, C): (K, H) float64.

    Written as ``C^2`` multiply-adds on (K, H) planes, faster than a batched C x C matmul.
    """
    c = r.shape[2]
    out = np.zeros(r.shape[:2])
    for i in range(c):
        e = a_[:, i, 0, None] * r[:, :, 0]
        for j in range(1, c):
            e += a_[:, i, j, None] * r[:, :, j]
        out += e * e
    return out


def _grad_whitening(xt, unit):
    """Mean ``mu`` (W-1, C) and whitening matrix ``A`` (W-1, C, C; upper, ``A^T A =
    S^{-1}``) of every column gradient ``x[:, b+1] - x[:, b]`` over the rows, as
    :func:`_edge_stats` computes them for a strip edge: the edge statistics of every
    possible strip edge at once (``xt``: the image column-major, (W, H, C))."""
    _, h, c = xt.shape
    mu, sc = _column_grad_stats(xt)
    cov = sc / max(h - 1, 1) + (unit ** 2) * np.eye(c)
    inv = np.linalg.inv(cov)
    inv = 0.5 * (inv + np.transpose(inv, (0, 2, 1)))
    return mu, np.ascontiguousarray(np.linalg.cholesky(inv).transpose(0, 2, 1))


def _normalise(d):
    """Best-buddy normalisation: divide by the second-smallest cost of row and column."""
    n = d.shape[0]
    if n <= 2:
        return d.copy()
    srt_r = np.sort(d, axis=1)
    srt_c = np.sort(d, axis=0)
    sr = srt_r[:, 1]
    sc = srt_c[1, :]
    floor = max(1e-12, 1e-6 * float(np.median(d[np.isfinite(d)])))
    scale = np.sqrt(np.maximum(sr, floor)[:, None] * np.maximum(sc, floor)[None, :])
    out = d / scale
    np.fill_diagonal(out, np.inf)
    return out


def _edge_pair_costs_diag(fr, fl, alpha):
    """The diagonal of :func:`_edge_pair_costs` (right edge ``k`` against left edge ``k``):
    (K,) float64, without the K x K matrix."""
    last, first = fr["last"], fl["first"]
    h, c = last.shape[1:]
    pred_next = _predict_next(fr, alpha)
    pred_prev = _predict_prev(fl, alpha)
    d1 = _rho(_whitened_rows(fr["ar"], first - pred_next), c).sum(axis=1)
    d2 = _rho(_whitened_rows(fl["al"], last - pred_prev), c).sum(axis=1)
    return (d1 + d2) / (2.0 * h)
