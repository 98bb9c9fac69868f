"""A candidate cut set judged: its strips ordered (:func:`_order_for_cuts`) and the restored image
scored (:func:`_quality`, lower is better).
"""

from __future__ import annotations

import numpy as np

from .costs import _normalise, _pair_costs, _strip_features
from . import jumps as _jumps
from .order import _solve_order


def _order_for_cuts(x, model, starts, ends, time_limit, cache=None, solve=True,
                    node_limit=None):
    """Raw and normalised seam costs of the strips ``[starts[k], ends[k])`` and their best
    order (only the costs without ``solve``); ``cache``: a :class:`_SeamCache` to reuse
    (used when every strip is 2 wide); ``node_limit``: that of :func:`.order._solve_order`
    where given (else its default)."""
    n = len(starts)
    if n == 1:
        return dict(order=[0], raw=np.zeros((1, 1)), norm=np.zeros((1, 1)), optimal=True,
                    lb=0.0)
    if cache is not None and np.all(np.asarray(ends) - np.asarray(starts) >= 2):
        raw = cache.costs(starts, ends)
    else:
        raw = _pair_costs(_strip_features(x, starts, ends, model.unit), alpha=model.alpha)
    norm = _normalise(raw)
    if not solve:
        return dict(raw=raw, norm=norm)
    limits = {} if node_limit is None else {"node_limit": node_limit}
    order, optimal, lb = _solve_order(norm, time_limit=time_limit, **limits)
    return dict(order=order, raw=raw, norm=norm, optimal=optimal, lb=lb)


_W_REL = 2.0          # weight of the relative (log-ratio) part of _quality
_MOVE_COST = 0.5      # cost of each separated cut in _quality


_JUMP_COST = 0.6     # cost per unit of jump z-score that a separated cut lacks (below _JUMP_Z)
_JUMP_Z = 3.0
_MOVE_FREE_Z = 6.0   # a separated cut of at least this evidence pays no move cost (None: all
#                      do; 3.0 gained the same cases among part B's failures)


_SEAM_OFFSET = True   # each separated seam of the restored image pays for its level offset
_SEAM_OFFSET_W = 1.0  # ... this much per unit of its offset z (0.3 / 0.6 / 1.0 / 1.5 / 2.5:
#                       part B unequal seeds 0-2 +1 / +1 / +2 / +2 / +2 -1; a cap of the
#                       z at 3 per seam: +1)
_SEAM_OFFSET_LOW = 0.5   # offset (units) from which a restored seam pays (None: that of
#                          the cut evidence, jumps._OFFSET_LOW, 2; z 3 stays at _OFFSET_HIGH;
#                          part B unequal seeds 0-14: 0 / 0.5 / 1.0 +7 -2 / +7 -1 / +4 -0)


_TEXTURE_W = 4.0        # weight of the texture term of _quality (per unit of log(1 - rho);
#                         part B unequal, page seeds 0-14: 1 / 2 / 4 / 8 -> +3 / +5 / +9 /
#                         -7 against none; 8 cut small-N vertical page into false strips)
_TEXTURE_RHO = (-0.5, 0.95)   # the correlations clipped to this range: one seam moves the
#                               quality by at most _TEXTURE_W * log(1 / 0.05) = 12


def _texture_cost(rho):
    """``log(1 - rho)`` of correlations ``rho`` clipped to :data:`_TEXTURE_RHO`: 0 for
    unrelated columns, negative where the fine texture continues across (the log of the
    variance of the difference of two unit profiles, ``2 (1 - rho)``, up to a constant)."""
    lo, hi = _TEXTURE_RHO
    return np.log(1.0 - np.clip(rho, lo, hi))


