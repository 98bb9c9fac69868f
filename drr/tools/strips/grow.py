"""The joint search of cuts and order after the candidates (number of strips unknown): cuts added
one at a time while the restored image improves (boundaries with cut evidence among them),
strong column jumps, twin cuts and the weak peaks added at once, pairs of cuts tried together,
cuts shifted onto a stronger jump, weak cuts dropped or moved, cuts dropped where the quality's
own order keeps their pieces together.
"""

from __future__ import annotations

import itertools

import numpy as np

from .candidates import _over_segment, _partner_scores, _twin_cuts
from .order import _solve_order
from .quality import (_JUMP_Z, _better, _evaluate, _order_for_cuts, _quality_bs,
                      _quality_matrix, _without_merged)

_PARTNER_MIN = 0.5    # partner score (log ratio) of a cut that _grow tries first (at least)
_PARTNER_MARGIN = 0.5  # quality gain that such a cut must bring (on top of _MOVE_COST)
_GROW_Z = 1.3         # relative boundary score of a _grow candidate (at least)
_GROW_Z_LOW = 1.2     # ... or at least this where a better partner exists (partner score > 0)
_GROW_JUMPS = True    # _grow also tries the local maxima of the cut evidence (jump z) ...
_GROW_JUMP_Z = 2.0    # ... from this value (page 40 v seed 2: a true cut at evidence 2.7;
#                       the trials that change nothing are free, so the cost is small; 1.5:
#                       the same results)


