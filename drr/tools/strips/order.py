"""The restored order: shortest Hamiltonian path of the directed seam costs, exact by Held-Karp
dynamic programming or by branch and bound on the assignment relaxation (Karp patching and
or-opt for the upper bound), with the lower bound when optimality is not proven.
"""

from __future__ import annotations

import time

import numba
import numpy as np

_DP_MAX = 12          # exact Held-Karp up to this many strips


def _held_karp(d):
    """Exact shortest Hamiltonian path of the directed matrix d (n <= ~15); numba kernel
    :func:`_held_karp_kernel` (the same sums and ties as the numpy version it replaced,
    whose Python loop over the layers and end nodes took 3.1 ms at 12 strips, the kernel
    1.2 ms)."""
    n = d.shape[0]
    if n == 1:
        return [0]
    dd = np.ascontiguousarray(np.where(np.isfinite(d), d, 1e300), dtype=np.float64)
    return [int(k) for k in _held_karp_kernel(dd)]


@numba.njit(cache=True, nogil=True)
def _held_karp_kernel(dd):
    """Held-Karp on ``dd`` (n, n), finite: ``dp[mask, k]``, the shortest path through the
    nodes of ``mask`` ending at ``k``, is the first minimum over the last-but-one node
    ``j`` of ``dp[mask - k, j] + dd[j, k]`` (the nodes outside ``mask - k`` are inf there
    and never the first minimum).  Returns the path, (n,) int64."""
    n = dd.shape[0]
    full = 1 << n
    dp = np.full((full, n), np.inf)
    parent = np.full((full, n), -1, dtype=np.int64)
    for j in range(n):
        dp[1 << j, j] = 0.0
    for mask in range(1, full):
        if mask & (mask - 1) == 0:
            continue                              # one node: the paths start there
        for k in range(n):
            if not (mask >> k) & 1:
                continue
            prev = mask ^ (1 << k)
            best = np.inf
            arg = 0
            for j in range(n):
                if (prev >> j) & 1:
                    c = dp[prev, j] + dd[j, k]
                    if c < best:
                        best = c
                        arg = j
            dp[mask, k] = best
            parent[mask, k] = arg
    mask = full - 1
    k = np.argmin(dp[mask])
    path = np.empty(n, dtype=np.int64)
    for t in range(n - 1, -1, -1):
        path[t] = k
        pk = parent[mask, k]
        mask ^= 1 << k
        k = pk
    return path


def _path_cost(d, path):
    return float(sum(d[a, b] for a, b in zip(path, path[1:])))


def _tour_matrix(d, big):
    n = d.shape[0]
    m = np.zeros((n + 1, n + 1))
    m[:n, :n] = np.where(np.isfinite(d), d, big)
    m[np.arange(n + 1), np.arange(n + 1)] = big
    return m


def _cycles(succ):
    n = len(succ)
    seen = np.zeros(n, bool)
    cyc = []
    for s in range(n):
        if seen[s]:
            continue
        c = []
        k = s
        while not seen[k]:
            seen[k] = True
            c.append(k)
            k = succ[k]
        cyc.append(c)
    return cyc


def _patch(m, succ):
    """Karp's patching: merge the sub-tours of an assignment into one tour.

    Repeatedly the two longest sub-tours (first found on ties) are merged by the cheapest
    exchange of successors (first on ties); numba kernel :func:`_patch_kernel` (the
    Python version :func:`_patch_py` is the reference)."""
    return [int(v) for v in _patch_kernel(np.ascontiguousarray(m, dtype=np.float64),
                                          np.asarray(succ, dtype=np.int64))]


@numba.njit(cache=True, nogil=True)
def _patch_kernel(m, succ):
    succ = succ.copy()
    n = succ.size
    cid = np.empty(n, dtype=np.int64)
    first = np.empty(n, dtype=np.int64)      # smallest node of each cycle (its start)
    length = np.empty(n, dtype=np.int64)
    while True:
        cid[:] = -1
        nc = 0
        for s0 in range(n):
            if cid[s0] >= 0:
                continue
            k = s0
            ln = 0
            while cid[k] < 0:
                cid[k] = nc
                k = succ[k]
                ln += 1
            first[nc] = s0
            length[nc] = ln
            nc += 1
        if nc <= 1:
            return succ
        # stable sort by decreasing length: the longest (first on ties), then the next
        big = 0
        for c in range(1, nc):
            if length[c] > length[big]:
                big = c
        small = -1
        for c in range(nc):
            if c != big and (small < 0 or length[c] > length[small]):
                small = c
        best = np.inf
        ba, bb = -1, -1
        a = first[big]
        for _ in range(length[big]):
            sa = succ[a]
            b = first[small]
            for _ in range(length[small]):
                sb = succ[b]
                delta = m[a, sb] + m[b, sa] - m[a, sa] - m[b, sb]
                if ba < 0 or delta < best:
                    best = delta
                    ba, bb = a, b
                b = sb
            a = sa
        t = succ[ba]
        succ[ba] = succ[bb]
        succ[bb] = t


