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

The modules, in the order a read runs through them: ``scan`` (files to headers
to image slices; what is skipped), ``series`` (grouping by series, summaries,
choosing one), ``stack`` (consistency checks, order along the normal, the ``k``
grid), ``pixels`` (decoding one file's pixel data), ``build`` (HU slices,
resampling along ``k``, tilt shear, the :class:`drr.Volume`) and ``read``
(:func:`read_dicom`).
"""

from .build import FILL_HU
from .read import read_dicom
from .scan import is_dicom_file
from .series import SeriesInfo, list_series

__all__ = ["SeriesInfo", "list_series", "read_dicom", "is_dicom_file", "FILL_HU"]