def _quality(raw, order, cuts, s, base, w, jump=None, seam_off=None, texture=None):
    """Score of a restored order (lower is better): is the restored image more natural?

    ``Q = w_rel * Q_rel + Q_abs + m * M`` with

    ``Q_rel = sum_seams max(0, log(D_ij / b_ij)) - sum_cuts max(0, log(s_c / b_c))``,
    ``Q_abs = (sum_seams D_ij - sum_cuts s_c) / median(s)``,

    where ``D_ij`` is the raw cost of each seam of the restored image, ``s_c`` the boundary
    score of each cut of the shuffled image (the same statistic, so a cut whose two pieces
    stay side by side cancels exactly), ``b`` the local baseline (:func:`_baseline`; for a
    seam ``i | j`` the geometric mean of the baselines at the end of ``i`` and at the start
    of ``j``), ``M`` the number of cuts whose two pieces are separated, ``w_rel`` =
    :data:`_W_REL` and ``m`` = :data:`_MOVE_COST`.  ``Q_rel`` measures each seam against the
    texture around it, so a weak cut in a smooth region can outweigh a strong natural edge
    in a textured one (brick); ``Q_abs`` keeps grainy images (moon), where every boundary is
    rough, from losing their true cuts; ``m M`` is an Occam term (two blank margins can be
    swapped at no seam cost, which does not make the swap right).

    ``jump`` (optional): the z-score of each boundary's median absolute column difference
    over the image (the plain detector's statistic), or where larger the level offset
    over smooth rows on the same scale (:func:`.search._cut_evidence`).  Each separated cut then costs
    :data:`_JUMP_COST` ``* max(0,`` :data:`_JUMP_Z` ``- jump_c)`` more: a true cut joins two
    unrelated columns in every row, so its *median* jump stands out, while a natural edge
    (a text line's top, a letter's stroke) changes only some rows and, cut and moved, can
    give a smoother seam than the truth (documents: ``page``, ``text``).  It is a cost, not
    a requirement: a cut through a smooth region (jump z about 0) is still made when
    re-ordering gains more than ``_JUMP_COST * _JUMP_Z``.

    ``seam_off`` (optional, with :data:`_SEAM_OFFSET`): a :class:`.jumps._SeamOffsets`;
    each seam of the restored image whose two pieces were not side by side then costs
    :data:`_SEAM_OFFSET_W` ``* max(0, z)`` more, ``z`` the level offset of the seam
    over the rows smooth inside both pieces, minus the local trend, on the scale of
    :func:`.jumps._offset_z`.  Where the restored image is right, each seam joins
    columns that were neighbours: the background steps by the illumination trend only.
    A false cut on a text line's edge can give seams whose pixels match well row by row
    (a low ``D``) yet step the background by 4-9 grey levels (``page``); the jump and
    relative terms do not see it, since the same edge is natural where it was.  A seam
    pays from an offset of :data:`_SEAM_OFFSET_LOW` units (z 0; where set, else from the
    cut evidence's ``_OFFSET_LOW``, 2) up to ``_OFFSET_HIGH`` (z 3, the same for both):
    a natural seam steps by the local trend alone (offset 0-1), while unrelated places
    joined over blank rows often differ by about 2, which counted as nothing (part B,
    ``camera`` 40 vertical strips seed 6: the wrong answer's new seam steps by 2 units,
    the truth's two by 0; ``page`` 10 horizontal seed 13: three new seams of 2-2.5
    units against the truth's one of 3).

    With :data:`_MOVE_FREE_Z` set, a separated cut whose evidence ``jump`` is at least
    that pays no move cost ``m``: the Occam term is there for cuts the image does not
    show (blank margins), and a cut with a strong jump is shown (part B, ``text`` 2
    vertical strips seed 7: the one true cut joins the image's right and left edges,
    evidence 7.9, and its restored seam is a letter's edge, as rough as the cut; without
    the move cost the truth, as the near-equal-widths candidate of 53 strips with all but
    that cut merged, beats the unchanged image in the comparison of the candidates, which
    leaves out the seam offsets, though with them it is still 0.35 worse).

    ``texture`` (optional): a :class:`.correlation._TextureCorrelation`; each seam whose
    two pieces were not side by side then adds :data:`_TEXTURE_W` ``* log(1 - rho)`` of
    the correlation of its two columns' fine texture, and each cut whose pieces are
    separated takes back the same of its own boundary in the shuffled image
    (:func:`_texture_cost`; a cut whose pieces stay together cancels, as in ``Q_rel``).
    A right seam puts back together columns that were neighbours and share their grain;
    a wrong one joins unrelated places, whose texture is uncorrelated however well their
    levels and gradients agree.  On ``page`` the truth's texture is better correlated than
    the answer's in 66 of its 67 failures over part B's unequal seeds 0-32 before this term
    (2026-11-27): ``Q`` had preferred answers that move blank rows or columns between
    places of like illumination.
    """
    if not len(cuts):
        return 0.0
    starts = np.array([0] + list(cuts))
    ends = np.array(list(cuts) + [w])
    b_start = base[np.clip(starts - 1, 0, w - 2)]
    b_end = base[np.clip(ends - 1, 0, w - 2)]
    a_, b_ = np.asarray(order[:-1]), np.asarray(order[1:])
    c = np.asarray(cuts) - 1
    seams = raw[a_, b_]
    q_rel = (np.sum(np.log(np.maximum(seams / np.sqrt(b_end[a_] * b_start[b_]), 1.0)))
             - np.sum(np.log(np.maximum(s[c] / base[c], 1.0))))
    q_abs = (seams.sum() - s[c].sum()) / max(float(np.median(s)), 1e-12)
    sep = b_ != a_ + 1
    aa, bb = a_[sep], b_[sep]                  # the seams whose pieces are separated
    moved = len(aa)
    q = float(_W_REL * q_rel + q_abs + _MOVE_COST * moved)
    # the cuts whose pieces are separated: cut k + 1 is between pieces k and k + 1
    nxt = np.full(len(cuts) + 1, -1)
    nxt[a_] = b_
    sep_cut = nxt[:-1] != np.arange(1, len(cuts) + 1)
    if jump is not None and _JUMP_COST > 0:
        jc = jump[c[sep_cut]]
        q += _JUMP_COST * float(np.sum(np.maximum(0.0, _JUMP_Z - jc)))
        if _MOVE_FREE_Z is not None:
            q -= _MOVE_COST * int(np.count_nonzero(jc >= _MOVE_FREE_Z))
    if seam_off is not None and _SEAM_OFFSET and moved:
        zs = seam_off.z(ends[aa], starts[bb], ends[aa] - starts[aa] >= 2,
                        ends[bb] - starts[bb] >= 2)
        q += _SEAM_OFFSET_W * float(np.sum(_seam_charge(zs)))
    if texture is not None and _TEXTURE_W > 0 and moved:
        q += _TEXTURE_W * float(
            np.sum(_texture_cost(texture.rho(ends[aa] - 1, starts[bb])))
            - np.sum(_texture_cost(texture.natural(c[sep_cut]))))
    return q