def _patch_py(m, succ):
    """:func:`_patch` in plain Python (reference for the tests)."""
    succ = list(succ)
    cyc = _cycles(succ)
    while len(cyc) > 1:
        cyc.sort(key=len, reverse=True)
        big_c, small = cyc[0], cyc[1]
        best = None
        for a in big_c:
            sa = succ[a]
            for b in small:
                sb = succ[b]
                delta = m[a, sb] + m[b, sa] - m[a, sa] - m[b, sb]
                if best is None or delta < best[0]:
                    best = (delta, a, b)
        _, a, b = best
        succ[a], succ[b] = succ[b], succ[a]
        cyc = _cycles(succ)
    return succ


def _tour_to_path(succ, n):
    """Tour through dummy node n -> path of the n real nodes."""
    path = []
    k = succ[n]
    while k != n:
        path.append(k)
        k = succ[k]
    return path


def _or_opt(d, path, max_seg=3, max_pass=50):
    """Segment moves (no reversal) on a directed path, until no move improves.

    For each segment of 1..``max_seg`` consecutive nodes (left to right), the cheapest
    re-insertion elsewhere (first on ties) is applied when it gains more than a relative
    1e-12; passes repeat until one makes no move (numba kernel :func:`_or_opt_kernel`).
    """
    n = len(path)
    if n < 3:
        return path
    dd = np.where(np.isfinite(d), d, 1e18)
    # work on the path with virtual ends: cost 0 to/from the ends
    ext = np.zeros((n + 1, n + 1))
    ext[:n, :n] = dd
    p = _or_opt_kernel(ext, np.asarray(path, dtype=np.int64), max_seg, max_pass)
    return [int(t) for t in p]


@numba.njit(cache=True, nogil=True)
def _or_opt_kernel(ext, path, max_seg, max_pass):
    """:func:`_or_opt` on ``ext`` ((n+1, n+1), node n = both virtual ends)."""
    n = path.size
    arr = np.empty(n + 2, dtype=np.int64)
    arr[0] = n
    arr[1:n + 1] = path
    arr[n + 1] = n
    rest = np.empty(n + 2, dtype=np.int64)
    new = np.empty(n + 2, dtype=np.int64)
    for _ in range(max_pass):
        improved = False
        for seg in range(1, max_seg + 1):
            i = 0
            while i + seg <= n:
                s0, s1 = i + 1, i + seg             # segment positions in arr
                a, b = arr[s0 - 1], arr[s1 + 1]
                u, v = arr[s0], arr[s1]
                rem_gain = ext[a, u] + ext[v, b] - ext[a, b]
                m = 0
                for t in range(s0):
                    rest[m] = arr[t]
                    m += 1
                for t in range(s1 + 1, n + 2):
                    rest[m] = arr[t]
                    m += 1
                best = np.inf
                k = -1
                for q in range(m - 1):
                    if q == s0 - 1:                 # same place
                        continue
                    x_, y_ = rest[q], rest[q + 1]
                    val = ext[x_, u] + ext[v, y_] - ext[x_, y_]
                    if val < best:
                        best = val
                        k = q
                if k >= 0 and best < rem_gain - 1e-12 * max(1.0, abs(rem_gain)):
                    o = 0
                    for t in range(k + 1):
                        new[o] = rest[t]
                        o += 1
                    for t in range(s0, s1 + 1):
                        new[o] = arr[t]
                        o += 1
                    for t in range(k + 1, m):
                        new[o] = rest[t]
                        o += 1
                    arr[:] = new
                    improved = True
                else:
                    i += 1
        if not improved:
            break
    return arr[1:n + 1].copy()


