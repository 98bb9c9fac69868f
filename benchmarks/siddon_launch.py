"""Siddon kernel launch shapes on a GPU: block tile and minimum blocks per SM, A/B.

Each variant compiles ``drr/kernels/siddon.cu`` with another
``DRR_SIDDON_MIN_BLOCKS`` (the second ``__launch_bounds__`` argument: how many
128-thread blocks per SM ptxas must leave registers for) and launches it with
another tile (threads per block along detector columns x rows, 128 in all).
The variants run in interleaved rounds on the same volumes and poses (64 per
launch, on a circle); the table gives the best microseconds per view and the
ratio to the first variant.  Every variant's image must equal the first one's
bit for bit (the per-ray arithmetic does not depend on the launch), else the
script says so.

Usage (needs CuPy and a CUDA device; the example CT needs SimpleITK)::

    python benchmarks/siddon_launch.py [--variants 16x8:8,16x8:10,8x16:10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from drr.backends import cuda_unavailable_reason  # noqa: E402

CASES = [("example CT", 200), ("example CT", 512), ("256^3", 1024), ("512^3", 512), ("512^3", 200)]
DEFAULT = "16x8:8,16x8:10,16x8:12,16x8:16,8x16:10,8x16:12,32x4:12"


def parse_variants(text: str) -> list[tuple[tuple[int, int], int]]:
    out = []
    for item in text.split(","):
        tile, blocks = item.split(":")
        tx, ty = (int(v) for v in tile.split("x"))
        if tx * ty != 128:
            raise SystemExit(f"--variants: tile {tile} must have 128 threads (the kernels' launch bound)")
        out.append(((tx, ty), int(blocks)))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default=DEFAULT, help=f"TXxTY:MIN_BLOCKS,... (default {DEFAULT})")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    reason = cuda_unavailable_reason()
    if reason is not None:
        print(f"benchmarks/siddon_launch.py needs a CUDA GPU and CuPy: {reason}", file=sys.stderr)
        return 1
    import cupy as cp

    import drr.backends.cuda as cuda
    import gpu

    variants = parse_variants(args.variants)
    original = cuda.kernel_source
    state = {"blocks": 8}
    marker = "#define DRR_SIDDON_MIN_BLOCKS "

    def patched(name: str = "siddon.cu") -> str:
        src = original(name)
        if name == "siddon.cu":
            line = next(ln for ln in src.splitlines() if ln.startswith(marker))
            src = src.replace(line, f"{marker}{state['blocks']}")
        return src

    cuda.kernel_source = patched
    volumes = {name: gpu.make_volume(name) for name in dict.fromkeys(c[0] for c in CASES)}
    cases = [c for c in CASES if volumes[c[0]] is not None]
    geos = {c: gpu.circle_geometry(volumes[c[0]], 64, c[1]) for c in cases}
    ref, times = {}, {(v, c): [] for v in range(len(variants)) for c in cases}
    start = time.time()
    for rnd in range(args.rounds):
        for v, (tile, blocks) in enumerate(variants):
            cuda.TILE, state["blocks"] = tile, blocks
            for name, vol in volumes.items():
                if vol is None:
                    continue
                backend = cuda.CUDABackend(vol)
                for c in (c for c in cases if c[0] == name):
                    sec = gpu.time_render(cp, backend, geos[c], min_seconds=0.15, max_reps=10)
                    img = backend.render(geos[c])
                    if c not in ref:
                        ref[c] = img
                    elif not np.array_equal(img, ref[c]):
                        print(f"IMAGE DIFFERS: {tile} {blocks} {c}", flush=True)
                    times[(v, c)].append(1e6 * sec / 64)
                backend.close()
        print(f"round {rnd + 1} of {args.rounds} done at {time.time() - start:.0f} s", flush=True)
    print(f"\nmicroseconds per view, 64 poses per launch, best of {args.rounds} interleaved rounds "
          f"(ratio to {variants[0][0][0]}x{variants[0][0][1]}, {variants[0][1]} blocks)")
    print("tile, blocks".ljust(14) + "".join(f"{c[0]} {c[1]}^2".rjust(18) for c in cases))
    for v, (tile, blocks) in enumerate(variants):
        row = f"{tile[0]}x{tile[1]}, {blocks}".ljust(14)
        for c in cases:
            best, base = min(times[(v, c)]), min(times[(0, c)])
            row += f"{best:9.1f} ({best / base:.3f})".rjust(18)
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
