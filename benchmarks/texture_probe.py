"""What the GPU's texture unit does with drr's trilinear texture, read off the card.

Three readings, printed as tables (needs CuPy and a CUDA device):

1. **Weight rule.**  A volume whose texels equal their own index along one axis
   (0, 1, 2, ...) makes ``tex3D`` return ``i0 + w(f)`` at ``i0 + 1/2 + f``: the
   interpolation weight itself.  ``f`` runs over every multiple of 1/4096 in
   [0, 1) at several ``i0``, on each axis; the table counts how many weights
   each candidate rule reproduces exactly (round to nearest 1/256 with ties up
   or to even, truncation, exact).
2. **Emulation.**  Random volumes sampled at random points: the largest
   difference between ``tex3D`` and nested lerps with each per-axis weight
   rule, and the card's full rule (``drr_texture_unit_trilinear``: coordinate
   rounded, corner weights rounded too), summed exactly and rounded to float32
   (what the card does, up to rounding ties) or kept in float64.
3. **Fetch rate.**  Filtered ``tex3D`` fetches per second from a kernel that
   does nothing else (each thread walks a short ray), for a volume that fits in
   L2 and one that does not: the trilinear renderer's ceiling on this card.
4. **Corner weights.**  A 2x2x2 texture holding a single 1 returns that
   corner's weight; read on a 256 x 256 grid of fractions (multiples of 1/256)
   at several z fractions, optionally saved (``--save``) for fitting a rule.
5. **Random fractions.**  All 8 corner weights at random fractions: whether
   the unit rounds each fraction within its cell, or rounds the coordinate
   first (a fraction that rounds to 1 then moves to the next cell).

Usage::

    python benchmarks/texture_probe.py [--storage float32|float16]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import drr  # noqa: E402
from drr.backends import cuda_unavailable_reason  # noqa: E402

PROBE = r"""
extern "C" __global__ void probe(cudaTextureObject_t tex, const float* x, const float* y, const float* z,
                                 float* out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = tex3D<float>(tex, x[i], y[i], z[i]);
}

