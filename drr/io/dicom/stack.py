"""One series as a stack: consistency checks, order along the slice normal, the k grid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import DicomError
from .scan import _Frame


# --------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class _Stack:
    frames: list          # sorted along the normal
    s: np.ndarray         # projected positions (mm) along the normal, increasing
    u: np.ndarray         # in-plane offsets (mm) of each IPP from the first, along X
    v: np.ndarray         # ... along Y
    x: np.ndarray         # row direction cosine (axis i)
    y: np.ndarray         # column direction cosine (axis j)
    n: np.ndarray         # slice normal (axis k)
    spacing_ij: tuple     # (along i, along j) = (PixelSpacing[1], PixelSpacing[0])
    rows: int
    columns: int


def _check_consistent(frames: list[_Frame]) -> None:
    ref = frames[0]
    for attr, what, tol in (("orientation", "ImageOrientationPatient", 1e-4),
                            ("pixel_spacing", "PixelSpacing", 1e-4)):
        refv = np.array(getattr(ref, attr))
        bad = [f for f in frames
               if np.max(np.abs(np.array(getattr(f, attr)) - refv))
               > tol * max(1.0, np.abs(refv).max())]
        if bad:
            raise DicomError(f"series {ref.uid}: {len(bad)} slice(s) have another {what} than "
                             f"{ref.where} ({list(refv)}), e.g. {bad[0].where} "
                             f"({list(getattr(bad[0], attr))}); a series must be one stack of "
                             "parallel slices: remove the odd files (localizers, other "
                             "reconstructions) or export them as their own series")
    bad = [f for f in frames if (f.rows, f.columns) != (ref.rows, ref.columns)]
    if bad:
        raise DicomError(f"series {ref.uid}: slices of different sizes: {ref.where} is "
                         f"{ref.columns}x{ref.rows} pixels but {bad[0].where} is "
                         f"{bad[0].columns}x{bad[0].rows} ({len(bad)} such); remove the odd files")


def _stack(frames: list[_Frame]) -> _Stack:
    _check_consistent(frames)
    iop = np.array(frames[0].orientation)
    x, y = iop[:3], iop[3:]
    nx, ny, dot = np.linalg.norm(x), np.linalg.norm(y), float(x @ y)
    if abs(nx - 1) > 1e-3 or abs(ny - 1) > 1e-3 or abs(dot) > 1e-3:
        raise DicomError(f"series {frames[0].uid}: ImageOrientationPatient {iop.tolist()} "
                         "is not two perpendicular unit vectors; the files are damaged")
    x = x / nx
    y = y - (x @ y) * x
    y = y / np.linalg.norm(y)
    n = np.cross(x, y)
    pos = np.array([f.position for f in frames])
    s = pos @ n
    order = np.argsort(s, kind="stable")
    frames = [frames[o] for o in order]
    pos, s = pos[order], s[order]
    d = pos - pos[0]
    return _Stack(frames=frames, s=s, u=d @ x, v=d @ y, x=x, y=y, n=n,
                  spacing_ij=(frames[0].pixel_spacing[1], frames[0].pixel_spacing[0]),
                  rows=frames[0].rows, columns=frames[0].columns)


def _describe_pos(st: _Stack, m: int) -> str:
    p = np.array(st.frames[m].position)
    return (f"{st.frames[m].where} (IPP {np.round(p, 3).tolist()}, "
            f"{st.s[m]:.3f} mm along the normal)")


def _k_grid(st: _Stack, resample: bool) -> tuple[np.ndarray | None, float, list[str]]:
    """Target positions along the normal (None: the slices as they are) and the k spacing."""
    s, nz = st.s, len(st.s)
    if nz == 1:
        return None, 0.0, []
    gaps = np.diff(s)
    dup = np.flatnonzero(gaps < 1e-2)
    if dup.size:
        m = int(dup[0])
        raise DicomError(f"series {st.frames[0].uid}: {dup.size} pair(s) of slices share a "
                         f"position, e.g. {_describe_pos(st, m)} and "
                         f"{st.frames[m + 1].where}; the series holds two acquisitions or "
                         "duplicate files: remove the duplicates (check AcquisitionNumber, "
                         "ImageType)")
    mean = (s[-1] - s[0]) / (nz - 1)
    dev = np.abs(s - (s[0] + mean * np.arange(nz)))
    if dev.max() <= max(0.01 * mean, 1e-2):
        return None, float(mean), []
    typical = float(np.median(gaps))
    if not resample:
        big = np.flatnonzero(gaps > 1.5 * typical)
        if big.size:
            m = int(big[0])
            where = (f"gap of {gaps[m]:.3f} mm between {_describe_pos(st, m)} and "
                     f"{_describe_pos(st, m + 1)}, where the typical spacing is {typical:.3f} mm "
                     f"(about {round(gaps[m] / typical) - 1} slice(s) missing there"
                     f"{f'; {big.size} such gaps' if big.size > 1 else ''})")
        else:
            m = int(np.argmax(np.abs(gaps - typical)))
            where = (f"slice distances range from {gaps.min():.3f} to {gaps.max():.3f} mm, e.g. "
                     f"{gaps[m]:.3f} mm between {_describe_pos(st, m)} and "
                     f"{_describe_pos(st, m + 1)}")
        raise DicomError(f"series {st.frames[0].uid}: uneven slice spacing: {where}; "
                         "add the missing files, or pass resample=True (CLI: --resample) "
                         "to interpolate linearly onto a uniform grid")
    nq = int(round((s[-1] - s[0]) / typical)) + 1
    dz = (s[-1] - s[0]) / (nq - 1)
    note = (f"uneven slice spacing ({gaps.min():.3f} to {gaps.max():.3f} mm) resampled linearly "
            f"along k onto {nq} slices {dz:.4f} mm apart")
    return s[0] + dz * np.arange(nq), float(dz), [note]
