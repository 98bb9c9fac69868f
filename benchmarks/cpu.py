"""CPU (Numba) renderer speed: ms per DRR and rays/s.

Volumes: the bundled example CT (128x128x66) and a random 256^3 volume;
detectors 256^2 and 512^2; a posterior-anterior C-arm view (sid 1000, sdd 1500 mm)
whose board just holds the volume, so nearly every ray crosses it.  Both methods:
exact Siddon, and trilinear samples every half voxel.

Run:  python benchmarks/cpu.py [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="timed renders per case (best is reported)")
    ap.add_argument("--threads", type=int, default=None, help="Numba threads (default: all cores)")
    args = ap.parse_args()

    import numba

    import drr
    from drr.cli.render import fit_spacing
    from drr.data import load_example_ct

    if args.threads:
        numba.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    volumes = {
        "example CT 128x128x66": load_example_ct(),
        "random 256^3": drr.Volume(rng.uniform(0, 0.03, size=(256, 256, 256)).astype(np.float32),
                                   spacing=(1.0, 1.0, 1.0)),
    }
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
          f"Numba {numba.__version__} with {numba.get_num_threads()} threads")
    print(f"{'volume':24} {'detector':>9} {'method':>10} {'ms/DRR':>9} {'Mrays/s':>9}")
    for name, vol in volumes.items():
        renderer = drr.Renderer(vol, backend="cpu")
        for n in (256, 512):
            def make(pitch, n=n, vol=vol):
                return drr.Geometry.carm(vol.center(), sid=1000, sdd=1500, shape=(n, n), pixel_spacing=pitch)
            geo = make(fit_spacing(vol, make, (n, n)))
            for method in ("siddon", "trilinear"):
                renderer(geo, method=method)            # compile / warm up
                times = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    renderer(geo, method=method)
                    times.append(time.perf_counter() - t0)
                best = min(times)
                print(f"{name:24} {n:>4}x{n:<4} {method:>10} {best * 1e3:9.1f} {n * n / best / 1e6:9.2f}")


if __name__ == "__main__":
    main()