extern "C" __global__ void rate(cudaTextureObject_t tex, int ni, int nj, int nk, int steps, float* out)
{
    /* thread (c, r) of a 2-D grid walks along k from a point that neighbours share */
    int c = blockIdx.x * blockDim.x + threadIdx.x, r = blockIdx.y * blockDim.y + threadIdx.y;
    float x = 0.5f + (c % ni) * 0.37f, y = 0.5f + (r % nj) * 0.41f, z = 0.5f + 0.25f * (c / ni % 4);
    float acc = 0.0f;
    for (int q = 0; q < steps; ++q) {
        acc += tex3D<float>(tex, x, y, z);
        x += 0.11f; y += 0.07f; z += 0.5f;
        if (z > nk) z -= nk;
    }
    out[r * gridDim.x * blockDim.x + c] = acc;
}
"""

RULES = {
    "nearest, ties up": lambda f: np.floor(f * 256 + 0.5) / 256,
    "nearest, ties even": lambda f: np.round(f * 256) / 256,
    "truncate": lambda f: np.floor(f * 256) / 256,
    "exact": lambda f: f,
}


def texture(volume, storage):
    from drr.backends.cuda import CUDABackend
    backend = CUDABackend(volume, storage=storage)
    return backend, backend._make_texture()


def sample(cp, kernel, tex, x, y, z):
    n = len(x)
    out = cp.empty(n, dtype=cp.float32)
    args = [cp.asarray(a, dtype=cp.float32) for a in (x, y, z)]
    kernel(((n + 255) // 256,), (256,), (tex, *args, out, np.int32(n)))
    return cp.asnumpy(out).astype(np.float64)


def weight_rule(cp, kernel, storage):
    print(f"\n1. Weight rule ({storage}): exact matches out of every f = m/4096, 5 offsets i0, per axis")
    f = np.arange(4096) / 4096.0
    rows = []
    for axis in range(3):
        n = 512 if storage == "float32" else 256          # float16 holds integers <= 2048 exactly
        shape = [4, 4, 4]
        shape[2 - axis] = n                                 # data is (k, j, i): axis 0 = i is last
        index = np.indices(shape)[2 - axis].astype(np.float32)
        backend, (array, tex) = texture(drr.Volume(index, spacing=(1, 1, 1)), storage)
        hits = {name: 0 for name in RULES}
        worst = {name: 0.0 for name in RULES}
        total = 0
        for i0 in (0, 1, 37, n // 2, n - 2):
            pos = [np.full(f.shape, 2.0), np.full(f.shape, 2.0), np.full(f.shape, 2.0)]   # texel edges
            pos[axis] = i0 + 0.5 + f
            pos = [p.astype(np.float32) for p in pos]
            w = sample(cp, kernel, tex, *pos) - i0
            for name, rule in RULES.items():
                err = np.abs(w - rule(f))
                hits[name] += int(np.count_nonzero(err == 0))
                worst[name] = max(worst[name], float(err.max()))
            total += len(f)
            if i0 == 37:
                dump = w
        backend.close()
        rows.append((axis, hits, worst, total))
        print(f"   axis {'ijk'[axis]}: " + "; ".join(f"{k} {hits[k]}/{total} (max err {worst[k]:.2e})"
                                                    for k in RULES))
        q = np.round(dump * 4096).astype(int)
        steps = np.flatnonzero(np.diff(q))[:6] + 1
        print(f"   axis {'ijk'[axis]}: first weight changes at f*4096 = {steps.tolist()}, "
              f"values *256 = {(dump[steps] * 256).tolist()}")
    return rows


def lerp(a, b, w):
    return (1.0 - w) * a + w * b


def cell(vox, gx, gy, gz, dtype):
    """For grid points (gx, gy, gz): the fractions (x, y, z) - floor within their texel cell,
    and ``texel(di, dj, dk)``, the cell's corner texels (zero outside the volume) in ``dtype``."""
    nk, nj, ni = vox.shape
    x, y, z = gx - 0.5, gy - 0.5, gz - 0.5
    i, j, k = np.floor(x).astype(int), np.floor(y).astype(int), np.floor(z).astype(int)

    def texel(di, dj, dk):
        ii, jj, kk = i + di, j + dj, k + dk
        ok = (ii >= 0) & (jj >= 0) & (kk >= 0) & (ii < ni) & (jj < nj) & (kk < nk)
        v = np.zeros(len(gx), dtype=dtype)
        v[ok] = vox[kk[ok], jj[ok], ii[ok]]
        return v

    return [t - np.floor(t) for t in (x, y, z)], texel


def host_sample(vox, gx, gy, gz, rule, dtype):
    """Nested lerps with each axis's fraction passed through ``rule``."""
    fractions, tx = cell(vox, gx, gy, gz, dtype)
    wx, wy, wz = (rule(f).astype(dtype) for f in fractions)
    c00 = lerp(tx(0, 0, 0), tx(1, 0, 0), wx)
    c10 = lerp(tx(0, 1, 0), tx(1, 1, 0), wx)
    c01 = lerp(tx(0, 0, 1), tx(1, 0, 1), wx)
    c11 = lerp(tx(0, 1, 1), tx(1, 1, 1), wx)
    return lerp(lerp(c00, c10, wy), lerp(c01, c11, wy), wz).astype(np.float64)


def rule_weights(x1, y1, z1):
    """The 8 corner weights (x 256, corner c = dx + 2 dy + 4 dz) of drr_texture_unit_trilinear
    for fractions X1, Y1, Z1 in units of 1/256 (0-256)."""
    w = np.empty((8, len(x1)), dtype=np.int64)
    for dz in (0, 1):
        zc = z1 if dz else 256 - z1
        u1 = (x1 * zc + 128) >> 8
        u0 = zc - u1
        w11 = (u1 * y1 + 128) >> 8
        w00 = (u0 * (256 - y1) + 128) >> 8
        w[4 * dz], w[4 * dz + 1], w[4 * dz + 2], w[4 * dz + 3] = w00, u1 - w11, u0 - w00, w11
    return w


