"""Read CT volumes from DICOM as scanners really write them.

A folder (searched recursively) or a single file (single-slice or multi-frame)
becomes a :class:`drr.Volume` in Hounsfield units with ITK geometry in the
DICOM patient frame (LPS, mm).

What is read, and how (DICOM PS3.3 C.7.6.2.1.1, "Image Position and Orientation"):

* Every file is opened with ``pydicom.dcmread(..., force=False)``; files that are
  not DICOM are skipped.  DICOM files that are not image slices -- DICOMDIR,
  RTSTRUCT, SR, secondary captures, anything without ``ImagePositionPatient``,
  ``ImageOrientationPatient`` and pixel rows/columns -- are skipped, and so are
  images whose ``ImageType`` says ``LOCALIZER`` (scout views).
* Slices are grouped by ``SeriesInstanceUID``.  Several CT series in one folder:
  choose one with ``series=UID``; otherwise :class:`DicomError` lists each series.
* Within a series all slices must share one ``ImageOrientationPatient``, one
  pixel spacing and one size; a slice with another orientation (e.g. a localizer
  not marked as such) is an error naming the files, not a separate stack.
* The world position of pixel (row ``r``, column ``c``) of a slice is
  ``IPP + c * PixelSpacing[1] * X + r * PixelSpacing[0] * Y``, with
  ``X = IOP[0:3]`` (row direction cosine) and ``Y = IOP[3:6]`` (column direction
  cosine).  So axis ``i`` (array columns) points along ``X`` with spacing
  ``PixelSpacing[1]``, axis ``j`` (array rows) along ``Y`` with spacing
  ``PixelSpacing[0]``, and axis ``k`` along the slice normal ``n = X x Y``.
* Slices are sorted by ``IPP . n`` (never by file name or ``InstanceNumber``), in
  increasing order, so ``direction = [X | Y | n]`` and the spacing along ``k`` is
  the distance between consecutive projected positions (not ``SliceThickness``).
  ``origin`` is the IPP of the first sorted slice.
* Intensities: ``HU = stored value * RescaleSlope + RescaleIntercept``, per slice
  (per frame for enhanced multi-frame files), computed in float64, stored float32.
* Uneven spacing (typically a missing slice) is an error naming the positions
  and files around the gap, unless ``resample=True``: the stack is then
  linearly interpolated along ``k`` onto a uniform grid from the first to the
  last slice, with the median slice distance (adjusted so both ends are kept).
  In a tilted stack the interpolation runs along the tilted scan direction
  (slices blended in their own pixel grids, offsets blended alike), then the
  result is shear-corrected like any slice.
* Gantry tilt (slice positions not along the normal) is corrected, always, by
  an exact shear correction: each slice is shifted within its own plane onto the
  orthogonal grid ``[X | Y | n]`` by bilinear interpolation (a fractional shift,
  one weight set per slice).  The in-plane grid is enlarged to hold every
  slice's field of view; voxels that no slice covers get :data:`FILL_HU`.
* Compressed transfer syntaxes are decoded by pydicom's plugins when they are
  installed; otherwise :class:`DicomError` says which package to install.
"""

from __future__ import annotations

import math
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DicomError, DRRError, LoadError
from ..volume import Volume

__all__ = ["SeriesInfo", "list_series", "read_dicom", "is_dicom_file", "FILL_HU"]

#: HU given to voxels outside every slice's field of view after a gantry-tilt correction (air).
FILL_HU = -1000.0

_DICOMDIR_UID = "1.2.840.10008.1.3.10"
_CT_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.2",      # CT Image Storage
    "1.2.840.10008.5.1.4.1.1.2.1",    # Enhanced CT Image Storage
    "1.2.840.10008.5.1.4.1.1.2.2",    # Legacy Converted Enhanced CT Image Storage
}
_NO_UID = "(no SeriesInstanceUID)"


