"""The CPU backend object: holds the mu volume and calls the Numba kernel."""

from __future__ import annotations

import numpy as np

from ..geometry import Geometry
from ..volume import Volume
from .cpu import render_poses
from .poses import pose_table


class CPUBackend:
    """Exact Siddon on the CPU (Numba, parallel over rays)."""

    name = "cpu"

    def __init__(self, volume: Volume):
        self._mu = volume.data          # read-only float32, C order, [k, j, i]
        self._volume = volume

    def render(self, geometry: Geometry) -> np.ndarray:
        rows, cols = geometry.shape
        out = np.empty((len(geometry), rows, cols), dtype=np.float32)
        render_poses(self._mu, pose_table(self._volume, geometry), rows, cols, out)
        return out