def card_sample(vox, gx, gy, gz, dtype):
    """The texture unit's rule (drr_texture_unit_trilinear in drr/kernels/trilinear_ray.h):
    each coordinate rounded to 1/256 and split into a cell and a fraction in [0, 255], corner
    weights rounded in two stages, the eight products summed exactly (float64) and rounded
    once to ``dtype``."""
    nk, nj, ni = vox.shape
    q = [np.floor(256.0 * (g - 0.5) + 0.5).astype(np.int64) for g in (gx, gy, gz)]
    (i, j, k), (x1, y1, z1) = [a >> 8 for a in q], [a & 255 for a in q]

    def texel(di, dj, dk):
        ii, jj, kk = i + di, j + dj, k + dk
        ok = (ii >= 0) & (jj >= 0) & (kk >= 0) & (ii < ni) & (jj < nj) & (kk < nk)
        v = np.zeros(len(gx))
        v[ok] = vox[kk[ok], jj[ok], ii[ok]]
        return v

    w = rule_weights(x1, y1, z1)
    acc = sum(w[c] * texel(c & 1, (c >> 1) & 1, c >> 2) for c in range(8))
    return (acc / 256).astype(dtype).astype(np.float64)


def emulation(cp, kernel, storage):
    print(f"\n2. Emulation ({storage}): max |tex3D - host formula| / max|volume| over 2e5 random points")
    rng = np.random.default_rng(7)
    vox = rng.uniform(0.0, 1.0, (23, 31, 37)).astype(np.float32)
    if storage == "float16":
        vox = vox.astype(np.float16).astype(np.float32)
    backend, (array, tex) = texture(drr.Volume(vox, spacing=(1, 1, 1)), storage)
    n = 200_000
    pts = [rng.uniform(-1.0, s + 1.0, n).astype(np.float32) for s in (37, 31, 23)]
    hw = sample(cp, kernel, tex, *pts)
    backend.close()
    g = [p.astype(np.float64) for p in pts]
    for name, rule in RULES.items():
        for dtype in (np.float32, np.float64):
            err = np.abs(hw - host_sample(vox, *g, rule, dtype))
            print(f"   {name:>20}, lerp {np.dtype(dtype).name}: max {err.max():.2e}, "
                  f"median {np.median(err):.2e}, exact {np.count_nonzero(err == 0)}/{n}")
    for dtype in (np.float32, np.float64):
        err = np.abs(hw - card_sample(vox, *g, dtype))
        print(f"   {'card rule':>20}, exact sum rounded to {np.dtype(dtype).name}: max {err.max():.2e}, "
              f"median {np.median(err):.2e}, exact {np.count_nonzero(err == 0)}/{n}")


def fetch_rate(cp, rate_kernel, storage):
    print(f"\n3. Filtered tex3D fetches per second ({storage}), 16x8 blocks, 1024x1024 threads")
    for side in (128, 512):
        rng = np.random.default_rng(1)
        vox = rng.uniform(0, 1, (side, side, side)).astype(np.float32)
        backend, (array, tex) = texture(drr.Volume(vox, spacing=(1, 1, 1)), storage)
        out = cp.empty(1024 * 1024, dtype=cp.float32)
        steps = 512
        args = (tex, np.int32(side), np.int32(side), np.int32(side), np.int32(steps), out)
        rate_kernel((64, 128), (16, 8), args)
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        for _ in range(5):
            rate_kernel((64, 128), (16, 8), args)
        end.record()
        end.synchronize()
        sec = cp.cuda.get_elapsed_time(start, end) / 1e3 / 5
        print(f"   {side}^3: {1024 * 1024 * steps / sec:.3g} fetches/s ({1e3 * sec:.2f} ms per launch)")
        backend.close()


