"""The last step of the joint search when the number of strips is unknown: every boundary with a
better partner tried as a cut (the best kept, again until none improves), and the order of the
pieces solved for the quality itself.
"""

from __future__ import annotations

import numpy as np

from .candidates import _partner_scores
from .order import _solve_order
from .quality import _better, _evaluate, _quality_bs, _quality_matrix, _without_merged

_SWEEP_PARTNER = 0.0    # partner score (log ratio) above which a boundary is tried as a cut
_SWEEP_NODES = 200      # branch-and-bound nodes of a trial's order (a trial that looks
#                         better without a proven order is ordered again in full)
_SWEEP_ORDER = True     # ... and the pieces are ordered for the quality (_order_by_quality)
_SWEEP_ORDER_MARGIN = 2.0  # ... where that improves it by this much (as _QUALITY_ORDER_MARGIN
#                            of .grow: part B seeds 0-20, the orders that moved pieces apart
#                            gained 3.5 and 9.8 where right, 1.4 where wrong, text 40 h seed 9)


def _sweep(x, model, bs, best, time_limit, cache):
    """The answer of the joint search improved by single cuts anywhere, and by its order.

    The earlier steps (:mod:`.grow`) try candidates chosen by their own statistics (peaks
    of the relative boundary score, strong jumps, their neighbours, pairs among those
    tried), a few dozen in all.  A weak true cut can be none of those: its boundary looks
    like the blank or textured rows around it, and only the piece before it continues
    better into the start of another piece.  Here every boundary whose partner score
    (:func:`.candidates._partner_scores` against the cuts found: a better continuation
    exists) is above :data:`_SWEEP_PARTNER` is tried as a cut, each scored by
    :func:`.quality._quality` as any candidate; the best trial is kept where it improves
    the quality, then the pieces are ordered for the quality
    (:func:`_order_by_quality`), and both again until neither improves.

    Part B of ``benchmarks/strips.py`` (unequal widths, nothing given), seeds 15-20
    (held out until this step was written): 5 of the 23 failures were one such cut short
    (``page`` 20 h seed 20: the true cut 97, relative score 0.7, 7.3 better once cut;
    ``coins`` 40 h seed 16: 98, 1.5 better), and one had the true cuts in an order that
    the seam costs prefer and the quality does not (``page`` 40 v seed 17).  Only cuts
    are added: trials that also dropped a cut lost 20 true cuts for one false one there
    (the earlier steps keep some cuts on purpose: twins, strong jumps), and trials that
    moved a cut by one pixel lost 4 images for 2.  Trials leave no piece narrower than 2
    pixels (a 1-pixel piece has no edge gradient, and with all boundaries tried the
    quality favoured such pieces).

    Returns ``best`` or an improved result (hypothesis suffix ``s`` for a cut added,
    ``m`` for a re-ordering)."""
    tol = 1e-9 * (1.0 + float(bs[0].sum()))
    while True:
        res = _add_best(x, model, bs, best, time_limit, cache, tol)
        if _SWEEP_ORDER:
            res = _order_by_quality(bs, res, time_limit, tol)
        if not _better(res, best, tol):
            return best
        best = res


def _sweep_pool(x, model, cuts):
    """Boundaries to try as a cut: partner score above :data:`_SWEEP_PARTNER` against the
    pieces of ``cuts`` (every boundary scored), best first, leaving no piece narrower than
    2 pixels."""
    w = x.shape[1]
    if w < 5 or not any(2 <= c <= w - 2 for c in cuts):
        return []                  # no piece edge to be a partner
    # a constant relative score: every boundary is scored, against the cuts' edges only
    p = _partner_scores(x, model, np.ones(w - 1), k_max=0, extra=list(cuts))
    edges = np.array([0] + sorted(cuts) + [w])
    b = np.flatnonzero(p > _SWEEP_PARTNER) + 1
    i = np.searchsorted(edges, b)               # edges[i - 1] <= b <= edges[i]
    b = b[(b - edges[i - 1] >= 2) & (edges[i] - b >= 2)]
    return [int(v) for v in b[np.argsort(-p[b - 1], kind="stable")]]


def _add_best(x, model, bs, best, time_limit, cache, tol):
    """The best of ``best`` with one more cut from :func:`_sweep_pool`, or ``best`` where
    none improves the quality.  Each trial is ordered with at most :data:`_SWEEP_NODES`
    branch-and-bound nodes; one that then looks better without a proven order is ordered
    again with the full limits before it is compared."""
    cuts = list(best["cuts"])
    cand = best
    for b in _sweep_pool(x, model, cuts):
        trial = sorted(cuts + [b])
        res = _evaluate(x, model, trial, time_limit, bs, cache, node_limit=_SWEEP_NODES)
        if _better(res, cand, tol) and not res["optimal"]:
            res = _evaluate(x, model, trial, time_limit, bs, cache)
        if _better(res, cand, tol):
            cand = res
    if cand is best:
        return best
    merged = _without_merged(x, model, cand, time_limit, bs, cache)
    if not _better(cand, merged, tol):
        cand = merged
    cand["hyp"] = best.get("hyp", "") + "s"
    return cand


def _order_by_quality(bs, best, time_limit, tol):
    """``best`` in the order that is best for :func:`.quality._quality` itself (the shortest
    path of :func:`.quality._quality_matrix`), where that scores better (by
    :data:`_SWEEP_ORDER_MARGIN`) and moves pieces apart only; its cuts unchanged.

    The order of a cut set is the shortest path of the normalised seam costs
    (:func:`.quality._evaluate`); the quality also charges the restored seams' level
    offsets, the move cost and the jump term, so a block of pieces between blank rows can
    sit where the seam costs put it though the quality prefers the true place (part B,
    ``page`` 40 vertical strips seed 17: the true cut set in the seam-cost order, 3.5
    worse than in the true order).  :func:`.grow._reorder_blocks` re-orders only the runs
    between strong offset seams (at most 5).

    An order that puts two pieces back side by side that ``best`` keeps apart drops their
    cut in effect, and is not taken: dropping cuts is for :func:`.grow._quality_order`
    and :func:`.grow._refine_weak`, with their own margins.  Without this rule the
    quality's order lost 8 restored images of part B (``moon``, ``text`` 6-10 vertical
    strips, ``page`` 20 h seed 2: each by merging weak true cuts, for a gain of
    0.2-2.4), and restored one more (``page`` 10 h seed 17).  Not after twin cuts were
    forced either (hypothesis ``t``: :func:`.grow._add_twins` keeps cuts the quality
    does not want), as in :func:`.grow._quality_order`."""
    if len(best["order"]) < 3 or "t" in best.get("hyp", ""):
        return best
    cand = [int(k) for k in _solve_order(_quality_matrix(best, bs), time_limit=time_limit)[0]]
    q = _quality_bs(best["raw"], cand, best["cuts"], int(best["ends"][-1]), bs)
    together = {(a, b) for a, b in zip(cand[:-1], cand[1:]) if b == a + 1}
    kept = {(a, b) for a, b in zip(best["order"][:-1], best["order"][1:]) if b == a + 1}
    if together <= kept and q < best["quality"] - tol - _SWEEP_ORDER_MARGIN:
        return dict(best, order=cand, quality=q, optimal=False, hyp=best.get("hyp", "") + "m")
    return best