def _quality_bs(raw, order, cuts, w, bs):
    """:func:`_quality` with the boundary statistics ``bs``: ``(s, base)`` and, where
    given, the cut evidence, the seam offsets and the texture correlation."""
    more = dict(zip(("jump", "seam_off", "texture"), bs[2:]))
    return _quality(raw, order, cuts, bs[0], bs[1], w, **more)


def _seam_charge(zs):
    """What :func:`_quality` charges for restored seams of offset z ``zs`` (the z of
    :class:`.jumps._SeamOffsets`, 0 at ``_OFFSET_LOW``): ``max(0, z)``, with z taken from
    :data:`_SEAM_OFFSET_LOW` where that is set."""
    if _SEAM_OFFSET_LOW is not None:
        # the offset a (units) back from its z, and z = 3 (a - low) / (high - low)
        lo, hi = _jumps._OFFSET_LOW, _jumps._OFFSET_HIGH
        a = lo + np.asarray(zs) * (hi - lo) / 3.0
        zs = 3.0 * (a - _SEAM_OFFSET_LOW) / (hi - _SEAM_OFFSET_LOW)
    return np.maximum(zs, 0.0)


def _quality_matrix(res, bs):
    """The terms of :func:`_quality` that depend on the order, per seam: entry ``[i, j]``
    is what putting piece ``j`` right after piece ``i`` adds to the quality of the cut set
    of ``res`` (an evaluated candidate) with the boundary statistics ``bs`` (at least
    four; the texture term too where a fifth is given).

    The relative and absolute seam terms, and where ``j != i + 1`` the move cost, the
    jump term of the cut after piece ``i`` (its pieces separated), the seam's level
    offset and its texture term, less that of the cut after piece ``i``.  The cuts' own
    terms are the same for every order and left out; so are the jump and texture terms of
    the cut after the last piece of the order (separated too), so the shortest path of
    this matrix is the best order for the quality up to those terms."""
    raw, starts, ends = res["raw"], res["starts"], res["ends"]
    s, base, jump, seam_off = bs[:4]
    w = int(ends[-1])
    n = len(starts)
    b_start = base[np.clip(starts - 1, 0, w - 2)]
    b_end = base[np.clip(ends - 1, 0, w - 2)]
    q = (_W_REL * np.log(np.maximum(raw / np.sqrt(b_end[:, None] * b_start[None, :]), 1.0))
         + raw / max(float(np.median(s)), 1e-12))
    a_, b_ = np.nonzero(~np.eye(n, k=1, dtype=bool) & ~np.eye(n, dtype=bool))
    g = np.zeros(n)
    if _JUMP_COST > 0:
        g[:-1] = _JUMP_COST * np.maximum(0.0, _JUMP_Z - jump[ends[:-1] - 1])
        if _MOVE_FREE_Z is not None:
            g[:-1] -= _MOVE_COST * (jump[ends[:-1] - 1] >= _MOVE_FREE_Z)
    q[a_, b_] += _MOVE_COST + g[a_]
    if _SEAM_OFFSET:
        zs = seam_off.z(ends[a_], starts[b_], ends[a_] - starts[a_] >= 2,
                        ends[b_] - starts[b_] >= 2)
        q[a_, b_] += _SEAM_OFFSET_W * _seam_charge(zs)
    if len(bs) > 4 and _TEXTURE_W > 0:
        own = np.zeros(n)
        own[:-1] = _texture_cost(bs[4].natural(ends[:-1] - 1))
        t = _texture_cost(bs[4].matrix(ends - 1, starts))
        q[a_, b_] += _TEXTURE_W * (t[a_, b_] - own[a_])
    np.fill_diagonal(q, np.inf)
    return q


