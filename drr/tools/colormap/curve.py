"""The colormap as a dense curve: knots from any accepted ``cmap``, resampled in sRGB and CIELAB,
with the bounding spheres that the search kernels use."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InputError
from .checks import _image_to_float
from .cielab import srgb_to_lab
from .colorbar import ColorbarLocation

_BLOCK = 32  # curve samples per bounding sphere in the searches (search._LANES: one bit each in a mask)
_GROUP = 8  # blocks per bounding sphere of the level above


@dataclass(frozen=True)
class _Curve:
    lab: np.ndarray  # (M, 3) dense samples in CIELAB
    rgb: np.ndarray  # (M, 3) the same samples in sRGB
    t: np.ndarray  # (M,) parameters in [0, 1], non-decreasing
    half_bin: float  # quantisation half-width in t of the rendering
    cyclic: bool
    block_center: np.ndarray  # (B, 3) bounding spheres of _BLOCK samples
    block_radius: np.ndarray  # (B,)
    group_center: np.ndarray  # (G, 3) bounding spheres of _GROUP blocks
    group_radius: np.ndarray  # (G,)


def _knots_from_cmap(cmap):
    """Return (rgb knots (K,3), knot parameters (K,), half_bin) for any accepted ``cmap``."""
    if isinstance(cmap, ColorbarLocation):
        return np.asarray(cmap.colors, float), np.asarray(cmap.positions, float), 0.5 / len(cmap.colors)
    if isinstance(cmap, str):
        import matplotlib

        try:
            cm = matplotlib.colormaps[cmap]
        except KeyError:
            raise InputError(
                f"`cmap` must be a registered matplotlib colormap name, not {cmap!r}; "
                "see `list(matplotlib.colormaps)`"
            ) from None
        return _knots_from_mpl(cm)
    if type(cmap).__module__.startswith("matplotlib") and hasattr(cmap, "N") and callable(cmap):
        return _knots_from_mpl(cmap)
    if isinstance(cmap, np.ndarray) and cmap.ndim == 3:
        return _knots_from_crop(cmap)
    if isinstance(cmap, (list, tuple, np.ndarray)):
        return _knots_from_list(cmap)
    raise InputError(
        "`cmap` must be a matplotlib colormap name or Colormap, a list of colours, "
        f"a colour-bar crop (H, W, 3) or a ColorbarLocation, not {type(cmap).__name__}"
    )


def _knots_from_mpl(cm):
    n = int(cm.N)
    if n < 2:
        raise InputError(f"`cmap` must have at least 2 colours, not {n}")
    lut = np.asarray(cm(np.arange(n)), dtype=np.float64)[:, :3]
    return lut, (np.arange(n) + 0.5) / n, 0.5 / n


def _knots_from_list(colors):
    arr = None
    try:
        arr = np.asarray(colors, dtype=np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.ndim != 2:
        import matplotlib.colors as mcolors

        try:
            arr = np.array([mcolors.to_rgb(c) for c in colors], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"`cmap` list must hold matplotlib colour specifications ({exc})") from None
    if arr.ndim != 2 or arr.shape[1] not in (3, 4) or arr.shape[0] < 2:
        raise InputError(f"`cmap` colour list must have shape (K>=2, 3|4), not {arr.shape}")
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
        raise InputError("`cmap` colour list values must lie in [0, 1]; divide 8-bit colours by 255")
    k = arr.shape[0]
    return arr[:, :3], np.linspace(0.0, 1.0, k), 0.0


def _knots_from_crop(crop):
    f, _ = _image_to_float(crop, "cmap")
    h, w = f.shape[:2]
    if max(h, w) < 2:
        raise InputError(f"`cmap` colour-bar crop must be at least 2 pixels long, not {h}x{w}")
    if h >= w:  # vertical: low values at the bottom
        k = w // 4
        profile = np.median(f[:, k : w - k if w - k > k else w], axis=1)[::-1]
    else:
        k = h // 4
        profile = np.median(f[k : h - k if h - k > k else h, :], axis=0)
    n = profile.shape[0]
    return profile, (np.arange(n) + 0.5) / n, 0.5 / n


_CURVE_CACHE = {}  # (knots, t, half_bin, n_samples) -> _Curve, the last few kept


def _build_curve(knots_rgb, knots_t, half_bin, n_samples):
    """The dense curve of a colormap's knots (:func:`_build_curve_uncached`), cached.

    The same map in every call of a session is built once (~2 ms each
    otherwise).  The cached arrays are shared: callers only read them.
    """
    knots_rgb = np.ascontiguousarray(knots_rgb, dtype=np.float64)
    knots_t = np.ascontiguousarray(knots_t, dtype=np.float64)
    key = (knots_rgb.shape, knots_rgb.tobytes(), knots_t.tobytes(), float(half_bin), int(n_samples))
    got = _CURVE_CACHE.get(key)
    if got is None:
        got = _build_curve_uncached(knots_rgb, knots_t, half_bin, n_samples)
        if len(_CURVE_CACHE) >= 16:
            _CURVE_CACHE.pop(next(iter(_CURVE_CACHE)))
        _CURVE_CACHE[key] = got
    return got


def _build_curve_uncached(knots_rgb, knots_t, half_bin, n_samples):
    t = np.linspace(knots_t[0], knots_t[-1], n_samples)
    rgb = np.stack([np.interp(t, knots_t, knots_rgb[:, c]) for c in range(3)], axis=1)
    lab = srgb_to_lab(rgb)
    centers, radii = _bounding_spheres(lab, _BLOCK)
    g_centers, g_radii = _bounding_spheres(lab, _BLOCK * _GROUP)
    cyclic = bool(np.linalg.norm(lab[0] - lab[-1]) < 2.0)
    return _Curve(lab, rgb, t, float(half_bin), cyclic, centers, radii, g_centers, g_radii)


def _bounding_spheres(lab, size):
    """Centre (mean) and radius of each run of ``size`` consecutive samples: (B, 3), (B,)."""
    nb = -(-len(lab) // size)
    centers = np.empty((nb, 3))
    radii = np.empty(nb)
    for b in range(nb):
        blk = lab[b * size : (b + 1) * size]
        centers[b] = blk.mean(axis=0)
        radii[b] = np.sqrt(((blk - centers[b]) ** 2).sum(axis=1)).max()
    return centers, radii
