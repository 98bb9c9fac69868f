"""The CPU backend object: holds the mu volume and calls the Numba kernels."""

from __future__ import annotations

import numpy as np

from ..geometry import Geometry
from ..volume import Volume
from .cpu import render_poses
from .poses import pose_table


class CPUBackend:
    """Exact Siddon (or trilinear sampling) on the CPU (Numba, parallel over rays)."""

    name = "cpu"
    methods = ("siddon", "trilinear")

    def __init__(self, volume: Volume):
        self._mu = volume.data          # read-only float32, C order, [k, j, i]
        self._volume = volume

    def render(self, geometry: Geometry, *, method: str = "siddon", step: float = 0.5) -> np.ndarray:
        """``(N, rows, cols)`` float32 line integrals; ``step``: trilinear sample
        spacing as a fraction of the smallest voxel spacing."""
        rows, cols = geometry.shape
        out = np.empty((len(geometry), rows, cols), dtype=np.float32)
        poses = pose_table(self._volume, geometry)
        if method == "trilinear":
            step_mm = float(step) * float(np.min(self._volume.spacing))
            render_poses(self._mu, poses, rows, cols, out, True, step_mm)
        else:
            render_poses(self._mu, poses, rows, cols, out)
        return out
