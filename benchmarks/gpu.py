"""GPU throughput of the exact Siddon kernel (drr/kernels/siddon.cu) and of the
trilinear one (drr/kernels/trilinear.cu, texture unit or software filtering).

Prints one table row per (volume, detector, poses per launch) for Siddon:

* ms/view     — device time of one ``render(..., device_output=True)`` call
                (pose table, launches; no device-to-host copy) divided by poses;
* rays/s      — detector pixels traced per second;
* segments/s  — Siddon voxel segments per second (each segment reads one voxel),
                counted exactly by the kernel's count mode;
* GB/s, %bw   — the traffic that this implies if every segment's voxel came
                from DRAM (segments x bytes/voxel + 4 bytes/ray of output), and
                its fraction of the card's bandwidth measured here with a 1 GiB
                device-to-device copy.  Caches make > 100 % possible: it is a
                yardstick, not a measurement of DRAM traffic.

then, with ``--methods`` naming them, one row per (volume, detector, poses) for
``trilinear`` (hardware texture filtering) and ``trilinear-software`` (exact
weights from global memory), at ``--step`` (default half a voxel): ms/view,
views/s, the speed-up over Siddon's row of the same size, and samples (filtered
fetches) per second, counted on the host from the first pose's rays.

Volumes: 256^3 and 512^3 random mu (1 mm voxels), and the bundled example CT
(drr/data/*.nii.gz, HU -> mu) when present.  Sources on a circle around the
volume (source-to-isocentre 600 mm, source-to-detector 1000 mm), detectors
200^2, 512^2, 1024^2 covering the volume's shadow.

Usage::

    python benchmarks/gpu.py [--quick] [--storage float32|float16] [--max-seconds 20]
                             [--methods siddon,trilinear,trilinear-software] [--step 0.5]

Needs CuPy and a CUDA device; exits with a message (status 1) otherwise.
Record results in benchmarks/RESULTS.md (machine, command, table).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout
import drr  # noqa: E402
from drr.backends import cuda_unavailable_reason  # noqa: E402

VOLUMES = ("256^3", "512^3", "example CT")
DETECTORS = (200, 512, 1024)
POSES = (1, 64, 1024)


def make_volume(name: str):
    rng = np.random.default_rng(0)
    if name == "256^3":
        return drr.Volume(rng.uniform(0, 0.04, (256, 256, 256)).astype(np.float32), spacing=(1, 1, 1))
    if name == "512^3":
        return drr.Volume(rng.uniform(0, 0.04, (512, 512, 512)).astype(np.float32), spacing=(1, 1, 1))
    files = sorted((Path(drr.__file__).parent / "data").glob("*.nii.gz"))
    if not files:
        return None
    from drr.io.load import load_volume
    return load_volume(str(files[0])).to_mu()


def circle_geometry(vol, n_poses: int, det: int):
    """Sources on a circle about the volume's k axis; detectors opposite, sized to its shadow."""
    c = vol.center()
    corners = vol.corners()
    radius = float(np.max(np.linalg.norm(corners - c, axis=1)))
    sad = max(600.0, 1.5 * radius)                 # source to isocentre, mm
    sdd = sad + radius + 100.0                     # source to detector, mm
    ang = np.linspace(0, 2 * np.pi, n_poses, endpoint=False) + 0.1234
    d = np.cos(ang)[:, None] * vol.direction[:, 0] + np.sin(ang)[:, None] * vol.direction[:, 1]
    src, center = c + sad * d, c - (sdd - sad) * d
    up = np.tile(vol.direction[:, 2], (n_poses, 1))
    geo = drr.Geometry.look_at(src, center, up=up, shape=(det, det), pixel_spacing=1.0)
    # the largest shadow of the 8 corners over the poses, in the detector plane
    rel = corners[None, :, :] - src[:, None, :]                       # (N, 8, 3)
    depth = np.einsum("nkc,nc->nk", rel, -d)
    scale = sdd / depth
    half_u = np.abs(np.einsum("nkc,nc->nk", rel, geo.u) * scale).max()
    half_v = np.abs(np.einsum("nkc,nc->nk", rel, geo.v) * scale).max()
    return drr.Geometry.look_at(src, center, up=up, shape=(det, det),
                                pixel_spacing=2.04 * max(half_u, half_v) / det)


