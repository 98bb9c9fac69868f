"""CPU backend, interpolating renderer: trilinear samples along the ray, trapezoid rule.

The CUDA kernel (``drr/kernels/trilinear_ray.h``) follows the same steps.

The exact Siddon sum (:mod:`drr.backends.cpu`) integrates the voxelized,
piecewise-constant volume, so a DRR shows the voxels' stair steps wherever
rays are denser than voxels.  This renderer integrates a smooth field instead:
the trilinear interpolation of the voxel values, with the volume padded by one
layer of zero voxels (so the field ramps to zero over the outer half voxel, and
a uniform box still integrates to its chord length along the axes).

For a ray ``x(t) = a + t (b - a)`` in grid coordinates (voxel ``(i, j, k)``
centred at ``(i, j, k) + 1/2``), the part of the ray where the field can be
non-zero, ``[-1/2, n + 1/2]`` on every axis, is split into ``M`` equal
intervals no longer than ``step`` mm, and::

    integral ~= L * h * (f_0 / 2 + f_1 + ... + f_{M-1} + f_M / 2),   h = (t_hi - t_lo) / M

with ``L`` the ray length (mm) and ``f_m`` the trilinear value at sample ``m``.
Its error is the trapezoid rule's, O(step^2 * f''), plus the smoothing of
interpolation itself; see ``docs/method.md``.
"""

from __future__ import annotations

import math

from numba import njit

__all__ = ["trilinear", "ray_integral_trilinear"]


@njit(cache=True, nogil=True)
def trilinear(mu, gx, gy, gz):
    """Trilinear value of ``mu`` (zero outside) at grid point ``(gx, gy, gz)``."""
    nk, nj, ni = mu.shape
    x, y, z = gx - 0.5, gy - 0.5, gz - 0.5          # continuous voxel index
    i0, j0, k0 = math.floor(x), math.floor(y), math.floor(z)
    fx, fy, fz = x - i0, y - j0, z - k0
    acc = 0.0
    for dk in range(2):
        k = k0 + dk
        if k < 0 or k >= nk:
            continue
        wz = fz if dk else 1.0 - fz
        for dj in range(2):
            j = j0 + dj
            if j < 0 or j >= nj:
                continue
            wy = fy if dj else 1.0 - fy
            for di in range(2):
                i = i0 + di
                if i < 0 or i >= ni:
                    continue
                wx = fx if di else 1.0 - fx
                acc += wx * wy * wz * mu[k, j, i]
    return acc


@njit(cache=True, nogil=True)
def _clip_padded(a, d, n, t_lo, t_hi):
    """Intersect ``[t_lo, t_hi]`` with ``-1/2 < a + t d < n + 1/2``, where the field may be non-zero.

    An empty result comes back as ``t_lo >= t_hi``.
    """
    if d == 0.0:
        if a <= -0.5 or a >= n + 0.5:
            return 1.0, 0.0
        return t_lo, t_hi
    t0 = (-0.5 - a) / d
    t1 = (n + 0.5 - a) / d
    if t0 > t1:
        t0, t1 = t1, t0
    return max(t_lo, t0), min(t_hi, t1)


@njit(cache=True, nogil=True)
def ray_integral_trilinear(mu, ax, ay, az, bx, by, bz, step_t):
    """Trapezoid-rule ``sum(f * dt)`` along grid segment a -> b, ``t`` in [0, 1].

    ``step_t`` is the longest allowed sample spacing as a fraction of the segment.
    """
    nk, nj, ni = mu.shape
    t_lo, t_hi = 0.0, 1.0
    t_lo, t_hi = _clip_padded(ax, bx - ax, ni, t_lo, t_hi)
    t_lo, t_hi = _clip_padded(ay, by - ay, nj, t_lo, t_hi)
    t_lo, t_hi = _clip_padded(az, bz - az, nk, t_lo, t_hi)
    if not t_lo < t_hi:
        return 0.0
    m = max(1, int(math.ceil((t_hi - t_lo) / step_t)))
    h = (t_hi - t_lo) / m
    dx, dy, dz = bx - ax, by - ay, bz - az
    # samples from the entry point: entry + q * (h d), as the CUDA kernel does
    ex, ey, ez = ax + t_lo * dx, ay + t_lo * dy, az + t_lo * dz
    hx, hy, hz = h * dx, h * dy, h * dz
    acc = 0.0
    for q in range(m + 1):
        f = trilinear(mu, ex + q * hx, ey + q * hy, ez + q * hz)
        acc += 0.5 * f if (q == 0 or q == m) else f
    return acc * h

