"""``drr info INPUT``: say what a CT input holds and how drr reads it.

Prints the format, size (i x j x k), spacing, origin, direction and the closest
anatomical orientation, the HU range, and the DICOM series.  A DICOM folder with
several series (and no ``--series``) is listed instead of loaded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

__all__ = ["add_parser", "run", "orientation_code"]

_LETTERS = (("L", "R"), ("P", "A"), ("S", "I"))   # +x, -x; +y, -y; +z, -z in LPS


def orientation_code(direction, *, tol_deg: float = 0.5) -> str:
    """Closest anatomical orientation of the i, j, k axes, e.g. ``"LPS"`` for identity.

    Each letter is where that axis points in the LPS patient frame (``L``eft,
    ``P``osterior, ``S``uperior, or the opposites ``R``, ``A``, ``I``).  If an axis
    is more than ``tol_deg`` from a patient axis the result is
    ``"oblique (closest XYZ)"``.
    """
    d = np.asarray(direction, dtype=np.float64).reshape(3, 3)
    code, oblique = "", False
    for c in range(3):
        col = d[:, c]
        a = int(np.argmax(np.abs(col)))
        code += _LETTERS[a][0 if col[a] > 0 else 1]
        if abs(col[a]) / np.linalg.norm(col) < np.cos(np.radians(tol_deg)):
            oblique = True
    return f"oblique (closest {code})" if oblique else code


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "info", help="describe a CT input (DICOM folder/file, NIfTI, MHA, NRRD)",
        description="Describe what drr loads from a CT input: format, size, spacing, "
                    "origin, orientation, HU range, DICOM series. A DICOM folder with several "
                    "series is listed; choose one with --series.")
    p.add_argument("input", metavar="INPUT", help="DICOM folder or file, or .nii/.nii.gz/.mha/.nrrd")
    p.add_argument("--series", metavar="UID", default=None,
                   help="SeriesInstanceUID to read from a folder with several series")
    p.add_argument("--resample", action="store_true",
                   help="interpolate unevenly spaced DICOM slices onto a uniform grid")
    p.set_defaults(func=run)
    return p


def _fmt(values, digits: int = 6) -> str:
    return "(" + ", ".join(f"{float(v):.{digits}g}" for v in values) + ")"


def run(args) -> int:
    from ..io.dicom import list_series
    from ..io.load import load_volume_with_info

    path = Path(args.input).expanduser()
    if path.is_dir() and args.series is None:
        series = list_series(path)
        ct = [s for s in series if s.is_ct]
        if len(ct) != 1:
            print(f"input:     {path}")
            print(f"{len(series)} image series ({len(ct)} CT)"
                  + ("; choose one with --series UID:" if len(ct) > 1 else ":"))
            for s in series:
                desc = f" {s.description!r}" if s.description else ""
                print(f"  {s.uid}{desc}  {s.modality or '?'}  {s.n_slices} slices  "
                      f"{s.columns}x{s.rows}")
            if not ct:
                print("none is CT; drr reads CT (HU) only")
            return 0
    vol, info = load_volume_with_info(path, series=args.series, resample=args.resample)
    ni, nj, nk = vol.shape_ijk
    extent = np.array(vol.shape_ijk) * vol.spacing
    d = vol.direction
    lines = [
        ("input", str(path)),
        ("format", info.format),
    ]
    if info.series is not None:
        s = info.series
        desc = f" {s.description!r}" if s.description else ""
        lines.append(("series", f"{s.uid}{desc} ({s.modality}, {s.n_slices} slices)"))
    lines += [
        ("size", f"{ni} x {nj} x {nk} voxels (i x j x k)"),
        ("spacing", f"{_fmt(vol.spacing)} mm"),
        ("extent", f"{_fmt(extent)} mm"),
        ("origin", f"{_fmt(vol.origin)} mm (LPS, centre of voxel 0,0,0)"),
        ("orientation", orientation_code(d)),
        ("direction", "i=" + _fmt(d[:, 0], 4) + " j=" + _fmt(d[:, 1], 4)
         + " k=" + _fmt(d[:, 2], 4)),
        ("HU range", f"{float(vol.data.min()):g} .. {float(vol.data.max()):g} "
                     f"(mean {float(vol.data.mean(dtype=np.float64)):.1f})"),
    ]
    for n in info.notes:
        lines.append(("note", n))
    width = max(len(k) for k, _ in lines) + 1
    for k, v in lines:
        print(f"{k + ':':<{width}} {v}")
    return 0
