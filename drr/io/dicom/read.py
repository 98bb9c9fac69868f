"""The entry point: a DICOM folder or file to a CT :class:`drr.Volume` in HU."""

from __future__ import annotations

from ...errors import DicomError
from ...volume import Volume
from .build import _build
from .scan import _names, _scan_path
from .series import SeriesInfo, _choose, _summary
from .stack import _stack


# --------------------------------------------------------------------------- entry point
def read_dicom(path, *, series: str | None = None,
               resample: bool = False) -> tuple[Volume, SeriesInfo, list[str]]:
    """Read a CT series from a DICOM folder or file (the rules: the :mod:`drr.io.dicom` docstring).

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
            raise DicomError(f"{exc} (also skipped {len(scan.incomplete)} incomplete DICOM "
                             f"file(s), perhaps truncated: {_names(scan.incomplete)})") from None
        raise
    skipped = scan.skipped_note()
    if skipped:
        notes.insert(0, skipped)
    return vol, _summary(frames[0].uid, frames), notes