# --------------------------------------------------------------------------- summaries
@dataclass(frozen=True)
class SeriesInfo:
    """Summary of one image series found in a folder.

    Attributes
    ----------
    uid : str
        ``SeriesInstanceUID``.
    description : str
        ``SeriesDescription`` ("" when absent).
    modality : str
        ``Modality`` ("" when absent), e.g. ``"CT"``.
    n_slices : int
        Number of image slices (frames of multi-frame files count one each).
    rows, columns : int
        Slice size in pixels (the most common one if the series mixes sizes).
    n_files : int
        Number of files holding those slices.
    """

    uid: str
    description: str
    modality: str
    n_slices: int
    rows: int
    columns: int
    n_files: int

    @property
    def size(self) -> tuple[int, int, int]:
        """``(columns, rows, slices)``: the size along ``i, j, k``."""
        return (self.columns, self.rows, self.n_slices)

    @property
    def is_ct(self) -> bool:
        """Whether the series is CT (``Modality == "CT"``)."""
        return self.modality == "CT"

    def __str__(self) -> str:
        desc = f" {self.description!r}" if self.description else ""
        return (f"{self.uid}{desc} ({self.modality or 'no modality'}, {self.n_slices} slices, "
                f"{self.columns}x{self.rows})")


@dataclass(frozen=True)
class _Frame:
    """One image slice: a single-frame file, or one frame of a multi-frame file."""

    path: str
    frame: int | None          # index into a multi-frame file's pixel array, None for single-frame
    uid: str
    description: str
    modality: str
    position: tuple            # ImagePositionPatient (3 floats)
    orientation: tuple         # ImageOrientationPatient (6 floats)
    pixel_spacing: tuple       # (row spacing, column spacing) = (along j, along i)
    rows: int
    columns: int
    slope: float
    intercept: float
    thickness: float | None

    @property
    def where(self) -> str:
        name = os.path.basename(self.path)
        return name if self.frame is None else f"{name} frame {self.frame + 1}"


@dataclass
class _Scan:
    frames: list = field(default_factory=list)
    n_files: int = 0
    non_dicom: list = field(default_factory=list)
    non_image: Counter = field(default_factory=Counter)
    localizers: int = 0
    incomplete: list = field(default_factory=list)   # DICOM prefix, but no SOPClassUID: truncated?

    def skipped_note(self) -> str | None:
        parts = []
        if self.non_dicom:
            parts.append(f"{len(self.non_dicom)} non-DICOM file(s)")
        if self.non_image:
            kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.non_image.items()))
            parts.append(f"DICOM files without image slices ({kinds})")
        if self.localizers:
            parts.append(f"{self.localizers} localizer image(s)")
        if self.incomplete:
            parts.append(f"{len(self.incomplete)} incomplete DICOM file(s) "
                         f"({_names(self.incomplete)})")
        return "skipped " + "; ".join(parts) if parts else None


def _names(paths, limit: int = 5) -> str:
    names = [os.path.basename(str(p)) for p in paths]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


# --------------------------------------------------------------------------- header scan
def is_dicom_file(path) -> bool:
    """Whether ``path`` is a file starting with the DICOM preamble (``"DICM"`` at byte 128)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _read_header(path: str):
    """The dataset without pixel data, or None if ``path`` is not a DICOM file."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pydicom.dcmread(path, stop_before_pixels=True, force=False)
    except InvalidDicomError:
        return None
    except OSError as exc:
        raise LoadError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    except Exception as exc:  # pydicom raises many types on broken files
        raise DicomError(f"{path!r} starts like a DICOM file but cannot be read "
                         f"({type(exc).__name__}: {exc}); it is probably corrupt or truncated: "
                         "remove it from the folder or export the series again") from None


def _fg(ds, f: int | None, seq: str, attr: str):
    """Attribute ``attr`` of frame ``f``: per-frame group, shared group, then top level."""
    if f is not None:
        for groups, idx in (("PerFrameFunctionalGroupsSequence", f),
                            ("SharedFunctionalGroupsSequence", 0)):
            items = ds.get(groups)
            if items is not None and len(items) > idx:
                sub = items[idx].get(seq)
                if sub is not None and len(sub) > 0 and attr in sub[0]:
                    return sub[0].get(attr)
    return ds.get(attr)


def _floats(value, n: int, name: str, path: str) -> tuple:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        out = ()
    if len(out) != n or not all(math.isfinite(v) for v in out):
        raise DicomError(f"{os.path.basename(path)}: {name} must be {n} numbers, not {value!r}; "
                         "the file is damaged or not a CT slice: remove it from the folder")
    return out