def _or_opt_py(d, path, max_seg=3, max_pass=50):
    """:func:`_or_opt` in plain Python (reference for the tests)."""
    n = len(path)
    if n < 3:
        return path
    dd = np.where(np.isfinite(d), d, 1e18)
    # work on the path with virtual ends: cost 0 to/from the ends
    ext = np.zeros((n + 1, n + 1))
    ext[:n, :n] = dd
    p = list(path)
    for _ in range(max_pass):
        improved = False
        for seg in range(1, max_seg + 1):
            i = 0
            while i + seg <= n:
                arr = np.array([n] + p + [n])       # positions 0..n+1
                s0, s1 = i + 1, i + seg             # segment positions in arr
                a, b = arr[s0 - 1], arr[s1 + 1]
                u, v = arr[s0], arr[s1]
                rem_gain = ext[a, u] + ext[v, b] - ext[a, b]
                rest = np.concatenate([arr[:s0], arr[s1 + 1:]])
                x_, y_ = rest[:-1], rest[1:]
                ins = ext[x_, u] + ext[v, y_] - ext[x_, y_]
                ins[s0 - 1] = np.inf                # same place
                k = int(np.argmin(ins))
                if ins[k] < rem_gain - 1e-12 * max(1.0, abs(rem_gain)):
                    segm = list(arr[s0:s1 + 1])
                    rest_l = list(rest)
                    newarr = rest_l[:k + 1] + segm + rest_l[k + 1:]
                    p = [int(t) for t in newarr[1:-1]]
                    improved = True
                else:
                    i += 1
        if not improved:
            break
    return p


def _solve_order(d, time_limit=1.0, node_limit=20000):
    """Shortest Hamiltonian path of d. Returns (path, optimal, lower_bound)."""
    from scipy.optimize import linear_sum_assignment

    n = d.shape[0]
    if n == 1:
        return [0], True, 0.0
    if n <= _DP_MAX:
        path = _held_karp(d)
        c = _path_cost(d, path)
        return path, True, c
    finite = d[np.isfinite(d)]
    big = 10.0 * (float(finite.sum()) + 1.0) if finite.size else 1.0
    m = _tour_matrix(d, big)
    r, col = linear_sum_assignment(m)
    root_lb = float(m[r, col].sum())
    succ = list(col)
    tour = _patch(m, succ)
    best_path = _or_opt(d, _tour_to_path(tour, n))
    ub = _path_cost(d, best_path)
    tol = 1e-9 * max(1.0, abs(ub))
    if ub - root_lb <= tol:
        return best_path, True, root_lb
    # depth-first branch and bound on the assignment relaxation (sub-tour elimination:
    # for the shortest sub-tour arcs e_1..e_k, child t excludes e_t and keeps e_1..e_{t-1})
    t0 = time.perf_counter()
    stack = [(root_lb, (), (), succ)]
    nodes = 0
    open_lbs_min = None
    complete = True
    while stack:
        lb, excl, incl, s = stack.pop()
        if lb >= ub - tol:
            continue
        nodes += 1
        if nodes > node_limit or time.perf_counter() - t0 > time_limit:
            complete = False
            rest = [lb] + [t[0] for t in stack]
            open_lbs_min = min(rest)
            break
        cyc = _cycles(s)
        if len(cyc) == 1:
            path = _tour_to_path(s, n)
            c = _path_cost(d, path)
            if c < ub:
                ub, best_path = c, path
            continue
        # improve the upper bound from this node too
        cand = _or_opt(d, _tour_to_path(_patch(m, s), n), max_pass=3)
        c = _path_cost(d, cand)
        if c < ub - tol:
            ub, best_path = c, cand
        cyc.sort(key=len)
        arcs = [(a, s[a]) for a in cyc[0]]
        children = []
        for t, (a, b) in enumerate(arcs):
            ex = excl + ((a, b),)
            inc = incl + tuple(arcs[:t])
            mm = m.copy()
            for (u, v) in ex:
                mm[u, v] = big * 100.0
            for (u, v) in inc:
                keep = mm[u, v]
                mm[u, :] = big * 100.0
                mm[:, v] = big * 100.0
                mm[u, v] = keep
            rr, cc = linear_sum_assignment(mm)
            clb = float(mm[rr, cc].sum())
            if clb >= big * 50.0:
                continue
            if clb < ub - tol:
                children.append((clb, ex, inc, list(cc)))
        children.sort(key=lambda t: -t[0])
        stack.extend(children)
    if complete:
        return best_path, True, ub
    lb = min(open_lbs_min, ub) if open_lbs_min is not None else root_lb
    return best_path, False, max(lb, root_lb)
