"""Image series: grouping slices by ``SeriesInstanceUID``, summaries, and choosing one."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ...errors import DicomError
from .scan import _Frame, _Scan, _scan_path


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
            raise DicomError(f"series {series} is "
                             f"{frames[0].modality or 'of unknown modality'}, not "
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
                         f"(CLI: --series UID): "
                         + "; ".join(f"[{n + 1}] {s}" for n, s in enumerate(ct)))
    return groups[ct[0].uid]