def _number(value, default, name: str, path: str):
    if value is None or value == "":
        return default
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = float("nan")
    if not math.isfinite(out):
        raise DicomError(f"{os.path.basename(path)}: {name} must be a number, not {value!r}")
    return out


def _frames_of(path: str, ds) -> list[_Frame]:
    """The image slices described by one file's header (empty when none)."""
    nframes = int(ds.get("NumberOfFrames", 1) or 1)
    multi = nframes > 1 or "PerFrameFunctionalGroupsSequence" in ds
    uid = str(ds.get("SeriesInstanceUID", "") or _NO_UID)
    desc = str(ds.get("SeriesDescription", "") or "")
    modality = str(ds.get("Modality", "") or "")
    if not modality and str(ds.get("SOPClassUID", "")) in _CT_SOP_CLASSES:
        modality = "CT"
    rows, cols = int(ds.Rows), int(ds.Columns)
    if multi and nframes > 1:
        per = ds.get("PerFrameFunctionalGroupsSequence")
        if per is None or len(per) != nframes:
            raise DicomError(f"{os.path.basename(path)}: multi-frame file with {nframes} frames but "
                             f"{0 if per is None else len(per)} per-frame functional groups, so the "
                             "frames have no positions; convert it to single-frame slices "
                             "(e.g. with dcmtk/gdcm) or another format (NIfTI)")
    frames = []
    for f in range(nframes):
        fi = f if multi else None
        ipp = _fg(ds, fi, "PlanePositionSequence", "ImagePositionPatient")
        iop = _fg(ds, fi, "PlaneOrientationSequence", "ImageOrientationPatient")
        if ipp is None or iop is None:
            return []
        ps = _fg(ds, fi, "PixelMeasuresSequence", "PixelSpacing")
        if ps is None:
            raise DicomError(f"{os.path.basename(path)}: image slice without PixelSpacing; drr needs "
                             "the pixel size in mm")
        ps = _floats(ps, 2, "PixelSpacing", path)
        if min(ps) <= 0:
            raise DicomError(f"{os.path.basename(path)}: PixelSpacing must be > 0 mm, not {list(ps)}")
        frames.append(_Frame(
            path=path, frame=f if multi else None, uid=uid, description=desc, modality=modality,
            position=_floats(ipp, 3, "ImagePositionPatient", path),
            orientation=_floats(iop, 6, "ImageOrientationPatient", path),
            pixel_spacing=ps, rows=rows, columns=cols,
            slope=_number(_fg(ds, fi, "PixelValueTransformationSequence", "RescaleSlope"), 1.0,
                          "RescaleSlope", path),
            intercept=_number(_fg(ds, fi, "PixelValueTransformationSequence", "RescaleIntercept"),
                              0.0, "RescaleIntercept", path),
            thickness=_number(_fg(ds, fi, "PixelMeasuresSequence", "SliceThickness"), None,
                              "SliceThickness", path),
        ))
    return frames


def _scan_files(paths) -> _Scan:
    scan = _Scan()
    for path in paths:
        scan.n_files += 1
        ds = _read_header(path)
        if ds is None:
            scan.non_dicom.append(path)
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _classify(scan, path, ds)
        except DRRError:
            raise
        except Exception as exc:  # values that pydicom parses lazily and cannot convert
            raise DicomError(f"{path!r} is a DICOM file with unreadable values ({type(exc).__name__}: "
                             f"{exc}); it is probably corrupt: remove it from the folder or export "
                             "the series again") from None
    return scan


def _classify(scan: _Scan, path: str, ds) -> None:
    """Add the image slices of one header to ``scan``, or count why it is skipped."""
    meta_sop = str(getattr(ds, "file_meta", {}).get("MediaStorageSOPClassUID", "") or "")
    if meta_sop == _DICOMDIR_UID or "DirectoryRecordSequence" in ds:
        scan.non_image["DICOMDIR"] += 1
        return
    sop = ds.get("SOPClassUID")
    if not sop:
        scan.incomplete.append(path)
        return
    if "Rows" not in ds or "Columns" not in ds:
        scan.non_image[_sop_name(sop)] += 1
        return
    image_type = [str(t).upper() for t in (ds.get("ImageType") or [])]
    if "LOCALIZER" in image_type:
        scan.localizers += 1
        return
    frames = _frames_of(path, ds)
    if not frames:
        scan.non_image[_sop_name(sop)] += 1
        return
    scan.frames.extend(frames)