def measure_bandwidth(cp) -> float:
    """Device-to-device copy bandwidth, bytes/s (read + write of a 1 GiB buffer)."""
    n = 2**28
    a = cp.ones(n, dtype=cp.float32)
    b = cp.empty_like(a)
    cp.copyto(b, a)
    start, end = cp.cuda.Event(), cp.cuda.Event()
    reps = 10
    start.record()
    for _ in range(reps):
        cp.copyto(b, a)
    end.record()
    end.synchronize()
    seconds = cp.cuda.get_elapsed_time(start, end) / 1e3
    del a, b
    cp.get_default_memory_pool().free_all_blocks()
    return 2 * 4 * n * reps / seconds


def time_render(cp, backend, geo, min_seconds=0.2, max_reps=20, **kwargs) -> float:
    """Seconds per render call (device events), after one warm-up call."""
    out = backend.render(geo, device_output=True, **kwargs)
    del out
    start, end = cp.cuda.Event(), cp.cuda.Event()
    reps, elapsed = 0, 0.0
    while reps < max_reps and (reps < 3 or elapsed < min_seconds):
        start.record()
        out = backend.render(geo, device_output=True, **kwargs)
        end.record()
        end.synchronize()
        del out
        elapsed += cp.cuda.get_elapsed_time(start, end) / 1e3
        reps += 1
    return elapsed / reps


def trilinear_samples(vol, geo, step: float) -> float:
    """Texture fetches per view of ``method="trilinear"`` (m + 1 per ray that meets the
    zero-padded box, as drr_trilinear_integral counts them), from the first pose."""
    A, b = vol.world_to_grid_affine()
    pix_w = geo.pixel_centers()[0].reshape(-1, 3)
    length = np.linalg.norm(pix_w - geo.source[0], axis=1)                 # mm
    src = geo.source[0] @ A.T + b
    d = pix_w @ A.T + b - src
    t_lo, t_hi = np.zeros(len(d)), np.ones(len(d))
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis, n in enumerate(vol.shape_ijk):
            t0 = (-0.5 - src[axis]) / d[:, axis]
            t1 = (n + 0.5 - src[axis]) / d[:, axis]
            t_lo = np.maximum(t_lo, np.where(d[:, axis] == 0, -np.inf, np.minimum(t0, t1)))
            t_hi = np.minimum(t_hi, np.where(d[:, axis] == 0, np.inf, np.maximum(t0, t1)))
    hit = t_lo < t_hi
    step_t = step * float(np.min(vol.spacing)) / length[hit]
    m = np.maximum(np.ceil((t_hi[hit] - t_lo[hit]) / step_t), 1)
    return float(np.sum(m + 1))


SIDDON_MS: dict = {}     # (volume, detector, poses) -> ms/view of the Siddon row, for the speed-ups


def siddon_table(cp, args, bw) -> None:
    from drr.backends.cuda import CUDABackend

    head = (f"{'volume':>11} {'detector':>9} {'poses':>6} {'ms/view':>10} {'rays/s':>10} "
            f"{'segments/s':>11} {'seg/ray':>8} {'GB/s':>7} {'%bw':>6}")
    print("\nSiddon (exact)")
    print(head)
    print("-" * len(head))
    voxel_bytes = 2 if args.storage == "float16" else 4
    for vname in VOLUMES:
        t0 = time.perf_counter()
        vol = make_volume(vname)
        if vol is None:
            print(f"{vname:>11}  (no drr/data/*.nii.gz: skipped)")
            continue
        backend = CUDABackend(vol, storage=args.storage)
        for det in DETECTORS:
            seconds_per_ray = None
            for n in (POSES[:2] if args.quick else POSES):
                rays = n * det * det
                if seconds_per_ray is not None and seconds_per_ray * rays > args.max_seconds:
                    print(f"{vname:>11} {det:>4}^2    {n:>6}  (skipped: ~{seconds_per_ray * rays:.0f} s "
                          f"> --max-seconds)")
                    continue
                geo = circle_geometry(vol, n, det)
                sec = time_render(cp, backend, geo)
                segs = float(backend.count_segments(geo, device_output=True).sum(dtype=cp.float64))
                seconds_per_ray = sec / rays
                traffic = (segs * voxel_bytes + rays * 4) / sec
                SIDDON_MS[(vname, det, n)] = 1e3 * sec / n
                print(f"{vname:>11} {det:>4}^2    {n:>6} {1e3 * sec / n:>10.3f} {rays / sec:>10.3g} "
                      f"{segs / sec:>11.3g} {segs / rays:>8.1f} {traffic / 1e9:>7.1f} "
                      f"{100 * traffic / bw:>5.0f}%")
        backend.close()
        del backend
        print(f"{'':>11} ({vname}: {time.perf_counter() - t0:.1f} s in all)")


