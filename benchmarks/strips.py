"""Benchmark of drr.tools.strips.reassemble against the naive method, on puzzles made from
images shipped with scikit-image.

    python benchmarks/strips.py [--seeds 1] [--first-seed 0] [--quick] [--parts CAB]

Part A (order, cuts given): perfect restorations, neighbour accuracy, certificate rate and
time per condition (clean, Gaussian noise sigma 3 and 8, JPEG q=75) and strip count.
Part B (cuts unknown, n_strips unknown): pixel-exact restorations and cut F1, equal and
unequal widths.  Part C: timing on a 512x512 RGB image.
Noise/JPEG are applied to the shuffled image.  JPEG uses Pillow (benchmark only).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drr.tools.strips import reassemble  # noqa: E402

NAMES = ["astronaut", "camera", "coffee", "chelsea", "coins", "moon", "page", "text", "brick",
         "grass", "gravel"]


def load(name):
    import skimage.data as data
    return getattr(data, name)()


_REJECT_P = 1e-6   # acceptance probability from which unequal widths are drawn by rejection


def _log10_accept(w, n, wmin):
    """log10 of the probability that n - 1 distinct cuts drawn uniformly from 1..w-1 leave
    every piece at least wmin wide (compositions of w into n parts >= wmin over all)."""
    from math import lgamma, log

    def lc(a, b):
        return lgamma(a + 1) - lgamma(b + 1) - lgamma(a - b + 1)
    r = w - n * wmin
    return (lc(r + n - 1, n - 1) - lc(w - 1, n - 1)) / log(10)


def bounds_for(w, n, rng, equal):
    """Strip boundaries ``[0, ..., w]`` of n strips: equal widths, or unequal widths drawn
    uniformly among those with every strip at least ``max(2, w // (3 n))`` wide
    (or ``w // n`` where that is less).

    Unequal widths are drawn by rejection (n - 1 distinct cut positions, redrawn until
    every piece is wide enough) where that succeeds with probability >= ``_REJECT_P`` (all
    the benchmark's cases, N <= 40, so their draws are those of earlier runs), otherwise
    directly: the minimum width plus a uniform random composition of the remaining pixels
    (stars and bars; the same distribution, which rejection would take too long to reach,
    e.g. 100 strips over 600 px)."""
    if equal:
        return np.round(np.linspace(0, w, n + 1)).astype(int)
    if not 1 <= n <= w:
        raise ValueError(f"cannot cut {w} pixels into {n} strips")
    wmin = min(max(2, w // (3 * n)), w // n)
    if n == 1:
        return np.array([0, w])
    if _log10_accept(w, n, wmin) >= np.log10(_REJECT_P):
        while True:
            b = np.r_[0, np.sort(rng.choice(np.arange(1, w), n - 1, replace=False)), w]
            if np.diff(b).min() >= wmin:
                return b
    r = w - n * wmin                      # pixels left over once every strip has wmin
    bars = np.sort(rng.choice(r + n - 1, n - 1, replace=False))
    extra = np.diff(np.r_[-1, bars, r + n - 1]) - 1           # n parts >= 0 summing to r
    return np.r_[0, np.cumsum(wmin + extra)]


def make(img, n, rng, equal, axis):
    b = bounds_for(img.shape[axis], n, rng, equal)
    perm = rng.permutation(n)
    while n > 1 and np.all(perm == np.arange(n)):
        perm = rng.permutation(n)
    pieces = [np.take(img, np.arange(b[k], b[k + 1]), axis=axis) for k in perm]
    widths = np.diff(b)[perm]
    cuts = np.r_[0, np.cumsum(widths)[:-1]]
    return np.concatenate(pieces, axis=axis), cuts, np.argsort(perm), perm


def degrade(sh, cond, rng):
    if cond == "clean":
        return sh
    if cond.startswith("sigma"):
        s = float(cond[5:])
        return np.clip(sh + rng.normal(0, s, sh.shape), 0, 255).round().astype(np.uint8)
    if cond == "jpeg75":
        from PIL import Image
        buf = io.BytesIO()
        Image.fromarray(sh).save(buf, format="JPEG", quality=75)
        return np.array(Image.open(buf))
    raise ValueError(cond)


# ----------------------------------------------------------------- naive method (the issue)

def _cols(x, axis):
    x = np.asarray(x, float)
    if x.ndim == 2:
        x = x[..., None]
    return x.transpose(1, 0, 2) if axis == 0 else x


def naive(sh, axis, n=None, cuts=None):
    x = _cols(sh, axis)
    w = x.shape[1]
    if cuts is None:
        diff = np.median(np.abs(np.diff(x, axis=1)).mean(axis=2), axis=0)
        if n is None:
            thr = diff.mean() + 3 * diff.std()
            cuts = [0] + [int(i) + 1 for i in np.flatnonzero(diff > thr)]
        else:
            cuts = [0] + sorted(int(i) + 1 for i in np.argsort(-diff)[:n - 1])
    cuts = list(cuts)
    ends = cuts[1:] + [w]
    k = len(cuts)
    last = np.stack([x[:, e - 1] for e in ends])
    first = np.stack([x[:, s] for s in cuts])
    d = np.array([[np.median(np.abs(last[i] - first[j])) if i != j else np.inf
                   for j in range(k)] for i in range(k)])
    head = int(np.argmax(np.min(d, axis=0))) if k > 1 else 0
    order, used = [head], {head}
    while len(order) < k:
        row = d[order[-1]].copy()
        row[list(used)] = np.inf
        nxt = int(np.argmin(row))
        order.append(nxt)
        used.add(nxt)
    pieces = [np.take(sh, np.arange(cuts[i], ends[i]), axis=axis) for i in order]
    return np.concatenate(pieces, axis=axis), cuts, order


def nbr_acc(order, true):
    pairs = set(zip(true, true[1:]))
    if len(true) < 2:
        return 1.0, 0
    return sum((a, b) in pairs for a, b in zip(order, order[1:])), len(true) - 1


def f1(found, true):
    f, t = set(int(c) for c in found) - {0}, set(int(c) for c in true) - {0}
    if not f and not t:
        return 1.0
    tp = len(f & t)
    return 2 * tp / (len(f) + len(t))


def part_a(images, ns, conds, seeds):
    print("\n## A. Order with the cuts given (all 11 images x vertical/horizontal x seeds)\n")
    print("| condition | N | cases | perfect | naive perfect | neighbour acc | naive nbr acc "
          "| certified | mean gap | mean time (ms) | max time (ms) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for cond in conds:
        for n in ns:
            ok = nok = nb = nnb = tot = cert = 0
            cases, times, gaps = 0, [], []
            for name, img in images.items():
                for seed in seeds:
                    for axis in (1, 0):
                        rng = np.random.default_rng([seed, n, axis, len(name)])
                        sh, cuts, true, _ = make(img, n, rng, True, axis)
                        sh = degrade(sh, cond, rng)
                        t0 = time.perf_counter()
                        r = reassemble(sh, axis=axis, cuts=cuts)
                        times.append(time.perf_counter() - t0)
                        _, _, norder = naive(sh, axis, cuts=cuts)
                        cases += 1
                        ok += list(r.order) == list(true)
                        nok += list(norder) == list(true)
                        a, b = nbr_acc(list(r.order), list(true))
                        c, _ = nbr_acc(norder, list(true))
                        nb += a
                        nnb += c
                        tot += b
                        cert += r.optimal
                        gaps.append(r.gap)
            print(f"| {cond} | {n} | {cases} | {100 * ok / cases:.1f}% | {100 * nok / cases:.1f}% "
                  f"| {100 * nb / tot:.2f}% | {100 * nnb / tot:.2f}% | {100 * cert / cases:.1f}% "
                  f"| {100 * np.mean(gaps):.3f}% | {1e3 * np.mean(times):.0f} "
                  f"| {1e3 * np.max(times):.0f} |", flush=True)


def part_b(images, ns, conds, seeds):
    print("\n## B. Cuts and N unknown (all 11 images x vertical/horizontal x seeds)\n")
    print("| widths | condition | N | cases | pixel-exact | naive pixel-exact | cut F1 "
          "| naive cut F1 | mean time (ms) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for equal in (True, False):
        for cond in conds:
            for n in ns:
                ok = nok = cases = 0
                fs, nfs, times = [], [], []
                for name, img in images.items():
                    for seed in seeds:
                        for axis in (1, 0):
                            rng = np.random.default_rng([seed, n, axis, len(name), equal])
                            sh, cuts, true, perm = make(img, n, rng, equal, axis)
                            sh = degrade(sh, cond, rng)
                            ref = np.concatenate(
                                [np.take(sh, np.arange(cuts[k], (list(cuts[1:]) + [sh.shape[axis]])[k]),
                                         axis=axis) for k in true], axis=axis)
                            t0 = time.perf_counter()
                            r = reassemble(sh, axis=axis)
                            times.append(time.perf_counter() - t0)
                            nimg, ncuts, _ = naive(sh, axis)
                            cases += 1
                            ok += np.array_equal(r.image, ref)
                            nok += np.array_equal(nimg, ref)
                            fs.append(f1(r.cuts, cuts))
                            nfs.append(f1(ncuts, cuts))
                print(f"| {'equal' if equal else 'unequal'} | {cond} | {n} | {cases} "
                      f"| {100 * ok / cases:.1f}% | {100 * nok / cases:.1f}% | {np.mean(fs):.3f} "
                      f"| {np.mean(nfs):.3f} | {1e3 * np.mean(times):.0f} |", flush=True)


def part_c():
    print("\n## C. Time on astronaut (512x512 RGB), equal widths, median of 5 runs\n")
    print("| N | cuts given (ms) | n_strips given (ms) | nothing given (ms) | perfect "
          "| pixel-exact |")
    print("|---|---|---|---|---|---|")
    img = load("astronaut")
    for n in (20, 100):
        rng = np.random.default_rng(n)
        sh, cuts, true, _ = make(img, n, rng, True, 1)
        row = []
        oks, exact = [], []
        for kw in (dict(cuts=cuts), dict(n_strips=n), {}):
            ts = []
            for _ in range(5):
                t0 = time.perf_counter()
                r = reassemble(sh, **kw)
                ts.append(time.perf_counter() - t0)
            row.append(f"{1e3 * np.median(ts):.0f}")
            oks.append(list(r.order) == list(true) and list(r.cuts) == list(cuts))
            exact.append(np.array_equal(r.image, img))
        yn = lambda v: "/".join("yes" if o else "no" for o in v)  # noqa: E731
        print(f"| {n} | " + " | ".join(row) + f" | {yn(oks)} | {yn(exact)} |", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=1, help="how many seeds (default 1)")
    p.add_argument("--first-seed", type=int, default=0,
                   help="the first seed (default 0): e.g. --first-seed 21 --seeds 6 for seeds "
                        "21-26, puzzles never used to tune the search")
    p.add_argument("--quick", action="store_true", help="fewer strip counts")
    p.add_argument("--parts", default="CAB")
    a = p.parse_args()
    seeds = list(range(a.first_seed, a.first_seed + a.seeds))
    images = {n: load(n) for n in NAMES}
    if "C" in a.parts:
        part_c()
    if "A" in a.parts:
        ns = [6, 20, 40] if a.quick else [2, 3, 6, 10, 20, 40, 60]
        part_a(images, ns, ["clean", "sigma3", "sigma8", "jpeg75"], seeds)
    if "B" in a.parts:
        ns = [3, 6, 20] if a.quick else [2, 3, 6, 10, 20, 40]
        part_b(images, ns, ["clean"], seeds)


if __name__ == "__main__":
    main()