def corner_weights(cp, kernel, storage, save):
    """Each of the 8 corner weights on a grid of fractions that are multiples of 1/256
    (no rounding of the fraction itself): a 2x2x2 texture holding a single 1."""
    grid = np.arange(256) / 256.0
    zs = (0, 1, 64, 128, 129, 200, 255)
    fx, fy = np.meshgrid(grid, grid)                  # [Y, X]
    table = np.empty((8, len(zs), 256, 256))
    for c in range(8):
        dx, dy, dz = c & 1, (c >> 1) & 1, (c >> 2) & 1
        vox = np.zeros((2, 2, 2), dtype=np.float32)
        vox[dz, dy, dx] = 1.0
        backend, (array, tex) = texture(drr.Volume(vox, spacing=(1, 1, 1)), storage)
        for iz, z in enumerate(zs):
            pts = [(0.5 + fx).ravel(), (0.5 + fy).ravel(), np.full(fx.size, 0.5 + z / 256.0)]
            table[c, iz] = sample(cp, kernel, tex, *[p.astype(np.float32) for p in pts]).reshape(256, 256)
        backend.close()
    total = table.sum(axis=0)
    w256 = table * 256
    print(f"\n4. Corner weights ({storage}): fractions X/256, Y/256, Z/256 in {zs}")
    print(f"   sum of the 8 weights: min {total.min():.9f} max {total.max():.9f}; "
          f"weights*256 integer: {np.all(w256 == np.round(w256))}; *65536 integer: "
          f"{np.all(table * 65536 == np.round(table * 65536))}")
    if save:
        np.savez_compressed(save, table=table.astype(np.float32), zs=np.array(zs))
        print(f"   saved {save}")


def random_fractions(cp, kernel, storage, n=200_000):
    """All 8 corner weights at random fractions (multiples of 2^-20, a third within 2^-12 of a
    rounding tie): a 4x4x4 texture holding a single 1 at texel (2, 2, 2), sampled in the 8
    cells around it.  Compares the rule that rounds the coordinate before splitting it into
    cell and fraction (drr_texture_unit_trilinear) with one that rounds the fraction within
    its cell (a fraction may round to 256/256)."""
    rng = np.random.default_rng(11)
    f = [rng.integers(0, 2**20, n) / 2.0**20 for _ in range(3)]
    m = n // 3
    for a in range(3):
        near = (rng.integers(0, 256, m) + 0.5) / 256 + rng.integers(-2**8, 2**8 + 1, m) / 2.0**20
        f[a][:m] = np.clip(near, 0, 1 - 2.0**-20)
    card = np.empty((8, n))
    vox = np.zeros((4, 4, 4), dtype=np.float32)
    vox[2, 2, 2] = 1.0
    backend, (array, tex) = texture(drr.Volume(vox, spacing=(1, 1, 1)), storage)
    for c in range(8):
        d = (c & 1, (c >> 1) & 1, (c >> 2) & 1)
        card[c] = sample(cp, kernel, tex, *[((2 - dd) + 0.5 + fa).astype(np.float32) for dd, fa in zip(d, f)])
    backend.close()
    card = np.round(card * 256).astype(np.int64)
    q = [np.floor(fa * 256 + 0.5).astype(np.int64) for fa in f]       # 0-256
    in_cell = rule_weights(*q)
    moved = rule_weights(*[a & 255 for a in q])                       # a fraction of 256 -> next cell, 0
    for axis, a in enumerate(q):                                      # ... whose weights sit one cell on
        shift = a == 256
        step = 1 << axis
        for c in range(8):
            if c & step:
                moved[c, shift] = moved[c - step, shift]
                moved[c - step, shift] = 0
    print(f"\n5. Corner weights ({storage}) at {n} random fractions (multiples of 2^-20), all 8 read back")
    for name, w in (("fraction rounded within its cell", in_cell), ("coordinate rounded, then split", moved)):
        ok = np.all(w == card, axis=0)
        print(f"   {name:>34}: {np.count_nonzero(ok)}/{n} points exact ({np.count_nonzero(ok[:m])}/{m} near ties)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storage", choices=("float32", "float16"), default="float32")
    parser.add_argument("--save", help="write the corner-weight table (section 4) to this .npz")
    args = parser.parse_args(argv)
    reason = cuda_unavailable_reason()
    if reason is not None:
        print(f"benchmarks/texture_probe.py needs a CUDA GPU and CuPy: {reason}", file=sys.stderr)
        return 1
    import cupy as cp
    module = cp.RawModule(code=PROBE, options=("-std=c++17",))
    kernel, rate_kernel = module.get_function("probe"), module.get_function("rate")
    weight_rule(cp, kernel, args.storage)
    emulation(cp, kernel, args.storage)
    fetch_rate(cp, rate_kernel, args.storage)
    corner_weights(cp, kernel, args.storage, args.save)
    random_fractions(cp, kernel, args.storage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