def trilinear_table(cp, args, methods) -> None:
    from drr.backends.cuda import CUDABackend

    head = (f"{'volume':>11} {'method':>18} {'detector':>9} {'poses':>6} {'ms/view':>10} "
            f"{'views/s':>10} {'vs siddon':>9} {'fetches/s':>10}")
    print(f"\nTrilinear, step {args.step} voxel ('vs siddon': Siddon's ms/view over this row's)")
    print(head)
    print("-" * len(head))
    for vname in VOLUMES:
        vol = make_volume(vname)
        if vol is None:
            continue
        for method in methods:
            filtering = "software" if method == "trilinear-software" else "texture"
            backend = CUDABackend(vol, storage=args.storage, filtering=filtering)
            for det in DETECTORS:
                seconds_per_ray = None
                for n in (POSES[:2] if args.quick else POSES):
                    rays = n * det * det
                    if seconds_per_ray is not None and seconds_per_ray * rays > args.max_seconds:
                        continue
                    geo = circle_geometry(vol, n, det)
                    sec = time_render(cp, backend, geo, method="trilinear", step=args.step)
                    seconds_per_ray = sec / rays
                    ms = 1e3 * sec / n
                    fetches = trilinear_samples(vol, geo, args.step) / (sec / n)
                    ref = SIDDON_MS.get((vname, det, n))
                    ratio = f"{ref / ms:>8.2f}x" if ref else f"{'-':>9}"
                    print(f"{vname:>11} {method:>18} {det:>4}^2    {n:>6} {ms:>10.3f} {1e3 / ms:>10.4g} "
                          f"{ratio} {fetches:>10.3g}")
            backend.close()
            del backend


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="poses per launch 1 and 64 only")
    parser.add_argument("--storage", choices=("float32", "float16"), default="float32")
    parser.add_argument("--max-seconds", type=float, default=20.0,
                        help="skip a row whose estimated time exceeds this (default 20)")
    parser.add_argument("--methods", default="siddon,trilinear,trilinear-software",
                        help="comma-separated: siddon, trilinear (texture), trilinear-software")
    parser.add_argument("--step", type=float, default=0.5,
                        help="trilinear sample spacing, fraction of a voxel (default 0.5)")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(methods) - {"siddon", "trilinear", "trilinear-software"}
    if unknown:
        parser.error(f"--methods: unknown {sorted(unknown)}")

    reason = cuda_unavailable_reason()
    if reason is not None:
        print(f"benchmarks/gpu.py needs a CUDA GPU and CuPy: {reason}", file=sys.stderr)
        return 1
    import cupy as cp

    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    bw = measure_bandwidth(cp)
    print(f"device: {name}; measured device-to-device copy bandwidth {bw / 1e9:.0f} GB/s; "
          f"storage {args.storage}")
    if "siddon" in methods:
        siddon_table(cp, args, bw)
    trilinear = [m for m in methods if m != "siddon"]
    if trilinear:
        trilinear_table(cp, args, trilinear)
    return 0


if __name__ == "__main__":
    sys.exit(main())
