"""From a sorted stack to a :class:`drr.Volume`: HU slices, resampling along k, tilt shear."""

from __future__ import annotations

import math

import numpy as np

from ...errors import DicomError
from ...volume import Volume
from .pixels import _pixels
from .stack import _k_grid, _Stack

#: HU given to voxels outside every slice's field of view after a gantry-tilt correction (air).
FILL_HU = -1000.0


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
                raise DicomError(f"{fr.where}: the pixel data has shape {arr.shape}, "
                                 "too few frames")
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
        notes.append(f"gantry tilt of {angle:.2f} deg corrected by shear (each slice shifted "
                     f"within its plane, bilinear); grid enlarged from {st.columns}x{st.rows} "
                     f"to {ni}x{nj}, {FILL_HU:g} HU outside the scanned field of view")
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
