"""Host-side ray set-up, shared by every backend.

The geometry is done once per pose, here, in float64: the source and the
detector's pixel lattice are mapped into the volume's *grid* coordinates
(voxel ``(i, j, k)`` is the unit cube ``[i, i+1) x [j, j+1) x [k, k+1)``; see
:meth:`drr.Volume.world_to_grid_affine`).  A kernel then only evaluates, per
pixel ``(r, c)``::

    a = src_g                                   # ray start, grid coordinates
    b = pix00_g + c * col_g + r * row_g         # ray end (pixel centre), grid coordinates
    L = | pix00_w + c * col_w + r * row_w - src_w |   # ray length in mm

marches the unit grid from ``a`` to ``b`` with the parameter ``t`` in [0, 1],
and scales the sum of ``mu * dt`` by ``L``.  Because the world-to-grid map is
affine, ``t`` is the same fraction of the ray in both spaces, so the segment
lengths in mm are exactly ``L * dt``.
"""

from __future__ import annotations

import numpy as np

from ..geometry import Geometry
from ..volume import Volume

__all__ = ["pose_table", "POSE_ROWS"]

#: Row names of a pose table, in order.
POSE_ROWS = ("src_g", "pix00_g", "col_g", "row_g", "src_w", "pix00_w", "col_w", "row_w")


def pose_table(volume: Volume, geometry: Geometry) -> np.ndarray:
    """Per-pose ray parameters, float64, shape ``(N, 8, 3)`` (rows: :data:`POSE_ROWS`)."""
    rows, cols = geometry.shape
    du = geometry.pixel_spacing[:, :1]
    dv = geometry.pixel_spacing[:, 1:]
    col_w = du * geometry.u
    row_w = dv * geometry.v
    pix00_w = geometry.center - (cols - 1) / 2.0 * col_w - (rows - 1) / 2.0 * row_w
    src_w = geometry.source
    A, b = volume.world_to_grid_affine()
    table = np.empty((len(geometry), 8, 3), dtype=np.float64)
    table[:, 0] = src_w @ A.T + b
    table[:, 1] = pix00_w @ A.T + b
    table[:, 2] = col_w @ A.T          # directions: linear part only
    table[:, 3] = row_w @ A.T
    table[:, 4] = src_w
    table[:, 5] = pix00_w
    table[:, 6] = col_w
    table[:, 7] = row_w
    return table
