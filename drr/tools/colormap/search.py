"""Bounding-sphere search along the curve (Numba kernels): the nearest sample of a colour, the runs of
samples within a radius of it (branches), and the sRGB projection inside a branch."""

from __future__ import annotations

import math

import numba
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

_LANES = 32  # samples per block in the masked kernels (curve._BLOCK): one bit each in a uint64
_BLOCK_LANES = 64  # block spheres per mask in the nearest search


def _samples_soa(lab):
    """The samples (M, 3) as three rows (3, M'), M' the next multiple of ``_LANES``, +inf beyond M.

    The masked kernels test the ``_LANES`` samples of a block at once
    (:func:`_within_mask`): from these contiguous rows the compiler loads
    and compares whole vectors.  A padding sample's squared distance is
    +inf: never within a finite bound.
    """
    m = lab.shape[0]
    out = np.full((3, -(-m // _LANES) * _LANES), np.inf)
    out[:, :m] = lab.T
    return out


def _blocks_soa(bc, br):
    """The block spheres as four rows (centre x, y, z, radius), padded to a multiple of
    ``_BLOCK_LANES`` with +inf (out of reach of a finite bound; :func:`_nearest_from` drops
    the padding's bits)."""
    nb = bc.shape[0]
    out = np.full((4, -(-nb // _BLOCK_LANES) * _BLOCK_LANES), np.inf)
    out[:3, :nb] = bc.T
    out[3, :nb] = br
    return out


def _check_block(block):
    if block != _LANES:
        raise ValueError(f"the masked search kernels need blocks of {_LANES} samples, not {block}")


@numba.njit(cache=True, inline="always")  # inlined: see _branch_scan_kernel
def _sample_d2(px, py, pz, lab, k):
    """Squared distance of the colour (px, py, pz) to curve sample ``k``: the one expression of
    every scalar test here (and of :func:`_within_mask`, lane by lane)."""
    dx = px - lab[k, 0]
    dy = py - lab[k, 1]
    dz = pz - lab[k, 2]
    return dx * dx + dy * dy + dz * dz


@numba.njit(cache=True, inline="always")  # inlined: see _branch_scan_kernel
def _offer(px, py, pz, k, best, kbest, lab):
    """``(best, kbest)`` with sample ``k`` offered: the lexicographic minimum of (d², k)."""
    d2 = _sample_d2(px, py, pz, lab, k)
    if d2 < best or (d2 == best and k < kbest):
        return d2, k
    return best, kbest


@numba.njit(cache=True, inline="always")  # inlined: see _branch_scan_kernel
def _within_mask(px, py, pz, t2, lx, ly, lz, k0):
    """Bit ``i`` set where sample ``k0 + i`` (i < ``_LANES``) has ``dx*dx + dy*dy + dz*dz <= t2``.

    The squared distance is the scalar kernels' expression (the same
    operations in the same order; no contraction into FMAs without
    fastmath), so each bit is that scalar test.  The indices are unsigned:
    numba then needs no wraparound select per lane, and the loop compiles to
    contiguous vector loads and compares (signed ones gave gathers).
    """
    mask = np.uint64(0)
    for i in range(_LANES):
        j = np.uint64(k0 + i)
        dx = px - lx[j]
        dy = py - ly[j]
        dz = pz - lz[j]
        mask |= np.uint64(dx * dx + dy * dy + dz * dz <= t2) << np.uint64(i)
    return mask


@numba.njit(cache=True, inline="always")  # inlined: see _branch_scan_kernel
def _extend_by_mask(u, k0, mask, last, run_lo, kn, p, lab, lx, ly, lz, bc, br, block, max_br, est, lo, hi, bd,
                    stored, count):
    """The samples ``k0 + i`` of the set bits of ``mask`` join colour ``u``'s runs, in increasing
    order, a stretch of consecutive bits at a time (:func:`_extend_run`): the same runs as one
    sample at a time; bits from the curve's end ``m`` on are dropped (a padding sample passes
    only an infinite radius).  Returns ``(last, run_lo, stored, count)``."""
    m = lab.shape[0]
    if k0 + _LANES > m:
        mask &= (np.uint64(1) << np.uint64(m - k0)) - np.uint64(1)
    while mask != 0:
        i = trailing_zeros(mask)
        ln = trailing_zeros(~(mask >> np.uint64(i)))  # the stretch of set bits from i (mask < 2**_LANES)
        last, run_lo, stored, count = _extend_run(u, k0 + i, k0 + i + ln, last, run_lo, kn, p, lab, lx, ly, lz, bc,
                                                  br, block, max_br, est, lo, hi, bd, stored, count)
        mask &= ~(((np.uint64(1) << np.uint64(ln)) - np.uint64(1)) << np.uint64(i))
    return last, run_lo, stored, count


def _branch_scan(p, radius, k_near, lab, gc, gr, group, bc, br, block, max_br, est, lo, hi, bd, nbr):
    """:func:`_branch_scan_kernel` (``block`` must be ``_LANES``)."""
    _check_block(block)
    _branch_scan_kernel(p, radius, k_near, lab, _samples_soa(lab), gc, gr, group, bc, br, block, max_br,
                        est, lo, hi, bd, nbr)


@numba.njit(cache=True, parallel=True)
def _branch_scan_kernel(p, radius, k_near, lab, ls, gc, gr, group, bc, br, block, max_br, est, lo, hi, bd, nbr):
    """For each colour p[u]: runs of curve samples within radius[u]; keep the max_br closest.

    Groups of ``group`` blocks (spheres gc, gr) and blocks of ``block``
    samples (spheres bc, br) that do not reach the ball are skipped, and a
    block wholly inside the ball only extends the current run: samples are
    tested only in blocks that cross the sphere, all ``block`` of them at
    once (:func:`_within_mask`, ``ls`` the samples of
    :func:`_samples_soa`), then :func:`_run_best` finds each run's closest
    sample.

    est: fractional sample index of the best point of each run (projected onto
    the adjacent segments, or the middle of a run of exactly tied samples);
    bd: its distance, +inf in the slots left without a run, where ``est``,
    ``lo`` and ``hi`` are 0 (every slot is written here, so the five
    outputs may be given uninitialised).

    The helpers (:func:`_close_run`, :func:`_run_best`, :func:`_store`,
    :func:`_project`, :func:`_rgb_d2`) are inlined (``inline="always"``): as
    calls they cost ~120 ns per colour (viridis noisy 1000^2, 211 k colours:
    scan 66 -> 51 ms on one thread; same arithmetic, same output).
    """
    m = lab.shape[0]
    nblk = bc.shape[0]
    lx, ly, lz = ls[0], ls[1], ls[2]
    for u in numba.prange(p.shape[0]):
        px, py, pz = p[u, 0], p[u, 1], p[u, 2]
        r = radius[u]
        r2 = r * r
        kn = k_near[u]
        count = 0
        stored = 0
        last = -2
        run_lo = -1
        for g in range(gc.shape[0]):
            dx = px - gc[g, 0]
            dy = py - gc[g, 1]
            dz = pz - gc[g, 2]
            reach = r + gr[g] + 1e-9
            dg2 = dx * dx + dy * dy + dz * dz
            if dg2 > reach * reach:
                continue
            inner = r - gr[g] - 1e-9
            if inner > 0.0 and dg2 < inner * inner:  # the whole group inside: one stretch of the run
                k0 = g * group * block
                k1 = min(k0 + group * block, m)
                last, run_lo, stored, count = _extend_run(u, k0, k1, last, run_lo, kn, p, lab, lx, ly, lz, bc, br,
                                                          block, max_br, est, lo, hi, bd, stored, count)
                continue
            for b in range(g * group, min((g + 1) * group, nblk)):
                dx = px - bc[b, 0]
                dy = py - bc[b, 1]
                dz = pz - bc[b, 2]
                db2 = dx * dx + dy * dy + dz * dz
                reach = r + br[b] + 1e-9
                # db2 beyond reach² by more than rounding: sqrt(db2) > reach surely, the
                # same skip as below without the square root (most blocks tested are skipped)
                if db2 > reach * reach * (1.0 + 1e-12):
                    continue
                dc = math.sqrt(db2)
                if dc > reach:
                    continue
                k0 = b * block
                k1 = min(k0 + block, m)
                if dc + br[b] < r - 1e-9:  # wholly inside: one stretch of the run
                    last, run_lo, stored, count = _extend_run(u, k0, k1, last, run_lo, kn, p, lab, lx, ly, lz, bc,
                                                              br, block, max_br, est, lo, hi, bd, stored, count)
                    continue
                # the block crosses the sphere: its samples tested at once (the padding's bits are 0)
                last, run_lo, stored, count = _extend_by_mask(u, k0, _within_mask(px, py, pz, r2, lx, ly, lz, k0),
                                                              last, run_lo, kn, p, lab, lx, ly, lz, bc, br, block,
                                                              max_br, est, lo, hi, bd, stored, count)
        if run_lo >= 0:
            stored, count = _close_run(u, run_lo, last, kn, p, lab, lx, ly, lz, bc, br, block,
                                       max_br, est, lo, hi, bd, stored, count)
        _finish_colour(u, stored, count, max_br, est, lo, hi, bd, nbr)


_CELL = 2.0  # ΔE: edge of the CIELAB cells whose colours share one list of blocks (:func:`_branch_scan_cells`)
# below this many colours the plain scan: the cells hold few colours each and their lists do not
# pay (twilight noisy 1000^2: 324 k colours, ~32 a non-empty cell; random subsets of them, one
# thread: 10 k colours 3.5 ms plain vs 4.4 with cells, 20 k 6.7 vs 7.1, 40 k 13.2 vs 12.6)
_CELL_MIN_COLOURS = 30000


def _branch_search(p, radius, k_near, lab, gc, gr, group, bc, br, block, max_br, est, lo, hi, bd, nbr):
    """:func:`_branch_scan` (same arguments, same outputs): by :func:`_branch_scan_cells` from
    ``_CELL_MIN_COLOURS`` colours on."""
    if p.shape[0] < _CELL_MIN_COLOURS:
        _branch_scan(p, radius, k_near, lab, gc, gr, group, bc, br, block, max_br, est, lo, hi, bd, nbr)
    else:
        _branch_scan_cells(p, radius, k_near, lab, gc, gr, group, bc, br, block, max_br, est, lo, hi, bd, nbr)


def _branch_scan_cells(p, radius, k_near, lab, gc, gr, group, bc, br, block, max_br, est, lo, hi, bd, nbr,
                       cell=_CELL):
    """:func:`_branch_scan` with the group level done once per cell of colours: the same outputs.

    Colours are binned into cubic cells of CIELAB (edge ``cell``,
    :func:`_cells`).  For each cell, its bounding sphere (the cube's centre,
    half-diagonal rho) and the range [rmin, rmax] of its colours' radii
    classify each group and block of samples (:func:`_cell_blocks`): out of
    reach of every colour of the cell, wholly inside every colour's ball, or
    to be tested per colour.  Each colour then visits only its cell's list
    (:func:`_scan_cells`): twilight noisy 1000^2 tests ~9 blocks per colour
    instead of 16 groups and ~22 blocks (one thread, CPU time on captured
    inputs: twilight 99.7 -> 83.2 ms, turbo 75 -> 61 ms, cells included).

    **Why the outputs are the same.**  The runs of a colour are the maximal
    stretches of samples k with ``dx*dx + dy*dy + dz*dz <= r*r`` (as the
    samples are tested).  Both scans skip only spheres that surely hold no
    such sample, take whole only spheres that surely hold nothing else, and
    test each sample of every other sphere (a block's all at once,
    :func:`_within_mask`: the same test per sample): both find the runs
    exactly, and close them in increasing k with the same code
    (:func:`_close_run`).  "Surely" is the triangle inequality with
    a margin of 1e-9 ΔE for rounding, as in :func:`_branch_scan`; here with
    ``|colour - centre| <= rho`` added, and compared as squares (the
    rounding of a square, ~1e-16 relative, is far inside the margin).
    """
    n = p.shape[0]
    if n == 0:
        return
    _check_block(block)
    cid, rlo, rhi, origin, dims = _cells(p, radius, cell)
    istart, items = _cell_lists(rlo, rhi, origin, dims, cell, gc, gr, group, bc, br)
    _scan_cells(p, radius, k_near, lab, _samples_soa(lab), bc, br, block, max_br, est, lo, hi, bd, nbr, cid,
                istart, items, _item_spheres(items, bc, br))


@numba.njit(cache=True, inline="always")
def _cell_grid(p, rows, size):
    """The grid of cubic cells of edge ``size`` over the bounding box of the colours
    ``p[rows]``, or of all of ``p`` where ``rows`` is empty (no index array to build for
    :func:`_cells`): its ``origin`` (3,), ``dims`` (3,) and ``inv = 1 / size``."""
    l0 = l1 = l2 = np.inf  # scalars, not a (3,) array: 4x faster
    h0 = h1 = h2 = -np.inf
    every = rows.shape[0] == 0
    for i in range(p.shape[0] if every else rows.shape[0]):
        u = i if every else rows[i]
        l0 = min(l0, p[u, 0])
        h0 = max(h0, p[u, 0])
        l1 = min(l1, p[u, 1])
        h1 = max(h1, p[u, 1])
        l2 = min(l2, p[u, 2])
        h2 = max(h2, p[u, 2])
    inv = 1.0 / size
    origin = np.array([l0, l1, l2])
    dims = np.array([int((h0 - l0) * inv) + 1, int((h1 - l1) * inv) + 1, int((h2 - l2) * inv) + 1])
    return origin, dims, inv


@numba.njit(cache=True, inline="always")
def _cell_of(px, py, pz, origin, dims, inv):
    """Cell ``(q0 * dims[1] + q1) * dims[2] + q2`` of a colour: the cube ``origin + [q, q + 1] / inv``
    (:func:`_cell_grid`; up to the rounding of q, see :func:`_nearest_cell_reach`)."""
    # p - origin >= 0: truncation is the floor; the top cube takes its upper face
    q0 = min(int((px - origin[0]) * inv), dims[0] - 1)
    q1 = min(int((py - origin[1]) * inv), dims[1] - 1)
    q2 = min(int((pz - origin[2]) * inv), dims[2] - 1)
    return (q0 * dims[1] + q1) * dims[2] + q2


@numba.njit(cache=True)  # serial: see _SERIAL_MS (~1.3 ms at 324 k colours)
def _cells(p, radius, size):
    """Cubic cells of edge ``size`` over the bounding box of the colours p (U, 3), U >= 1.

    Returns ``cid`` (U,) the cell of each colour, ``rlo``, ``rhi`` (C,) the
    smallest and largest radius of each cell's colours (``rlo > rhi``: an
    empty cell), the grid's ``origin`` (3,) and ``dims`` (3,), C their
    product: cell ``(q0 * dims[1] + q1) * dims[2] + q2`` is the cube
    ``origin + [q, q + 1] * size``.  A colour lies in its cube up to the
    rounding of its index (~1e-13 ΔE, see :func:`_cell_lists`).
    """
    n = p.shape[0]
    origin, dims, inv = _cell_grid(p, np.empty(0, dtype=np.int64), size)
    nc = dims[0] * dims[1] * dims[2]
    rlo = np.full(nc, np.inf)
    rhi = np.full(nc, -np.inf)
    cid = np.empty(n, dtype=np.int64)
    for u in range(n):
        c = _cell_of(p[u, 0], p[u, 1], p[u, 2], origin, dims, inv)
        cid[u] = c
        r = radius[u]
        rlo[c] = min(rlo[c], r)  # min/max, not if-updates: 3x faster (no branches)
        rhi[c] = max(rhi[c], r)
    return cid, rlo, rhi, origin, dims


@numba.njit(cache=True)  # serial: see _SERIAL_MS (~1.7 ms at 324 k colours, 10 k cells)
def _cell_lists(rlo, rhi, origin, dims, size, gc, gr, group, bc, br):
    """The list of each non-empty cell (:func:`_cells`, :func:`_cell_blocks`), in one pass:
    ``(istart, items)``, cell ``c``'s items ``items[istart[c]:istart[c + 1]]``.

    The cell's sphere: the cube's centre and half-diagonal, the latter raised
    by 1e-12 relative: a colour's index and the centre are rounded by
    ~1e-13 ΔE (Lab values below ~130, edge ~2), which this covers.
    """
    rho = 0.5 * math.sqrt(3.0) * size * (1.0 + 1e-12)
    nc = rlo.shape[0]
    nblk = bc.shape[0]
    istart = np.zeros(nc + 1, dtype=np.int64)
    items = np.empty((max(1024, 8 * nblk), 2), dtype=np.int32)
    n = 0
    for c in range(nc):
        if rlo[c] <= rhi[c]:  # a colour in the cell
            if items.shape[0] - n < nblk:  # room for a whole list: at most one item a block
                grown = np.empty((2 * items.shape[0] + nblk, 2), dtype=np.int32)
                grown[:n] = items[:n]
                items = grown
            q2 = c % dims[2]
            q1 = (c // dims[2]) % dims[1]
            q0 = c // (dims[1] * dims[2])
            cx = origin[0] + (q0 + 0.5) * size
            cy = origin[1] + (q1 + 0.5) * size
            cz = origin[2] + (q2 + 0.5) * size
            n += _cell_blocks(cx, cy, cz, rho, rlo[c], rhi[c], gc, gr, group, bc, br, items, n)
        istart[c + 1] = n
    return istart, items[:n]


@numba.njit(cache=True, inline="always")  # inlined: see _branch_scan_kernel
def _cell_blocks(cx, cy, cz, rho, rmin, rmax, gc, gr, group, bc, br, items, i0):
    """List of a cell (sphere: centre, rho; radii in [rmin, rmax]) in increasing sample order; its length.

    Item ``(b, 0)``: block ``b``, to be tested per colour; ``(b, nb)``,
    ``nb > 0``: blocks ``b .. b + nb - 1``, wholly inside the ball of every
    colour of the cell (consecutive ones merged).  Groups and blocks out of
    reach of every colour are left out.  Written from ``items[i0]`` on.  A sphere (centre s, radius R) at distance D from the cell's
    centre is out of reach when ``D > rmax + rho + R + 1e-9`` and inside
    when ``D < rmin - 1e-9 - rho - R`` (compared as squares).
    """
    nblk = bc.shape[0]
    n = 0
    inside = False  # the last item is a stretch inside that the next inside block extends
    for g in range(gc.shape[0]):
        dx = cx - gc[g, 0]
        dy = cy - gc[g, 1]
        dz = cz - gc[g, 2]
        dg2 = dx * dx + dy * dy + dz * dz
        reach = rmax + rho + gr[g] + 1e-9
        if dg2 > reach * reach:  # out of reach of every colour
            inside = False
            continue
        b_end = min((g + 1) * group, nblk)
        inner = rmin - 1e-9 - rho - gr[g]
        if inner > 0.0 and dg2 < inner * inner:  # inside every colour's ball
            if inside:
                items[i0 + n - 1, 1] += b_end - g * group
            else:
                items[i0 + n, 0] = g * group
                items[i0 + n, 1] = b_end - g * group
                n += 1
                inside = True
            continue
        for b in range(g * group, b_end):
            dx = cx - bc[b, 0]
            dy = cy - bc[b, 1]
            dz = cz - bc[b, 2]
            db2 = dx * dx + dy * dy + dz * dz
            reach = rmax + rho + br[b] + 1e-9
            if db2 > reach * reach:
                inside = False
                continue
            inner = rmin - 1e-9 - rho - br[b]
            if inner > 0.0 and db2 < inner * inner:
                if inside:
                    items[i0 + n - 1, 1] += 1
                else:
                    items[i0 + n, 0] = b
                    items[i0 + n, 1] = 1
                    n += 1
                    inside = True
                continue
            items[i0 + n, 0] = b
            items[i0 + n, 1] = 0
            n += 1
            inside = False
    return n


_ITEM_LANES = 16  # items of a cell's list classified at once per colour (:func:`_scan_cells`)


@numba.njit(cache=True)  # serial: see _SERIAL_MS (~0.2 ms at 99 k items)
def _item_spheres(items, bc, br):
    """Spheres of a list's items as four rows (centre x, y, z, radius), ``_ITEM_LANES`` more
    columns than items (never read as items: :func:`_scan_cells` masks them off).

    A block to test (``items[i, 1] == 0``) has its block's sphere; a
    stretch wholly inside (``items[i, 1] > 0``) has centre 0 and radius
    -inf, which :func:`_scan_cells`'s tests read as inside every ball
    (reach ``r - inf`` squared is +inf: never out; inner ``r + inf`` = +inf:
    in), as the stretch is.
    """
    n = items.shape[0]
    out = np.zeros((4, n + _ITEM_LANES))
    for i in range(n):
        b = items[i, 0]
        if items[i, 1] == 0:
            out[0, i] = bc[b, 0]
            out[1, i] = bc[b, 1]
            out[2, i] = bc[b, 2]
            out[3, i] = br[b]
        else:
            out[3, i] = -np.inf
    return out


@numba.njit(cache=True, parallel=True)
def _scan_cells(p, radius, k_near, lab, ls, bc, br, block, max_br, est, lo, hi, bd, nbr, cid, istart, items,
                spheres):
    """:func:`_branch_scan` over the list of each colour's cell (:func:`_branch_scan_cells`).

    A stretch of the list extends the current run as a group or block
    wholly inside does in :func:`_branch_scan`; a block to test is tested
    as there, its samples all at once where it crosses the sphere
    (:func:`_within_mask`), with the sphere tests compared as squares (no
    square roots: 99.7 -> 83.2 ms CPU with the cell lists, twilight noisy
    1000^2, one thread), and the runs are closed and sorted the same way.
    The squares are sound tests: ``d² > (r + R + 1e-9)²`` as computed puts
    the sphere farther than ``r + R`` up to rounding ~1e-16 relative, far
    inside the 1e-9 margin (likewise ``d² < (r - 1e-9 - R)²`` inside), so
    every sample of a skipped sphere is out, every sample of a sphere taken
    whole is in: the same runs.

    The sphere tests of ``_ITEM_LANES`` items are made at once (``spheres``:
    :func:`_item_spheres`; the stretches come out inside), as two bit masks
    (out of reach, inside), and only the items not out of reach are visited,
    in list order.  (Against sub-blocks of 16 samples tested one by one and
    a branch per item, on captured inputs of twilight noisy 1000^2, one
    thread, CPU: 81.7 ms; sample masks 53.3, with :func:`_run_best`'s masks
    48.4 / 51.1 (another run), these item masks 46.0.)
    """
    m = lab.shape[0]
    lx, ly, lz = ls[0], ls[1], ls[2]
    sx, sy, sz, sr = spheres[0], spheres[1], spheres[2], spheres[3]
    for u in numba.prange(p.shape[0]):
        px, py, pz = p[u, 0], p[u, 1], p[u, 2]
        r = radius[u]
        r2 = r * r
        kn = k_near[u]
        count = 0
        stored = 0
        last = -2
        run_lo = -1
        c = cid[u]
        i_end = istart[c + 1]
        for i0 in range(istart[c], i_end, _ITEM_LANES):
            out = np.uint64(0)
            inside = np.uint64(0)
            for i in range(_ITEM_LANES):
                j = np.uint64(i0 + i)
                dx = px - sx[j]
                dy = py - sy[j]
                dz = pz - sz[j]
                db2 = dx * dx + dy * dy + dz * dz
                reach = r + sr[j] + 1e-9
                inner = r - 1e-9 - sr[j]
                out |= np.uint64(db2 > reach * reach) << np.uint64(i)
                inside |= np.uint64((inner > 0.0) & (db2 < inner * inner)) << np.uint64(i)
            live = ~out & ((np.uint64(1) << np.uint64(min(i_end - i0, _ITEM_LANES))) - np.uint64(1))
            while live != 0:
                i = trailing_zeros(live)
                live &= live - np.uint64(1)
                b = items[i0 + i, 0]
                k0 = b * block
                if (inside >> np.uint64(i)) & np.uint64(1):  # a stretch, or a block wholly inside
                    k1 = min((b + max(items[i0 + i, 1], 1)) * block, m)
                    last, run_lo, stored, count = _extend_run(u, k0, k1, last, run_lo, kn, p, lab, lx, ly, lz, bc,
                                                              br, block, max_br, est, lo, hi, bd, stored, count)
                else:  # crossing the sphere: its samples at once
                    last, run_lo, stored, count = _extend_by_mask(u, k0, _within_mask(px, py, pz, r2, lx, ly, lz, k0),
                                                                  last, run_lo, kn, p, lab, lx, ly, lz, bc, br, block,
                                                                  max_br, est, lo, hi, bd, stored, count)
        if run_lo >= 0:
            stored, count = _close_run(u, run_lo, last, kn, p, lab, lx, ly, lz, bc, br, block,
                                       max_br, est, lo, hi, bd, stored, count)
        _finish_colour(u, stored, count, max_br, est, lo, hi, bd, nbr)


def _nearest_scan(p, lab, bc, br, block, dist, index):
    """Nearest curve sample of each colour p[u]: ``dist[u]`` (ΔE) and ``index[u]``, ties to the
    lowest index (:func:`_nearest_from` without a start; ``block`` must be ``_LANES``)."""
    _check_block(block)
    _nearest_scan_kernel(p, lab, _samples_soa(lab), _blocks_soa(bc, br), bc.shape[0], dist, index)


@numba.njit(cache=True, parallel=True)
def _nearest_scan_kernel(p, lab, ls, bs, nblk, dist, index):
    """:func:`_nearest_scan` (``ls``, ``bs``: :func:`_samples_soa`, :func:`_blocks_soa`)."""
    for u in numba.prange(p.shape[0]):
        best, kbest = _nearest_from(p[u, 0], p[u, 1], p[u, 2], -1, lab, ls, bs, nblk)
        dist[u] = math.sqrt(best)
        index[u] = kbest


@numba.njit(cache=True, inline="always")  # inlined: see _branch_scan_kernel
def _block_nearest(px, py, pz, k0, m, best, kbest, lab, lx, ly, lz):
    """``(best, kbest)`` updated by the samples of the block from ``k0``: the lexicographic
    minimum of (d², k).  Only samples with ``d² <= best`` can replace it (:func:`_within_mask`
    with ``best``; the padding beyond ``m`` masked off: its +inf passes ``<= inf``); they are
    taken in increasing k with the scalar test."""
    mask = _within_mask(px, py, pz, best, lx, ly, lz, k0)
    if k0 + _LANES > m:
        mask &= (np.uint64(1) << np.uint64(m - k0)) - np.uint64(1)
    while mask != 0:
        k = k0 + trailing_zeros(mask)
        mask &= mask - np.uint64(1)
        best, kbest = _offer(px, py, pz, k, best, kbest, lab)
    return best, kbest


@numba.njit(cache=True, inline="always")  # inlined: see _branch_scan_kernel
def _nearest_from(px, py, pz, k0, lab, ls, bs, nblk):
    """Nearest curve sample of (px, py, pz): ``(d², index)``, the bound started from sample ``k0``.

    The result is the lexicographic minimum of (d², k) over all samples
    (``d² = dx*dx + dy*dy + dz*dz``; ties to the lowest index), whatever
    the start and the order of the blocks: any sample's d² bounds the
    minimum from above, a block is skipped only where its sphere (centre,
    radius R, :func:`_blocks_soa` ``bs``) lies beyond ``sqrt(best)``:
    ``d² > (R + sqrt(best))² (1 + 1e-12)`` (then, from each operation's
    rounding, every sample of the block is farther than ``sqrt(best)`` by
    far more than the rounding of its d²), and the samples of the other
    blocks are tested with the scalar replacement test
    (:func:`_block_nearest`).  ``k0 < 0``: no start; the block whose centre
    is nearest is searched first.  The spheres are tested 64 at a time
    against the first bound (a mask of the blocks within reach), each
    again with the current bound before its samples.  (Against the earlier
    group-then-block walk with a sphere test per block: the seeded search
    of twilight noisy 1000^2's 98 k missed colours 33.5 -> 21.3 ms CPU on
    one thread, all 324 k without a start 95 -> 75 ms; the same answers.)
    """
    m = lab.shape[0]
    lx, ly, lz = ls[0], ls[1], ls[2]
    bx, by, bz, brr = bs[0], bs[1], bs[2], bs[3]
    best = np.inf
    kbest = 0
    if k0 >= 0:
        best = _sample_d2(px, py, pz, lab, k0)
        kbest = k0
    else:
        b0 = 0
        dmin = np.inf
        for b in range(nblk):
            dx = px - bx[b]
            dy = py - by[b]
            dz = pz - bz[b]
            dd = dx * dx + dy * dy + dz * dz
            if dd < dmin:
                dmin = dd
                b0 = b
        best, kbest = _block_nearest(px, py, pz, b0 * _LANES, m, best, kbest, lab, lx, ly, lz)
    sb = math.sqrt(best) if best > 0.0 else np.inf
    for c in range(bx.shape[0] // _BLOCK_LANES):
        reach = np.uint64(0)  # blocks within reach of the bound so far
        for i in range(_BLOCK_LANES):
            j = np.uint64(c * _BLOCK_LANES + i)
            dx = px - bx[j]
            dy = py - by[j]
            dz = pz - bz[j]
            t = brr[j] + sb
            reach |= np.uint64(dx * dx + dy * dy + dz * dz <= t * t * (1.0 + 1e-12)) << np.uint64(i)
        if (c + 1) * _BLOCK_LANES > nblk:  # the padding's bits off (an infinite bound passes them)
            reach &= (np.uint64(1) << np.uint64(nblk - c * _BLOCK_LANES)) - np.uint64(1)
        while reach != 0:
            b = c * _BLOCK_LANES + trailing_zeros(reach)
            reach &= reach - np.uint64(1)
            best, kbest, sb = _visit_block(px, py, pz, b, m, best, kbest, sb, lab, lx, ly, lz, bx, by, bz, brr)
    return best, kbest


@numba.njit(cache=True, inline="always")  # inlined: see _branch_scan_kernel
def _visit_block(px, py, pz, b, m, best, kbest, sb, lab, lx, ly, lz, bx, by, bz, brr):
    """``(best, kbest, sb)`` after block ``b`` (sphere centre ``bx[b], by[b], bz[b]``, radius
    ``brr[b]``: the rows of :func:`_blocks_soa`), ``sb`` = ``sqrt(best)``: its samples tested
    (:func:`_block_nearest`) unless its sphere lies beyond the bound as it is now (the skip of
    :func:`_nearest_from`)."""
    dx = px - bx[b]
    dy = py - by[b]
    dz = pz - bz[b]
    t = brr[b] + sb
    if dx * dx + dy * dy + dz * dz > t * t * (1.0 + 1e-12):
        return best, kbest, sb
    b_best = best
    best, kbest = _block_nearest(px, py, pz, b * _LANES, m, best, kbest, lab, lx, ly, lz)
    if best != b_best:
        sb = math.sqrt(best) if best > 0.0 else np.inf
    return best, kbest, sb


_SEED_STRIDE = 8  # colours without a start: every this many is searched first and starts the ones after it


def _nearest_scan_seeded(p, rows, lab, bc, br, block, dist, index):
    """:func:`_nearest_scan_seeded_kernel` (``block`` must be ``_LANES``)."""
    _check_block(block)
    _nearest_scan_seeded_kernel(p, rows, lab, _samples_soa(lab), _blocks_soa(bc, br), bc.shape[0], dist, index)


@numba.njit(cache=True, parallel=True)
def _nearest_scan_seeded_kernel(p, rows, lab, ls, bs, nblk, dist, index):
    """:func:`_nearest_scan` of the colours ``p[rows]``, each search's bound started from a sample: the same numbers.

    On entry ``index[u]`` (u in ``rows``) is a curve sample to start from
    (e.g. the nearest sample of a colour one 8-bit step away), or -1; on
    return ``dist[u]``, ``index[u]`` are those of :func:`_nearest_scan`
    (other entries are not touched).  Pass 1: every ``_SEED_STRIDE``-th row;
    pass 2: the others, those without a start started from the answer of
    the pass-1 row before them or of the one after them, whichever sample is
    nearer (the colours come sorted by key: these are often close colours;
    the row before alone: twilight noisy 1000^2, one thread, CPU: the 98 k
    missed colours of a new image 21-22 -> 19-20 ms, all 324 k colours with
    no start 76-81 -> 62 ms).  Any start gives the result of
    :func:`_nearest_scan` (:func:`_nearest_from`).
    """
    n = rows.shape[0]
    s = _SEED_STRIDE
    for i in numba.prange((n + s - 1) // s):
        u = rows[i * s]
        best, kbest = _nearest_from(p[u, 0], p[u, 1], p[u, 2], index[u], lab, ls, bs, nblk)
        dist[u] = math.sqrt(best)
        index[u] = kbest
    for i in numba.prange(n):
        if i % s == 0:
            continue
        u = rows[i]
        k0 = index[u]
        if k0 < 0:  # the nearer of the answers of the pass-1 rows before and after
            k0 = index[rows[i - i % s]]
            j = i - i % s + s
            if j < n:
                kc = index[rows[j]]
                if kc != k0:
                    px, py, pz = p[u, 0], p[u, 1], p[u, 2]
                    if _sample_d2(px, py, pz, lab, kc) < _sample_d2(px, py, pz, lab, k0):
                        k0 = kc
        best, kbest = _nearest_from(p[u, 0], p[u, 1], p[u, 2], k0, lab, ls, bs, nblk)
        dist[u] = math.sqrt(best)
        index[u] = kbest


_NEAREST_CELL = 4.0  # edge (ΔE) of the cells of _nearest_cells (3: the same time, 2: +9 %, 6: +2 %)
_NEAREST_CHUNK = 1024  # colours per parallel work item of _nearest_cells_kernel


def _nearest_cells(p, rows, lab, bc, br, block, dist, index, size=_NEAREST_CELL):
    """:func:`_nearest_scan_seeded` of the colours ``p[rows]`` over cubic cells of edge ``size``: the same numbers.

    Per occupied cell (:func:`_nearest_cell_grid`) the nearest sample of
    its centre and the blocks that can hold the nearest sample of any
    colour in it (:func:`_nearest_cell_reach`); each colour then searches
    only its cell's blocks, its bound started from the nearest of its own
    start (``index[u]`` >= 0), its cell centre's sample and the answer of
    the row before it (:func:`_nearest_cells_kernel`).  All 324 k colours
    of twilight noisy 1000^2, no start, one thread, CPU: 59-65 -> 40-45 ms
    (the 1.9 k centres replace the 40 k pass-1 searches without a start,
    14 blocks per cell instead of the 128 spheres per colour).
    """
    _check_block(block)
    if rows.shape[0] == 0:
        return
    ls, bs = _samples_soa(lab), _blocks_soa(bc, br)
    slot, occ, origin, dims = _nearest_cell_grid(p, rows, size)
    kc, allow = _nearest_cell_reach(occ, origin, dims, size, lab, ls, bs, bc.shape[0])
    _nearest_cells_kernel(p, rows, slot, origin, dims, size, kc, allow, lab, ls, bs, dist, index)


@numba.njit(cache=True)  # serial: see _SERIAL_MS (~1 ms at 324 k colours)
def _nearest_cell_grid(p, rows, size):
    """Cubic cells of edge ``size`` over the bounding box of the colours ``p[rows]``: ``slot``
    (cells,) the number of an occupied cell in ``occ`` (-1: empty), ``occ`` the occupied cells,
    the grid's ``origin`` (3,) and ``dims`` (3,) (:func:`_cell_grid`)."""
    n = rows.shape[0]
    origin, dims, inv = _cell_grid(p, rows, size)
    slot = np.full(dims[0] * dims[1] * dims[2], -1, dtype=np.int64)
    nocc = 0
    for i in range(n):
        u = rows[i]
        c = _cell_of(p[u, 0], p[u, 1], p[u, 2], origin, dims, inv)
        if slot[c] < 0:
            slot[c] = nocc
            nocc += 1
    occ = np.empty(nocc, dtype=np.int64)
    for c in range(slot.shape[0]):
        if slot[c] >= 0:
            occ[slot[c]] = c
    return slot, occ, origin, dims


@numba.njit(cache=True, parallel=True)
def _nearest_cell_reach(occ, origin, dims, size, lab, ls, bs, nblk):
    """Per occupied cell: ``kc`` the nearest sample of its centre c, ``allow`` (cells, words)
    the blocks (bit ``b % 64`` of word ``b // 64``) that can hold the nearest sample of a
    colour x of the cell.

    With ρ the cube's half-diagonal, |x - c| <= ρ, so the nearest sample
    of x is within ``|x - kc| <= |c - kc| + ρ``; a sample s of a block of
    centre m and radius R has ``|x - s| >= |c - m| - R - ρ``.  A block is
    left out where ``|c - m| > R + 2ρ + |c - kc|``: all its samples are then
    farther from x than kc is.  ρ is raised by a relative 1e-6 and the
    reach by 1e-9 (relative and absolute): far beyond the rounding of the
    cell index, the centre and the distances (~1e-13 ΔE), so a block left
    out holds no sample with a d² equal to or below the nearest's.
    """
    bx, by, bz, brr = bs[0], bs[1], bs[2], bs[3]
    nw = bx.shape[0] // _BLOCK_LANES
    rho = size * 0.8660254037844387 * (1.0 + 1e-6) + 1e-9  # sqrt(3) / 2
    d1 = dims[1]
    d2 = dims[2]
    kc = np.empty(occ.shape[0], dtype=np.int64)
    allow = np.zeros((occ.shape[0], nw), dtype=np.uint64)
    for j in numba.prange(occ.shape[0]):
        c = occ[j]
        cx = origin[0] + (c // (d1 * d2) + 0.5) * size
        cy = origin[1] + ((c // d2) % d1 + 0.5) * size
        cz = origin[2] + (c % d2 + 0.5) * size
        best, kbest = _nearest_from(cx, cy, cz, -1, lab, ls, bs, nblk)
        kc[j] = kbest
        reach = (math.sqrt(best) + 2.0 * rho) * (1.0 + 1e-9) + 1e-9
        for w in range(nw):
            a = np.uint64(0)
            for i in range(_BLOCK_LANES):
                jj = np.uint64(w * _BLOCK_LANES + i)
                dx = cx - bx[jj]
                dy = cy - by[jj]
                dz = cz - bz[jj]
                t = brr[jj] + reach
                a |= np.uint64(dx * dx + dy * dy + dz * dz <= t * t) << np.uint64(i)
            if (w + 1) * _BLOCK_LANES > nblk:  # the padding's bits off
                a &= (np.uint64(1) << np.uint64(nblk - w * _BLOCK_LANES)) - np.uint64(1)
            allow[j, w] = a
    return kc, allow


@numba.njit(cache=True, parallel=True)
def _nearest_cells_kernel(p, rows, slot, origin, dims, size, kc, allow, lab, ls, bs, dist, index):
    """:func:`_nearest_cells`' search, ``_NEAREST_CHUNK`` rows per work item.

    As :func:`_nearest_from` with the blocks of the colour's cell only
    (``allow``: no other block can hold the answer, :func:`_nearest_cell_reach`),
    each tested with the current bound before its samples
    (:func:`_block_nearest`): the lexicographic minimum of (d², k) over
    all samples, whatever the start.
    """
    m = lab.shape[0]
    lx, ly, lz = ls[0], ls[1], ls[2]
    bx, by, bz, brr = bs[0], bs[1], bs[2], bs[3]
    nw = allow.shape[1]
    n = rows.shape[0]
    inv = 1.0 / size
    for ch in numba.prange((n + _NEAREST_CHUNK - 1) // _NEAREST_CHUNK):
        prev = -1
        for i in range(ch * _NEAREST_CHUNK, min(n, (ch + 1) * _NEAREST_CHUNK)):
            u = rows[i]
            px, py, pz = p[u, 0], p[u, 1], p[u, 2]
            cell = slot[_cell_of(px, py, pz, origin, dims, inv)]
            # the start: the nearest of the cell centre's sample, the row before's answer, the own start
            kbest = kc[cell]
            best = _sample_d2(px, py, pz, lab, kbest)
            for j in range(2):
                k0 = prev if j == 0 else index[u]
                if k0 >= 0 and k0 != kbest:
                    best, kbest = _offer(px, py, pz, k0, best, kbest, lab)
            sb = math.sqrt(best) if best > 0.0 else np.inf
            for w in range(nw):
                a = allow[cell, w]
                while a != 0:
                    b = w * _BLOCK_LANES + trailing_zeros(a)
                    a &= a - np.uint64(1)
                    best, kbest, sb = _visit_block(px, py, pz, b, m, best, kbest, sb, lab, lx, ly, lz, bx, by, bz, brr)
            dist[u] = math.sqrt(best)
            index[u] = kbest
            prev = kbest


@numba.njit(cache=True, inline="always")  # inlined: see _branch_scan_kernel
def _extend_run(u, k0, k1, last, run_lo, kn, p, lab, lx, ly, lz, bc, br, block, max_br, est, lo, hi, bd, stored,
                count):
    """Samples ``k0 .. k1 - 1``, all within colour ``u``'s ball, join its current run: a gap
    before ``k0`` closes the run so far (:func:`_close_run`) and starts a new one there.
    Returns ``(last, run_lo, stored, count)``."""
    if k0 != last + 1:
        if run_lo >= 0:
            stored, count = _close_run(u, run_lo, last, kn, p, lab, lx, ly, lz, bc, br, block, max_br, est, lo, hi,
                                       bd, stored, count)
        run_lo = k0
    return k1 - 1, run_lo, stored, count


@numba.njit(cache=True, inline="always")  # inlined: see _branch_scan_kernel
def _finish_colour(u, stored, count, max_br, est, lo, hi, bd, nbr):
    """Colour ``u``'s stored branches sorted by distance (insertion sort: ``max_br`` is tiny),
    ``bd`` +inf and ``est``, ``lo``, ``hi`` 0 in the slots without a branch (the outputs
    may come uninitialised: no caller clears ~23 MB for them at 1000^2 noisy), ``nbr[u]``
    the number of runs found."""
    for i in range(1, stored):
        j = i
        while j > 0 and bd[u, j] < bd[u, j - 1]:
            tmp = est[u, j]
            est[u, j] = est[u, j - 1]
            est[u, j - 1] = tmp
            tmpi = lo[u, j]
            lo[u, j] = lo[u, j - 1]
            lo[u, j - 1] = tmpi
            tmpi = hi[u, j]
            hi[u, j] = hi[u, j - 1]
            hi[u, j - 1] = tmpi
            tmp = bd[u, j]
            bd[u, j] = bd[u, j - 1]
            bd[u, j - 1] = tmp
            j -= 1
    for i in range(stored, max_br):
        bd[u, i] = np.inf
        est[u, i] = 0.0
        lo[u, i] = 0
        hi[u, i] = 0
    nbr[u] = count


@numba.njit(cache=True, inline="always")  # inlined: see _branch_scan_kernel
def _close_run(u, run_lo, run_hi, kn, p, lab, lx, ly, lz, bc, br, block, max_br, est, lo, hi, bd, stored, count):
    """Find the closest samples of the run [run_lo, run_hi] and store the run.

    ``kn``: the colour's nearest sample on the whole curve (lowest index among
    exact ties).  In the run that holds it, it is the run's closest sample,
    so only its exact ties that follow are looked for (as :func:`_run_best`).
    """
    if run_lo <= kn <= run_hi:
        px, py, pz = p[u, 0], p[u, 1], p[u, 2]
        best_lo = kn
        best_d = _sample_d2(px, py, pz, lab, kn)
        best_hi = kn
        while best_hi < run_hi:
            k = best_hi + 1
            if _sample_d2(px, py, pz, lab, k) > best_d + 1e-12:
                break
            best_hi = k
    else:
        best_lo, best_hi, best_d = _run_best(p, u, lab, lx, ly, lz, bc, br, block, run_lo, run_hi)
    return _store(u, run_lo, run_hi, best_lo, best_hi, best_d, p, lab, max_br, est, lo, hi, bd, stored, count)


@numba.njit(cache=True, inline="always")  # inlined: see _branch_scan_kernel
def _run_best(p, u, lab, lx, ly, lz, bc, br, block, run_lo, run_hi):
    """Closest sample of p[u] in [run_lo, run_hi]: (first index, last of its tied neighbours, d²).

    The block whose sphere comes nearest is searched first; then, in index
    order, every block whose sphere could hold a sample as close.  Among
    samples within 1e-12 of the minimum the lowest index wins, and exact ties
    that follow it contiguously (a flat stretch of the map) extend it.

    The result depends on the order in which samples within 1e-12 of each
    other are met, so the first block ``b0`` (the first minimum of
    ``sqrt(d²) - R``) and the index order are kept; the square roots are
    not taken where the answer is known without them (see the comments):
    10.9 -> 9.1 ms CPU on twilight noisy 1000^2 (33 k runs without the
    nearest sample, ~16 blocks each).  A block that could hold no sample within
    ``best + 1e-12`` changes nothing, whether visited or skipped: the same
    result.  Within a block only the samples with ``d² <= best_d + 1e-12``
    (:func:`_within_mask` on ``lx, ly, lz``, the samples of
    :func:`_samples_soa`; those of the run) can pass the replacement test;
    they are taken in increasing k with that test, as the loop over all of
    them did (``best_d`` only decreases within a block, so no sample left
    out could have passed later).
    """
    px, py, pz = p[u, 0], p[u, 1], p[u, 2]
    b_lo = run_lo // block
    b_hi = run_hi // block
    b0 = b_lo
    lb0 = np.inf
    for b in range(b_lo, b_hi + 1):
        dx = px - bc[b, 0]
        dy = py - bc[b, 1]
        dz = pz - bc[b, 2]
        d2 = dx * dx + dy * dy + dz * dz
        # lb < lb0 needs sqrt(d2) < lb0 + R: where d2 exceeds (lb0 + R)² by more than its
        # rounding, the square root (rounded) is above lb0 + R and lb (rounded) >= lb0
        t = lb0 + br[b]
        if t >= 0.0 and d2 > t * t * (1.0 + 1e-12):
            continue
        lb = math.sqrt(d2) - br[b]
        if lb < lb0:
            lb0 = lb
            b0 = b
    best_lo = -1
    best_d = np.inf
    reach = 0.0  # sqrt(best_d + 1e-9): a block farther than reach + R + 1e-9 holds no sample within best_d + 1e-9
    for step in range(b_hi - b_lo + 2):
        b = b0 if step == 0 else b_lo + step - 1
        if step > 0:
            if b == b0:
                continue
            dx = px - bc[b, 0]
            dy = py - bc[b, 1]
            dz = pz - bc[b, 2]
            # farther than reach + R + 1e-9 (as squares: rounding ~1e-16 relative, inside the
            # margin): every sample beyond best_d + 1e-9, none can replace the best
            t = reach + br[b] + 1e-9
            if dx * dx + dy * dy + dz * dz > t * t:
                continue
        d_before = best_d
        k0 = b * block
        mask = _within_mask(px, py, pz, best_d + 1e-12, lx, ly, lz, k0)
        if run_lo > k0:  # the run's samples only
            mask &= ~((np.uint64(1) << np.uint64(run_lo - k0)) - np.uint64(1))
        if run_hi + 1 < k0 + _LANES:
            mask &= (np.uint64(1) << np.uint64(run_hi + 1 - k0)) - np.uint64(1)
        while mask != 0:
            k = k0 + trailing_zeros(mask)
            mask &= mask - np.uint64(1)
            d2 = _sample_d2(px, py, pz, lab, k)
            if d2 < best_d - 1e-12 or (d2 <= best_d + 1e-12 and k < best_lo):
                best_lo = k
                best_d = d2
        if best_d != d_before:
            reach = math.sqrt(best_d + 1e-9)
    best_hi = best_lo
    while best_hi < run_hi:
        k = best_hi + 1
        if _sample_d2(px, py, pz, lab, k) > best_d + 1e-12:
            break
        best_hi = k
    return best_lo, best_hi, best_d


@numba.njit(cache=True, inline="always")  # inlined: see _branch_scan_kernel
def _project(p, u, lab, a, b):
    """Projection parameter in [0, 1] and squared distance of p[u] onto segment a-b.

    ``s = min(max(dot / ee, 0), 1)`` (``dot = q . e``), with the division
    taken only where it decides: ``dot >= ee`` gives a quotient >= 1 (the
    division is correctly rounded and monotone), so ``s = 1``; ``dot <= 0``
    a quotient <= 0, so ``s = 0`` (the clip may have given -0.0 before; a
    zero's sign changes neither ``q - s e`` nor ``a + s``).  The same
    numbers for finite inputs (twilight noisy 1000^2, the branch scan on
    captured inputs, one thread, CPU: 45.3 -> 38.2 ms: most best samples
    project past one end of a segment beside them).
    """
    ex = lab[b, 0] - lab[a, 0]
    ey = lab[b, 1] - lab[a, 1]
    ez = lab[b, 2] - lab[a, 2]
    qx = p[u, 0] - lab[a, 0]
    qy = p[u, 1] - lab[a, 1]
    qz = p[u, 2] - lab[a, 2]
    ee = ex * ex + ey * ey + ez * ez
    s = 0.0
    if ee > 0.0:
        dot = qx * ex + qy * ey + qz * ez
        if dot >= ee:
            s = 1.0
        elif dot > 0.0:
            s = min(max(dot / ee, 0.0), 1.0)
    rx = qx - s * ex
    ry = qy - s * ey
    rz = qz - s * ez
    return s, rx * rx + ry * ry + rz * rz


@numba.njit(cache=True, inline="always")  # inlined: see _branch_scan_kernel
def _store(u, run_lo, run_hi, best_lo, best_hi, best_d, p, lab, max_br, est, lo, hi, bd, stored, count):
    m = lab.shape[0]
    if best_lo == best_hi:
        k = best_lo
        e = float(k)
        dbest = best_d
        if k > 0:
            s, d2 = _project(p, u, lab, k - 1, k)
            if d2 < dbest:
                dbest = d2
                e = k - 1 + s
        if k < m - 1:
            s, d2 = _project(p, u, lab, k, k + 1)
            if d2 < dbest:
                dbest = d2
                e = k + s
        best_d = dbest
    else:
        e = 0.5 * (best_lo + best_hi)
    dist = math.sqrt(max(best_d, 0.0))
    count += 1
    slot = -1
    if stored < max_br:
        slot = stored
        stored += 1
    else:
        worst = 0
        for i in range(1, max_br):
            if bd[u, i] > bd[u, worst]:
                worst = i
        if dist < bd[u, worst]:
            slot = worst
    if slot >= 0:
        est[u, slot] = e
        lo[u, slot] = run_lo
        hi[u, slot] = run_hi
        bd[u, slot] = dist
    return stored, count


@numba.njit(cache=True, inline="always")  # inlined: see _branch_scan_kernel
def _rgb_d2(p, u, crgb, k):
    """Squared sRGB distance between colour p[u] and curve sample k."""
    dx = p[u, 0] - crgb[k, 0]
    dy = p[u, 1] - crgb[k, 1]
    dz = p[u, 2] - crgb[k, 2]
    return dx * dx + dy * dy + dz * dz


@numba.njit(cache=True, parallel=True)
def _refine_in_rgb(p, crgb, lo, hi, nstored, est):
    """Move each branch's best point to the sRGB projection of the colour, in place.

    The branch (curve samples ``lo..hi``, found in CIELAB) is kept; within it
    the closest sample in sRGB is found by a coarse-to-fine descent (steps
    64, 16, 4, 1) from ``est``, then projected onto its two adjacent
    segments.  With noise that is white in sRGB (sensor noise, 8-bit
    rounding) this is the maximum-likelihood point, where the CIELAB
    projection is not: CIELAB stretches dark colours.
    """
    for u in numba.prange(p.shape[0]):
        for j in range(nstored[u]):
            a = lo[u, j]
            b = hi[u, j]
            k = min(max(int(est[u, j] + 0.5), a), b)
            dk = _rgb_d2(p, u, crgb, k)
            for step in (64, 16, 4, 1):
                # after a move, the sample the round started from is one of the two
                # next candidates and farther than the current one: not evaluated again
                known = -1
                moved = True
                while moved:
                    moved = False
                    k_start = k
                    kk = k - step
                    if a <= kk <= b and kk != known:
                        dd = _rgb_d2(p, u, crgb, kk)
                        if dd < dk:
                            k, dk, moved = kk, dd, True
                    kk = k_start + step
                    if a <= kk <= b and kk != known:
                        dd = _rgb_d2(p, u, crgb, kk)
                        if dd < dk:
                            k, dk, moved = kk, dd, True
                    known = k_start
            best = float(k)
            if k > a:
                sp, dd = _project(p, u, crgb, k - 1, k)
                if dd < dk:
                    best, dk = k - 1 + sp, dd
            if k < b:
                sp, dd = _project(p, u, crgb, k, k + 1)
                if dd < dk:
                    best = k + sp
            est[u, j] = best
