"""Recover the scalar field behind a colormapped image (colormap inversion).

An image rendered with a known colormap (``jet``, ``viridis``, a list of
colours, or the colour bar printed next to it) is mapped back to the values
that produced it.  The method, in four steps:

1. **Dense perceptual curve.**  The colormap's lookup table (LUT) is treated
   as knots of a piecewise-linear curve in sRGB (knot ``i`` of an ``N``-entry
   LUT sits at the centre ``(i + 0.5) / N`` of the value bin that matplotlib
   paints with it), resampled to ``n_samples`` points and converted to CIELAB
   (sRGB -> linear RGB -> XYZ (D65) -> L*a*b*; IEC 61966-2-1 and CIE 15:2004),
   where Euclidean distance is the colour difference ΔE*ab.
2. **Nearest point and projection.**  Each distinct pixel colour is matched to
   its nearest curve sample (``scipy.spatial.cKDTree``) and projected onto the
   two adjacent curve segments, which gives a continuous parameter.
3. **Ambiguity.**  Every curve sample whose colour lies within ``d + 3 σ`` of
   the pixel colour (``d``: distance from the pixel to the curve, ``σ``: colour
   noise per Lab axis) is a plausible source of the pixel.  These samples form
   one or more runs ("branches") along the curve: a flat stretch of the
   colormap (jet over [0.110, 0.125]) gives one long run, a repeating or cyclic
   colormap (twilight, hsv) gives several.  The reported interval is the run
   that contains the final estimate, widened by half a LUT bin (the
   quantisation of the rendering); ``n_branches`` says how many runs there
   were.
4. **Spatial regularisation** (2-D images only, ``smoothing > 0``).  Among the
   branches of an ambiguous pixel whose colour fit passes a χ² test (noise
   model below) the one closest to the mean of its unambiguous neighbours
   is kept (multi-scale: 5, 17, 65 px windows;
   circular mean for cyclic maps).  Then a sigma filter (Lee 1983, *Computer
   Vision, Graphics and Image Processing* 24:255) replaces each value by the
   mean of the neighbouring values that lie inside the pixel's own interval,
   a few times over.  Because every value stays inside its colour-consistency
   interval, noise, JPEG ringing and LUT quantisation are averaged out while
   edges of the field are not blurred beyond what the colour allows.
   Finally the part of the smoothing residual that colour noise cannot
   explain is put back (a local Wiener gain, Lee 1980): texture of the field
   survives, and on a clean image (noise at the 8-bit rounding) the result
   is the pixelwise value.  The noise model is isotropic sRGB noise whose
   level comes from the pixels' distances *off* the curve, which texture of
   the field does not change, carried into Lab and along the curve by the
   Jacobian of sRGB -> Lab.

JPEG images (detected by their 8-pixel block grid) are projected in Y Cb Cr
with chroma errors weighted down (JPEG keeps luma far better than chroma),
and their intervals take in the values of the 8 neighbours (chroma shared by
2 x 2 pixels, ringing near edges).

Per colormap, the nearest curve sample of every 8-bit colour met so far is
kept in a table over the 8-bit cube (:func:`_cube_table`), so later images
with the same map search only colours not seen before.

A pixel is *valid* when its distance to the curve is below ``max_distance``
(ΔE); background, text, axes and markers are normally far from the curve.
Colours that do lie on the colormap (white and black on ``gray``) cannot be
told apart from the field by colour; in an image laid out as a figure (a
page of one colour around rectangular data regions) the layout decides
(``spatial_validity``): only the data regions stay valid.  On-map text or
markers drawn *inside* the data region stay valid; mask them yourself.

Values outside ``[vmin, vmax]`` are painted with the end colours; they come
back as the end values, with an interval that reaches only the end of the LUT.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from drr.errors import InputError

__all__ = [
    "ColormapInversion",
    "ColorbarLocation",
    "ColormapMatch",
    "srgb_to_lab",
    "invert_colormap",
    "find_colorbar",
    "identify_colormap",
]

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
_RAYLEIGH_MEDIAN = math.sqrt(2.0 * math.log(2.0))  # median of |N(0, I_2)|
_BLOCK = 32  # curve samples per bounding sphere in the branch search
_GROUP = 8  # blocks per bounding sphere of the level above
_NOISE_SAMPLE = 1 << 16  # distinct colours used by the global noise estimates
_MAX_BRANCHES = 4
_JPEG_SPREAD = 1  # JPEG: intervals take in the values of the neighbours within this radius
# JPEG: reported intervals also reach _JPEG_EDGE times the neighbours' value range
# beyond them, in full where the colour is at least _JPEG_EDGE_D sigma_perp off the curve
_JPEG_EDGE = 1.0
_JPEG_EDGE_D = 2.0
_ALONG_CAP = 3.0  # noise along the curve: at most this many times the off-curve estimate
_PARALLEL_MIN = 1 << 16  # fewer items than this: serial kernels (thread start-up costs more)
# Allocation note: large per-pixel outputs are allocated by numpy, not inside numba kernels:
# numpy advises huge pages for them (a 1000^2 float64 array: a few 2 MB page faults instead of
# 2048 of 4 KB at ~2.7 us each on this VM; 32 MB measured 13 -> 4 ms)
_SERIAL_MS = 3  # kernels that take at most this long serially at 1000^2 run serially: on a shared
# machine a parallel region can wait a scheduler tick (4-8 ms measured) for a descheduled thread
_R3D = 4.0
_NOISE_FLOOR = 0.2  # ΔE; 8-bit rounding of sRGB is about 0.1-0.2
# 8-bit rounding as _estimate_rgb_noise sees it: uniform error of sd 1 / (255 sqrt 12)
# per channel has a Rayleigh-median scale 1.175 times that (Monte Carlo)
_RGB_ROUNDING = 1.175 / (255.0 * math.sqrt(12.0))
_TEXTURE_EXCESS = 1.5  # residual/noise power ratio up to which the smoothing is kept whole
# JPEG (ITU-T T.871): full-range sRGB -> Y Cb Cr
_RGB_TO_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_JPEG_BLOCKINESS = 1.06  # luma step at the 8-px grid / median step, above which an image is taken for JPEG
_JPEG_CHROMA = 8.0  # chroma / luma error variance assumed for JPEG (4:2:0 subsampling, coarser tables)
_CHI2_3_99 = 11.34  # 99th percentile of chi-square, 3 degrees of freedom
_ID_PIXELS = 20000  # identify_colormap: pixels sampled (a regular 2-D grid for images)
_ID_CAP = 10.0  # identify_colormap: ΔE at which a colour counts as unexplained
_BAR_MATCH = _ID_CAP / 2  # identify_colormap: a found bar counts only if some map matches it this well (mean ΔE)
_JUMP_COST = _ID_CAP  # identify_colormap: ΔE per jump pair per grid pixel (see _jump_pairs)
_SEAM_BAND = 0.1  # cyclic maps: values this close to 0 or 1 may sit at either end of the range


# --------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class ColormapInversion:
    """Result of :func:`invert_colormap`; every array has the image's shape.

    Attributes
    ----------
    values : ndarray of float64, shape (H, W) or (N,)
        Recovered scalar value in the units of ``vmin``/``vmax``; NaN where
        ``valid`` is False.
    interval_low, interval_high : ndarray of float64
        Ambiguity interval: the contiguous range of values whose colour is
        within the pixel's tolerance of the pixel's colour and that contains
        ``values`` (the branch that was chosen), widened by half a LUT bin;
        for a JPEG image also to the values of the 8 neighbours.
        ``interval_low <= values <= interval_high``; NaN where invalid.
    valid : ndarray of bool
        True where the pixel's colour is on the colormap (distance below
        ``max_distance``).
    distance : ndarray of float64
        ΔE*ab from the pixel colour to the nearest point of the colormap.
    n_branches : ndarray of int32
        Number of disjoint value ranges whose colour matches the pixel (1 for
        an unambiguous pixel, 2 near the seam of a cyclic map, ...); 0 where
        invalid.
    noise : float
        Colour noise per Lab axis (ΔE): the given value, or the estimated
        sRGB noise seen in Lab (``s sqrt(tr(J Jᵀ) / 3)``, median over the
        distinct colours; at least 0.2).
    max_distance : float
        Validity threshold (ΔE) that was used.
    """

    values: np.ndarray
    interval_low: np.ndarray
    interval_high: np.ndarray
    valid: np.ndarray
    distance: np.ndarray
    n_branches: np.ndarray
    noise: float
    max_distance: float


@dataclass(frozen=True)
class ColorbarLocation:
    """A colour bar found by :func:`find_colorbar`.

    Attributes
    ----------
    rows, cols : tuple of int
        ``(start, stop)`` of the bar's interior in pixel indices (stop
        exclusive); ``figure[rows[0]:rows[1], cols[0]:cols[1]]`` is the bar
        without its frame.
    orientation : str
        ``"vertical"`` (low values at the bottom, as matplotlib draws it) or
        ``"horizontal"`` (low values on the left).
    colors : ndarray of float64, shape (L, 3)
        The bar's sRGB colours in [0, 1], ordered from low to high value.
    positions : ndarray of float64, shape (L,)
        Position of each colour on the bar, ``(j + 0.5) / L``, in [0, 1].

    Pass the object itself as ``cmap`` to :func:`invert_colormap`.
    """

    rows: tuple
    cols: tuple
    orientation: str
    colors: np.ndarray
    positions: np.ndarray

    @property
    def slices(self):
        """``(slice(rows), slice(cols))`` for indexing the figure."""
        return slice(*self.rows), slice(*self.cols)


@dataclass(frozen=True)
class ColormapMatch:
    """One entry of :func:`identify_colormap`'s ranking.

    Attributes
    ----------
    name : str
        Registered matplotlib colormap name (``"_r"`` suffix: reversed).
    score : float
        Lower is better: mean ΔE*ab from the image's colours to the map
        (each capped at 10), plus ``2 * (1 - coverage)``, plus the mean ΔE
        between a detected colour bar and the map when a bar was found.
    coverage : float
        Fraction of the map's curve that is within 3 ΔE of some image colour.
    equivalents : tuple of str
        Other registered names with the same colours (max ΔE < 1), e.g.
        ``("grey", "gist_gray", "binary_r")`` for ``"gray"``.
    jumps : float or None
        Jumps of the field inverted with this map (2-D images): neighbour
        pairs of the sampled grid across which the value jumps by more than
        half the range in a way no choice of end for a cyclic map's seam
        colours removes, per grid pixel; ``score`` includes
        ``10 * jumps``.  ``None`` when not computed (a list of colours, or a
        map whose colour fit alone already ranks it below the best).
    """

    name: str
    score: float
    coverage: float
    equivalents: tuple
    jumps: float | None = None


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


# --------------------------------------------------------------------------
# colour science


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


# --------------------------------------------------------------------------
# input checking


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
    if a.dtype == np.uint8:
        f = a.astype(np.float64) / 255.0
    elif a.dtype == np.uint16:
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


# --------------------------------------------------------------------------
# colormap -> curve


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


def _build_curve(knots_rgb, knots_t, half_bin, n_samples):
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


# --------------------------------------------------------------------------
# numba kernels


@numba.njit(cache=True, parallel=True)
def _branch_scan(p, radius, k_near, lab, gc, gr, group, bc, br, block, max_br, est, lo, hi, bd, nbr):
    """For each colour p[u]: runs of curve samples within radius[u]; keep the max_br closest.

    Groups of ``group`` blocks (spheres gc, gr) and blocks of ``block``
    samples (spheres bc, br) that do not reach the ball are skipped, and a
    block wholly inside the ball only extends the current run: samples are
    visited only in blocks that cross the sphere, then :func:`_run_best`
    finds each run's closest sample.

    est: fractional sample index of the best point of each run (projected onto
    the adjacent segments, or the middle of a run of exactly tied samples).
    """
    m = lab.shape[0]
    nblk = bc.shape[0]
    for u in numba.prange(p.shape[0]):
        px, py, pz = p[u, 0], p[u, 1], p[u, 2]
        r = radius[u]
        r2 = r * r
        count = 0
        stored = 0
        last = -2
        run_lo = -1
        for g in range(gc.shape[0]):
            dx = px - gc[g, 0]
            dy = py - gc[g, 1]
            dz = pz - gc[g, 2]
            reach = r + gr[g] + 1e-9
            dg2 = dx * dx + dy * dy + dz * dz
            if dg2 > reach * reach:
                continue
            inner = r - gr[g] - 1e-9
            if inner > 0.0 and dg2 < inner * inner:  # the whole group inside: one stretch of the run
                k0 = g * group * block
                if k0 != last + 1:
                    if run_lo >= 0:
                        stored, count = _close_run(u, run_lo, last, k_near[u], p, lab, bc, br, block,
                                                   max_br, est, lo, hi, bd, stored, count)
                    run_lo = k0
                last = min(k0 + group * block, m) - 1
                continue
            for b in range(g * group, min((g + 1) * group, nblk)):
                dx = px - bc[b, 0]
                dy = py - bc[b, 1]
                dz = pz - bc[b, 2]
                dc = math.sqrt(dx * dx + dy * dy + dz * dz)
                if dc > r + br[b] + 1e-9:
                    continue
                k0 = b * block
                k1 = min(k0 + block, m)
                if dc + br[b] < r - 1e-9:  # wholly inside: one stretch of the run
                    if k0 != last + 1:
                        if run_lo >= 0:
                            stored, count = _close_run(u, run_lo, last, k_near[u], p, lab, bc, br, block,
                                                       max_br, est, lo, hi, bd, stored, count)
                        run_lo = k0
                    last = k1 - 1
                    continue
                for k in range(k0, k1):
                    dx = px - lab[k, 0]
                    dy = py - lab[k, 1]
                    dz = pz - lab[k, 2]
                    if dx * dx + dy * dy + dz * dz > r2:
                        continue
                    if k != last + 1:
                        if run_lo >= 0:
                            stored, count = _close_run(u, run_lo, last, k_near[u], p, lab, bc, br, block,
                                                       max_br, est, lo, hi, bd, stored, count)
                        run_lo = k
                    last = k
        if run_lo >= 0:
            stored, count = _close_run(u, run_lo, last, k_near[u], p, lab, bc, br, block,
                                       max_br, est, lo, hi, bd, stored, count)
        # sort stored branches by distance (insertion sort, max_br is tiny)
        for i in range(1, stored):
            j = i
            while j > 0 and bd[u, j] < bd[u, j - 1]:
                tmp = est[u, j]
                est[u, j] = est[u, j - 1]
                est[u, j - 1] = tmp
                tmpi = lo[u, j]
                lo[u, j] = lo[u, j - 1]
                lo[u, j - 1] = tmpi
                tmpi = hi[u, j]
                hi[u, j] = hi[u, j - 1]
                hi[u, j - 1] = tmpi
                tmp = bd[u, j]
                bd[u, j] = bd[u, j - 1]
                bd[u, j - 1] = tmp
                j -= 1
        nbr[u] = count


@numba.njit(cache=True, parallel=True)
def _nearest_scan(p, lab, gc, gr, group, bc, br, block, dist, index):
    """Nearest curve sample of each colour p[u] (branch and bound over the bounding spheres).

    The group whose centre is nearest is searched first; then every group and
    block whose sphere could hold a closer sample.  Ties go to the lowest index.
    """
    m = lab.shape[0]
    nblk = bc.shape[0]
    for u in numba.prange(p.shape[0]):
        px, py, pz = p[u, 0], p[u, 1], p[u, 2]
        g0 = 0
        dmin = np.inf
        for g in range(gc.shape[0]):
            dx = px - gc[g, 0]
            dy = py - gc[g, 1]
            dz = pz - gc[g, 2]
            dd = dx * dx + dy * dy + dz * dz
            if dd < dmin:
                dmin = dd
                g0 = g
        best = np.inf
        kbest = 0
        for step in range(gc.shape[0] + 1):
            g = g0 if step == 0 else step - 1
            if step > 0 and g == g0:
                continue
            dx = px - gc[g, 0]
            dy = py - gc[g, 1]
            dz = pz - gc[g, 2]
            lb = math.sqrt(dx * dx + dy * dy + dz * dz) - gr[g]
            if lb > 0.0 and lb * lb > best:
                continue
            for b in range(g * group, min((g + 1) * group, nblk)):
                dx = px - bc[b, 0]
                dy = py - bc[b, 1]
                dz = pz - bc[b, 2]
                lb = math.sqrt(dx * dx + dy * dy + dz * dz) - br[b]
                if lb > 0.0 and lb * lb > best:
                    continue
                for k in range(b * block, min((b + 1) * block, m)):
                    dx = px - lab[k, 0]
                    dy = py - lab[k, 1]
                    dz = pz - lab[k, 2]
                    d2 = dx * dx + dy * dy + dz * dz
                    if d2 < best or (d2 == best and k < kbest):
                        best = d2
                        kbest = k
        dist[u] = math.sqrt(best)
        index[u] = kbest


@numba.njit(cache=True)
def _close_run(u, run_lo, run_hi, kn, p, lab, bc, br, block, max_br, est, lo, hi, bd, stored, count):
    """Find the closest samples of the run [run_lo, run_hi] and store the run.

    ``kn``: the colour's nearest sample on the whole curve (lowest index among
    exact ties).  In the run that holds it, it is the run's closest sample,
    so only its exact ties that follow are looked for (as :func:`_run_best`).
    """
    if run_lo <= kn <= run_hi:
        px, py, pz = p[u, 0], p[u, 1], p[u, 2]
        dx = px - lab[kn, 0]
        dy = py - lab[kn, 1]
        dz = pz - lab[kn, 2]
        best_lo = kn
        best_d = dx * dx + dy * dy + dz * dz
        best_hi = kn
        while best_hi < run_hi:
            k = best_hi + 1
            dx = px - lab[k, 0]
            dy = py - lab[k, 1]
            dz = pz - lab[k, 2]
            if dx * dx + dy * dy + dz * dz > best_d + 1e-12:
                break
            best_hi = k
    else:
        best_lo, best_hi, best_d = _run_best(p, u, lab, bc, br, block, run_lo, run_hi)
    return _store(u, run_lo, run_hi, best_lo, best_hi, best_d, p, lab, max_br, est, lo, hi, bd, stored, count)


@numba.njit(cache=True)
def _run_best(p, u, lab, bc, br, block, run_lo, run_hi):
    """Closest sample of p[u] in [run_lo, run_hi]: (first index, last of its tied neighbours, d²).

    The block whose sphere comes nearest is searched first; then, in index
    order, every block whose sphere could hold a sample as close.  Among
    samples within 1e-12 of the minimum the lowest index wins, and exact ties
    that follow it contiguously (a flat stretch of the map) extend it.
    """
    px, py, pz = p[u, 0], p[u, 1], p[u, 2]
    b_lo = run_lo // block
    b_hi = run_hi // block
    b0 = b_lo
    lb0 = np.inf
    for b in range(b_lo, b_hi + 1):
        dx = px - bc[b, 0]
        dy = py - bc[b, 1]
        dz = pz - bc[b, 2]
        lb = math.sqrt(dx * dx + dy * dy + dz * dz) - br[b]
        if lb < lb0:
            lb0 = lb
            b0 = b
    best_lo = -1
    best_d = np.inf
    for step in range(b_hi - b_lo + 2):
        b = b0 if step == 0 else b_lo + step - 1
        if step > 0:
            if b == b0:
                continue
            dx = px - bc[b, 0]
            dy = py - bc[b, 1]
            dz = pz - bc[b, 2]
            lb = math.sqrt(dx * dx + dy * dy + dz * dz) - br[b] - 1e-9
            if lb > 0.0 and lb * lb > best_d + 1e-9:
                continue
        for k in range(max(b * block, run_lo), min((b + 1) * block, run_hi + 1)):
            dx = px - lab[k, 0]
            dy = py - lab[k, 1]
            dz = pz - lab[k, 2]
            d2 = dx * dx + dy * dy + dz * dz
            if d2 < best_d - 1e-12 or (d2 <= best_d + 1e-12 and k < best_lo):
                best_lo = k
                best_d = d2
    best_hi = best_lo
    while best_hi < run_hi:
        k = best_hi + 1
        dx = px - lab[k, 0]
        dy = py - lab[k, 1]
        dz = pz - lab[k, 2]
        if dx * dx + dy * dy + dz * dz > best_d + 1e-12:
            break
        best_hi = k
    return best_lo, best_hi, best_d


@numba.njit(cache=True)
def _project(p, u, lab, a, b):
    """Projection parameter in [0, 1] and squared distance of p[u] onto segment a-b."""
    ex = lab[b, 0] - lab[a, 0]
    ey = lab[b, 1] - lab[a, 1]
    ez = lab[b, 2] - lab[a, 2]
    qx = p[u, 0] - lab[a, 0]
    qy = p[u, 1] - lab[a, 1]
    qz = p[u, 2] - lab[a, 2]
    ee = ex * ex + ey * ey + ez * ez
    s = 0.0
    if ee > 0.0:
        s = (qx * ex + qy * ey + qz * ez) / ee
        s = min(max(s, 0.0), 1.0)
    rx = qx - s * ex
    ry = qy - s * ey
    rz = qz - s * ez
    return s, rx * rx + ry * ry + rz * rz


@numba.njit(cache=True)
def _store(u, run_lo, run_hi, best_lo, best_hi, best_d, p, lab, max_br, est, lo, hi, bd, stored, count):
    m = lab.shape[0]
    if best_lo == best_hi:
        k = best_lo
        e = float(k)
        dbest = best_d
        if k > 0:
            s, d2 = _project(p, u, lab, k - 1, k)
            if d2 < dbest:
                dbest = d2
                e = k - 1 + s
        if k < m - 1:
            s, d2 = _project(p, u, lab, k, k + 1)
            if d2 < dbest:
                dbest = d2
                e = k + s
        best_d = dbest
    else:
        e = 0.5 * (best_lo + best_hi)
    dist = math.sqrt(max(best_d, 0.0))
    count += 1
    slot = -1
    if stored < max_br:
        slot = stored
        stored += 1
    else:
        worst = 0
        for i in range(1, max_br):
            if bd[u, i] > bd[u, worst]:
                worst = i
        if dist < bd[u, worst]:
            slot = worst
    if slot >= 0:
        est[u, slot] = e
        lo[u, slot] = run_lo
        hi[u, slot] = run_hi
        bd[u, slot] = dist
    return stored, count


def _sigma_filter(v, t_lo, t_hi, k_half, valid, radius, n_iter):
    """Sigma filter of ``v`` (window ``2 radius + 1``), ``n_iter`` passes.

    Each valid pixel becomes the mean of the valid neighbours (itself
    included) whose value lies in ``v ± k_half (t_hi - t_lo)`` (the pixel's
    acceptance band, fixed from the input), clipped to ``[t_lo, t_hi]``; a
    pixel with no such neighbour keeps its value; invalid pixels keep ``v``.
    """
    cur = _sigma_padded(v, t_lo, t_hi, k_half, valid, radius, n_iter)
    r = int(radius)
    h, w = v.shape
    return np.where(valid, cur[r:r + h, r:r + w], v)


def _sigma_padded(v, t_lo, t_hi, k_half, valid, radius, n_iter):
    """:func:`_sigma_filter` padded by ``radius`` (NaN there and at invalid pixels).

    Invalid pixels are NaN and so is the padding, so the inner loop has
    neither bounds nor validity tests (a NaN fails both comparisons): the
    same sums, in the same order, as testing them.
    """
    h, w = v.shape
    r = int(radius)
    cur = np.empty((h + 2 * r, w + 2 * r))
    _sigma_init(v, valid, cur, r)
    out = cur.copy()
    for _ in range(n_iter):
        if r == 1:
            _sigma_pass1(cur, out, v, float(k_half), t_lo, t_hi, valid)
        else:
            _sigma_pass(cur, out, v, float(k_half), t_lo, t_hi, valid, r)
        cur, out = out, cur
    return cur


@numba.njit(cache=True)  # serial: see _SERIAL_MS
def _sigma_init(v, valid, cur, r):
    """Padded copy of ``v`` (NaN at the padding and invalid pixels)."""
    h, w = v.shape
    for y in numba.prange(h + 2 * r):
        if y < r or y >= h + r:
            for x in range(w + 2 * r):
                cur[y, x] = np.nan
            continue
        yy = y - r
        for x in range(r):
            cur[y, x] = np.nan
            cur[y, w + r + x] = np.nan
        for x in range(w):
            cur[y, x + r] = v[yy, x] if valid[yy, x] else np.nan


@numba.njit(cache=True)  # serial: see _SERIAL_MS
def _sigma_pass1(src, dst, v, k_half, clip_lo, clip_hi, valid):
    """One sigma-filter pass, 3 x 3 window, on NaN-padded ``src`` into ``dst``.

    The acceptance band of pixel (y, x) is ``v ∓ k_half (clip_hi - clip_lo)``
    there (``v``: the unfiltered values), computed as numpy would.
    """
    h, w = v.shape
    for y in numba.prange(h):
        r0 = src[y]
        r1 = src[y + 1]
        r2 = src[y + 2]
        for x in range(w):
            if not valid[y, x]:
                continue
            half = k_half * (clip_hi[y, x] - clip_lo[y, x])
            a = v[y, x] - half
            b = v[y, x] + half
            s = 0.0
            c = 0
            for row in (r0, r1, r2):
                for xx in range(x, x + 3):
                    q = row[xx]
                    if a <= q <= b:
                        s += q
                        c += 1
            if c > 0:
                dst[y + 1, x + 1] = min(max(s / c, clip_lo[y, x]), clip_hi[y, x])


@numba.njit(cache=True, parallel=True)
def _sigma_pass(src, dst, v, k_half, clip_lo, clip_hi, valid, r):
    """One sigma-filter pass, window ``2 r + 1``, on NaN-padded ``src`` into ``dst``
    (acceptance band as in :func:`_sigma_pass1`)."""
    h, w = v.shape
    for y in numba.prange(h):
        for x in range(w):
            if not valid[y, x]:
                continue
            half = k_half * (clip_hi[y, x] - clip_lo[y, x])
            a = v[y, x] - half
            b = v[y, x] + half
            s = 0.0
            c = 0
            for yy in range(y, y + 2 * r + 1):
                for xx in range(x, x + 2 * r + 1):
                    q = src[yy, xx]
                    if a <= q <= b:
                        s += q
                        c += 1
            if c > 0:
                dst[y + r, x + r] = min(max(s / c, clip_lo[y, x]), clip_hi[y, x])


# --------------------------------------------------------------------------
# core matching


def _pack_colors(f):
    """Unique colours of a float (..., 3) image quantised to 16 bits: (unique (U,3), inverse, counts).

    Colours come out sorted by their 48-bit key (as ``np.unique`` sorts them).
    When every channel is an 8-bit level (``k / 255``, the usual case) a
    counting pass over the 2**24 colour cube replaces the sort.
    """
    cols, inv, counts, _ = _pack_colors_keyed(f)
    return cols, inv, counts


def _pack_colors_keyed(f):
    """:func:`_pack_colors` plus the 24-bit keys ``(R << 16) | (G << 8) | B`` of the
    unique colours when all are 8-bit levels (else ``None``)."""
    if f.dtype == np.uint8:  # 8-bit input (:func:`_uint8_pixels`), >= 4096 pixels
        key = _keys_bytes(f.reshape(-1, 3))
    else:
        flat = f.reshape(-1, 3)
        key = _keys_8bit(flat) if len(flat) >= 4096 else None
    if key is not None and key[0] >= 0:
        uniq, inv, counts = _unique_24bit(key)
        cols = np.stack([(uniq >> 16) & 0xFF, (uniq >> 8) & 0xFF, uniq & 0xFF], axis=1) / 255.0
        return cols, inv, counts, uniq
    q = np.rint(flat * 65535.0).astype(np.int64)
    key = (q[:, 0] << 32) | (q[:, 1] << 16) | q[:, 2]
    uniq, inv = np.unique(key, return_inverse=True)
    cols = np.stack([(uniq >> 32) & 0xFFFF, (uniq >> 16) & 0xFFFF, uniq & 0xFFFF], axis=1) / 65535.0
    counts = np.bincount(inv, minlength=len(uniq))
    return cols, inv.reshape(-1), counts, None


@numba.njit(cache=True)
def _keys_bytes(flat):
    """24-bit keys ``(R << 16) | (G << 8) | B`` of uint8 colours (N, 3), the same as
    :func:`_keys_8bit` gives for ``flat / 255`` (as int32)."""
    key = np.empty(flat.shape[0], dtype=np.int32)
    for i in range(flat.shape[0]):
        key[i] = (np.int32(flat[i, 0]) << 16) | (np.int32(flat[i, 1]) << 8) | np.int32(flat[i, 2])
    return key


@numba.njit(cache=True)
def _keys_8bit(flat):
    """24-bit keys ``(R << 16) | (G << 8) | B`` of float colours that are all 8-bit levels.

    Returns ``[-1]`` as soon as one channel is not ``k / 255`` exactly.
    """
    key = np.empty(flat.shape[0], dtype=np.int64)
    for i in range(flat.shape[0]):
        k = 0
        for ch in range(3):
            v = flat[i, ch] * 255.0
            q = np.rint(v)
            if q != v:
                return np.full(1, -1, dtype=np.int64)
            k = (k << 8) | int(q)
        key[i] = k
    return key


_CUBE_SCRATCH = []  # reusable zeroed (slot, block) arrays for _unique_24bit
_CUBE_SCRATCH_LOCK = __import__("threading").Lock()


def _unique_24bit(key):
    """np.unique(key, return_inverse=True, return_counts=True) for keys in [0, 2**24).

    The 64 MiB count array is kept between calls (zeroed again after use:
    a fresh one costs page faults on every call); a call that finds it in
    use (another thread) allocates its own.
    """
    if _CUBE_SCRATCH_LOCK.acquire(blocking=False):
        try:
            if not _CUBE_SCRATCH:
                _CUBE_SCRATCH.append((np.zeros(1 << 24, dtype=np.int32), np.zeros(1 << 16, dtype=np.int32)))
            slot, block = _CUBE_SCRATCH[0]
            return _unique_24bit_kernel(key, slot, block)
        finally:
            _CUBE_SCRATCH_LOCK.release()
    return _unique_24bit_kernel(key, np.zeros(1 << 24, dtype=np.int32), np.zeros(1 << 16, dtype=np.int32))


@numba.njit(cache=True)
def _unique_24bit_kernel(key, slot, block):
    """:func:`_unique_24bit` with zeroed scratch ``slot`` (2**24) and ``block`` (2**16), left zeroed.

    A count per key, then a sweep in key order that visits only the
    256-key blocks holding at least one key.
    """
    n = 0
    for i in range(key.shape[0]):
        k = key[i]
        if slot[k] == 0:
            n += 1
            block[k >> 8] += 1
        slot[k] += 1
    uniq = np.empty(n, dtype=np.int64)
    counts = np.empty(n, dtype=np.int64)
    j = 0
    for b in range(1 << 16):
        if block[b] == 0:
            continue
        for k in range(b << 8, (b + 1) << 8):
            if slot[k] > 0:
                uniq[j] = k
                counts[j] = slot[k]
                slot[k] = j
                j += 1
    inv = np.empty(key.shape[0], dtype=np.int32)  # fewer than 2**24 colours
    for i in range(key.shape[0]):
        inv[i] = slot[key[i]]
    for j in range(n):
        slot[uniq[j]] = 0
        block[uniq[j] >> 8] = 0
    return uniq, inv, counts


def _nearest(curve, lab_pts, keys=None):
    """Distance (ΔE) to and index of the nearest curve sample: (U,), (U,).

    With the 24-bit ``keys`` of many colours (at least ``_CUBE_MIN``) the
    index comes from the curve's table over the 8-bit cube
    (:func:`_cube_table`), which is filled as colours are met: only colours
    not seen before with this curve are searched, and the distance is
    recomputed from the index.  The same numbers as searching every colour.
    """
    dist = np.empty(len(lab_pts))
    index = np.empty(len(lab_pts), dtype=np.int64)
    lab_pts = np.ascontiguousarray(lab_pts)
    if keys is None or len(keys) < _CUBE_MIN or len(curve.lab) >= _CUBE_EMPTY:
        _nearest_scan(lab_pts, curve.lab, curve.group_center, curve.group_radius, _GROUP,
                      curve.block_center, curve.block_radius, _BLOCK, dist, index)
        return dist, index
    table = _cube_table(curve)
    todo = _cube_lookup(keys, table, lab_pts, curve.lab, dist, index)
    if todo.any():
        miss = np.flatnonzero(todo)
        dm = np.empty(len(miss))
        km = np.empty(len(miss), dtype=np.int64)
        _nearest_scan(lab_pts[miss], curve.lab, curve.group_center, curve.group_radius, _GROUP,
                      curve.block_center, curve.block_radius, _BLOCK, dm, km)
        dist[miss] = dm
        index[miss] = km
        table[keys[miss]] = km
    return dist, index


_CUBE_MIN = 1 << 16  # distinct colours from which the cube table is used
_CUBE_EMPTY = 0xFFFF  # table entry of a colour not searched yet
_CUBE_CACHE_SIZE = 4  # curves whose cube table is kept (32 MiB each)
_cube_cache = {}


def _cube_table(curve):
    """Nearest curve sample of each 8-bit sRGB colour met so far, uint16 (2**24,) by 24-bit key.

    ``_CUBE_EMPTY`` where not searched yet.  Cached per curve (its sRGB
    samples); the least recently used is dropped beyond ``_CUBE_CACHE_SIZE``.
    """
    import hashlib

    key = hashlib.blake2b(np.ascontiguousarray(curve.rgb).tobytes(), digest_size=16).hexdigest()
    table = _cube_cache.pop(key, None)
    if table is None:
        table = np.full(1 << 24, _CUBE_EMPTY, dtype=np.uint16)
        while len(_cube_cache) >= _CUBE_CACHE_SIZE:
            _cube_cache.pop(next(iter(_cube_cache)))
    _cube_cache[key] = table
    return table


@numba.njit(cache=True)  # serial: see _SERIAL_MS
def _cube_lookup(keys, table, p, lab, dist, index):
    """Where ``table[keys[u]]`` is set: index and ΔE (as :func:`_nearest_scan`); returns the misses."""
    todo = np.zeros(keys.shape[0], dtype=np.bool_)
    for u in numba.prange(keys.shape[0]):
        k = np.int64(table[keys[u]])
        if k == _CUBE_EMPTY:
            todo[u] = True
            continue
        dx = p[u, 0] - lab[k, 0]
        dy = p[u, 1] - lab[k, 1]
        dz = p[u, 2] - lab[k, 2]
        dist[u] = math.sqrt(dx * dx + dy * dy + dz * dz)
        index[u] = k
    return todo


_LINEAR = []


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


def _thin(*arrays):
    """Every k-th element of each array, k chosen so that at most ``_NOISE_SAMPLE`` remain."""
    step = max(1, -(-len(arrays[0]) // _NOISE_SAMPLE))
    return tuple(a[::step] for a in arrays)


def _estimate_noise(d, counts):
    """Noise per Lab axis from the off-curve distances of near-curve colours (2-D Rayleigh).

    Counts are clipped at their 90th percentile so that a large flat
    background (one colour, many pixels) cannot dominate the median.  At most
    ``_NOISE_SAMPLE`` colours are used (a regular stride).
    """
    d, counts = _thin(d, counts)
    counts = np.minimum(counts, max(1.0, float(np.percentile(counts, 90))))
    cap = 20.0
    sigma = _NOISE_FLOOR
    for _ in range(2):
        sel = d < cap
        if counts[sel].sum() == 0:
            break
        order = np.argsort(d[sel])
        cum = np.cumsum(counts[sel][order])
        med = d[sel][order][np.searchsorted(cum, 0.5 * cum[-1])]
        sigma = max(med / _RAYLEIGH_MEDIAN, _NOISE_FLOOR)
        cap = max(5.0, 5.0 * sigma)
    return float(sigma)


def _along_noise(s, valid, t, inv, period=None, n_bins=16):
    """Noise along the curve (ΔE), per bin of the curve parameter, from second differences.

    ``s``, ``valid``, ``t``: per distinct colour; ``inv``: (H, W) colour index
    of each pixel (the kernel reads the pixels' values through it).

    For a smooth field the arc-length position ``s`` of a pixel minus the mean
    of its two neighbours (along rows and along columns) is noise with
    variance ``1.5 σ²`` plus a curvature term; ``σ = 1.4826 MAD / sqrt(1.5)``
    (median absolute value), computed per parameter bin (>= 200 samples,
    else the global value; at most 3 times the global value).  On a cyclic
    map differences are taken modulo the curve length ``period``.
    """
    # medians from about 4 * _NOISE_SAMPLE residuals (every row_step-th row): plenty for 16 bins
    row_step = max(1, -(-2 * inv.size // (4 * _NOISE_SAMPLE)))
    r, w = _second_differences(s, valid, t, inv, -1.0 if period is None else float(period), row_step)
    if len(r) < 50:
        return None
    k = 1.4826 / math.sqrt(1.5)
    glob = max(k * float(np.median(r)), _NOISE_FLOOR)
    bins = np.minimum((w * n_bins).astype(np.int64), n_bins - 1)
    sig = np.full(n_bins, glob)
    # residuals grouped by bin once (a median does not depend on the order)
    r_sorted = r[np.argsort(bins.astype(np.uint8), kind="stable")]  # n_bins <= 256: a radix sort
    ends = np.cumsum(np.bincount(bins, minlength=n_bins))
    for b in range(n_bins):
        rb = r_sorted[(ends[b - 1] if b else 0):ends[b]]
        if len(rb) >= 200:
            sig[b] = min(max(k * float(np.median(rb)), _NOISE_FLOOR), 3.0 * glob)
    return glob, sig


@numba.njit(cache=True)
def _second_differences(s_u, valid_u, t_u, inv, period, row_step):
    """|s - mean of the two neighbours| along rows and columns, where all three are valid.

    Pixel ``(y, x)`` has ``s = s_u[inv[y, x]]`` (likewise ``valid``, ``t``).
    Centre pixels on every ``row_step``-th row.  Returns the absolute
    residuals and the curve parameter ``t`` at the centre pixel;
    ``period > 0``: differences taken modulo ``period``.
    """
    h, w = inv.shape
    res = np.empty(2 * w * (h // row_step + 1))
    where = np.empty(res.shape[0])
    half = 0.5 * period
    n = 0
    for y in range(0, h, row_step):
        for x in range(w):
            if not valid_u[inv[y, x]]:
                continue
            c = s_u[inv[y, x]]
            for axis in range(2):
                if axis == 0:
                    if y == 0 or y == h - 1 or not (valid_u[inv[y - 1, x]] and valid_u[inv[y + 1, x]]):
                        continue
                    a = s_u[inv[y - 1, x]]
                    b = s_u[inv[y + 1, x]]
                else:
                    if x == 0 or x == w - 1 or not (valid_u[inv[y, x - 1]] and valid_u[inv[y, x + 1]]):
                        continue
                    a = s_u[inv[y, x - 1]]
                    b = s_u[inv[y, x + 1]]
                if period > 0.0:
                    d1 = (a - c + half) % period - half
                    d2 = (b - c + half) % period - half
                    r = 0.5 * (d1 + d2)
                else:
                    r = c - 0.5 * (a + b)
                res[n] = abs(r)
                where[n] = t_u[inv[y, x]]
                n += 1
    return res[:n], where[:n]


_FACTORS_CACHE = {}  # curve (sRGB samples, t) -> (along, across, speed, rgb_speed), a few kept


def _curve_factors(curve):
    """:func:`_rgb_noise_factors` and ``|d rgb / dt|`` of a curve, cached (they depend on it alone)."""
    import hashlib

    key = hashlib.blake2b(np.ascontiguousarray(curve.rgb).tobytes() + curve.t.tobytes(), digest_size=16).hexdigest()
    got = _FACTORS_CACHE.get(key)
    if got is None:
        along, across, speed = _rgb_noise_factors(curve)
        rgb_speed = np.linalg.norm(np.gradient(curve.rgb, curve.t, axis=0), axis=1)
        got = (along, across, speed, rgb_speed)
        if len(_FACTORS_CACHE) >= 16:
            _FACTORS_CACHE.pop(next(iter(_FACTORS_CACHE)))
        _FACTORS_CACHE[key] = got
    return got


def _rgb_noise_factors(curve):
    """How isotropic sRGB noise looks along and across the curve, per curve sample.

    With ``J`` the Jacobian of sRGB -> CIELAB at the sample and ``τ`` the unit
    tangent of the curve in CIELAB, sRGB noise of variance ``s²`` per channel
    becomes Lab noise of covariance ``s² J Jᵀ``: variance ``s² |Jᵀτ|²`` along
    the curve and ``s² (tr(J Jᵀ) - |Jᵀτ|²) / 2`` per axis across it.

    Returns
    -------
    along, across : ndarray of float64, shape (M,)
        The two variances per unit sRGB variance.
    speed : ndarray of float64, shape (M,)
        ``|d Lab / d t|`` (ΔE per unit of the curve parameter).
    """
    h = 1e-4
    rgb = np.clip(curve.rgb, h, 1.0 - h)
    jac = np.stack([(srgb_to_lab(rgb + h * e) - srgb_to_lab(rgb - h * e)) / (2 * h) for e in np.eye(3)], axis=2)
    tangent = np.gradient(curve.lab, curve.t, axis=0)
    speed = np.linalg.norm(tangent, axis=1)
    tau = tangent / np.maximum(speed, 1e-12)[:, None]
    along = (np.einsum("mi,mij->mj", tau, jac) ** 2).sum(axis=1)
    across = 0.5 * np.maximum((jac**2).sum(axis=(1, 2)) - along, 1e-12)
    return along, across, speed


def _estimate_rgb_noise(d, across, counts):
    """sRGB noise per channel from the off-curve distances ``d`` (ΔE) of the distinct colours.

    Texture of the field cannot raise it: a textured field stays on the
    curve.  ``d / sqrt(across)`` (``across``: Lab variance per axis across the
    curve per unit sRGB variance, :func:`_rgb_noise_factors`, at each colour's
    nearest sample) follows a 2-D Rayleigh law of scale ``s``: ``s`` is its
    count-weighted median / 1.177 over colours near the curve (counts clipped
    at their 90th percentile so that a flat background cannot dominate),
    at least the 8-bit rounding ``1 / (255 sqrt 12)``.  At most
    ``_NOISE_SAMPLE`` colours are used (a regular stride).
    """
    d, across, counts = _thin(d, across, counts)
    z = d / np.sqrt(across)
    w = np.minimum(counts, max(1.0, float(np.percentile(counts, 90))))
    sel = d < max(5.0, 5.0 * float(np.median(d)))
    if not sel.any():
        return _RGB_ROUNDING
    order = np.argsort(z[sel])
    cum = np.cumsum(w[sel][order])
    med = z[sel][order][np.searchsorted(cum, 0.5 * cum[-1])]
    return max(float(med) / _RAYLEIGH_MEDIAN, _RGB_ROUNDING)


def _noise_model(curve, d, k_near, counts, noise, sigma_perp):
    """Colour-noise model per distinct colour.

    Without a given ``noise`` the sRGB noise ``s`` comes from the off-curve
    distances (:func:`_estimate_rgb_noise`) and is carried into Lab by the
    Jacobian (:func:`_rgb_noise_factors`); a given ``noise`` (ΔE per Lab axis)
    is used as is, in every direction.

    Returns
    -------
    sigma_along : ndarray, shape (U,)
        Noise along the curve (ΔE) that sets the ambiguity radius; at least
        ``sigma_perp`` (the off-curve estimate, per Lab axis).
    var_lab : ndarray, shape (U,)
        Bound on the noise variance per Lab axis (``s² tr(J Jᵀ)``), for the
        χ² plausibility of branches.
    var_raw : ndarray, shape (U,)
        Variance of the pixelwise value (curve-parameter units²) due to noise
        that averaging removes: ``(s² - s_8bit²) / |d rgb / dt|²`` (the value
        is the sRGB projection; least squares on a line); the 8-bit
        rounding is left out (on a clean image it is a fixed offset per LUT
        bin, which neighbours share).
    noise : float
        The per-axis noise reported (ΔE): given, or ``s sqrt(tr(J Jᵀ) / 3)``
        at the median colour.
    """
    along, across, speed, rgb_speed = _curve_factors(curve)
    along, across, speed = along[k_near], across[k_near], speed[k_near]
    if noise is not None:
        var = np.full(len(d), max(noise, 1e-9) ** 2)
        return np.sqrt(var), var, var / np.maximum(speed, 1e-12) ** 2, noise
    s_rgb = _estimate_rgb_noise(d, across, counts)
    var_lab = s_rgb**2 * (along + 2.0 * across)  # >= the largest axis
    # the pixelwise value is the sRGB projection (_refine_in_rgb): variance s² / |d rgb / dt|²
    var_raw = (s_rgb**2 - _RGB_ROUNDING**2) / np.maximum(rgb_speed[k_near], 1e-12) ** 2
    sigma_along = np.maximum(s_rgb * np.sqrt(along), sigma_perp)
    noise = max(math.sqrt(float(np.median(var_lab)) / 3.0), _NOISE_FLOOR)
    return sigma_along, var_lab, var_raw, noise


def _keep_texture(raw, smooth, var_raw, inv, valid, radius, excess=_TEXTURE_EXCESS, pad=0):
    """Put back the part of ``raw - smooth`` that noise cannot explain (local Wiener gain).

    In a window of ``2 radius + 1`` pixels the mean square of the residual
    ``r = raw - smooth`` is compared with the mean variance of the pixelwise
    estimate: ``g = clip(1 - excess * var / mean(r²), 0, 1)`` and the result
    is ``smooth + g r`` (Lee 1980, *IEEE PAMI* 2:165, with the smoothed image
    as the local mean).  Where the field is smooth and the image noisy the
    residual is noise and ``g ≈ 0``; where smoothing removed texture or an
    edge of the field, ``r`` exceeds the noise and ``g → 1``: the pixelwise
    value is kept.  The result lies between ``smooth`` and ``raw`` (both in the
    pixel's interval).  ``excess > 1`` because ``mean(r²)`` is itself noisy
    (relative sd ``sqrt(2) / (2 radius + 1)``): with ``excess = 1`` noise
    leaks back into smooth regions wherever the estimate runs high.
    Window sums are separable box sums with zero padding (as
    ``scipy.ndimage.uniform_filter(mode="constant")``, whose ``1/size²``
    cancels in both ratios), in a compiled kernel.  ``var_raw`` is per
    distinct colour, ``inv`` the (H, W) colour index of each pixel.
    ``smooth`` may be padded by ``pad`` on each side (as from
    :func:`_sigma_padded`); it is read at valid pixels only, invalid pixels
    come back as ``raw``.
    """
    out = np.empty_like(raw)  # by numpy (allocation note at the top)
    _keep_texture_kernel(raw, smooth, var_raw, inv, valid, int(radius), float(excess), int(pad), out)
    return out


@numba.njit(cache=True, parallel=True)
def _keep_texture_kernel(raw, smooth, var_raw, inv, valid, radius, excess, pad, out):
    """:func:`_keep_texture`: box sums of (valid, r², var) by rows, then by columns.

    Threads take bands of 32 rows; each band keeps the row sums of its rows
    and ``radius`` halo rows in a small buffer of its own (a full-image
    buffer cost more in page faults than the sums).  Same sums, same order.
    """
    h, w = raw.shape
    band = 32
    for bi in numba.prange((h + band - 1) // band):
        y0 = bi * band
        y1 = min(h, y0 + band)
        ya = max(0, y0 - radius)
        yb = min(h, y1 + radius)
        rows = np.empty((yb - ya, 3, w))  # horizontal sums of n, r², var
        r2_row = np.empty(w)  # r² and var of one row's pixels, read once per pixel
        v_row = np.empty(w)
        for y in range(ya, yb):
            for x in range(w):
                if valid[y, x]:
                    r = raw[y, x] - smooth[y + pad, x + pad]
                    r2_row[x] = r * r
                    v_row[x] = var_raw[inv[y, x]]
            for x in range(w):
                a = 0.0
                b = 0.0
                c = 0.0
                for xx in range(max(0, x - radius), min(w, x + radius + 1)):
                    if valid[y, xx]:
                        a += 1.0
                        b += r2_row[xx]
                        c += v_row[xx]
                rows[y - ya, 0, x] = a
                rows[y - ya, 1, x] = b
                rows[y - ya, 2, x] = c
        for y in range(y0, y1):
            for x in range(w):
                if not valid[y, x]:
                    out[y, x] = raw[y, x]
                    continue
                n = 0.0
                e = 0.0
                v = 0.0
                for yy in range(max(0, y - radius), min(h, y + radius + 1)):
                    n += rows[yy - ya, 0, x]
                    e += rows[yy - ya, 1, x]
                    v += rows[yy - ya, 2, x]
                g = 0.0
                if n > 0.0 and e > 0.0:
                    g = min(max(1.0 - excess * (v / n) / (e / n), 0.0), 1.0)
                sm = smooth[y + pad, x + pad]
                out[y, x] = sm + g * (raw[y, x] - sm)


def _plausible_branches(bd, nstored, var_lab):
    """Number of branches (a prefix: ``bd`` is sorted) whose colour fit is not rejected.

    The true colour lies ``|n|`` from the pixel colour, ``n`` Gaussian with
    variance ``var_lab`` (per colour) per Lab axis, so ``bd_j² - bd_0² <= |n|²``
    for the true branch ``j``; ``|n|² / var_lab`` is χ² with 3 degrees of freedom, whose 99th
    percentile is 11.34.  Branches beyond that are kept in ``n_branches`` and
    the count of runs, but the spatial step may not choose them.
    """
    return _plausible_kernel(bd, nstored, var_lab, _CHI2_3_99, _NOISE_FLOOR**2)


@numba.njit(cache=True)  # serial: see _SERIAL_MS
def _plausible_kernel(bd, nstored, var_lab, chi2, floor2):
    """:func:`_plausible_branches` per colour (the same arithmetic as the array form)."""
    out = np.empty(bd.shape[0], dtype=np.int64)
    for u in numba.prange(bd.shape[0]):
        lim = chi2 * max(var_lab[u], floor2)
        b0 = bd[u, 0] ** 2
        n = 0
        for j in range(bd.shape[1]):
            if bd[u, j] ** 2 - b0 <= lim:
                n += 1
        out[u] = min(n, nstored[u])
    return out


def _resolve_branches(est_t, inv, nstored, valid, cyclic):
    """Index of the chosen branch per pixel: the one nearest the mean of settled neighbours.

    ``est_t``: (U, B) branch values per distinct colour; ``inv``: (H, W) colour
    index of each pixel; ``nstored``: (U,) branches per colour that may be
    chosen.  Windows of 5, 17, 65 and 257 px in turn: an ambiguous pixel with a
    settled pixel in the window takes the branch nearest their mean (circular
    mean on a cyclic map) and is settled for the next, larger window.  Window
    sums come from summed-area tables at the pixels that need them (the
    windows of ``scipy.ndimage.uniform_filter(mode="constant")``).
    """
    choice = np.zeros(inv.shape, dtype=np.int8)  # at most _MAX_BRANCHES
    h, w = inv.shape
    cyclic = bool(cyclic)
    big = (h, w) if cyclic else (1, 1)  # the sine terms: cyclic maps only
    # work arrays by numpy (allocation note at the top)
    work = (np.zeros((h, w), dtype=np.bool_), np.empty((h, w)), np.empty(big), np.zeros((h + 1, w + 1)),
            np.zeros((h + 1, w + 1)), np.zeros((big[0] + 1, big[1] + 1)), np.zeros((est_t.shape[0], 3)))
    _resolve_kernel(est_t, inv, nstored, valid, cyclic, choice, *work)
    return choice


@numba.njit(cache=True)
def _window_sum(sat, y, x, r):
    """Sum over rows y-r..y+r and columns x-r..x+r (clipped) from a summed-area table (H+1, W+1)."""
    h = sat.shape[0] - 1
    w = sat.shape[1] - 1
    y0 = max(0, y - r)
    y1 = min(h, y + r + 1)
    x0 = max(0, x - r)
    x1 = min(w, x + r + 1)
    return sat[y1, x1] - sat[y0, x1] - sat[y1, x0] + sat[y0, x0]


@numba.njit(cache=True)
def _resolve_kernel(est_t, inv, nstored, valid, cyclic, choice, settled, va, vb, sat_n, sat_a, sat_b, per_u):
    """:func:`_resolve_branches` in one compiled pass per window size.

    Work arrays (given zeroed where so allocated): ``settled`` (H, W) bool;
    ``va``, ``vb`` (H, W) summands; ``sat_n``, ``sat_a``, ``sat_b`` (H+1, W+1)
    summed-area tables (``vb``, ``sat_b`` unused, any shape, when not cyclic);
    ``per_u`` (U, 3) zeros.
    """
    h, w = inv.shape
    nb = est_t.shape[1]
    two_pi = 2.0 * np.pi
    # per pixel: settled (valid, one branch), or the first of the ambiguous pixels
    # (valid, several branches) still to settle; the summands of a settled pixel
    # (its value, or the cosine and sine of its angle on a cyclic map) are
    # computed once: per colour for the first branch, per pixel on another one;
    # per_u holds (a, b, branches) per colour: one cache line per pixel
    for u in range(est_t.shape[0]):
        if cyclic:
            per_u[u, 0] = math.cos(two_pi * est_t[u, 0])
            per_u[u, 1] = math.sin(two_pi * est_t[u, 0])
        else:
            per_u[u, 0] = est_t[u, 0]
        per_u[u, 2] = nstored[u]
    amb = np.zeros((h, w), dtype=np.bool_)
    n_todo = 0
    for y in range(h):
        for x in range(w):
            u = inv[y, x]
            va[y, x] = per_u[u, 0]
            if cyclic:
                vb[y, x] = per_u[u, 1]
            if valid[y, x]:
                if per_u[u, 2] == 1.0:
                    settled[y, x] = True
                elif per_u[u, 2] > 1.0:
                    amb[y, x] = True
                    n_todo += 1
    todo_y = np.empty(n_todo, dtype=np.int64)
    todo_x = np.empty(n_todo, dtype=np.int64)
    i = 0
    for y in range(h):
        for x in range(w):
            if amb[y, x]:
                todo_y[i] = y
                todo_x[i] = x
                i += 1
    pick = np.empty(n_todo, dtype=np.int64)
    for size in (5, 17, 65, 257):
        if n_todo == 0:
            break
        for y in range(h):
            rn = 0.0
            ra = 0.0
            rb = 0.0
            for x in range(w):
                if settled[y, x]:
                    rn += 1.0
                    ra += va[y, x]
                    if cyclic:
                        rb += vb[y, x]
                sat_n[y + 1, x + 1] = sat_n[y, x + 1] + rn
                sat_a[y + 1, x + 1] = sat_a[y, x + 1] + ra
                if cyclic:
                    sat_b[y + 1, x + 1] = sat_b[y, x + 1] + rb
        r = size // 2
        for i in range(n_todo):
            y = todo_y[i]
            x = todo_x[i]
            pick[i] = -1
            cnt = _window_sum(sat_n, y, x, r)
            if cnt <= 0.5:
                continue
            if cyclic:
                ref = (math.atan2(_window_sum(sat_b, y, x, r), _window_sum(sat_a, y, x, r)) / two_pi) % 1.0
            else:
                ref = _window_sum(sat_a, y, x, r) / cnt
            u = inv[y, x]
            best = np.inf
            jb = 0
            for j in range(min(nstored[u], nb)):
                dd = abs(est_t[u, j] - ref)
                if cyclic:
                    dd = min(dd, 1.0 - dd)
                if dd < best:
                    best = dd
                    jb = j
            pick[i] = jb
        # settle the picked pixels; the others stay on the list, in order
        n_left = 0
        for i in range(n_todo):
            y = todo_y[i]
            x = todo_x[i]
            if pick[i] >= 0:
                choice[y, x] = pick[i]
                t = est_t[inv[y, x], pick[i]]
                if cyclic:
                    va[y, x] = math.cos(two_pi * t)
                    vb[y, x] = math.sin(two_pi * t)
                else:
                    va[y, x] = t
                settled[y, x] = True
            else:
                todo_y[n_left] = y
                todo_x[n_left] = x
                n_left += 1
        n_todo = n_left


def invert_colormap(
    rgb,
    *,
    cmap,
    vmin=0.0,
    vmax=1.0,
    noise=None,
    max_distance=None,
    smoothing=1,
    n_samples=4096,
    spatial_validity=True,
    jpeg=None,
):
    """Recover scalar values from an image rendered with a colormap.

    Parameters
    ----------
    rgb : array_like, shape (H, W, 3|4) or (N, 3|4)
        The image (uint8, uint16, or float in [0, 1]); sRGB.  With an alpha
        channel, fully transparent pixels are invalid and alpha is otherwise
        ignored (an image with no opaque pixel is not an error: every pixel
        comes back invalid, values NaN).  An (N, 3|4) array is a list of colours: no spatial step.
    cmap : str, matplotlib Colormap, sequence of colours, ndarray or ColorbarLocation
        A registered matplotlib name (``"viridis"``, ``"jet_r"``); a
        ``Colormap``; a list of colours (matplotlib specs or an (K, 3|4) float
        array in [0, 1]) read as a linear gradient with evenly spaced stops;
        an (h, w, 3|4) crop of a colour bar (the long axis is the value axis;
        low values at the bottom of a vertical bar, left of a horizontal one);
        or a :class:`ColorbarLocation` from :func:`find_colorbar`.
    vmin, vmax : float
        Values at the two ends of the colormap (``vmin > vmax`` is allowed).
        Linear normalisation only.
    noise : float, optional
        Colour noise per CIELAB axis, in ΔE units.  ``None`` estimates it:
        sRGB noise ``s`` per channel from the distances of the colours *off*
        the curve (a 2-D Rayleigh law; texture of the field does not change
        them), carried into Lab by the Jacobian of sRGB -> Lab at the
        matched point; the noise *along* the curve is the larger of that and
        the second differences of the pixels' positions along the curve
        (2-D images; kept within 1 to 3 times the off-curve estimate σ⊥,
        floor 0.2).  The ambiguity interval gathers the curve samples within
        ``max(distance + 3 σ_along, 4 σ_along)`` ΔE of the pixel colour.
    max_distance : float, optional
        Validity threshold in ΔE; ``None`` means ``max(5, 5 σ⊥)``, σ⊥ the
        off-curve noise per Lab axis (median distance / 1.177).
    smoothing : int
        Window radius (pixels) of the spatial step; 0 turns it off.  The
        default 1 (3 x 3) had the lowest mean error on noisy renders of
        matplotlib's and scikit-image's sample fields (``benchmarks/colormap.py``);
        larger windows help only very smooth fields.  The
        step adapts to the image: it averages only where the local residual
        is explained by the colour noise, so texture and edges of the field
        are kept and a clean image comes back (nearly) pixelwise.
    n_samples : int
        Points on the dense colormap curve (>= 16).
    spatial_validity : bool
        Use the layout of a figure to reject on-map colours outside the data
        (2-D images only).  It acts only when the image looks like a figure:
        a background of one colour touching all four sides and covering at
        least 10 % of the image, around roughly rectangular regions of valid
        pixels that do not touch the border (the image axes, the colour
        bar).  Then only those regions, without a frame drawn in map
        colours, stay valid: white page and black text on ``gray`` or
        ``RdBu`` are rejected (validity precision 0.45 -> see
        ``benchmarks/results_colormap.md``).  Any other image is left as
        it is.  ``False``: the colour test alone.
    jpeg : bool, optional
        Whether the image went through JPEG compression.  ``None`` detects it
        (2-D images of at least 32 x 32): the mean luma step across the
        8-pixel block grid (largest of the 8 phases over their median, the
        smaller of rows and columns) is at least 1.06 (PNG renders, clean or
        noisy, 1.00-1.03; JPEG q75 1.10-2.0 in ``benchmarks/colormap.py``).
        For JPEG the pixelwise value is the projection in Y Cb Cr with the
        chroma error variance taken as 8 times the luma one (JPEG subsamples
        chroma 2 x 2 and quantises it more coarsely), the maximum-likelihood
        point for that error, where the sRGB projection lets chroma errors
        move the value; the spatial step removes at most the larger of the
        two noise estimates (sRGB model, or the residual in that metric).
        Each interval is widened to take in the values of the 8 neighbours
        (chroma shared by 2 x 2 pixels, ringing near edges).

    Returns
    -------
    ColormapInversion
        Arrays shaped like the image without its channel axis.

    Raises
    ------
    InputError
        For an image or colormap of the wrong type, shape, dtype or range, or
        bad keyword values.
    """
    fast = _uint8_pixels(rgb)
    f, alpha = _image_to_float(rgb, "rgb") if fast is None else fast  # f: float in [0, 1] or uint8
    for name, val in (("vmin", vmin), ("vmax", vmax)):
        if isinstance(val, bool) or not isinstance(val, (int, float, np.integer, np.floating)) or not math.isfinite(val):
            raise InputError(f"`{name}` must be a finite number, not {val!r}")
    if float(vmin) == float(vmax):
        raise InputError(f"`vmin` and `vmax` must differ, not both {vmin!r}")
    noise = _check_positive(noise, "noise", allow_zero=True)
    max_distance = _check_positive(max_distance, "max_distance")
    smoothing = _check_int(smoothing, "smoothing", 0, 50)
    if not isinstance(spatial_validity, (bool, np.bool_)):
        raise InputError(f"`spatial_validity` must be True or False, not {spatial_validity!r}")
    if jpeg is not None and not isinstance(jpeg, (bool, np.bool_)):
        raise InputError(f"`jpeg` must be None, True or False, not {jpeg!r}")
    n_samples = _check_int(n_samples, "n_samples", 16, 1 << 20)
    knots_rgb, knots_t, half_bin = _knots_from_cmap(cmap)
    curve = _build_curve(knots_rgb, knots_t, half_bin, n_samples)

    shape = f.shape[:-1]
    if jpeg is None:
        is_jpeg = len(shape) == 2 and _jpeg_blockiness(f) >= _JPEG_BLOCKINESS
    else:
        is_jpeg = bool(jpeg)
    cols, inv, counts, keys = _pack_colors_keyed(f)
    lab = _lab_of_colors(cols, keys)
    d, k_near = _nearest(curve, lab, keys)
    sigma_perp = _estimate_noise(d, counts)
    if max_distance is None:
        max_distance = max(5.0, 5.0 * sigma_perp)
    on_curve = d <= max_distance
    given = noise is not None
    sigma_u, var_lab, var_raw, noise = _noise_model(curve, d, k_near, counts, noise, sigma_perp)
    if len(shape) == 2 and not given:
        # noise the off-curve distances cannot see (luma noise on a grey map, JPEG
        # ringing along the curve) shows in the second differences of the positions
        # along the curve; texture raises them too, hence the cap at 3 sigma_perp
        arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(curve.lab, axis=0), axis=1))])
        t_near = curve.t[k_near]
        est = _along_noise(arc[k_near], on_curve, t_near, inv.reshape(shape),
                           period=arc[-1] if curve.cyclic else None)
        if est is not None:
            sig_bins = np.clip(est[1], sigma_perp, _ALONG_CAP * sigma_perp)
            nb = len(sig_bins)
            sigma_u = np.maximum(sigma_u, sig_bins[np.minimum((t_near * nb).astype(np.int64), nb - 1)])
    # the true colour is |noise| from the pixel: within d + 3σ along the curve of
    # the nearest branch, and within ~4σ (3-D) of any other branch it may lie on
    radius = np.maximum(d + 3.0 * sigma_u, _R3D * sigma_u) + 1e-6
    # per-colour arrays are dropped after their last use below: less memory is held
    # at the per-pixel steps, which then reuse it instead of faulting in fresh pages
    del keys, sigma_u

    u = len(cols)
    est = np.zeros((u, _MAX_BRANCHES))
    lo = np.zeros((u, _MAX_BRANCHES), dtype=np.int32)  # curve samples: n_samples <= 2**20
    hi = np.zeros((u, _MAX_BRANCHES), dtype=np.int32)
    bd = np.full((u, _MAX_BRANCHES), np.inf)
    nbr = np.zeros(u, dtype=np.int64)
    _branch_scan(lab, radius, k_near, curve.lab, curve.group_center, curve.group_radius, _GROUP,
                 curve.block_center, curve.block_radius, _BLOCK,
                 _MAX_BRANCHES, est, lo, hi, bd, nbr)
    del radius
    nstored = np.minimum(nbr, _MAX_BRANCHES)
    if is_jpeg:
        # JPEG keeps luma far better than chroma: the pixelwise value is the
        # projection in Y Cb Cr whitened for that error (maximum likelihood), not
        # in sRGB; the spatial step may remove at least the noise seen that way
        wm = np.diag([1.0, _JPEG_CHROMA**-0.5, _JPEG_CHROMA**-0.5]) @ _RGB_TO_YCC
        pw = np.ascontiguousarray(cols @ wm.T)
        cw = np.ascontiguousarray(curve.rgb @ wm.T)
        _refine_in_rgb(pw, cw, lo, hi, nstored, est)
        if not given:
            # the larger: where noise came before compression the sRGB model sees it
            var_raw = np.maximum(var_raw, _jpeg_value_variance(pw, cw, curve.t, est[:, 0], k_near, d, counts))
    else:
        _refine_in_rgb(cols, curve.rgb, lo, hi, nstored, est)
    del cols, k_near, counts

    dt = curve.t[1] - curve.t[0]
    est_t = np.add(curve.t[0], np.multiply(dt, est, out=est), out=est)  # samples evenly spaced in t

    valid = on_curve[inv].reshape(shape)
    if alpha is not None:
        valid &= alpha
    inv_px = inv.reshape(shape)
    if len(shape) == 2 and spatial_validity:
        regions = _figure_regions(valid, inv_px, lab, noise)
        if regions is not None:
            valid = regions
    del lab, on_curve
    if len(shape) == 2 and smoothing > 0:
        valid = _drop_specks(valid)
        nst_u = _plausible_branches(bd, nstored, var_lab)
        if nst_u.max(initial=0) > 1:
            choice = _resolve_branches(est_t, inv_px, nst_u, valid, curve.cyclic)
        else:  # no colour with a second plausible branch: nothing to resolve
            choice = np.zeros(shape, dtype=np.int8)
    else:
        choice = np.zeros(shape, dtype=np.int8)
    t_val, t_lo, t_hi, distance, n_branches = _gather_branch(inv_px, choice, est_t, lo, hi, curve.t, dt,
                                                             curve.half_bin, d, nbr, valid)
    del choice, est_t, est, lo, hi, bd, nbr, nstored, var_lab
    if is_jpeg and len(shape) == 2:
        # 4:2:0 chroma is shared by 2 x 2 pixels and ringing spreads errors: near
        # edges the colour can match the curve far from the truth, which then
        # lies among the neighbours' values
        off = np.minimum(d / (_JPEG_EDGE_D * sigma_perp), 1.0)
        t_lo, t_hi, out_lo, out_hi = _widen_by_neighbours(t_val, t_lo, t_hi, valid, _JPEG_SPREAD, _JPEG_EDGE,
                                                          off, inv_px)
    else:
        out_lo, out_hi = t_lo, t_hi
    if len(shape) == 2 and smoothing > 0 and np.any(var_raw > 0.0):
        # (var_raw == 0: a clean image, noise at the 8-bit rounding -- the
        # spatial step would give back the pixelwise values)
        # acceptance band: narrow for clean images (the raw value is already
        # within a LUT bin), the whole interval once noise dominates
        kappa = min(max(noise - _NOISE_FLOOR, 0.3), 1.0)
        t_smooth = _sigma_padded(t_val, t_lo, t_hi, kappa * 0.5, valid, smoothing, 3)
        t_val = _keep_texture(t_val, t_smooth, var_raw, inv_px, valid, 2 * smoothing, pad=smoothing)
        del t_smooth

    values, low, high = _to_values(t_val, out_lo, out_hi, valid, float(vmin), float(vmax) - float(vmin))
    return ColormapInversion(
        values=values,
        interval_low=low,
        interval_high=high,
        valid=valid,
        distance=distance,
        n_branches=n_branches,
        noise=float(noise),
        max_distance=float(max_distance),
    )


def _jpeg_blockiness(f):
    """Luma step across the JPEG 8 x 8 block grid relative to elsewhere (1: no grid).

    For rows and for columns: the mean absolute luma difference between
    neighbours, per phase of the position modulo 8; the largest phase over
    the median phase.  The smaller of the two ratios is returned (a JPEG
    grid shows in both directions).  Images smaller than 32 x 32: 1.
    """
    h, w = f.shape[:2]
    if h < 32 or w < 32:
        return 1.0
    ratios = []
    for ph in _phase_steps(f, _RGB_TO_YCC[0], 255.0 if f.dtype == np.uint8 else 1.0):
        med = float(np.median(ph))
        ratios.append(float(ph.max()) / med if med > 0 else 1.0)
    return min(ratios)


@numba.njit(cache=True)
def _phase_steps(f, wy, div):
    """Mean |luma step| to the next row / next column, per phase (position mod 8) of the step.

    Only whole groups of 8 steps count (as a reshape to (-1, 8) would).  The
    colour is ``f / div`` (``div`` 255 for uint8, 1 for floats in [0, 1]).
    """
    h, w = f.shape[0], f.shape[1]
    nr = (h - 1) // 8 * 8
    nc = (w - 1) // 8 * 8
    rows = np.zeros(8)
    cols = np.zeros(8)
    luma = np.empty(w)  # row y
    below = np.empty(w)  # row y + 1
    for x in range(w):
        luma[x] = wy[0] * (f[0, x, 0] / div) + wy[1] * (f[0, x, 1] / div) + wy[2] * (f[0, x, 2] / div)
    for y in range(h):
        step_down = y + 1 < h and y < nr
        if y + 1 < h:
            for x in range(w):
                below[x] = (wy[0] * (f[y + 1, x, 0] / div) + wy[1] * (f[y + 1, x, 1] / div)
                            + wy[2] * (f[y + 1, x, 2] / div))
        for x in range(w):
            v = luma[x]
            if x > 0 and x - 1 < nc:
                cols[(x - 1) % 8] += abs(v - luma[x - 1])
            if step_down:
                rows[y % 8] += abs(below[x] - v)
        luma, below = below, luma
    return rows / max(1, nr // 8 * w), cols / max(1, nc // 8 * h)


def _jpeg_value_variance(pw, cw, t, est, k_near, d, counts):
    """Variance of the pixelwise value (t units²) under the JPEG metric, per colour.

    ``pw``, ``cw``: colours and curve samples in the whitened Y Cb Cr metric;
    ``est``: fractional sample index of each colour's projection.  The
    residual ``pw - curve(est)`` is perpendicular to the curve, so its
    length is ``s`` times a 2-D Rayleigh variable: ``s`` = count-weighted
    median (counts clipped at their 90th percentile, near-curve colours)
    / 1.177; the value variance is ``s² / |d cw / dt|²`` less the 8-bit
    rounding seen the same way.
    """
    m = len(cw)
    k0 = np.clip(np.floor(est).astype(np.int64), 0, m - 2)
    frac = (est - k0)[:, None]
    res = pw - ((1.0 - frac) * cw[k0] + frac * cw[k0 + 1])
    r = np.sqrt((res**2).sum(axis=1))
    rs, ds, cs = _thin(r, d, counts)
    wgt = np.minimum(cs, max(1.0, float(np.percentile(cs, 90))))
    sel = ds < max(5.0, 5.0 * float(np.median(ds)))
    if not sel.any():
        return np.zeros(len(pw))
    order = np.argsort(rs[sel])
    cum = np.cumsum(wgt[sel][order])
    s = float(rs[sel][order][np.searchsorted(cum, 0.5 * cum[-1])]) / _RAYLEIGH_MEDIAN
    speed_w = np.linalg.norm(np.gradient(cw, t, axis=0), axis=1)
    wm = np.diag([1.0, _JPEG_CHROMA**-0.5, _JPEG_CHROMA**-0.5]) @ _RGB_TO_YCC
    rounding = _RGB_ROUNDING**2 * (wm**2).sum() / 3.0  # 8-bit rounding per whitened axis (mean)
    var = (s * s - rounding) / np.maximum(speed_w, 1e-12) ** 2
    return np.maximum(var, 0.0)[k_near]


@numba.njit(cache=True)
def _rgb_d2(p, u, crgb, k):
    """Squared sRGB distance between colour p[u] and curve sample k."""
    dx = p[u, 0] - crgb[k, 0]
    dy = p[u, 1] - crgb[k, 1]
    dz = p[u, 2] - crgb[k, 2]
    return dx * dx + dy * dy + dz * dz


@numba.njit(cache=True, parallel=True)
def _refine_in_rgb(p, crgb, lo, hi, nstored, est):
    """Move each branch's best point to the sRGB projection of the colour, in place.

    The branch (curve samples ``lo..hi``, found in CIELAB) is kept; within it
    the closest sample in sRGB is found by a coarse-to-fine descent (steps
    64, 16, 4, 1) from ``est``, then projected onto its two adjacent
    segments.  With noise that is white in sRGB (sensor noise, 8-bit
    rounding) this is the maximum-likelihood point, where the CIELAB
    projection is not: CIELAB stretches dark colours.
    """
    for u in numba.prange(p.shape[0]):
        for j in range(nstored[u]):
            a = lo[u, j]
            b = hi[u, j]
            k = min(max(int(est[u, j] + 0.5), a), b)
            dk = _rgb_d2(p, u, crgb, k)
            for step in (64, 16, 4, 1):
                moved = True
                while moved:
                    moved = False
                    for kk in (k - step, k + step):
                        if a <= kk <= b:
                            dd = _rgb_d2(p, u, crgb, kk)
                            if dd < dk:
                                k, dk, moved = kk, dd, True
            best = float(k)
            if k > a:
                sp, dd = _project(p, u, crgb, k - 1, k)
                if dd < dk:
                    best, dk = k - 1 + sp, dd
            if k < b:
                sp, dd = _project(p, u, crgb, k, k + 1)
                if dd < dk:
                    best = k + sp
            est[u, j] = best


def _gather_branch(inv, choice, est_t, lo, hi, t, dt, half_bin, d, nbr, valid):
    """:func:`_gather_kernel` into fresh arrays allocated by numpy (allocation note at the top)."""
    out = (np.empty(inv.shape), np.empty(inv.shape), np.empty(inv.shape), np.empty(inv.shape),
           np.empty(inv.shape, dtype=np.int32))
    _gather_kernel(inv, choice, est_t, lo, hi, t, dt, half_bin, d, nbr, valid, *out)
    return out


@numba.njit(cache=True, parallel=True)
def _gather_kernel(inv, choice, est_t, lo, hi, t, dt, half_bin, d, nbr, valid, t_val, t_lo, t_hi, dist, n_br):
    """Per pixel, the chosen branch's value and interval ends (curve parameter), widened.

    ``t_val = est_t[inv, choice]``; ``t_lo = clip(t[lo[inv, choice]] - dt - half_bin, 0, 1)``
    and ``t_hi = clip(t[hi[inv, choice]] + dt + half_bin, 0, 1)``: half a
    sample step and half a LUT bin beyond the branch's samples.  Also the
    outputs that are per colour: ``distance = d[inv]`` and
    ``n_branches = where(valid, nbr[inv], 0)`` (int32).  The first branch's
    numbers and these two are packed per colour first (one cache line per
    pixel instead of five scattered reads); other branches are read as is.
    """
    u_n = est_t.shape[0]
    first = np.empty((u_n, 5))
    for u in range(u_n):  # serial: see _SERIAL_MS
        first[u, 0] = est_t[u, 0]
        first[u, 1] = min(max(t[lo[u, 0]] - dt - half_bin, 0.0), 1.0)
        first[u, 2] = min(max(t[hi[u, 0]] + dt + half_bin, 0.0), 1.0)
        first[u, 3] = d[u]
        first[u, 4] = nbr[u]
    h = inv.shape[0]
    w = inv.shape[1] if inv.ndim == 2 else 1
    fi, fc, fok = inv.reshape(-1), choice.reshape(-1), valid.reshape(-1)
    fv, fl, fh = t_val.reshape(-1), t_lo.reshape(-1), t_hi.reshape(-1)
    fd, fn = dist.reshape(-1), n_br.reshape(-1)
    for y in numba.prange(h):
        for i in range(y * w, (y + 1) * w):
            u = fi[i]
            j = fc[i]
            fd[i] = first[u, 3]
            fn[i] = np.int32(first[u, 4]) if fok[i] else 0
            if j == 0:
                fv[i] = first[u, 0]
                fl[i] = first[u, 1]
                fh[i] = first[u, 2]
            else:
                fv[i] = est_t[u, j]
                fl[i] = min(max(t[lo[u, j]] - dt - half_bin, 0.0), 1.0)
                fh[i] = min(max(t[hi[u, j]] + dt + half_bin, 0.0), 1.0)


def _widen_by_neighbours(t_val, t_lo, t_hi, valid, radius, edge, off, inv):
    """:func:`_widen_kernel` on copies of ``t_lo``, ``t_hi`` made by numpy (allocation note at the top)."""
    out = (t_lo.copy(), t_hi.copy(), t_lo.copy(), t_hi.copy())
    _widen_kernel(t_val, valid, radius, edge, off, inv, *out)
    return out


@numba.njit(cache=True, parallel=True)
def _widen_kernel(t_val, valid, radius, edge, off, inv, lo, hi, lo_e, hi_e):
    """Interval ends widened to take in the values of the valid neighbours (window 2 radius + 1).

    Returns ``(lo, hi)``, so widened, and ``(lo_e, hi_e)``, widened further
    by ``edge * off[inv] * (max - min)`` beyond the neighbours' lowest and
    highest value (within [0, 1]; ``off`` per distinct colour in [0, 1]):
    wide across edges of the field where the colour is off the curve
    (JPEG ringing), unchanged on smooth stretches.
    """
    h, w = t_val.shape
    for y in numba.prange(h):
        for x in range(w):
            if not valid[y, x]:
                continue
            nmin = t_val[y, x]
            nmax = nmin
            for yy in range(max(0, y - radius), min(h, y + radius + 1)):
                for xx in range(max(0, x - radius), min(w, x + radius + 1)):
                    if valid[yy, xx]:
                        v = t_val[yy, xx]
                        if v < nmin:
                            nmin = v
                        if v > nmax:
                            nmax = v
            lo[y, x] = min(lo[y, x], nmin)
            hi[y, x] = max(hi[y, x], nmax)
            spread = edge * off[inv[y, x]] * (nmax - nmin)
            lo_e[y, x] = min(lo[y, x], max(nmin - spread, 0.0))
            hi_e[y, x] = max(hi[y, x], min(nmax + spread, 1.0))


@numba.njit(cache=True)
def _to_values(t_val, t_lo, t_hi, valid, vmin, span):
    """Curve parameters -> values and ordered interval ends; NaN where not valid.

    Written over the three inputs (each element is read before it is
    written), which are returned as ``values, low, high``.
    """
    values, low, high = t_val, t_lo, t_hi
    fv, fl, fh = values.reshape(-1), low.reshape(-1), high.reshape(-1)
    tv, tl, th, ok = t_val.reshape(-1), t_lo.reshape(-1), t_hi.reshape(-1), valid.reshape(-1)
    for i in range(fv.shape[0]):
        if not ok[i]:
            fv[i] = fl[i] = fh[i] = np.nan
            continue
        a = vmin + span * tl[i]
        b = vmin + span * th[i]
        fv[i] = vmin + span * tv[i]
        fl[i] = min(a, b)
        fh[i] = max(a, b)
    return values, low, high


@numba.njit(cache=True, parallel=True)
def _drop_specks(valid):
    """Valid pixels with fewer than 2 valid 8-neighbours are specks of text/markers: invalid."""
    h, w = valid.shape
    out = valid.copy()
    for y in numba.prange(h):
        for x in range(w):
            if not valid[y, x]:
                continue
            n = -1  # the pixel itself
            for yy in range(max(0, y - 1), min(h, y + 2)):
                for xx in range(max(0, x - 1), min(w, x + 2)):
                    n += valid[yy, xx]
                if n >= 2:
                    break
            out[y, x] = n >= 2
    return out


# --------------------------------------------------------------------------
# figures: spatial validity

_FIG_BG_AREA = 0.10  # background must cover at least this fraction of a figure
_FIG_MIN_AREA = 0.002  # a data region holds at least this fraction of the image (and 64 px)
_FIG_FILL = 0.9  # ... and fills this fraction of its (trimmed) bounding box


def _figure_regions(valid, inv_px, lab, noise):
    """Valid pixels restricted to the data regions of a figure; ``None`` if not a figure.

    A figure (plot with axes, title, colour bar) has a background of one
    colour that touches all four image sides; the data (image axes, colour
    bar) sit inside it as roughly rectangular regions.  On maps that contain
    the background or text colour (white and black on ``gray``, near-white
    in the middle of ``RdBu``) the colour test alone calls the whole page
    valid.  Steps:

    1. Background: the most frequent colour of the image border (at least
       half the border), grown to every pixel within ``max(2, 4 noise)``
       ΔE of it that is 4-connected to the border.  Not a figure unless it
       touches all four sides and covers 10 % of the image.
    2. The remaining valid pixels are labelled (4-connected); each component
       is trimmed to the columns it covers for at least half its height,
       then the rows it covers for half its width (tick marks and text
       attached to the axes frame go), and kept when it holds at least
       0.2 % of the image (and 64 px), fills 90 % of its trimmed box and
       does not touch the image border.  Every valid pixel in the box stays
       valid (also islands cut off by a marker outline).  Boxes thinner
       than 4 px (a line) are not data.
    4. The page must be the complement of the boxes: at most 0.2 % of the
       boxes is background and background covers at least 80 % of the rest
       (a flat stretch of a field around a bump is irregular and fails).  A
       page holds other objects (tick labels, a title): unless at least 3
       separate non-background objects lie outside the kept boxes, the
       image is not taken for a figure (a field inside a flat frame).  Text, tick labels and lines on the
       background are small or thin and fall out.
    3. A frame drawn in a map colour (black axes lines on ``gray``,
       anti-aliased over 1-2 px) is peeled off each side
       (:func:`_peel_frame`, tolerance ``max(2, 6 noise)`` ΔE).

    Returns ``None`` (leave ``valid`` as it is) when any test fails: an
    image that is only a field, even one with a flat border, is unchanged.
    """
    from scipy import ndimage

    h, w = valid.shape
    if h < 16 or w < 16:
        return None
    border = np.concatenate([inv_px[0], inv_px[-1], inv_px[1:-1, 0], inv_px[1:-1, -1]])
    vals, cnt = np.unique(border, return_counts=True)
    k = int(np.argmax(cnt))
    if cnt[k] < 0.5 * len(border):
        return None
    tol = max(2.0, 4.0 * noise)
    near_bg = np.sqrt(((lab - lab[vals[k]]) ** 2).sum(axis=1)) <= tol
    bg_mask = near_bg[inv_px]
    lab_img, _ = ndimage.label(bg_mask)
    edge_labels = np.unique(np.concatenate([lab_img[0], lab_img[-1], lab_img[:, 0], lab_img[:, -1]]))
    edge_labels = edge_labels[edge_labels > 0]
    bg = np.isin(lab_img, edge_labels)
    if bg.sum() < _FIG_BG_AREA * h * w or not (bg[0].any() and bg[-1].any() and bg[:, 0].any() and bg[:, -1].any()):
        return None
    comps, _ = ndimage.label(valid & ~bg)
    keep = np.zeros_like(valid)
    min_area = max(64.0, _FIG_MIN_AREA * h * w)
    line_tol = max(2.0, 6.0 * noise)
    for i, sl in enumerate(ndimage.find_objects(comps), start=1):
        if sl is None or (sl[0].stop - sl[0].start) * (sl[1].stop - sl[1].start) < min_area:
            continue
        comp = comps[sl] == i
        cols_ok = np.flatnonzero(comp.mean(axis=0) >= 0.5)
        if len(cols_ok) == 0:
            continue
        ca, cb = cols_ok[0], cols_ok[-1] + 1
        rows_ok = np.flatnonzero(comp[:, ca:cb].mean(axis=1) >= 0.5)
        if len(rows_ok) == 0:
            continue
        ra, rb = rows_ok[0], rows_ok[-1] + 1
        r0, r1 = sl[0].start + ra, sl[0].start + rb
        c0, c1 = sl[1].start + ca, sl[1].start + cb
        r0, r1, c0, c1 = _peel_frame(inv_px, lab, r0, r1, c0, c1, line_tol)
        if r0 == 0 or c0 == 0 or r1 == h or c1 == w:
            return None  # data touching the border: not a figure layout
        box = comps[r0:r1, c0:c1] == i
        if min(r1 - r0, c1 - c0) < 4 or box.sum() < min_area or box.mean() < _FIG_FILL:
            continue  # thin: a line (an anti-aliased frame edge), not data
        keep[r0:r1, c0:c1] = True  # islands inside (enclosed by a marker) stay valid
    if not keep.any():
        return None
    # the page is the complement of the data boxes: none of it inside a box, and
    # it covers most of the outside (the rest: text, ticks).  A flat stretch of a
    # field around a bump is irregular and fails this.
    if bg[keep].mean() > 0.002 or bg[~keep].mean() < 0.8:
        return None
    # a page carries objects besides the data (tick labels, title): without at
    # least 3, a flat frame around a field is taken for part of the field
    _, n_objects = ndimage.label(~bg & ~keep)
    if n_objects < 3:
        return None
    return valid & keep


def _peel_frame(inv_px, lab, r0, r1, c0, c1, tol):
    """Shrink the box ``[r0, r1) x [c0, c1)`` past frame lines drawn in map colours.

    A side's outer line is a frame line when 90 % of its pixels are within
    ``tol`` ΔE of the line's median colour and that colour is more than
    ``tol`` from the median of the next line inwards (a frame is a jump; the
    end row of a colour bar continues the gradient).  Each side is peeled
    at most 3 times (a 1-px line anti-aliased over 2 px, plus one blend).
    """

    def is_frame(line, inner):
        a, b = lab[line], lab[inner]
        med = np.median(a, axis=0)
        one = (np.sqrt(((a - med) ** 2).sum(axis=1)) <= tol).mean() >= 0.9
        return one and np.sqrt(((np.median(b, axis=0) - med) ** 2).sum()) > tol

    for _ in range(3):
        if r1 - r0 < 8 or c1 - c0 < 8:
            break
        moved = False
        if is_frame(inv_px[r0, c0:c1], inv_px[r0 + 1, c0:c1]):
            r0, moved = r0 + 1, True
        if is_frame(inv_px[r1 - 1, c0:c1], inv_px[r1 - 2, c0:c1]):
            r1, moved = r1 - 1, True
        if is_frame(inv_px[r0:r1, c0], inv_px[r0:r1, c0 + 1]):
            c0, moved = c0 + 1, True
        if is_frame(inv_px[r0:r1, c1 - 1], inv_px[r0:r1, c1 - 2]):
            c1, moved = c1 - 1, True
        if not moved:
            break
    return r0, r1, c0, c1


# --------------------------------------------------------------------------
# colour bars


def find_colorbar(figure_rgb, *, min_length=20):
    """Locate the colour bar of a figure.

    A colour bar is found as a thin rectangle whose rows (vertical bar) or
    columns (horizontal bar) are constant across the bar and change smoothly
    and substantially along it: pixels equal (within 2.5/255) to both
    neighbours across the bar and within 0.2 of both neighbours along it are
    labelled into 4-connected components; a component is kept when it is at
    least ``min_length`` long, 3 times longer than wide, fills 90 % of its
    bounding box, and its colour spans at least 15 ΔE*ab.  The largest such
    bar (length x colour span) wins; its box is then grown by up to 3 pixels
    at each end along rows that still continue the gradient, and by up to 2
    columns on each side that repeat the edge column.

    Parameters
    ----------
    figure_rgb : array_like, shape (H, W, 3|4)
        The figure (uint8, uint16 or float in [0, 1]).
    min_length : int
        Shortest bar, in pixels (>= 4).

    Returns
    -------
    ColorbarLocation or None
        ``None`` when no bar is found.  Only continuous colour bars are
        found (a bar of a few discrete colours has jumps along it).
    """
    f, _ = _image_to_float(figure_rgb, "figure_rgb")
    if f.ndim != 3:
        raise InputError(f"`figure_rgb` must have shape (H, W, 3|4), not {np.shape(figure_rgb)}")
    min_length = _check_int(min_length, "min_length", 4, 1 << 20)
    best = None
    for orient in ("vertical", "horizontal"):
        img = f if orient == "vertical" else f.transpose(1, 0, 2)
        for cand in _bar_candidates(img, min_length):
            if best is None or cand[0] > best[0]:
                best = cand + (orient,)
    if best is None:
        return None
    _, r0, r1, c0, c1, profile, orient = best
    n = profile.shape[0]
    if orient == "vertical":
        return ColorbarLocation((int(r0), int(r1)), (int(c0), int(c1)), "vertical", profile[::-1].copy(),
                                (np.arange(n) + 0.5) / n)
    return ColorbarLocation((int(c0), int(c1)), (int(r0), int(r1)), "horizontal", profile.copy(), (np.arange(n) + 0.5) / n)


def _bar_candidates(img, min_length):
    """Vertical-bar candidates in img: (score, r0, r1, c0, c1, profile top->bottom)."""
    from scipy import ndimage

    h, w, _ = img.shape
    if h < 3 or w < 3:
        return []
    tol = 2.5 / 255.0
    step = 0.2
    dh = np.abs(np.diff(img, axis=1)).max(axis=2)  # (h, w-1)
    dv = np.abs(np.diff(img, axis=0)).max(axis=2)  # (h-1, w)
    m = np.zeros((h, w), dtype=bool)
    m[:, 1:-1] = (dh[:, 1:] <= tol) & (dh[:, :-1] <= tol)
    sv = np.zeros((h, w), dtype=bool)
    sv[1:-1, :] = (dv[1:, :] <= step) & (dv[:-1, :] <= step)
    m &= sv
    lab_img, n = ndimage.label(m)
    out = []
    for i, sl in enumerate(ndimage.find_objects(lab_img), start=1):
        if sl is None:
            continue
        comp = lab_img[sl] == i
        if comp.shape[0] < min_length - 2:
            continue
        # trim appendages (tick marks, a frame line touching a black end): keep the
        # columns the component covers for at least half its height, then the rows
        cols_ok = np.flatnonzero(comp.mean(axis=0) >= 0.5)
        if len(cols_ok) == 0:
            continue
        ca, cb = cols_ok[0], cols_ok[-1] + 1
        rows_ok = np.flatnonzero(comp[:, ca:cb].mean(axis=1) >= 0.5)
        if len(rows_ok) == 0:
            continue
        ra, rb = rows_ok[0], rows_ok[-1] + 1
        r0, r1 = sl[0].start + ra, sl[0].start + rb
        c0, c1 = sl[1].start + ca, sl[1].start + cb
        bh, bw = r1 - r0, c1 - c0
        if bh < min_length - 2 or bh < 3 * bw:
            continue
        area = np.count_nonzero(comp[ra:rb, ca:cb])
        if area < 0.9 * bh * bw:
            continue
        # grow along the bar while rows continue the gradient and stay constant across
        def row_ok(r, ref):
            row = img[r, c0:c1]
            return (np.ptp(row, axis=0).max() <= 2 * tol) and (np.abs(row.mean(0) - ref).max() <= step)

        for _ in range(3):
            if r0 > 0 and row_ok(r0 - 1, img[r0, c0:c1].mean(0)):
                r0 -= 1
        for _ in range(3):
            if r1 < h and row_ok(r1, img[r1 - 1, c0:c1].mean(0)):
                r1 += 1
        if r1 - r0 < min_length:
            continue
        # the columns next to the frame failed the "equal to both neighbours" test
        for _ in range(2):
            if c0 > 0 and np.abs(img[r0:r1, c0 - 1] - img[r0:r1, c0]).max() <= 2 * tol:
                c0 -= 1
        for _ in range(2):
            if c1 < w and np.abs(img[r0:r1, c1] - img[r0:r1, c1 - 1]).max() <= 2 * tol:
                c1 += 1
        c0, c1 = _grow_over_blend(img, r0, r1, c0, c1, tol)
        profile = np.median(img[r0:r1, c0:c1], axis=1)
        lab = srgb_to_lab(profile)
        span = np.sqrt(((lab[:, None, :] - lab[None, ::max(1, len(lab) // 64), :]) ** 2).sum(-1)).max()
        if span < 15.0:
            continue
        out.append((float((r1 - r0) * span), r0, r1, c0, c1, profile))
    return out


def _grow_over_blend(img, r0, r1, c0, c1, tol):
    """Take in the column on each side of a vertical bar that is the bar blended with its frame.

    Anti-aliasing paints the bar's edge columns as ``a e + (1 - a) f``, with
    ``e`` the bar's edge column and ``f`` the frame (the column beyond, one
    colour along the whole bar).  Such a column is part of the bar when one
    weight ``0.2 <= a <= 1`` (least squares over the column) fits every
    pixel within ``tol``; the column boundaries are returned.  The end rows
    are left out of the test (the frame's corners are blended too).
    """
    h, w, _ = img.shape
    rows = slice(r0 + 1, r1 - 1)
    for side in (-1, 1):
        edge = c0 if side < 0 else c1 - 1
        cand, frame = edge + side, edge + 2 * side
        if not (0 <= frame < w) or r1 - r0 < 4:
            continue
        f = img[rows, frame]
        if np.ptp(f, axis=0).max() > tol:
            continue
        x = img[rows, edge] - f.mean(axis=0)
        y = img[rows, cand] - f.mean(axis=0)
        xx = float((x * x).sum())
        if xx == 0.0:
            continue
        a = float((x * y).sum()) / xx
        if 0.2 <= a <= 1.0 and np.abs(y - a * x).max() <= tol:
            c0, c1 = (cand, c1) if side < 0 else (c0, cand + 1)
    return c0, c1


# --------------------------------------------------------------------------
# identification


def _jump_pairs(t, cyclic, band=_SEAM_BAND):
    """Count the neighbour pairs across which an inverted field jumps by over half its range.

    Parameters
    ----------
    t : ndarray, shape (H, W)
        Values in [0, 1] (the curve parameter); NaN where there is no pixel.
    cyclic : bool
        The map's two ends have the same colour (its *seam*).
    band : float
        For a cyclic map, values within ``band`` of 0 or 1 are seam colours,
        which the inversion may place at either end.

    Returns
    -------
    int
        Pairs of 4-neighbours, both outside the seam band, whose values differ
        by more than 1/2, plus, for every connected patch of seam-band pixels
        whose outside neighbours include both values below 1/2 and values
        above it, the smaller of the two neighbour counts.  Such a patch is a
        *wrap*: the field passes from one end of the range to the other, and
        no choice of end for the seam colours inside the patch removes the
        jump; a patch with neighbours on one side only (around a minimum or
        maximum of the field) is not counted.
    """
    from scipy import ndimage

    inner = np.isfinite(t)
    seam = inner & ((t < band) | (t > 1.0 - band)) if cyclic else np.zeros_like(inner)
    inner &= ~seam
    pairs = ((np.s_[:, :-1], np.s_[:, 1:]), (np.s_[:-1, :], np.s_[1:, :]))
    n = 0
    for a, b in pairs:
        n += int(np.count_nonzero(inner[a] & inner[b] & (np.abs(t[a] - t[b]) > 0.5)))
    if not seam.any():
        return n
    label, k = ndimage.label(seam)
    low = np.zeros(k + 1, dtype=np.int64)
    high = np.zeros(k + 1, dtype=np.int64)
    for a, b in pairs:
        for s_, o in ((a, b), (b, a)):  # s_: the seam pixel of the pair, o: its outside neighbour
            edge = seam[s_] & inner[o]
            lab, up = label[s_][edge], t[o][edge] > 0.5
            high += np.bincount(lab[up], minlength=k + 1)
            low += np.bincount(lab[~up], minlength=k + 1)
    return n + int(np.minimum(low, high).sum())


def identify_colormap(rgb, *, candidates=None, top=None):
    """Rank matplotlib's registered colormaps by how well they explain an image.

    Parameters
    ----------
    rgb : array_like, shape (H, W, 3|4) or (N, 3|4)
        Image or list of colours (uint8, uint16 or float in [0, 1]).
    candidates : iterable of str, optional
        Names to rank; default every registered map, reversed ones included.
    top : int, optional
        Return only the best ``top`` entries.

    Returns
    -------
    tuple of ColormapMatch
        Best first (lowest score).  The fit uses up to 20 000 pixels (a
        regular 2-D grid of an image, a regular stride of a list):
        ``mean(min(ΔE to curve, 10)) + 2 * (1 - coverage)``, the curve
        sampled at every LUT colour and once between neighbours (so a clean
        render is at distance 0 from its own map).

        Images (2-D) add a smoothness term, ``10 * jumps``: the field
        inverted with the map (nearest curve sample per grid pixel) should
        not jump by more than half the range between neighbours except at
        real edges (see :func:`_jump_pairs`; each such pair costs as much as
        one grid pixel that no colour of the map explains).  It separates
        maps with the same colours but different order, which the colour fit
        cannot: ``twilight`` and ``twilight_shifted`` (the same loop, its
        seam half a period apart) explain every colour equally, but with
        the wrong one a smooth field wraps from one end of the range to the
        other along a whole contour.  It is computed for the maps whose
        colour fit alone could still beat the best score.

        A map and its reverse have the same colours and the same jumps, so
        without a colour bar they tie (the unreversed name is listed first).
        When :func:`find_colorbar` finds a bar in a 2-D image and some
        candidate matches its ordered colours within a mean ΔE of 5 (half the
        cap; the bars of real figures match their map within 0.1-1.4, strips
        of a plain image that pass for a bar match nothing better than 8.7),
        the mean ΔE between the bar and each map is added, which ranks the
        right direction first.  Maps with identical colours are merged into
        one entry (see ``equivalents``).
    """
    import matplotlib
    from scipy.spatial import cKDTree

    f, alpha = _image_to_float(rgb, "rgb")
    if top is not None:
        top = _check_int(top, "top", 1, 1 << 20)
    registry = list(matplotlib.colormaps)
    if candidates is None:
        names = registry
    else:
        if isinstance(candidates, str):
            raise InputError("`candidates` must be an iterable of names, not a single string; wrap it in a list")
        names = list(candidates)
        bad = [n for n in names if n not in matplotlib.colormaps]
        if bad or not names:
            raise InputError(f"`candidates` must be registered matplotlib colormap names, not {bad or names}")
    bar = find_colorbar(f) if f.ndim == 3 else None
    if f.ndim == 3:  # a regular grid of pixels, so that neighbours stay neighbours
        step = max(1, math.ceil(math.sqrt(f.shape[0] * f.shape[1] / _ID_PIXELS)))
        grid = f[::step, ::step]
        on = np.ones(grid.shape[:2], bool) if alpha is None else alpha[::step, ::step]
        pts = grid[on]
    else:
        pts = f if alpha is None else f[alpha]
        pts = pts[:: max(1, len(pts) // _ID_PIXELS)]
        on = None
    if len(pts) == 0:
        raise InputError("`rgb` must contain at least one non-transparent pixel")
    cols, inv, counts = _pack_colors(pts)
    wts = counts / counts.sum()
    plab = srgb_to_lab(cols)
    ptree = cKDTree(plab)

    # group names by identical colours
    entries = {}
    for name in names:
        k_rgb, k_t, hb = _knots_from_mpl(matplotlib.colormaps[name])
        curve = _build_curve(k_rgb, k_t, hb, 2 * len(k_t) - 1)  # every LUT colour is a sample
        sig = np.rint(curve.lab[::8] / 2.0).astype(np.int64).tobytes()
        entries.setdefault(sig, []).append((name, curve))
    rows = []
    for group in entries.values():
        group.sort(key=lambda nc: (nc[0].endswith("_r"), nc[0].startswith("gist_"), len(nc[0]), nc[0]))
        name, curve = group[0]
        d, nearest = cKDTree(curve.lab).query(plab, k=1)
        fit = float((np.minimum(d, _ID_CAP) * wts).sum())
        near, _ = ptree.query(curve.lab, k=1, distance_upper_bound=3.0)
        coverage = float(np.isfinite(near).mean())
        rows.append([fit + 2.0 * (1.0 - coverage), coverage, name, tuple(n for n, _ in group[1:]), curve, nearest])
    if bar is not None:  # a bar that no candidate explains is a strip of the image, not its colour bar
        bar_lab = srgb_to_lab(bar.colors)
        bar_fit = []
        for row in rows:
            curve = row[4]
            at = np.stack([np.interp(bar.positions, curve.t, curve.lab[:, c]) for c in range(3)], 1)
            bar_fit.append(float(np.minimum(np.sqrt(((at - bar_lab) ** 2).sum(1)), _ID_CAP).mean()))
        if min(bar_fit) < _BAR_MATCH:
            for row, b in zip(rows, bar_fit):
                row[0] += b
    jumps = [None] * len(rows)
    if on is not None:  # smoothness of the inverted field, best colour fit first, while it can matter
        order = sorted(range(len(rows)), key=lambda i: rows[i][0])
        best = math.inf
        t_px = np.full(on.shape, np.nan)
        for i in order:
            if round(rows[i][0], 9) > round(best, 9):  # the ranking's resolution (see the sort below)
                break
            curve, nearest = rows[i][4], rows[i][5]
            t_px[on] = curve.t[nearest][inv]
            jumps[i] = _jump_pairs(t_px, curve.cyclic) / len(pts)
            rows[i][0] += _JUMP_COST * jumps[i]
            best = min(best, rows[i][0])
    results = [ColormapMatch(r[2], r[0], r[1], r[3], j) for r, j in zip(rows, jumps)]
    results.sort(key=lambda r: (round(r.score, 9), r.name.endswith("_r"), r.name))
    return tuple(results[:top] if top else results)
