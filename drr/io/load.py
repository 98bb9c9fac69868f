"""Load a CT volume from a DICOM folder or file, or any image file SimpleITK reads.

:func:`load_volume` is the one entry point; :func:`load_volume_with_info` also
says what was read (format, series, notes) for ``drr info``.

* A folder, or a file with the DICOM preamble: :func:`drr.io.dicom.read_dicom`
  (its docstring has the DICOM rules: slice order, rescale, tilt, resampling).
* ``.nii``, ``.nii.gz``, ``.mha``, ``.mhd``, ``.nrrd``, ``.nhdr`` and any other file
  SimpleITK reads: SimpleITK's origin, spacing and direction are already ITK
  geometry in LPS (SimpleITK converts NIfTI's RAS), and
  ``sitk.GetArrayFromImage`` gives ``[k, j, i]``.  These formats carry no
  intensity units: **their values are taken as HU** (NIfTI ``scl_slope`` /
  ``scl_inter`` are applied by SimpleITK).  2-D, 4-D and vector
  (multi-component) images are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import LoadError, VolumeError
from ..volume import Volume
from .dicom import SeriesInfo, is_dicom_file, read_dicom

__all__ = ["load_volume", "load_volume_with_info", "LoadInfo"]

_ITK_FORMATS = {
    ".nii": "NIfTI", ".nii.gz": "NIfTI", ".mha": "MetaImage", ".mhd": "MetaImage",
    ".nrrd": "NRRD", ".nhdr": "NRRD", ".img": "Analyze/NIfTI", ".hdr": "Analyze/NIfTI",
    ".img.gz": "Analyze/NIfTI", ".vtk": "VTK", ".tif": "TIFF", ".tiff": "TIFF",
}


@dataclass(frozen=True)
class LoadInfo:
    """What :func:`load_volume_with_info` read.

    Attributes
    ----------
    path : str
        The input path.
    format : str
        E.g. ``"DICOM series (133 files)"``, ``"DICOM file"``, ``"NIfTI"``, ``"MetaImage"``.
    series : SeriesInfo or None
        The DICOM series that was read (None for other formats).
    notes : tuple of str
        Files skipped, corrections and resampling applied, assumptions made.
    """

    path: str
    format: str
    series: SeriesInfo | None = None
    notes: tuple = field(default_factory=tuple)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suf in (".nii.gz", ".img.gz"):
        if name.endswith(suf):
            return suf
    return path.suffix.lower()


def load_volume(path, *, series: str | None = None, resample: bool = False) -> Volume:
    """Load a CT volume in Hounsfield units.

    Parameters
    ----------
    path : str or Path
        A folder of DICOM files (searched recursively), one DICOM file
        (single-slice or multi-frame), or a file SimpleITK reads
        (``.nii``, ``.nii.gz``, ``.mha``/``.mhd``, ``.nrrd``...), whose values
        are taken as HU.
    series : str, optional
        ``SeriesInstanceUID`` to read when a DICOM folder holds several CT series.
    resample : bool, optional
        DICOM only: interpolate unevenly spaced slices (e.g. a missing slice)
        linearly onto a uniform grid instead of raising.

    Returns
    -------
    Volume
        ``units="HU"``, float32 data indexed ``[k, j, i]``, ITK geometry in
        the LPS patient frame (mm).

    Raises
    ------
    InputError
        If ``series`` or ``resample`` have the wrong type.
    LoadError
        If the path does not exist, the file cannot be read, or the image is
        not a 3-D scalar volume.
    DicomError
        (a ``LoadError``) for DICOM problems: empty folder, no CT, several
        series, missing or uneven slices, corrupt or undecodable files.

    Examples
    --------
    >>> vol = load_volume("ct_folder/")                      # doctest: +SKIP
    >>> vol = load_volume("ct.nii.gz")                       # doctest: +SKIP
    """
    return load_volume_with_info(path, series=series, resample=resample)[0]


def load_volume_with_info(path, *, series: str | None = None,
                          resample: bool = False) -> tuple[Volume, LoadInfo]:
    """Like :func:`load_volume`, and also say what was read (a :class:`LoadInfo`)."""
    from ..errors import InputError

    if not isinstance(path, (str, Path)) or not str(path):
        raise InputError(f"`path` must be a file or folder path (str or Path), not {path!r}")
    if series is not None and (not isinstance(series, str) or not series.strip()):
        raise InputError(f"`series` must be a SeriesInstanceUID string or None, not {series!r}")
    if not isinstance(resample, (bool, np.bool_)):
        raise InputError(f"`resample` must be True or False, not {resample!r}")
    p = Path(path).expanduser()
    if not p.exists():
        raise LoadError(f"{str(p)!r} does not exist; give a DICOM folder or file, or a "
                        ".nii/.nii.gz/.mha/.mhd/.nrrd file")
    if p.is_dir() or is_dicom_file(p) or _suffix(p) in (".dcm", ".dicom", ".ima"):
        vol, info, notes = read_dicom(p, series=series, resample=bool(resample))
        if p.is_dir():
            fmt = f"DICOM series ({info.n_files} file{'s' if info.n_files != 1 else ''})"
        else:
            fmt = "DICOM multi-frame file" if info.n_slices > 1 else "DICOM file"
        return vol, LoadInfo(path=str(p), format=fmt, series=info, notes=tuple(notes))
    if series is not None:
        raise InputError(f"`series` applies to DICOM input only, and {str(p)!r} is not DICOM")
    return _read_itk(p)


def _read_itk(p: Path) -> tuple[Volume, LoadInfo]:
    import SimpleITK as sitk

    fmt = _ITK_FORMATS.get(_suffix(p), "image file")
    try:
        img = sitk.ReadImage(str(p))
    except RuntimeError as exc:
        first = [ln for ln in str(exc).splitlines() if ln.strip()]
        detail = first[-1].strip() if first else ""
        raise LoadError(f"cannot read {str(p)!r}: it is not DICOM and SimpleITK cannot read it "
                        f"({detail}); give a DICOM folder/file or a .nii/.nii.gz/.mha/.mhd/.nrrd "
                        "file, and check the file is complete") from None
    if img.GetDimension() != 3:
        raise LoadError(f"{str(p)!r} is a {img.GetDimension()}-D image of size {img.GetSize()}; "
                        "drr needs a 3-D CT volume")
    if img.GetNumberOfComponentsPerPixel() != 1:
        raise LoadError(f"{str(p)!r} has {img.GetNumberOfComponentsPerPixel()} components per "
                        "voxel (a vector/colour image); drr needs one scalar value (HU) per voxel")
    pixel = img.GetPixelIDTypeAsString()
    if "complex" in pixel.lower():
        raise LoadError(f"{str(p)!r} holds {pixel} values; drr needs real HU values")
    data = sitk.GetArrayFromImage(img)            # [k, j, i]
    direction = np.array(img.GetDirection(), dtype=np.float64).reshape(3, 3)
    try:
        vol = Volume(data.astype(np.float32, copy=False), spacing=img.GetSpacing(),
                     origin=img.GetOrigin(), direction=direction, units="HU")
    except VolumeError as exc:
        raise LoadError(f"{str(p)!r}: {exc}") from None
    notes = [f"{fmt} intensities taken as HU (the format has no units); convert the file first if "
             "they are not"]
    lo, hi = float(vol.data.min()), float(vol.data.max())
    if lo >= -1.0 and hi <= 10.0:
        notes.append(f"values span {lo:g} to {hi:g}, which looks like attenuation or a mask, "
                     "not HU")
    return vol, LoadInfo(path=str(p), format=fmt, series=None, notes=tuple(notes))
