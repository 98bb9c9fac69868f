"""A CT volume: voxel data plus the ITK geometry that places it in patient space.

Conventions (see ``docs/geometry.md``):

* the array is indexed ``data[k, j, i]`` (SimpleITK's order: ``i`` varies fastest);
* ``origin`` is the world position (mm, DICOM patient frame LPS) of the *centre*
  of voxel ``(i, j, k) = (0, 0, 0)``;
* ``spacing`` is the voxel size (mm) along ``i, j, k``;
* ``direction`` is a 3x3 matrix whose columns are the world directions of ``i, j, k``;
* voxel ``(i, j, k)`` is the box of its spacing around
  ``origin + direction @ (spacing * (i, j, k))``.
"""

from __future__ import annotations

import numpy as np

from .errors import VolumeError

__all__ = ["Volume", "UNITS"]

#: The units a volume may hold: Hounsfield units, or linear attenuation in 1/mm.
UNITS = ("HU", "mu")


def _vector3(value, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (3,):
        raise VolumeError(f"`{name}` must be 3 numbers (x, y, z), not an array of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise VolumeError(f"`{name}` must be finite, not {arr.tolist()}")
    return arr


class Volume:
    """A 3-D scalar volume with ITK-style geometry in the LPS patient frame.

    Parameters
    ----------
    data : array_like, shape (nk, nj, ni)
        Voxel values, indexed ``[k, j, i]``.  Copied to a read-only float32 array.
    spacing : 3 floats, optional
        Voxel size in mm along ``i, j, k``; all > 0.  Default ``(1, 1, 1)``.
    origin : 3 floats, optional
        World position (mm) of the centre of voxel ``(0, 0, 0)``.  Default ``(0, 0, 0)``.
    direction : (3, 3) array_like, optional
        Columns are the world directions of the ``i, j, k`` axes; must be
        orthonormal (a rotation, or a rotation with a reflection).  Default identity.
    units : {"mu", "HU"}, optional
        ``"mu"``: linear attenuation coefficient in 1/mm.  ``"HU"``: Hounsfield units.

    Raises
    ------
    VolumeError
        If the data is not 3-D, empty, or not finite, or the geometry is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> v = Volume(np.zeros((4, 5, 6)), spacing=(0.5, 0.5, 2.0))
    >>> v.shape_ijk
    (6, 5, 4)
    """

    def __init__(self, data, *, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0),
                 direction=None, units: str = "mu"):
        try:
            arr = np.array(data, dtype=np.float32, copy=True, order="C")
        except (TypeError, ValueError) as exc:
            raise VolumeError(f"`data` must be a numeric 3-D array: {exc}") from None
        if arr.ndim != 3:
            raise VolumeError(f"`data` must be a 3-D array indexed [k, j, i], not {arr.ndim}-D "
                              f"with shape {arr.shape}")
        if arr.size == 0:
            raise VolumeError(f"`data` must not be empty, not shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            bad = np.argwhere(~np.isfinite(arr))[0]
            raise VolumeError(f"`data` must be finite, but voxel [k, j, i] = {tuple(int(x) for x in bad)} "
                              f"is {arr[tuple(bad)]}; replace NaN/inf (e.g. np.nan_to_num) first")
        arr.flags.writeable = False

        spacing = _vector3(spacing, "spacing")
        if np.any(spacing <= 0):
            raise VolumeError(f"`spacing` must be > 0 mm along i, j, k, not {spacing.tolist()}")
        origin = _vector3(origin, "origin")
        if direction is None:
            direction = np.eye(3)
        direction = np.array(direction, dtype=np.float64)
        if direction.shape == (9,):
            direction = direction.reshape(3, 3)
        if direction.shape != (3, 3):
            raise VolumeError(f"`direction` must be a 3x3 matrix, not shape {direction.shape}")
        if not np.all(np.isfinite(direction)):
            raise VolumeError("`direction` must be finite")
        # DICOM stores direction cosines to ~6 decimals; accept that, refuse shears.
        err = np.abs(direction.T @ direction - np.eye(3)).max()
        if err > 1e-4:
            raise VolumeError("`direction` must be orthonormal (columns: unit, perpendicular world "
                              f"directions of i, j, k), but |D^T D - I| = {err:.2g}; "
                              "resample a sheared (e.g. gantry-tilted) volume first")
        if units not in UNITS:
            raise VolumeError(f"`units` must be one of {UNITS}, not {units!r}")

        self._data = arr
        self._spacing = spacing
        self._origin = origin
        self._direction = direction
        self._units = units
        for a in (spacing, origin, direction):
            a.flags.writeable = False

    # ------------------------------------------------------------------ data
    @property
    def data(self) -> np.ndarray:
        """Read-only float32 voxel array, indexed ``[k, j, i]``."""
        return self._data

    @property
    def spacing(self) -> np.ndarray:
        """Voxel size (mm) along ``i, j, k``."""
        return self._spacing

    @property
    def origin(self) -> np.ndarray:
        """World position (mm) of the centre of voxel ``(0, 0, 0)``."""
        return self._origin

    @property
    def direction(self) -> np.ndarray:
        """3x3 matrix whose columns are the world directions of ``i, j, k``."""
        return self._direction

    @property
    def units(self) -> str:
        """``"HU"`` or ``"mu"`` (1/mm)."""
        return self._units

    @property
    def shape_ijk(self) -> tuple[int, int, int]:
        """Number of voxels along ``(i, j, k)`` — the reverse of ``data.shape``."""
        nk, nj, ni = self._data.shape
        return (ni, nj, nk)

    # -------------------------------------------------------------- geometry
    def index_to_world(self, ijk) -> np.ndarray:
        """World position (mm) of continuous voxel indices ``(..., 3)`` ordered ``(i, j, k)``."""
        ijk = np.asarray(ijk, dtype=np.float64)
        return self._origin + (ijk * self._spacing) @ self._direction.T

    def world_to_index(self, xyz) -> np.ndarray:
        """Continuous voxel indices ``(i, j, k)`` of world points ``(..., 3)`` (mm)."""
        xyz = np.asarray(xyz, dtype=np.float64)
        return ((xyz - self._origin) @ np.linalg.inv(self._direction).T) / self._spacing

    def world_to_grid_affine(self) -> tuple[np.ndarray, np.ndarray]:
        """The affine map from world (mm) to *grid* coordinates, ``g = A @ x + b``.

        Grid coordinates are voxel indices shifted by one half, so that voxel
        ``(i, j, k)`` is the unit cube ``[i, i+1) x [j, j+1) x [k, k+1)`` and the
        whole volume is ``[0, ni] x [0, nj] x [0, nk]``.  The renderers march this
        unit grid.
        """
        A = np.linalg.inv(self._direction * self._spacing)  # columns of D scaled by spacing
        b = 0.5 - A @ self._origin
        return A, b

    def corners(self) -> np.ndarray:
        """The 8 world corners (mm) of the volume's outer box, shape (8, 3)."""
        ni, nj, nk = self.shape_ijk
        c = np.array([[i, j, k] for k in (0, nk) for j in (0, nj) for i in (0, ni)], dtype=np.float64)
        return self.index_to_world(c - 0.5)

    def center(self) -> np.ndarray:
        """World position (mm) of the centre of the volume's box."""
        return self.index_to_world((np.array(self.shape_ijk, dtype=np.float64) - 1) / 2)

    # ----------------------------------------------------------------- units
    def to_mu(self, *, energy_kev: float | None = None) -> "Volume":
        """Return this volume in linear attenuation (1/mm).

        A ``"HU"`` volume is converted with :func:`drr.physics.hu_to_mu` at
        ``energy_kev`` (default :data:`drr.physics.DEFAULT_ENERGY_KEV`); a
        ``"mu"`` volume is returned as it is (``energy_kev`` must then be None).
        """
        from .physics import DEFAULT_ENERGY_KEV, hu_to_mu

        if self._units == "mu":
            if energy_kev is not None:
                raise VolumeError("`energy_kev` applies only to a volume in HU; this volume is "
                                  "already in mu (1/mm)")
            return self
        energy = DEFAULT_ENERGY_KEV if energy_kev is None else energy_kev
        return self.with_data(hu_to_mu(self._data, energy_kev=energy), units="mu")

    def with_data(self, data, *, units: str | None = None) -> "Volume":
        """A new volume with the same geometry and new data (same shape)."""
        data = np.asarray(data)
        if data.shape != self._data.shape:
            raise VolumeError(f"`data` must have shape {self._data.shape}, not {data.shape}")
        return Volume(data, spacing=self._spacing, origin=self._origin,
                      direction=self._direction, units=self._units if units is None else units)

    def __repr__(self) -> str:
        ni, nj, nk = self.shape_ijk
        sp = ", ".join(f"{s:g}" for s in self._spacing)
        return (f"Volume({ni}x{nj}x{nk} voxels (i x j x k), spacing=({sp}) mm, "
                f"units={self._units!r})")
