"""Slow, independent float64 references for the renderer tests.

* :func:`siddon_sum` — the original Siddon (1985) formulation: collect every
  plane crossing of the segment, sort them, and weigh each piece by the voxel
  that contains its midpoint.  It shares no code with the incremental
  traversal of the backends.
* :func:`box_chord` — the length (mm) of a segment inside an oriented box, by
  slabs in the box's own frame.
"""

from __future__ import annotations

import numpy as np


def siddon_sum(mu: np.ndarray, a, b) -> float:
    """``sum(mu * dt)`` over the grid-space segment a -> b, t in [0, 1] (float64).

    Grid space: voxel (i, j, k) is the cube [i, i+1) x [j, j+1) x [k, k+1);
    ``mu`` is indexed [k, j, i].
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    d = b - a
    n = np.array(mu.shape[::-1])
    ts = [np.array([0.0, 1.0])]
    for ax in range(3):
        if d[ax] != 0:
            with np.errstate(over="ignore"):      # planes beyond reach of a tiny step: t = inf
                t = (np.arange(n[ax] + 1) - a[ax]) / d[ax]
            ts.append(t[(t > 0) & (t < 1)])
    t = np.unique(np.concatenate(ts))
    mid = a + 0.5 * (t[:-1] + t[1:])[:, None] * d
    idx = np.floor(mid).astype(np.int64)
    inside = np.all((idx >= 0) & (idx < n), axis=1)
    dt = np.diff(t)[inside]
    i, j, k = idx[inside].T
    return float(np.sum(mu.astype(np.float64)[k, j, i] * dt))


def render_reference(volume, geometry) -> np.ndarray:
    """Line integrals for every pose/pixel, float64, (N, rows, cols), by :func:`siddon_sum`."""
    pix = geometry.pixel_centers()
    out = np.zeros(pix.shape[:3])
    # world -> continuous index, then shift by 1/2 so voxel boundaries are integers
    Minv = np.linalg.inv(volume.direction @ np.diag(volume.spacing))
    mu = np.asarray(volume.data, dtype=np.float64)
    for n in range(pix.shape[0]):
        s_w = geometry.source[n]
        a = Minv @ (s_w - volume.origin) + 0.5
        for r in range(pix.shape[1]):
            for c in range(pix.shape[2]):
                p_w = pix[n, r, c]
                b = Minv @ (p_w - volume.origin) + 0.5
                out[n, r, c] = siddon_sum(mu, a, b) * np.linalg.norm(p_w - s_w)
    return out


def box_chord(p0, p1, lo, hi, rotation=np.eye(3), origin=np.zeros(3)) -> float:
    """Length (mm) of the segment p0 -> p1 inside a box.

    The box is ``[lo, hi]`` in local coordinates ``x_local = R^T (x - origin)``.
    """
    R = np.asarray(rotation, dtype=np.float64)
    q0 = R.T @ (np.asarray(p0, float) - origin)
    q1 = R.T @ (np.asarray(p1, float) - origin)
    d = q1 - q0
    t0, t1 = 0.0, 1.0
    for ax in range(3):
        if d[ax] == 0:
            if not (lo[ax] <= q0[ax] <= hi[ax]):
                return 0.0
            continue
        ta, tb = sorted(((lo[ax] - q0[ax]) / d[ax], (hi[ax] - q0[ax]) / d[ax]))
        t0, t1 = max(t0, ta), min(t1, tb)
    return max(0.0, t1 - t0) * float(np.linalg.norm(d))