def _sop_name(sop) -> str:
    name = getattr(sop, "name", "") or str(sop)
    return name.replace(" Storage", "")


def _folder_files(folder: Path) -> list[str]:
    out = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        out.extend(os.path.join(root, f) for f in sorted(files))
    return out


def _scan_path(path) -> tuple[Path, _Scan]:
    p = Path(path)
    if not p.exists():
        raise LoadError(f"{str(p)!r} does not exist; give a DICOM folder or file, or a "
                        ".nii/.nii.gz/.mha/.mhd/.nrrd file")
    if p.is_dir():
        files = _folder_files(p)
        if not files:
            raise DicomError(f"folder {str(p)!r} is empty; give the folder that holds the DICOM files")
        scan = _scan_files(files)
        if len(scan.non_dicom) == scan.n_files:
            raise DicomError(f"folder {str(p)!r} holds {scan.n_files} file(s) but none is DICOM "
                             f"(e.g. {_names(scan.non_dicom, 3)}); give a folder of DICOM files, or "
                             "a .nii/.nii.gz/.mha/.nrrd file")
    else:
        ds = _read_header(str(p))
        if ds is None:
            raise DicomError(f"{str(p)!r} is not a DICOM file (no 'DICM' preamble)")
        scan = _scan_files([str(p)])
    return p, scan


def _group(frames) -> dict[str, list[_Frame]]:
    groups: dict[str, list[_Frame]] = {}
    for fr in frames:
        groups.setdefault(fr.uid, []).append(fr)
    return groups


def _summary(uid: str, frames: list[_Frame]) -> SeriesInfo:
    (rows, cols), _ = Counter((f.rows, f.columns) for f in frames).most_common(1)[0]
    return SeriesInfo(uid=uid, description=frames[0].description, modality=frames[0].modality,
                      n_slices=len(frames), rows=rows, columns=cols,
                      n_files=len({f.path for f in frames}))


def list_series(folder) -> list[SeriesInfo]:
    """Summaries of the image series in a DICOM folder (searched recursively) or file.

    Parameters
    ----------
    folder : str or Path
        A folder of DICOM files, or one DICOM file.

    Returns
    -------
    list of SeriesInfo
        One per ``SeriesInstanceUID`` holding image slices (any modality), CT
        first, then by decreasing slice count.  Empty when the DICOM files hold
        no image slices (only RTSTRUCT, SR, DICOMDIR...).

    Raises
    ------
    LoadError
        If the path does not exist.
    DicomError
        If the folder is empty or holds no DICOM file, or a DICOM file is corrupt.
    """
    _, scan = _scan_path(folder)
    infos = [_summary(uid, frs) for uid, frs in _group(scan.frames).items()]
    return sorted(infos, key=lambda s: (not s.is_ct, -s.n_slices, s.uid))


