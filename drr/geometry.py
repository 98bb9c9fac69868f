"""Source and detector placement: where the X-ray starts and where the board is.

A :class:`Geometry` holds one or more *poses*.  Each pose is a point source and
a flat detector ("board") of ``rows x cols`` pixels:

* ``source`` — world position (mm, LPS) of the focal spot;
* ``center`` — world position of the centre of the detector;
* ``u`` — unit vector along which the column index increases;
* ``v`` — unit vector along which the row index increases (``u`` ⟂ ``v``);
* ``pixel_spacing`` — ``(du, dv)``, pixel pitch (mm) along ``u`` and ``v``;
* ``shape`` — ``(rows, cols)``, shared by every pose of a batch.

The centre of pixel ``(r, c)`` is::

    center + (c - (cols - 1) / 2) * du * u + (r - (rows - 1) / 2) * dv * v

and its value is the line integral of attenuation along the segment from the
source to that point.  See ``docs/geometry.md``.
"""

from __future__ import annotations

import numpy as np

from .errors import GeometryError

__all__ = ["Geometry"]

_UNIT_TOL = 1e-6  # |u|, |v| = 1 and u.v = 0 to this tolerance


def _as_poses(value, name: str, width: int) -> np.ndarray:
    """``value`` as a float64 ``(N, width)`` array, or a GeometryError."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise GeometryError(f"`{name}` must be numeric, not {value!r}") from None
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != width or arr.shape[0] == 0:
        raise GeometryError(f"`{name}` must have shape ({width},) or (N, {width}), "
                            f"not {np.shape(value)}")
    if not np.all(np.isfinite(arr)):
        raise GeometryError(f"`{name}` must be finite, not {arr.tolist()}")
    return arr


def _normalize(vec: np.ndarray, name: str) -> np.ndarray:
    norm = np.linalg.norm(vec, axis=-1, keepdims=True)
    if np.any(norm < 1e-12):
        raise GeometryError(f"`{name}` must be a non-zero vector")
    return vec / norm


def _shape(shape) -> tuple[int, int]:
    try:
        rows, cols = (int(s) for s in shape)
        ok = [rows, cols] == [float(s) for s in shape]
    except (TypeError, ValueError):
        raise GeometryError(f"`shape` must be two integers (rows, cols), not {shape!r}") from None
    if not ok or rows < 1 or cols < 1:
        raise GeometryError(f"`shape` must be two positive integers (rows, cols), not {shape!r}")
    return rows, cols


class Geometry:
    """One or a batch of point-source / flat-detector poses.

    Parameters
    ----------
    source, center : (3,) or (N, 3) array_like
        Source and detector-centre positions, mm, LPS.
    u, v : (3,) or (N, 3) array_like
        Orthonormal in-plane unit vectors: ``u`` along increasing column,
        ``v`` along increasing row.
    pixel_spacing : float, (2,) or (N, 2) array_like
        ``(du, dv)``: pixel pitch along ``u`` and ``v``, mm, > 0 (a single
        number means square pixels).
    shape : (int, int)
        ``(rows, cols)`` of every detector in the batch.

    Arrays with a leading pose dimension make a batch of ``N`` poses; a single
    pose may be broadcast against a batch (e.g. one source, many boards).
    ``render`` returns ``(rows, cols)`` for an unbatched geometry and
    ``(N, rows, cols)`` for a batch (even when ``N == 1``).

    Raises
    ------
    GeometryError
        NaN or infinite values, ``u``/``v`` not unit or not perpendicular,
        non-positive pixel spacing, a source on the detector plane, or
        mismatched batch sizes.
    """

    def __init__(self, source, center, u, v, pixel_spacing, shape):
        if np.ndim(pixel_spacing) == 0:
            pixel_spacing = (pixel_spacing, pixel_spacing)
        arrays = {
            "source": _as_poses(source, "source", 3),
            "center": _as_poses(center, "center", 3),
            "u": _as_poses(u, "u", 3),
            "v": _as_poses(v, "v", 3),
            "pixel_spacing": _as_poses(pixel_spacing, "pixel_spacing", 2),
        }
        batched = any(np.ndim(x) == 2 for x in (source, center, u, v, pixel_spacing))
        sizes = {name: a.shape[0] for name, a in arrays.items()}
        n = max(sizes.values())
        bad = {name: s for name, s in sizes.items() if s not in (1, n)}
        if bad:
            raise GeometryError(f"batch sizes must agree (or be 1), not {sizes}")
        arrays = {name: np.broadcast_to(a, (n, a.shape[1])).copy() for name, a in arrays.items()}

        u_, v_ = arrays["u"], arrays["v"]
        for name, vec in (("u", u_), ("v", v_)):
            norm = np.linalg.norm(vec, axis=1)
            if np.any(np.abs(norm - 1) > _UNIT_TOL):
                raise GeometryError(f"`{name}` must be a unit vector, not of length {norm.tolist()}; "
                                    "normalise it (or use Geometry.look_at)")
        dot = np.einsum("ij,ij->i", u_, v_)
        if np.any(np.abs(dot) > _UNIT_TOL):
            raise GeometryError(f"`u` and `v` must be perpendicular, not with u.v = {dot.tolist()}")
        if np.any(arrays["pixel_spacing"] <= 0):
            raise GeometryError(f"`pixel_spacing` must be > 0 mm, not {arrays['pixel_spacing'].tolist()}")
        normal = np.cross(u_, v_)
        dist = np.einsum("ij,ij->i", arrays["source"] - arrays["center"], normal)
        if np.any(np.abs(dist) < 1e-6):
            raise GeometryError("`source` must not lie on the detector plane (distance "
                                f"{np.abs(dist).min():.3g} mm); move the source or the board")

        self._shape = _shape(shape)
        self._batched = bool(batched)
        self._arrays = arrays
        for a in arrays.values():
            a.flags.writeable = False

    # ------------------------------------------------------------ accessors
    source = property(lambda self: self._arrays["source"], doc="(N, 3) source positions, mm.")
    center = property(lambda self: self._arrays["center"], doc="(N, 3) detector centres, mm.")
    u = property(lambda self: self._arrays["u"], doc="(N, 3) unit column directions.")
    v = property(lambda self: self._arrays["v"], doc="(N, 3) unit row directions.")
    pixel_spacing = property(lambda self: self._arrays["pixel_spacing"], doc="(N, 2) (du, dv), mm.")

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of each detector."""
        return self._shape

    @property
    def batched(self) -> bool:
        """True when built with a leading pose dimension (images come back ``(N, rows, cols)``)."""
        return self._batched

    def __len__(self) -> int:
        return self._arrays["source"].shape[0]

    def __getitem__(self, index) -> "Geometry":
        """Pose ``index`` as an unbatched geometry, or a slice as a batch."""
        a = {k: x[index] for k, x in self._arrays.items()}
        if a["source"].ndim == 2 and a["source"].shape[0] == 0:
            raise GeometryError(f"index {index!r} selects no poses")
        return Geometry(a["source"], a["center"], a["u"], a["v"], a["pixel_spacing"], self._shape)

    @staticmethod
    def stack(geometries) -> "Geometry":
        """Concatenate geometries with the same ``shape`` into one batch."""
        geometries = list(geometries)
        if not geometries:
            raise GeometryError("`geometries` must not be empty")
        shapes = {g.shape for g in geometries}
        if len(shapes) != 1:
            raise GeometryError(f"all geometries of a batch must have the same shape, not {shapes}")
        cat = {k: np.concatenate([g._arrays[k] for g in geometries]) for k in geometries[0]._arrays}
        return Geometry(cat["source"], cat["center"], cat["u"], cat["v"], cat["pixel_spacing"],
                        geometries[0].shape)

    @property
    def normal(self) -> np.ndarray:
        """(N, 3) unit detector normals ``u x v``."""
        return np.cross(self.u, self.v)

    def pixel_centers(self) -> np.ndarray:
        """World positions (mm) of the pixel centres, shape ``(N, rows, cols, 3)``."""
        rows, cols = self._shape
        c = (np.arange(cols) - (cols - 1) / 2.0)
        r = (np.arange(rows) - (rows - 1) / 2.0)
        du, dv = self.pixel_spacing[:, 0], self.pixel_spacing[:, 1]
        cu = (c[None, :] * du[:, None])[:, None, :, None] * self.u[:, None, None, :]
        rv = (r[None, :] * dv[:, None])[:, :, None, None] * self.v[:, None, None, :]
        return self.center[:, None, None, :] + cu + rv

    def source_to_detector_distance(self) -> np.ndarray:
        """(N,) perpendicular distance (mm) from the source to the detector plane."""
        return np.abs(np.einsum("ij,ij->i", self.source - self.center, self.normal))

    def __repr__(self) -> str:
        rows, cols = self._shape
        return f"Geometry({len(self)} pose(s), detector {rows}x{cols} pixels)"

    # --------------------------------------------------------- constructors
    @classmethod
    def look_at(cls, source, detector_center, *, up=(0.0, 0.0, 1.0), shape, pixel_spacing) -> "Geometry":
        """A board perpendicular to the central ray, seen from behind the board.

        The central ray runs from ``source`` to ``detector_center``; the board is
        perpendicular to it.  The image is oriented as a film read by a viewer
        standing behind the board, facing the source: ``v`` (down the rows) is
        ``-up`` made perpendicular to the ray, and ``u`` (along the columns) is
        the viewer's right, ``u = n x v`` with ``n`` the beam direction.  For a
        posterior-anterior chest view (source posterior, ``up`` = superior)
        this puts the patient's right on the image's left, as radiographs are read.

        Parameters
        ----------
        source, detector_center : (3,) or (N, 3) array_like
            mm, LPS.
        up : (3,) or (N, 3) array_like, keyword-only
            World direction that appears at the top of the image.  Default
            ``(0, 0, 1)``: superior in LPS.
        shape : (rows, cols), keyword-only
        pixel_spacing : float or (du, dv), keyword-only
            mm.
        """
        s = _as_poses(source, "source", 3)
        c = _as_poses(detector_center, "detector_center", 3)
        up_ = _as_poses(up, "up", 3)
        n_ = np.broadcast_shapes(s.shape, c.shape, up_.shape)
        s, c, up_ = (np.broadcast_to(x, n_) for x in (s, c, up_))
        n = _normalize(c - s, "detector_center - source")
        up_perp = up_ - np.einsum("ij,ij->i", up_, n)[:, None] * n
        if np.any(np.linalg.norm(up_perp, axis=1) < 1e-9 * np.linalg.norm(up_, axis=1)):
            raise GeometryError("`up` must not be parallel to the central ray (source -> detector "
                                "centre); choose another up direction")
        v = -_normalize(up_perp, "up")
        u = np.cross(n, v)  # viewer's right: forward (-n) x up (-v)
        batched = any(np.ndim(x) == 2 for x in (source, detector_center, up, pixel_spacing))
        if not batched:
            s, c, u, v = s[0], c[0], u[0], v[0]
        return cls(s, c, u, v, pixel_spacing, shape)

    @classmethod
    def carm(cls, isocenter, *, sid, sdd, primary_deg=0.0, secondary_deg=0.0,
             shape, pixel_spacing) -> "Geometry":
        """A C-arm pose around an isocentre (patient supine, LPS).

        At ``primary = secondary = 0`` the source is posterior (under the
        table) and the beam points anterior (``-y``): a posterior-anterior
        view with the superior direction at the top of the image.  ``primary``
        (LAO positive, RAO negative) turns the detector toward the patient's
        left about the superior axis; ``secondary`` (cranial positive, caudal
        negative) then tilts the detector toward the head.

        Parameters
        ----------
        isocenter : (3,) array_like
            Rotation centre, mm, LPS.
        sid : float, keyword-only
            Source-to-isocentre distance, mm, > 0.
        sdd : float, keyword-only
            Source-to-detector distance, mm, > ``sid``.
        primary_deg, secondary_deg : float or (N,) array_like, keyword-only
            Angles in degrees; arrays make a batch.
        shape, pixel_spacing
            As for :class:`Geometry`.
        """
        iso = _as_poses(isocenter, "isocenter", 3)
        if iso.shape[0] != 1:
            raise GeometryError("`isocenter` must be one point (3,)")
        sid_, sdd_ = float(sid), float(sdd)
        if not (np.isfinite(sid_) and np.isfinite(sdd_) and 0 < sid_ < sdd_):
            raise GeometryError(f"`sid` and `sdd` must satisfy 0 < sid < sdd, not sid={sid}, sdd={sdd}")
        a1 = np.atleast_1d(np.asarray(primary_deg, dtype=np.float64))
        a2 = np.atleast_1d(np.asarray(secondary_deg, dtype=np.float64))
        if a1.ndim != 1 or a2.ndim != 1 or not (np.all(np.isfinite(a1)) and np.all(np.isfinite(a2))):
            raise GeometryError("`primary_deg` and `secondary_deg` must be finite numbers or 1-D arrays")
        a1, a2 = np.broadcast_arrays(a1, a2)
        p, q = np.radians(a1), np.radians(a2)
        # Beam direction after the primary rotation about +z (superior).
        n1 = np.stack([np.sin(p), -np.cos(p), np.zeros_like(p)], axis=1)
        u1 = np.stack([np.cos(p), np.sin(p), np.zeros_like(p)], axis=1)    # = (1,0,0) at p=0
        z = np.broadcast_to([0.0, 0.0, 1.0], n1.shape)
        # Secondary: tilt the beam toward +z in the plane spanned by n1 and z.
        n = np.cos(q)[:, None] * n1 + np.sin(q)[:, None] * z
        v = -(np.cos(q)[:, None] * z - np.sin(q)[:, None] * n1)           # -up, up tilted with the beam
        u = u1
        source = iso - sid_ * n
        center = iso + (sdd_ - sid_) * n
        batched = np.ndim(primary_deg) > 0 or np.ndim(secondary_deg) > 0
        if not batched:
            source, center, u, v = source[0], center[0], u[0], v[0]
        return cls(source, center, u, v, pixel_spacing, shape)

    # ----------------------------------------------------- projection matrix
    def projection_matrices(self) -> np.ndarray:
        """(N, 3, 4) pinhole matrices mapping world points to pixel indices.

        For a world point ``X`` (mm), ``P @ (X, 1) = w * (c, r, 1)``, where
        ``(c, r)`` are the (fractional) column and row indices of the point
        where the ray from the source through ``X`` meets the board, and
        ``w > 0`` for points on the source's detector side.  With
        ``B = [du u, dv v, center - source - cc du u - rc dv v]``
        (``cc = (cols-1)/2``, ``rc = (rows-1)/2``), ``P = B^-1 [I | -source]``.
        """
        rows, cols = self._shape
        du, dv = self.pixel_spacing[:, :1], self.pixel_spacing[:, 1:]
        cu, cv = du * self.u, dv * self.v
        corner = self.center - self.source - (cols - 1) / 2.0 * cu - (rows - 1) / 2.0 * cv
        B = np.stack([cu, cv, corner], axis=2)           # columns
        Binv = np.linalg.inv(B)
        t = -np.einsum("nij,nj->ni", Binv, self.source)
        return np.concatenate([Binv, t[:, :, None]], axis=2)

    @classmethod
    def from_projection_matrix(cls, P, *, shape, pixel_spacing) -> "Geometry":
        """The geometry of a 3x4 (or (N, 3, 4)) pinhole projection matrix.

        ``P`` maps world points (mm) to pixel indices ``(c, r)`` as in
        :meth:`projection_matrices`; its overall scale is free, and its sign is
        chosen so that the board is on the side of positive depth ``w``.  A
        matrix alone fixes the board only up to scale, so ``pixel_spacing``
        (``du, dv``, mm) is required; it must match the aspect ratio of ``P``,
        and ``P`` must have no skew (``u`` ⟂ ``v``).
        """
        P = np.array(P, dtype=np.float64)
        batched = P.ndim == 3
        if P.ndim == 2:
            P = P[None]
        if P.ndim != 3 or P.shape[1:] != (3, 4) or P.shape[0] == 0:
            raise GeometryError(f"`P` must have shape (3, 4) or (N, 3, 4), not {P.shape}")
        if not np.all(np.isfinite(P)):
            raise GeometryError("`P` must be finite")
        if np.ndim(pixel_spacing) == 0:
            pixel_spacing = (pixel_spacing, pixel_spacing)
        ps = _as_poses(pixel_spacing, "pixel_spacing", 2)
        ps = np.broadcast_to(ps, (P.shape[0], 2))
        if np.any(ps <= 0):
            raise GeometryError(f"`pixel_spacing` must be > 0 mm, not {ps.tolist()}")
        rows, cols = _shape(shape)
        M, p4 = P[:, :, :3], P[:, :, 3]
        if np.any(np.abs(np.linalg.det(M)) < 1e-300):
            raise GeometryError("`P`'s left 3x3 block must be invertible")
        Minv = np.linalg.inv(M)
        source = -np.einsum("nij,nj->ni", Minv, p4)
        b0, b1, b2 = Minv[:, :, 0], Minv[:, :, 1], Minv[:, :, 2]
        lam = ps[:, 0] / np.linalg.norm(b0, axis=1)           # positive scale: w > 0 in front
        lam_v = ps[:, 1] / np.linalg.norm(b1, axis=1)
        if np.any(np.abs(lam - lam_v) > 1e-6 * lam):
            implied = np.linalg.norm(b1, axis=1) / np.linalg.norm(b0, axis=1)
            raise GeometryError(f"`pixel_spacing` must have the aspect ratio dv/du that `P` implies "
                                f"({implied.tolist()}), not {(ps[:, 1] / ps[:, 0]).tolist()}")
        u = b0 / np.linalg.norm(b0, axis=1, keepdims=True)
        v = b1 / np.linalg.norm(b1, axis=1, keepdims=True)
        skew = np.abs(np.einsum("ij,ij->i", u, v))
        if np.any(skew > 1e-6):
            raise GeometryError(f"`P` must have no skew (board axes perpendicular), not u.v = {skew.tolist()}")
        corner = lam[:, None] * b2
        center = source + corner + (cols - 1) / 2.0 * ps[:, :1] * u + (rows - 1) / 2.0 * ps[:, 1:] * v
        if not batched:
            source, center, u, v, ps = source[0], center[0], u[0], v[0], ps[0]
        return cls(source, center, u, v, ps, (rows, cols))
