"""DICOM files to image slices: header scan, classification of what is skipped.

Each file's header is read without pixel data; files that are not DICOM, and
DICOM files that hold no image slice (DICOMDIR, RTSTRUCT, SR, localizers...),
are counted in a :class:`_Scan`, each image slice (or frame of a multi-frame
file) becomes a :class:`_Frame`.  See :mod:`drr.io.dicom` for the rules.
"""

from __future__ import annotations

import math
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import DicomError, DRRError, LoadError

_DICOMDIR_UID = "1.2.840.10008.1.3.10"
_CT_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.2",      # CT Image Storage
    "1.2.840.10008.5.1.4.1.1.2.1",    # Enhanced CT Image Storage
    "1.2.840.10008.5.1.4.1.1.2.2",    # Legacy Converted Enhanced CT Image Storage
}
_NO_UID = "(no SeriesInstanceUID)"


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
            raise DicomError(f"{os.path.basename(path)}: multi-frame file with {nframes} frames "
                             f"but {0 if per is None else len(per)} per-frame functional groups, "
                             "so the frames have no positions; convert it to single-frame slices "
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
            raise DicomError(f"{os.path.basename(path)}: image slice without PixelSpacing; "
                             "drr needs the pixel size in mm")
        ps = _floats(ps, 2, "PixelSpacing", path)
        if min(ps) <= 0:
            raise DicomError(f"{os.path.basename(path)}: PixelSpacing must be > 0 mm, "
                             f"not {list(ps)}")
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
            raise DicomError(f"{path!r} is a DICOM file with unreadable values "
                             f"({type(exc).__name__}: {exc}); it is probably corrupt: "
                             "remove it from the folder or export the series again") from None
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
            raise DicomError(f"folder {str(p)!r} is empty; give the folder that holds "
                             "the DICOM files")
        scan = _scan_files(files)
        if len(scan.non_dicom) == scan.n_files:
            raise DicomError(f"folder {str(p)!r} holds {scan.n_files} file(s) but none is DICOM "
                             f"(e.g. {_names(scan.non_dicom, 3)}); give a folder of DICOM "
                             "files, or a .nii/.nii.gz/.mha/.nrrd file")
    else:
        ds = _read_header(str(p))
        if ds is None:
            raise DicomError(f"{str(p)!r} is not a DICOM file (no 'DICM' preamble)")
        scan = _scan_files([str(p)])
    return p, scan