def _evaluate(x, model, cuts, time_limit, bs=None, cache=None, node_limit=None):
    """Order the strips of a candidate cut set and score the candidate.

    ``bs``: the boundary scores and their baseline ``(s, base)`` of the shuffled image, to
    score the candidate with :func:`_quality` (lower is better); without it the quality is 0.
    ``node_limit``: the branch and bound's node limit for the order, where given
    (:func:`.order._solve_order`; a small one makes a quick trial, still deterministic).
    """
    w = x.shape[1]
    starts = np.array([0] + list(cuts), dtype=np.int64)
    ends = np.array(list(cuts) + [w], dtype=np.int64)
    res = _order_for_cuts(x, model, starts, ends, time_limit, cache, node_limit=node_limit)
    q = 0.0
    if bs is not None and len(cuts):
        q = _quality_bs(res["raw"], res["order"], cuts, w, bs)
    res.update(starts=starts, ends=ends, quality=q, cuts=list(cuts))
    return res


def _rescored(res, bs):
    """A copy of the evaluated candidate ``res`` scored by :func:`_quality` with the
    boundary statistics ``bs`` (its order unchanged)."""
    out = dict(res)
    out["quality"] = _quality_bs(res["raw"], res["order"], res["cuts"], int(res["ends"][-1]),
                                 bs)
    return out


def _merge_kept(res):
    """Drop cuts whose two pieces stay side by side in the restored order."""
    order = res["order"]
    nxt = {a: b for a, b in zip(order, order[1:])}
    keep = [c for k, c in enumerate(res["cuts"]) if nxt.get(k) != k + 1]
    return keep


def _without_merged(x, model, res, time_limit, bs, cache):
    """``res`` evaluated again without the cuts whose two pieces stay side by side in its
    order (:func:`_merge_kept`); ``res`` itself when there are none."""
    kept = _merge_kept(res)
    if len(kept) < len(res["cuts"]):
        return _evaluate(x, model, kept, time_limit, bs, cache)
    return res


def _better(res, best, tol):
    return res["quality"] < best["quality"] - tol