# --------------------------------------------------------------------------- choosing a series
def _choose(path: Path, scan: _Scan, series: str | None) -> list[_Frame]:
    groups = _group(scan.frames)
    infos = sorted((_summary(u, f) for u, f in groups.items()),
                   key=lambda s: (not s.is_ct, -s.n_slices, s.uid))
    listing = "; ".join(f"[{n + 1}] {s}" for n, s in enumerate(infos))
    skipped = scan.skipped_note()
    if series is not None:
        series = str(series).strip()
        if series not in groups:
            raise DicomError(f"series {series!r} is not in {str(path)!r}; it holds: "
                             f"{listing or 'no image series'}")
        frames = groups[series]
        if frames[0].modality != "CT":
            raise DicomError(f"series {series} is {frames[0].modality or 'of unknown modality'}, not "
                             "CT; drr reads CT in Hounsfield units only (convert other data to a "
                             ".nii/.mha file in HU)")
        return frames
    ct = [s for s in infos if s.is_ct]
    if not ct:
        found = f"image series found: {listing}" if infos else "no image slices found"
        raise DicomError(f"no CT series in {str(path)!r} ({found}"
                         f"{'; ' + skipped if skipped else ''}); give the folder of a CT series")
    if len(ct) > 1:
        raise DicomError(f"{str(path)!r} holds {len(ct)} CT series; choose one with series=UID "
                         f"(CLI: --series UID): " + "; ".join(f"[{n + 1}] {s}" for n, s in enumerate(ct)))
    return groups[ct[0].uid]


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
               if np.max(np.abs(np.array(getattr(f, attr)) - refv)) > tol * max(1.0, np.abs(refv).max())]
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
        raise DicomError(f"series {frames[0].uid}: ImageOrientationPatient {iop.tolist()} is not two "
                         "perpendicular unit vectors; the files are damaged")
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
    return f"{st.frames[m].where} (IPP {np.round(p, 3).tolist()}, {st.s[m]:.3f} mm along the normal)"


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
                         f"{st.frames[m + 1].where}; the series holds two acquisitions or duplicate "
                         "files: remove the duplicates (check AcquisitionNumber, ImageType)")
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
                     f"{gaps[m]:.3f} mm between {_describe_pos(st, m)} and {_describe_pos(st, m + 1)}")
        raise DicomError(f"series {st.frames[0].uid}: uneven slice spacing: {where}; add the missing "
                         "files, or pass resample=True (CLI: --resample) to interpolate linearly "
                         "onto a uniform grid")
    nq = int(round((s[-1] - s[0]) / typical)) + 1
    dz = (s[-1] - s[0]) / (nq - 1)
    note = (f"uneven slice spacing ({gaps.min():.3f} to {gaps.max():.3f} mm) resampled linearly "
            f"along k onto {nq} slices {dz:.4f} mm apart")
    return s[0] + dz * np.arange(nq), float(dz), [note]


# --------------------------------------------------------------------------- pixels
_INSTALL_HINT = {
    "1.2.840.10008.1.2.4.50": "pylibjpeg and pylibjpeg-libjpeg (or Pillow, or python-gdcm)",
    "1.2.840.10008.1.2.4.51": "pylibjpeg and pylibjpeg-libjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.57": "pylibjpeg and pylibjpeg-libjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.70": "pylibjpeg and pylibjpeg-libjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.80": "pyjpegls (or pylibjpeg and pylibjpeg-libjpeg, or python-gdcm)",
    "1.2.840.10008.1.2.4.81": "pyjpegls (or pylibjpeg and pylibjpeg-libjpeg, or python-gdcm)",
    "1.2.840.10008.1.2.4.90": "pylibjpeg and pylibjpeg-openjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.91": "pylibjpeg and pylibjpeg-openjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.201": "pylibjpeg and pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.202": "pylibjpeg and pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.203": "pylibjpeg and pylibjpeg-openjpeg",
}


def _pixels(path: str) -> np.ndarray:
    """The stored pixel values of a file: (rows, cols) or (frames, rows, cols)."""
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, force=False)
    except OSError as exc:
        raise LoadError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    except Exception as exc:
        raise DicomError(f"{os.path.basename(path)} cannot be read ({type(exc).__name__}: {exc}); "
                         "it is probably corrupt: remove it or export the series again") from None
    ts = getattr(ds, "file_meta", {}).get("TransferSyntaxUID")
    ts_name = getattr(ts, "name", str(ts))
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise DicomError(f"{os.path.basename(path)}: {ds.SamplesPerPixel} samples per pixel "
                         f"({ds.get('PhotometricInterpretation', '?')}); a CT slice has one "
                         "(grey values)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = ds.pixel_array
    except Exception as exc:
        if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
            raise DicomError(f"{os.path.basename(path)}: an image slice header but no pixel data; "
                             "the file is truncated: export the series again") from None
        hint = _INSTALL_HINT.get(str(ts))
        missing = "missing dependencies" in str(exc) or "no pixel data handler" in str(exc).lower()
        if hint and (missing or isinstance(exc, (RuntimeError, NotImplementedError))):
            raise DicomError(f"{os.path.basename(path)}: cannot decode its {ts_name} pixel data: "
                             f"install {hint} (pip install ...), or decompress the files first "
                             f"(e.g. gdcmconv --raw); pydicom said: "
                             f"{str(exc).splitlines()[0]}") from None
        raise DicomError(f"{os.path.basename(path)}: cannot decode its pixel data ({ts_name}): "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}; "
                         "the file is probably corrupt or truncated: export the series again") from None
    return arr


