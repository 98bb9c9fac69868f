"""Interleaved A/B of two copies of ``drr``: the same timed calls, alternating, best of N.

Each code tree (a folder holding a ``drr`` package, e.g. ``git archive REV drr | tar -x -C
/tmp/old``) runs in its own worker process (``PYTHONPATH`` = the tree, its own
``NUMBA_CACHE_DIR`` under ``--cache``), so the two never share a module or a Numba cache.
The workers take turns on every call, the order swapped each round, so a change of the
host's load hits both sides alike. Every case prints the best wall time of each side and
whether their outputs were identical (an md5 of every output array).

Cases (the workloads of the issue-4/5 speed targets):

- ``colormap:MAP:COND:MODE``: ``invert_colormap`` of ``benchmarks/colormap.py``'s 1000 x 1000
  ``dem`` field rendered with MAP under COND (``png``, ``png+noise``, ``jpeg75``; seed 5);
  MODE ``new`` = the map's nearest-colour table filled by the seed-6 image first (the speed
  table's "new image"), ``cold`` = the table emptied first.
- ``strips:N``: ``reassemble`` with nothing given on ``benchmarks/strips.py``'s part C puzzle
  (astronaut 512 x 512 RGB, N equal strips, ``rng = default_rng(N)``).

Usage::

    git archive 103195a drr | tar -x -C /tmp/old
    python benchmarks/ab_trees.py /tmp/old . --case colormap:twilight:png+noise:new \\
        --case strips:20 --rounds 9

Record ``uptime`` beside the numbers: on a shared host only interleaved pairs mean anything.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _digest(arrays):
    h = hashlib.md5()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:8]


def _worker(keep):
    """Serve timed calls: one case per stdin line, ``seconds digest`` per stdout line.

    ``keep``: the last result stays alive until the next call ends (as in
    ``benchmarks/colormap.py``'s speed table); else it is dropped at once, and glibc may give
    the heap back to the system between calls (the next call then faults its pages in again).
    """
    sys.path.insert(1, str(HERE))
    import drr

    made = {}
    last = []

    def colormap_call(name, cond, mode):
        import colormap as bench
        import drr.tools.colormap.nearest as nearest
        from drr.tools.colormap import invert_colormap

        if (name, cond) not in made:
            from matplotlib import cbook
            from scipy import ndimage

            dem = cbook.get_sample_data("jacksboro_fault_dem.npz")["elevation"].astype(float)
            big = bench._unit(ndimage.zoom(dem, (1000 / dem.shape[0], 1000 / dem.shape[1]), order=3))
            made[name, cond] = (bench.degrade(big, name, cond, seed=5), bench.degrade(big, name, cond, seed=6))
        img, other = made[name, cond]
        nearest._cube_cache.clear()
        if mode == "new":
            invert_colormap(other, cmap=name)
        t0 = time.perf_counter()
        r = invert_colormap(img, cmap=name)
        dt = time.perf_counter() - t0
        last[:] = [r] if keep else []
        return dt, _digest([r.values, r.interval_low, r.interval_high, r.valid, r.distance, r.n_branches])

    def strips_call(n):
        import strips as bench
        from drr.tools.strips import reassemble

        if n not in made:
            made[n] = bench.make(bench.load("astronaut"), n, np.random.default_rng(n), True, 1)[0]
        t0 = time.perf_counter()
        r = reassemble(made[n])
        dt = time.perf_counter() - t0
        last[:] = [r] if keep else []
        return dt, _digest([r.image, np.asarray(r.order), np.asarray(r.cuts)])

    print("ready", drr.__file__, flush=True)
    for line in sys.stdin:
        kind, *args = line.split()
        if kind == "colormap":
            dt, h = colormap_call(*args)
        else:
            dt, h = strips_call(int(args[0]))
        print(f"{dt} {h}", flush=True)


def _start(tree, cache, keep):
    env = dict(os.environ, PYTHONPATH=str(tree), NUMBA_CACHE_DIR=str(cache))
    p = subprocess.Popen([sys.executable, __file__, "--worker"] + (["--keep"] if keep else []), env=env, cwd="/",
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().split()
    if not line or line[0] != "ready":
        raise SystemExit(f"worker for {tree} did not start")
    if not line[1].startswith(str(tree)):
        raise SystemExit(f"worker for {tree} imported {line[1]}: is there a drr package in it?")
    return p


def main(argv=None):
    if argv is None and sys.argv[1:2] == ["--worker"]:
        return _worker(keep=sys.argv[2:3] == ["--keep"])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old", type=Path, help="folder holding the A side's drr package")
    ap.add_argument("new", type=Path, help="folder holding the B side's drr package")
    ap.add_argument("--case", action="append", required=True,
                    help="colormap:MAP:COND:MODE or strips:N (repeatable)")
    ap.add_argument("--rounds", type=int, default=9, help="timed calls per side and case (best is shown)")
    ap.add_argument("--keep", action="store_true",
                    help="keep each result alive until the next call ends (default: drop it)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/drr_ab_cache"),
                    help="parent of the two sides' Numba cache folders")
    a = ap.parse_args(argv)
    trees = [a.old.resolve(), a.new.resolve()]
    for t in trees:
        if not (t / "drr" / "__init__.py").is_file():
            ap.error(f"{t} must hold a drr package (drr/__init__.py), not be without one")
    workers = [_start(t, a.cache / f"side{i}", a.keep) for i, t in enumerate(trees)]
    print(time.strftime("%H:%M:%S"), "load %.2f %.2f %.2f" % os.getloadavg(), flush=True)
    print("| case | A ms | B ms | B / A | outputs |\n|---|---|---|---|---|")
    for case in a.case:
        cmd = " ".join(case.split(":")) + "\n"
        best, digests = [np.inf, np.inf], [set(), set()]
        for rnd in range(a.rounds):
            for side in ((0, 1) if rnd % 2 == 0 else (1, 0)):
                workers[side].stdin.write(cmd)
                workers[side].stdin.flush()
                dt, h = workers[side].stdout.readline().split()
                best[side] = min(best[side], float(dt))
                digests[side].add(h)
        same = "identical" if digests[0] == digests[1] and len(digests[0]) == 1 else "DIFFER"
        print(f"| {case} | {1e3 * best[0]:.1f} | {1e3 * best[1]:.1f} | {best[1] / best[0]:.3f} | {same} |",
              flush=True)
    print(time.strftime("%H:%M:%S"), "load %.2f %.2f %.2f" % os.getloadavg(), flush=True)
    for w in workers:
        w.stdin.close()
        w.wait()


if __name__ == "__main__":
    main()
