"""Validation of the arguments of :func:`~drr.tools.peaks.find_peaks` (clear `InputError` messages)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from ...errors import InputError


def _real_scalar(value, name, *, low=None, low_open=False, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InputError(f"`{name}` must be a real number, not {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"`{name}` must be finite, not {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        rel = ">" if low_open else ">="
        raise InputError(f"`{name}` must be {rel} {low}, not {value!r}")
    return value


def _image_array(image):
    if isinstance(image, np.ma.MaskedArray):
        raise InputError("`image` must be a plain array, not a masked array; pass its mask as "
                         "`mask=np.ma.getmaskarray(image)` and its data as `image.data`")
    try:
        arr = np.asarray(image)
    except Exception as exc:  # noqa: BLE001 - anything not array-like
        raise InputError(f"`image` must be a 2-D array of real numbers, not {type(image).__name__}") from exc
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise InputError(f"`image` must hold real numbers (integer or float), not dtype {arr.dtype}")
    if arr.ndim != 2:
        raise InputError(f"`image` must be 2-D (rows, columns), not an array of shape {arr.shape}")
    if min(arr.shape) < 3:
        raise InputError(f"`image` must be at least 3x3 pixels, not {arr.shape}")
    return arr


def _mask_array(mask, shape):
    if mask is None:
        return None
    arr = np.asarray(mask)
    if arr.shape != shape:
        raise InputError(f"`mask` must have the image's shape {shape}, not {arr.shape}")
    if arr.dtype != bool:
        if arr.dtype.kind not in "iu" or not np.all((arr == 0) | (arr == 1)):
            raise InputError(f"`mask` must be boolean (True = pixel to ignore), not dtype {arr.dtype} "
                             "with values other than 0 and 1")
        arr = arr.astype(bool)
    return arr


def _map_or_scalar(value, name, shape, *, positive):
    if value is None:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        v = float(value)
        if not math.isfinite(v) or (positive and v <= 0):
            rel = "finite and > 0" if positive else "finite"
            raise InputError(f"`{name}` must be {rel}, not {value!r}")
        return v
    arr = np.asarray(value)
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise InputError(f"`{name}` must be a real number or an array of the image's shape, not {value!r}")
    if arr.shape != shape:
        raise InputError(f"`{name}` must be a number or have the image's shape {shape}, not {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)) or (positive and np.any(arr <= 0)):
        rel = "finite and > 0" if positive else "finite"
        raise InputError(f"`{name}` must be {rel} everywhere")
    return arr