def _grow(x, model, bs, best, time_limit, cache, max_trials=32, z_min=_GROW_Z):
    """Joint search: add candidate cuts one by one while the restored image improves.

    Candidates are the local maxima of the relative boundary score not yet cut, best
    first; a cut is kept when re-ordering with it lowers the score of :func:`_evaluate`
    (it must undo a discontinuity, not only look like one).  Unused cuts are dropped.
    A trial whose cut changes nothing (its two pieces stay side by side, the same
    quality) does not count against ``max_trials``, up to :data:`_NOOP_EVALS` ``*
    max_trials`` evaluations in all: where most candidates are natural boundaries (a
    document's text, a texture) they used up the trials before a true cut further down
    the list was tried.  Candidates scoring between :data:`_GROW_Z_LOW` and ``z_min``
    are tried only where a better partner exists (partner score > 0; most natural
    boundaries score below 0).  Last (with :data:`_GROW_JUMPS`) the local maxima of the
    cut evidence ``bs[2]`` (jump or level offset, :func:`.search._cut_evidence`) from
    :data:`_GROW_JUMP_Z` not in the list: a true cut beside a natural boundary of higher
    relative score is not a peak of that score.  Before the candidates, the weak peaks
    all together (:func:`_add_bulk`); after them (with :data:`_SHOULDERS`) the
    neighbours of the cuts tried and not kept (:func:`_shoulders`), then pairs of the cuts
    tried and not kept (:func:`_add_pairs`; among the first :data:`_PAIR_K_WIDE` where the
    start was not a near-equal-widths candidate, else :data:`_PAIR_K`); last, the cuts
    whose pieces the quality's own order keeps together are dropped
    (:func:`_quality_order`).
    """
    w = x.shape[1]
    s, base = bs[:2]
    z = s / base
    zz = np.concatenate([[0.0], z, [0.0]])
    rank = np.maximum(z, s / max(float(np.median(s)), 1e-12))
    # boundaries with a better partner among the cuts found so far come first: a weak
    # cut in a periodic texture does not stand out from its neighbours (rank) but the piece
    # before it continues into the start of another piece (:func:`_partner_scores`)
    p = _partner_scores(x, model, z, extra=best["cuts"])
    # candidates: local maxima of z whose rank is above z_min, or above _GROW_Z_LOW where a
    # better partner exists at all (p > 0: a true cut in coins scored 1.29)
    peak = ((zz[1:-1] >= zz[:-2]) & (zz[1:-1] >= zz[2:])
            & ((rank > z_min) | ((rank > _GROW_Z_LOW) & (p > 0))))
    cand = [int(b) + 1 for b in np.flatnonzero(peak)]
    cand.sort(key=lambda b: -rank[b - 1])
    first = [b for b in _over_segment(p, thresh=_PARTNER_MIN, min_width=2)
             if b not in best["cuts"]]
    first.sort(key=lambda b: -p[b - 1])
    lead = set(first[:max_trials // 2])
    cand = first[:max_trials // 2] + [b for b in cand if b not in lead]
    tol = 1e-9 * (1.0 + float(s.sum()))
    jz = bs[2] if len(bs) > 2 else None
    if jz is not None and _GROW_JUMPS:
        # then the boundaries with cut evidence (jump or level offset) that are not
        # candidates yet: page 40 v, a true cut (offset 6 grey levels) beside a natural
        # boundary of higher relative score, which is the peak
        have = set(cand)
        ev = [b for b in _strong_jumps(jz, w, [], z_min=_GROW_JUMP_Z) if b not in have]
        ev.sort(key=lambda b: -jz[b - 1])
        cand = cand + ev
    if jz is not None and _JUMP_ADD:
        best = _add_jumps(x, model, bs, best, time_limit, cache, jz, tol)
    if _TWINS:
        best = _add_twins(x, model, bs, best, time_limit, cache, tol)
    if _BULK:
        best = _add_bulk(x, model, bs, best, time_limit, cache, tol)
    best, tried = _add_one_by_one(x, model, bs, best, time_limit, cache, cand, lead,
                                  max_trials, tol)
    if _SHOULDERS and tried:
        sh = _shoulders(rank, w, tried, best["cuts"], z_min)
        if sh:
            best, more = _add_one_by_one(x, model, bs, best, time_limit, cache, sh, set(),
                                         _SHOULDER_TRIALS, tol)
            tried = tried + more
    if _PAIRS and tried:
        k = _PAIR_K if best.get("hyp", "").startswith("equal") else _PAIR_K_WIDE
        best = _add_pairs(x, model, bs, best, time_limit, cache, tried, tol, k=k)
    if jz is not None and _JUMP_SHIFT:
        best = _shift_to_jumps(x, model, bs, best, time_limit, cache, jz, tol)
    if jz is not None and _REFINE_WEAK:
        best = _refine_weak(x, model, bs, best, time_limit, cache, jz, tol)
    if _REORDER and len(bs) > 3:
        best = _reorder_blocks(bs, best, tol)
    if _QUALITY_ORDER and len(bs) > 3:
        before = best
        best = _quality_order(x, model, bs, best, time_limit, cache, tol)
        if _QUALITY_ORDER_REGROW and best is not before:
            best = _add_one_by_one(x, model, bs, best, time_limit, cache, cand, set(),
                                   max_trials, tol)[0]
    return best


_SHOULDERS = True       # _grow then tries the neighbours of the candidates tried and not
#                         kept, where their own rank is high too
_SHOULDER_TRIALS = 8    # ... at most this many trials that change something (no-op trials
#                         free as in _add_one_by_one)


def _shoulders(rank, w, tried, cur, z_min):
    """The boundaries next to a cut tried and not kept, not tried themselves, whose rank
    exceeds ``z_min``, best first: a true cut beside a natural boundary of higher score
    (the edge of a text line) is not a local maximum of the rank, so it is no candidate,
    and the natural boundary that is one was rejected (``text``, 40 horizontal strips,
    part B seed 8: the true cut 118, relative score 2.85, beside 119 at 5.0; adding it
    is 2.3 better).  Tried one by one by :func:`_add_one_by_one` after the candidates."""
    cs = set(cur)
    out = set()
    for b in tried:
        if b in cs:
            continue
        for v in (b - 1, b + 1):
            if 1 < v < w - 1 and v not in cs and rank[v - 1] > z_min and v not in tried:
                out.add(v)
    return sorted(out, key=lambda v: (-rank[v - 1], v))


def _add_one_by_one(x, model, bs, best, time_limit, cache, cand, lead, max_trials, tol):
    """The cuts ``cand`` tried one at a time, in that order, each kept where the quality
    improves (by :data:`_PARTNER_MARGIN` more for those in ``lead``); at most
    ``max_trials`` trials that change something (:data:`_FREE_NOOP`).  Returns the best
    result and the cuts tried."""
    w = x.shape[1]
    trials = evals = 0
    tried = []
    for b in cand:
        if trials >= max_trials:
            break
        cur = best["cuts"]
        if b in cur or b - 1 in cur or b + 1 in cur or not 1 < b < w - 1:
            continue
        res = _evaluate(x, model, sorted(cur + [b]), time_limit, bs, cache)
        evals += 1
        tried.append(b)
        if (_FREE_NOOP and abs(res["quality"] - best["quality"]) <= tol
                and evals < _NOOP_EVALS * max_trials):
            continue                    # the cut's pieces stay together: nothing learnt
        trials += 1
        if _better(res, best, tol + (_PARTNER_MARGIN if b in lead else 0.0)):
            merged = _without_merged(x, model, res, time_limit, bs, cache)
            if not _better(res, merged, tol):
                res = merged
            res["hyp"] = best.get("hyp", "") + "+"
            best = res
    return best, tried


_QUALITY_ORDER = True    # _grow ends by dropping the cuts whose pieces the quality's own
#                          order keeps together
_QUALITY_ORDER_REGROW = True  # ... and where it dropped cuts, the candidates are tried one
#                               by one again (no partner margin: page 40 v seed 7, a true
#                               cut 0.26 better once the false ones are gone)
_QUALITY_ORDER_MARGIN = 2.0  # ... kept when the quality improves by this much (without a
#                              margin text 6 v seed 1 lost a true cut, 1.3 better)


def _quality_order(x, model, bs, best, time_limit, cache, tol):
    """Drop the cuts whose two pieces the quality's own order keeps side by side.

    The pieces of ``best`` are ordered by the shortest path of :func:`_quality_matrix`
    (the quality's terms per seam, not the normalised seam costs of :func:`_evaluate`);
    the weak cuts (cut evidence ``bs[2]`` below :data:`_JUMP_Z`; none: nothing is done)
    whose pieces stay together in that order are dropped together, the rest
    ordered and scored as any cut set, and kept where the quality improves by
    :data:`_QUALITY_ORDER_MARGIN` (``page``, 20 vertical strips, part B seed 7: two false
    cuts whose pieces the seam costs separate, 4.7 better without them).  Not after twin
    cuts were forced (:func:`_add_twins`, hypothesis ``t``): those are kept though the
    quality prefers fewer cuts (``moon``, 40 strips: 10 cases lost without this test);
    nor on near-equal widths (a hypothesis ``equal...``): their period is the evidence
    of the cuts through smooth regions (astronaut, 20 equal strips: a true cut with
    evidence -0.4), and this step would cost 4 ms there for nothing."""
    hyp = best.get("hyp", "")
    weak = [c for c in best["cuts"] if bs[2][c - 1] < _JUMP_Z]
    if len(best["order"]) < 3 or not weak or "t" in hyp or hyp.startswith("equal"):
        return best
    order = _solve_order(_quality_matrix(best, bs), time_limit=time_limit)[0]
    nxt = dict(zip(order[:-1], order[1:]))
    keep = [c for k, c in enumerate(best["cuts"]) if c not in weak or nxt.get(k) != k + 1]
    if len(keep) == len(best["cuts"]):
        return best
    res = _evaluate(x, model, keep, time_limit, bs, cache)
    if _better(res, best, tol + _QUALITY_ORDER_MARGIN):
        res["hyp"] = best.get("hyp", "") + "Q"
        return res
    return best


_REORDER = True          # _grow ends by re-ordering the runs between offset seams
_REORDER_Z = 1.0         # ... the separated seams whose offset z exceeds this
_REORDER_MAX_BLOCKS = 5  # ... where they leave at most this many runs (5! = 120 orders)


def _offset_breaks(bs, res):
    """Positions ``i`` in the order of ``res`` where the seam ``order[i - 1] | order[i]``
    joins pieces that were not side by side and its level offset z (``bs[3]``, a
    :class:`.jumps._SeamOffsets`) exceeds :data:`_REORDER_Z`."""
    order = np.asarray(res["order"])
    starts, ends = res["starts"], res["ends"]
    a_, b_ = order[:-1], order[1:]
    zs = bs[3].z(ends[a_], starts[b_], ends[a_] - starts[a_] >= 2, ends[b_] - starts[b_] >= 2)
    return [int(i) + 1 for i in np.flatnonzero((zs > _REORDER_Z) & (b_ != a_ + 1))]


def _reorder_blocks(bs, best, tol):
    """Re-order the runs of pieces between the seams with a level offset, by the quality.

    The order of the pieces is the shortest path of the seam costs (:func:`_evaluate`),
    which do not see the level offsets of :func:`_quality`: between blank rows a block of
    pieces can move at no seam cost where its two seams step the background.  The order
    is cut at the seams whose offset z exceeds :data:`_REORDER_Z`
    (:func:`_offset_breaks`) and every other order of the runs (at most
    :data:`_REORDER_MAX_BLOCKS` runs) is scored by :func:`_quality`; the best is kept if
    it improves the quality (``page``, 20 horizontal strips, part B seed 2: the true cuts
    are found, the seam costs move the last six pieces between blank rows, two seams of
    offset z 4.3 and 4.7; in the true order the quality is 5 lower).  The cuts stay."""
    order = [int(k) for k in best["order"]]
    if len(order) < 3:
        return best
    brk = _offset_breaks(bs, best)
    if not brk or len(brk) + 1 > _REORDER_MAX_BLOCKS:
        return best
    edges = [0] + brk + [len(order)]
    runs = [order[a:b] for a, b in zip(edges[:-1], edges[1:])]
    w = int(best["ends"][-1])
    out = best
    for perm in itertools.permutations(range(len(runs))):
        cand = [k for p in perm for k in runs[p]]
        q = _quality_bs(best["raw"], cand, best["cuts"], w, bs)
        if q < out["quality"] - tol:
            out = dict(best, order=cand, quality=q, optimal=False,
                       hyp=best.get("hyp", "") + "o")
    return out


_PAIRS = True         # _grow then tries pairs of the cuts it tried and did not keep
_PAIR_MARGIN = 1.0    # ... kept when the quality improves by this much
_PAIR_JUMPS = True    # ... and each with the strong column jumps not cut
_PAIR_K = 4           # ... among the first this many such cuts (in the order tried)
_PAIR_K_WIDE = 8      # ... this many where the start was not a near-equal-widths candidate
#                       (page 20 h seed 6: a true cut that helps only with another, the
#                       sixth cut tried; on equal widths, page 6 h seed 2, it found two
#                       natural edges 1.9 better than the truth: there the first four)


def _add_pairs(x, model, bs, best, time_limit, cache, tried, tol, k=None):
    """Try pairs of the cuts that :func:`_grow` tried one at a time and did not keep (the
    first ``k`` in the order tried, best first): a piece moves only when both its ends are
    cut, so two cuts can improve the restored image together where neither does alone
    (``page``, 10 horizontal strips: a cut whose pieces stay together alone and one that
    gains 0.47, 5.4 together).  Kept when the quality improves by :data:`_PAIR_MARGIN`
    (without it two strong natural edges of ``brick`` were cut, 0.59 better than the
    truth); cuts whose pieces stay together are merged.  With :data:`_PAIR_JUMPS`, first
    each of these cuts together with all the strong column jumps not cut
    (:func:`_strong_jumps`): a piece that starts at a jump may move only once its end is
    cut too, where the image need not jump (``page``, 10 vertical strips: two jumps and
    one cut of jump z 0.0, none of which helps alone or in pairs).  The seams are mostly
    cached already (about 0.2 ms per set at 20 strips)."""
    w = x.shape[1]
    k = _PAIR_K if k is None else k
    top = [b for b in tried if b not in best["cuts"]][:k]
    jz = bs[2] if len(bs) > 2 else None
    if _PAIR_JUMPS and jz is not None:
        # the strong column jumps not cut, with each of the cuts: a piece that starts at
        # a jump may need its end cut too, where the image does not jump (page, 10 v)
        sj = _strong_jumps(jz, w, best["cuts"])
        near_sj = set(sj) | {v + d for v in sj for d in (-1, 1)}
        for a in [b for b in tried if b not in best["cuts"] and b not in near_sj][:k] if sj else ():
            cur = best["cuts"]
            if {a - 1, a, a + 1} & set(cur) or not 1 < a < w - 1:
                continue
            res = _evaluate(x, model, sorted(set(cur) | set(sj) | {a}), time_limit, bs, cache)
            res = _without_merged(x, model, res, time_limit, bs, cache)
            if _better(res, best, tol + _PAIR_MARGIN):
                res["hyp"] = best.get("hyp", "") + "q"
                best = res
    for i in range(len(top)):
        for j in range(i + 1, len(top)):
            a, b = top[i], top[j]
            cur = best["cuts"]
            near = set(cur) | {v + d for v in cur for d in (-1, 1)}
            if a in near or b in near or abs(a - b) < 2 or not (1 < a < w - 1 and 1 < b < w - 1):
                continue
            res = _evaluate(x, model, sorted(cur + [a, b]), time_limit, bs, cache)
            if _better(res, best, tol + _PAIR_MARGIN):
                merged = _without_merged(x, model, res, time_limit, bs, cache)
                if not _better(res, merged, tol):
                    res = merged
                res["hyp"] = best.get("hyp", "") + "p"
                best = res
    return best


_BULK = True          # _grow first adds all weak peaks at once, natural seams favoured
_BULK_Z = 1.2         # ... the local maxima of the relative boundary score from this value
_BULK_MAX = 16        # ... at most this many (the highest)
_BULK_FAVOUR = (0.5, 0.25)  # ... each order solved with the natural seams' costs times this


def _bulk_peaks(z, w, cur, z_min=_BULK_Z, k=_BULK_MAX):
    """The local maxima of the relative boundary score ``z`` from ``z_min``, not at or next
    to a cut of ``cur`` nor leaving a 1-pixel end piece, the ``k`` highest."""
    zz = np.concatenate([[0.0], z, [0.0]])
    peak = (zz[1:-1] >= zz[:-2]) & (zz[1:-1] >= zz[2:]) & (z >= z_min)
    cs = set(cur)
    add = [int(i) + 1 for i in np.flatnonzero(peak)
           if 1 < i + 1 < w - 1 and not {i, i + 1, i + 2} & cs]
    add.sort(key=lambda b: -z[b - 1])
    return add[:k]


def _add_bulk(x, model, bs, best, time_limit, cache, tol):
    """Add many weak cuts together: a piece moves only where all the cuts it needs are made.

    All weak peaks of the relative boundary score (:func:`_bulk_peaks`) are added at once
    and the pieces ordered with the cost of each seam that puts an added cut's two pieces
    back side by side multiplied by each factor of :data:`_BULK_FAVOUR` (so a natural
    boundary stays joined unless moving its pieces gains clearly); the added cuts whose
    pieces are then separated are kept, the cut set ordered and scored as any other
    (:func:`_evaluate`, cuts whose pieces stay together merged) and kept where the quality
    improves (``coins``, 40 horizontal strips, part B seed 6: three true cuts that leave
    their pieces together when added alone and a fourth that is worse alone).  Runs before
    the cuts are added one at a time (after the strong jumps and twin cuts); one set of
    seam costs for all pieces and one order per factor."""
    w = x.shape[1]
    cur = best["cuts"]
    add = _bulk_peaks(bs[0] / bs[1], w, cur)
    if not add:
        return best
    cuts = sorted(cur + add)
    starts = np.array([0] + cuts, dtype=np.int64)
    ends = np.array(cuts + [w], dtype=np.int64)
    norm = _order_for_cuts(x, model, starts, ends, time_limit, cache, solve=False)["norm"]
    new = np.flatnonzero(np.isin(ends[:-1], add))
    mats = []
    for f in _BULK_FAVOUR:
        d = norm.copy()
        d[new, new + 1] *= f
        mats.append(d)
    out = best
    tried = set()
    for d in mats:
        order = _solve_order(d, time_limit=time_limit)[0]
        nxt = dict(zip(order[:-1], order[1:]))
        keep = tuple(c for k, c in enumerate(cuts) if c in cur or nxt.get(k) != k + 1)
        if len(keep) == len(cur) or keep in tried:
            continue
        tried.add(keep)
        res = _evaluate(x, model, list(keep), time_limit, bs, cache)
        res = _without_merged(x, model, res, time_limit, bs, cache)
        if _better(res, out, tol):
            res["hyp"] = best.get("hyp", "") + "b"
            out = res
    return out


_FREE_NOOP = True     # a _grow trial that changes nothing does not count against max_trials
_NOOP_EVALS = 3       # ... up to this many evaluations per trial in all
_JUMP_ADD = True      # _grow first tries the strong column jumps not yet cut, all at once
_JUMP_SHIFT = True    # _grow ends by moving a cut by one pixel onto a stronger column jump


def _strong_jumps(jz, w, cur, z_min=_JUMP_Z):
    """Boundaries (cut positions) whose jump z-score is at least ``z_min`` and a local
    maximum, not next to a cut of ``cur`` and leaving no 1-pixel end piece."""
    jj = np.concatenate([[-np.inf], jz, [-np.inf]])
    peak = (jj[1:-1] >= z_min) & (jj[1:-1] >= jj[:-2]) & (jj[1:-1] > jj[2:])
    cs = set(cur)
    return [int(i) + 1 for i in np.flatnonzero(peak)
            if 1 < i + 1 < w - 1 and not ({i, i + 1, i + 2} & cs)]


def _add_jumps(x, model, bs, best, time_limit, cache, jz, tol):
    """Add every strong column jump not yet cut (:func:`_strong_jumps`) in one step.

    A true cut through a document's text lines joins unrelated glyphs in every line, so
    its median jump stands out, but it may move a piece only together with another cut
    (one cut at a time does not improve the order); natural edges added here are merged
    back by :func:`_merge_kept`.  Kept when :func:`_quality` improves."""
    add = _strong_jumps(jz, x.shape[1], best["cuts"])
    if not add:
        return best
    res = _evaluate(x, model, sorted(best["cuts"] + add), time_limit, bs, cache)
    res = _without_merged(x, model, res, time_limit, bs, cache)
    if _better(res, best, tol):
        res["hyp"] = best.get("hyp", "") + "j"
        return res
    return best


_TWINS = True         # _grow adds the cuts implied by twinless columns (pixel-doubled image)
_TWIN_FORCE = True    # ... and keeps them even where the quality does not improve


def _add_twins(x, model, bs, best, time_limit, cache, tol):
    """Add every cut implied by a twinless column (:func:`_twin_cuts`) not yet cut, nor
    next to a cut, in one step (a piece moves only when both its ends are cut), then
    merge the cuts whose pieces stay together.

    The result is kept even when :func:`_quality` does not improve (with
    :data:`_TWIN_FORCE`): a twinless column proves a cut beside it, whereas the quality
    charges each moved cut whose column jump is weak (in ``moon``'s smooth regions true
    cuts have jump z 1-2.5), and the truth scored worse than an answer without such cuts
    (``moon``, 40 strips, 3 of 6 cases)."""
    cur = set(best["cuts"])
    add = [b for b in _twin_cuts(x, bs[0]) if not {b - 1, b, b + 1} & cur]
    if not add:
        return best
    res = _evaluate(x, model, sorted(best["cuts"] + add), time_limit, bs, cache)
    res = _without_merged(x, model, res, time_limit, bs, cache)
    if _TWIN_FORCE or _better(res, best, tol):
        res["hyp"] = best.get("hyp", "") + "t"
        return res
    return best


def _shift_to_jumps(x, model, bs, best, time_limit, cache, jz, tol):
    """Move a cut by one pixel where the neighbouring boundary has a much stronger column
    jump (a text glyph's stroke next to the true cut can score higher on the seam
    statistic; the median jump of the true cut is higher).  Kept when the quality
    improves."""
    w = x.shape[1]
    for c in list(best["cuts"]):
        cur = best["cuts"]
        if c not in cur:
            continue
        for d in (-1, 1):
            b = c + d
            if not 1 < b < w - 1 or b in cur or jz[b - 1] < max(_JUMP_Z, jz[c - 1] + 1.0):
                continue
            res = _evaluate(x, model, sorted([v for v in cur if v != c] + [b]), time_limit,
                            bs, cache)
            if _better(res, best, tol):
                res["hyp"] = best.get("hyp", "") + "s"
                best = res
                break
    return best


_REFINE_WEAK = True   # _grow ends by dropping or moving the cuts with a weak column jump
_REFINE_MARGIN = 0.5  # quality gain that such a change must bring
_REFINE_DROP_Z = 2.0  # relative boundary score from which a weak cut may be dropped
_REFINE_TRIALS = 32   # cut sets that _refine_weak orders and scores (at most)
_REFINE_PASSES = 2    # ... passes over the weak cuts (the next only after a change; within
#                       the same _REFINE_TRIALS)
_REFINE_REORDER = True  # ... each trial (and the answer it starts from) re-ordered by
#                         _reorder_blocks before it is judged
_REFINE_MERGE = True  # ... a drop judged without the cuts whose pieces stay together


def _refine_weak(x, model, bs, best, time_limit, cache, jz, tol, max_trials=_REFINE_TRIALS):
    """Drop a weak cut, or move it by one pixel onto a stronger column jump, where the
    quality improves by at least :data:`_REFINE_MARGIN`.

    A weak cut is one whose jump z-score ``jz`` is below :data:`_JUMP_Z` (it pays the jump
    term of :func:`_quality`).  :func:`_grow` adds cuts one at a time, judged with the
    cuts of the moment: a cut on a natural edge (the top of a text line, a glyph's stroke)
    that helped an earlier set can be useless once the true cuts are in, and a cut one
    pixel beside the true one (on a glyph's edge) scores higher on the seam statistic
    than the true cut but has the weaker median jump.  Both stand out on the seam score
    and not on the jump, so the weak cuts are taken by decreasing relative boundary score,
    until ``max_trials`` cut sets have been scored.  For each: the cut set without it (only when its
    relative score is at least :data:`_REFINE_DROP_Z`: a true cut through blank rows or
    columns scores low and pays the jump term too, and dropping it would often look
    better) and the set with it moved to the neighbouring boundary whose jump z is
    higher than its own (not next to another cut); each is ordered and scored, and kept
    when the quality improves by the margin (this step revisits decisions already made,
    so a near tie leaves them as they are).  A drop is judged without the cuts whose
    pieces then stay together (with :data:`_REFINE_MERGE`), and after a pass that changed
    something the weak cuts are taken again (:data:`_REFINE_PASSES`): a drop can pay only
    once another cut is gone.  With :data:`_REFINE_REORDER` each trial, and the answer it
    is compared with, is re-ordered by :func:`_reorder_blocks` first: a false cut whose
    drop lets the seam costs move a block of pieces between blank rows is worse in that
    order and better once the blocks are re-ordered (``page``, 20 horizontal strips, part
    B seed 5: 3.7 worse, 5 better)."""
    z = bs[0] / bs[1]
    if _REFINE_REORDER and len(bs) > 3:
        best = _reorder_blocks(bs, best, tol)
    trials_left = max_trials
    for _ in range(_REFINE_PASSES):
        weak = [c for c in best["cuts"] if jz[c - 1] < _JUMP_Z]
        weak.sort(key=lambda c: -z[c - 1])
        before = best
        best, trials_left = _refine_pass(x, model, bs, best, time_limit, cache, jz, tol,
                                         weak, trials_left)
        if best is before or trials_left <= 0:
            break
    return best


def _refine_pass(x, model, bs, best, time_limit, cache, jz, tol, weak, trials_left):
    """One pass of :func:`_refine_weak` over the cuts ``weak``, in that order, scoring at
    most ``trials_left`` cut sets; returns the best result and the trials left."""
    w = x.shape[1]
    z = bs[0] / bs[1]
    for c in weak:
        cur = best["cuts"]
        if trials_left <= 0:
            break
        if c not in cur:
            continue
        rest = [v for v in cur if v != c]
        trials = [rest] if z[c - 1] >= _REFINE_DROP_Z else []
        # moved towards the neighbouring boundary with the stronger jump, if stronger
        nb = [b for b in (c - 1, c + 1) if 1 < b < w - 1 and jz[b - 1] > jz[c - 1]
              and not {b - 1, b, b + 1} & set(rest)]
        if nb:
            trials.append(sorted(rest + [max(nb, key=lambda b: jz[b - 1])]))
        for t in trials[:trials_left]:
            trials_left -= 1
            res = _evaluate(x, model, t, time_limit, bs, cache)
            if _REFINE_MERGE and len(t) < len(cur):
                # a drop judged without the cuts whose pieces stay together (page 10 h
                # seed 3: dropping a false cut gains 0.49 with such a cut, 0.59 without)
                merged = _without_merged(x, model, res, time_limit, bs, cache)
                if not _better(res, merged, tol):
                    res = merged
            if _REFINE_REORDER and len(bs) > 3:
                res = _reorder_blocks(bs, res, tol)
            if _better(res, best, tol + _REFINE_MARGIN):
                res["hyp"] = best.get("hyp", "") + "r"
                best = res
    return best, trials_left