def _slices_hu(st: _Stack):
    """Yield each sorted slice's HU values, float64 (rows, cols)."""
    cache: dict[str, np.ndarray] = {}
    for fr in st.frames:
        if fr.frame is None:
            arr = _pixels(fr.path)
            want = (fr.rows, fr.columns)
        else:
            if fr.path not in cache:
                cache.clear()
                cache[fr.path] = _pixels(fr.path)
            arr = cache[fr.path]
            if arr.ndim == 2:
                arr = arr[None]
            want = (fr.rows, fr.columns)
            if arr.ndim != 3 or fr.frame >= arr.shape[0]:
                raise DicomError(f"{fr.where}: the pixel data has shape {arr.shape}, too few frames")
            arr = arr[fr.frame]
        if arr.shape != want:
            raise DicomError(f"{fr.where}: pixel data of shape {arr.shape} but Rows x Columns = "
                             f"{want[0]} x {want[1]}; the file is damaged")
        yield arr.astype(np.float64) * fr.slope + fr.intercept


def _shift_slice(img: np.ndarray, a0: float, b0: float, out_shape) -> np.ndarray:
    """Sample ``img`` at (row ``b0 + j``, column ``a0 + i``) bilinearly; :data:`FILL_HU` outside.

    The shift is the same for every pixel, so one pair of weights serves the
    whole slice.  Samples within 1e-6 pixel of the image edge count as inside.
    """
    nj, ni = out_shape
    rows, cols = img.shape
    ia, fa = math.floor(a0), a0 - math.floor(a0)
    jb, fb = math.floor(b0), b0 - math.floor(b0)
    if fa > 1 - 1e-6:
        ia, fa = ia + 1, 0.0
    if fb > 1 - 1e-6:
        jb, fb = jb + 1, 0.0
    fa = 0.0 if fa < 1e-6 else fa
    fb = 0.0 if fb < 1e-6 else fb
    pad = 1 + max(0, -ia, -jb, ia + 1 + ni - cols, jb + 1 + nj - rows)   # room for every view
    big = np.full((rows + 2 * pad, cols + 2 * pad), np.nan)
    big[pad:pad + rows, pad:pad + cols] = img

    def view(dj, di):
        r0, c0 = pad + jb + dj, pad + ia + di
        return big[r0:r0 + nj, c0:c0 + ni]

    out = view(0, 0) * ((1 - fa) * (1 - fb))
    if fa:
        out = out + view(0, 1) * (fa * (1 - fb))
    if fb:
        out = out + view(1, 0) * ((1 - fa) * fb)
    if fa and fb:
        out = out + view(1, 1) * (fa * fb)
    return np.where(np.isnan(out), FILL_HU, out)


