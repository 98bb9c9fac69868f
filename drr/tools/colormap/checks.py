"""Validation of images, colour lists and keyword arguments (clear `InputError` messages)."""

from __future__ import annotations

import math

import numpy as np

from ...errors import InputError


def _image_to_float(rgb, name):
    """Validate an image/colour array; return (float64 (..., 3) in [0,1], alpha mask or None)."""
    if isinstance(rgb, (str, bytes)) or rgb is None:
        raise InputError(f"`{name}` must be an array of RGB(A) colours, not {type(rgb).__name__}")
    try:
        a = np.asarray(rgb)
    except Exception as exc:  # ragged lists and the like
        raise InputError(f"`{name}` must be an array of RGB(A) colours ({exc})") from None
    if a.ndim not in (2, 3) or a.shape[-1] not in (3, 4):
        raise InputError(
            f"`{name}` must have shape (H, W, 3|4) or (N, 3|4), not {a.shape}; "
            "convert grey images to RGB first"
        )
    if a.size == 0:
        raise InputError(f"`{name}` must not be empty, not shape {a.shape}")
    if a.dtype.kind == "u" and a.dtype.itemsize == 1:
        f = a.astype(np.float64) / 255.0
    elif a.dtype.kind == "u" and a.dtype.itemsize == 2:     # either byte order
        f = a.astype(np.float64) / 65535.0
    elif a.dtype.kind == "f":
        f = a.astype(np.float64)
        if not np.isfinite(f).all():
            raise InputError(f"`{name}` must be finite, not contain NaN or inf")
        lo, hi = float(f.min()), float(f.max())
        if lo < -1e-6 or hi > 1.0 + 1e-6:
            raise InputError(
                f"`{name}` floats must lie in [0, 1], not [{lo:g}, {hi:g}]; "
                "divide 8-bit data by 255 or pass it as uint8"
            )
        f = np.clip(f, 0.0, 1.0)
    else:
        raise InputError(
            f"`{name}` must be uint8, uint16 or float in [0, 1], not dtype {a.dtype}"
        )
    alpha = None
    if f.shape[-1] == 4:
        alpha = f[..., 3] > 0.0
        f = f[..., :3]
    return np.ascontiguousarray(f), alpha


def _uint8_pixels(rgb):
    """(RGB view, alpha mask or None) of a valid uint8 image or colour list of >= 4096 pixels, else None.

    Lets :func:`invert_colormap` read 8-bit input as it is: its colours
    are keyed from the bytes and its luma steps from ``byte / 255``, the same
    numbers :func:`_image_to_float` would give, without a float64 copy.
    """
    if not (isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8 and rgb.ndim in (2, 3)
            and rgb.shape[-1] in (3, 4) and rgb.size // rgb.shape[-1] >= 4096):
        return None
    alpha = rgb[..., 3] > 0 if rgb.shape[-1] == 4 else None
    return rgb[..., :3], alpha


def _check_positive(value, name, allow_none=True, allow_zero=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"`{name}` must be a number, not {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise InputError(f"`{name}` must be a finite {kind} number, not {value!r}")
    return v


def _check_int(value, name, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"`{name}` must be an integer, not {type(value).__name__}")
    if not lo <= int(value) <= hi:
        raise InputError(f"`{name}` must be in [{lo}, {hi}], not {value}")
    return int(value)
