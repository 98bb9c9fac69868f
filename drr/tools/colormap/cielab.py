"""sRGB -> CIELAB (D65): :func:`srgb_to_lab`, its Numba kernels, and the 8-bit decoding table used for
the distinct colours of an image."""

from __future__ import annotations

import numba
import numpy as np

from ...errors import InputError

# sRGB (D65) -> XYZ, IEC 61966-2-1.
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_WHITE = _RGB_TO_XYZ.sum(axis=1)
_LAB_EPS = 216.0 / 24389.0
_LAB_KAPPA = 24389.0 / 27.0
_PARALLEL_MIN = 1 << 16  # fewer items than this: serial kernels (thread start-up costs more)
_LINEAR = []


def srgb_to_lab(rgb):
    """Convert sRGB colours to CIELAB (D65 white).

    Parameters
    ----------
    rgb : array_like of float, shape (..., 3)
        sRGB in [0, 1] (values outside are clipped).

    Returns
    -------
    ndarray of float64, shape (..., 3)
        ``L*`` in [0, 100], ``a*``, ``b*``; Euclidean distance is ΔE*ab (CIE76).

    Notes
    -----
    sRGB decoding per IEC 61966-2-1 (linear below 0.04045, else
    ``((c + 0.055) / 1.055) ** 2.4``), XYZ by the sRGB primaries, and
    ``L* = 116 f(Y/Yn) - 16``, ``a* = 500 (f(X/Xn) - f(Y/Yn))``,
    ``b* = 200 (f(Y/Yn) - f(Z/Zn))`` (CIE 15:2004, eq. 8.1-8.3).
    """
    c = np.asarray(rgb, dtype=np.float64)
    if c.shape[-1:] != (3,):
        raise InputError(f"`rgb` must have shape (..., 3), not {c.shape}")
    flat = np.ascontiguousarray(c.reshape(-1, 3))
    lab = np.empty_like(flat)
    kernel = _srgb_to_lab_kernel if len(flat) >= _PARALLEL_MIN else _srgb_to_lab_serial
    kernel(flat, _RGB_TO_XYZ / _WHITE[:, None], lab)
    return lab.reshape(c.shape)


@numba.njit(cache=True, inline="always")
def _lab_of(r, g, b, m):
    """CIELAB of one sRGB colour; ``m``: sRGB -> XYZ / white (see :func:`srgb_to_lab`)."""
    lin = np.empty(3)
    for ch, v in enumerate((r, g, b)):
        v = min(max(v, 0.0), 1.0)
        lin[ch] = v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
    f = np.empty(3)
    for row in range(3):
        x = m[row, 0] * lin[0] + m[row, 1] * lin[1] + m[row, 2] * lin[2]
        f[row] = np.cbrt(x) if x > _LAB_EPS else (_LAB_KAPPA * x + 16.0) / 116.0
    return 116.0 * f[1] - 16.0, 500.0 * (f[0] - f[1]), 200.0 * (f[1] - f[2])


@numba.njit(cache=True, parallel=True)
def _srgb_to_lab_kernel(rgb, m, lab):
    """:func:`srgb_to_lab` on an (N, 3) array, threads over N."""
    for i in numba.prange(rgb.shape[0]):
        lab[i, 0], lab[i, 1], lab[i, 2] = _lab_of(rgb[i, 0], rgb[i, 1], rgb[i, 2], m)


@numba.njit(cache=True)
def _srgb_to_lab_serial(rgb, m, lab):
    """:func:`srgb_to_lab` on an (N, 3) array, one thread (small N: no thread start-up)."""
    for i in range(rgb.shape[0]):
        lab[i, 0], lab[i, 1], lab[i, 2] = _lab_of(rgb[i, 0], rgb[i, 1], rgb[i, 2], m)


def _linear_table():
    """Linear-light value of each 8-bit sRGB level ``k / 255`` (as :func:`_lab_of` decodes it)."""
    if not _LINEAR:
        _LINEAR.append(_linear_levels(np.arange(256) / 255.0))
    return _LINEAR[0]


@numba.njit(cache=True)
def _linear_levels(levels):
    out = np.empty(levels.shape[0])
    for i in range(levels.shape[0]):
        v = min(max(levels[i], 0.0), 1.0)
        out[i] = v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
    return out


@numba.njit(cache=True, parallel=True)
def _lab_of_keys(keys, lin, m, lab):
    """CIELAB of 8-bit colours given by 24-bit keys; decoding by table, else as :func:`_lab_of`."""
    for i in numba.prange(keys.shape[0]):
        k = keys[i]
        l0 = lin[(k >> 16) & 0xFF]
        l1 = lin[(k >> 8) & 0xFF]
        l2 = lin[k & 0xFF]
        f0 = 0.0
        f1 = 0.0
        f2 = 0.0
        for row in range(3):
            x = m[row, 0] * l0 + m[row, 1] * l1 + m[row, 2] * l2
            fr = np.cbrt(x) if x > _LAB_EPS else (_LAB_KAPPA * x + 16.0) / 116.0
            if row == 0:
                f0 = fr
            elif row == 1:
                f1 = fr
            else:
                f2 = fr
        lab[i, 0] = 116.0 * f1 - 16.0
        lab[i, 1] = 500.0 * (f0 - f1)
        lab[i, 2] = 200.0 * (f1 - f2)


def _lab_of_colors(cols, keys):
    """CIELAB of the distinct colours; by the 8-bit decoding table when ``keys`` are given."""
    if keys is None or len(keys) < _PARALLEL_MIN:
        return srgb_to_lab(cols)
    lab = np.empty((len(keys), 3))
    _lab_of_keys(keys, _linear_table(), _RGB_TO_XYZ / _WHITE[:, None], lab)
    return lab