def _build(st: _Stack, resample: bool) -> tuple[Volume, list[str]]:
    notes: list[str] = []
    targets, dz, knotes = _k_grid(st, resample)      # refuses duplicate/uneven positions first
    di, dj = st.spacing_ij
    # gantry tilt: in-plane offsets of the slice positions, in pixels
    du, dv = st.u / di, st.v / dj
    offset = np.hypot(st.u, st.v)
    tilted = offset.max() > max(0.02, 0.02 * min(di, dj))
    if tilted:
        i_lo = math.floor(du.min() + 1e-6)
        i_hi = math.ceil(du.max() - 1e-6)
        j_lo = math.floor(dv.min() + 1e-6)
        j_hi = math.ceil(dv.max() - 1e-6)
        ni, nj = st.columns + i_hi - i_lo, st.rows + j_hi - j_lo
        span = st.s[-1] - st.s[0]
        angle = math.degrees(math.atan2(offset[-1], span)) if span > 0 else 90.0
        if span <= 0 or angle > 60:
            raise DicomError(f"series {st.frames[0].uid}: the slices are shifted sideways by up to "
                             f"{offset.max():.1f} mm over {span:.1f} mm along the normal; this is "
                             "not a gantry tilt drr can correct")
        notes.append(f"gantry tilt of {angle:.2f} deg corrected by shear (each slice shifted within "
                     f"its plane, bilinear); grid enlarged from {st.columns}x{st.rows} to {ni}x{nj}, "
                     f"{FILL_HU:g} HU outside the scanned field of view")
    else:
        i_lo = j_lo = 0
        ni, nj = st.columns, st.rows
    notes += knotes
    nz = len(st.s)
    if nz == 1:
        t = st.frames[0].thickness
        dz = t if t and t > 0 else 1.0
        notes.append(f"single slice: spacing along k taken as {dz:g} mm "
                     f"({'SliceThickness' if t and t > 0 else 'no SliceThickness; assumed'})")

    if targets is None:
        idx, w = np.arange(nz), np.zeros(nz)            # output slice q = input slice q
    else:
        # target q lies between sorted slices idx[q] and idx[q] + 1 (linear along k).  The
        # blend is taken in the slices' own pixel grids, with the in-plane offset blended
        # the same way, then shear-corrected: a missing slice of a tilted stack is
        # interpolated along the tilted scan direction, and its field of view stays whole.
        idx = np.clip(np.searchsorted(st.s, targets, side="right") - 1, 0, nz - 2)
        w = np.clip((targets - st.s[idx]) / (st.s[idx + 1] - st.s[idx]), 0.0, 1.0)
    data = np.empty((len(idx), nj, ni), dtype=np.float32)
    source = enumerate(_slices_hu(st))
    held: dict[int, np.ndarray] = {}

    def get(m: int) -> np.ndarray:
        while m not in held:
            k, plane = next(source)
            held[k] = plane
        for k in [k for k in held if k < m - 1]:
            del held[k]
        return held[m]

    for q in range(len(idx)):
        m, wq = int(idx[q]), float(w[q])
        plane = get(m)
        if wq > 0:
            plane = (1 - wq) * plane + wq * get(m + 1)
        if tilted:
            plane = _shift_slice(plane, i_lo - ((1 - wq) * du[m] + wq * du[min(m + 1, nz - 1)]),
                                 j_lo - ((1 - wq) * dv[m] + wq * dv[min(m + 1, nz - 1)]), (nj, ni))
        data[q] = plane
    # voxel (0, 0, 0): pixel (i_lo, j_lo) of the first slice's grid (i_lo = j_lo = 0 without tilt)
    origin = np.array(st.frames[0].position) + i_lo * di * st.x + j_lo * dj * st.y
    direction = np.column_stack([st.x, st.y, st.n])
    vol = Volume(data, spacing=(di, dj, dz), origin=origin, direction=direction, units="HU")
    return vol, notes


# --------------------------------------------------------------------------- entry point
def read_dicom(path, *, series: str | None = None,
               resample: bool = False) -> tuple[Volume, SeriesInfo, list[str]]:
    """Read a CT series from a DICOM folder or file (see the module docstring for the rules).

    Parameters
    ----------
    path : str or Path
        A folder (searched recursively; files in any order with any names) or one
        DICOM file (single-slice, or a multi-frame file with per-frame positions).
    series : str, optional
        ``SeriesInstanceUID`` of the series to read; needed when the folder holds
        several CT series.
    resample : bool, optional
        Resample unevenly spaced slices (e.g. a missing slice) linearly along ``k``
        onto a uniform grid instead of raising :class:`DicomError`.

    Returns
    -------
    volume : Volume
        Float32 HU data ``[k, j, i]``, ``units="HU"``, LPS geometry.
    info : SeriesInfo
        The series that was read.
    notes : list of str
        What was skipped, corrected (gantry tilt) or resampled.

    Raises
    ------
    LoadError
        The path does not exist or cannot be read.
    DicomError
        Empty folder, no DICOM or no CT, several CT series and no ``series``,
        inconsistent/missing/duplicate slices, undecodable or corrupt pixel data.
    """
    p, scan = _scan_path(path)
    frames = _choose(p, scan, series)
    try:
        vol, notes = _build(_stack(frames), resample)
    except DicomError as exc:
        if scan.incomplete:
            raise DicomError(f"{exc} (also skipped {len(scan.incomplete)} incomplete DICOM file(s), "
                             f"perhaps truncated: {_names(scan.incomplete)})") from None
        raise
    skipped = scan.skipped_note()
    if skipped:
        notes.insert(0, skipped)
    return vol, _summary(frames[0].uid, frames), notes
