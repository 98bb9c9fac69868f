"""What the GPU texture unit's 8-bit interpolation weights cost: emulated on the CPU, or measured.

``method="trilinear"`` on the CUDA backend samples the volume with the texture
unit's hardware filter, whose weights are multiples of 1/256 (the rule, read
off an H200 by ``benchmarks/texture_probe.py``, is in ``docs/method.md`` and
``drr/kernels/trilinear_ray.h``).  The kernels' host build
(:mod:`drr.backends.host_build`) runs the very per-ray code of
``trilinear_ray.h`` with exact weights (``drr_trilinear_f32``, = the CPU
backend) or with the texture unit's weights (emulated), so the cost can be
measured without a GPU; ``--gpu`` adds the texture unit itself.

Prints, per volume and step: the relative difference texture - exact over the
pixels whose line integral is above 5 % of the image's maximum (median, 95th
percentile, max), the largest absolute difference, and for scale the difference
exact-trilinear - Siddon (interpolation's own effect).

Usage::

    python benchmarks/texture_weights.py [--det 256] [--poses 8] [--gpu]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout
import drr  # noqa: E402
from drr.data import load_example_ct  # noqa: E402
from drr.backends.cpu_backend import CPUBackend  # noqa: E402
from drr.backends.host_build import build_host_library, host_render_trilinear  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu import circle_geometry  # noqa: E402


def stats(a, b, keep):
    rel = np.abs(a[keep].astype(np.float64) - b[keep]) / np.abs(b[keep])
    return np.median(rel), np.percentile(rel, 95), rel.max(), float(np.max(np.abs(a - b.astype(np.float64))))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--det", type=int, default=256, help="detector size, pixels (default 256)")
    ap.add_argument("--poses", type=int, default=8, help="poses on a circle (default 8)")
    ap.add_argument("--gpu", action="store_true",
                    help="also the texture unit itself (drr_trilinear_tex on a CUDA device) vs exact weights")
    args = ap.parse_args(argv)
    if args.gpu:
        from drr.backends.cuda import CUDABackend
    lib = build_host_library("float", tempfile.mkdtemp(prefix="drr_host_"))
    rng = np.random.default_rng(0)
    volumes = {
        "example CT (HU->mu)": load_example_ct().to_mu(),
        "random 96^3": drr.Volume(rng.uniform(0, 0.04, (96, 96, 96)).astype(np.float32)),
    }
    print(f"detector {args.det}^2, {args.poses} poses on a circle; pixels with line integral > 5 % of max")
    print("| volume | step (voxel) | texture weights | texture vs exact: median rel | 95th pct | max rel | "
          "max abs | exact trilinear vs Siddon: median rel |")
    print("|---|---|---|---|---|---|---|---|")
    for name, vol in volumes.items():
        geo = circle_geometry(vol, args.poses, args.det)
        siddon = CPUBackend(vol).render(geo)
        for step in (0.5, 0.25):
            step_mm = step * float(np.min(vol.spacing))
            exact = host_render_trilinear(lib, vol, geo, step_mm=step_mm)
            textures = {"emulated": host_render_trilinear(lib, vol, geo, step_mm=step_mm,
                                                          texture_weights=True)}
            if args.gpu:
                textures["hardware"] = CUDABackend(vol).render(geo, method="trilinear", step=step)
            keep = exact > 0.05 * exact.max()
            sid_med = stats(exact, siddon, keep)[0]
            for kind, tex in textures.items():
                med, p95, mx, mabs = stats(tex, exact, keep)
                print(f"| {name} | {step} | {kind} | {med:.2e} | {p95:.2e} | {mx:.2e} | {mabs:.2e} | "
                      f"{sid_med:.2e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
