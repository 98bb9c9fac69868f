""":func:`invert_colormap`: recover the scalar field behind a colormapped image.

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
   circular mean for cyclic maps).  Then the values are filtered by a Wiener
   filter estimated from the image itself (in the DCT domain: per spatial
   frequency, the share of the local power above the noise's; Wiener 1949)
   and clipped to each pixel's interval, so noise, JPEG errors and LUT
   quantisation are averaged out over as wide an area as the field's
   spectrum allows, and no value leaves its colour-consistency interval.
   Finally the part of the smoothing residual that colour noise cannot
   explain is put back (a local Wiener gain, Lee 1980): edges and texture of the field
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

import numpy as np

from ...errors import InputError
from .checks import _check_int, _check_positive, _image_to_float, _uint8_pixels
from .cielab import _lab_of_colors
from .colors import _pack_colors_keyed
from .curve import _BLOCK, _GROUP, _build_curve, _knots_from_cmap
from .gather import _gather_branch, _to_values
from .jpeg import (
    _JPEG_BLOCKINESS,
    _JPEG_CHROMA,
    _RGB_TO_YCC,
    _jpeg_blockiness,
    _jpeg_value_variance,
    _widen_by_neighbours,
)
from .nearest import _nearest
from .noise import _along_noise, _estimate_noise, _noise_model, _search_radius
from .resolve import _plausible_branches, _resolve_branches
from .search import _branch_search, _refine_in_rgb
from .smoothing import _keep_texture, _quiet_block_scale, _wiener_smooth
from .validity import _drop_specks, _figure_regions, _on_curve_pixels

_MAX_BRANCHES = 4
_JPEG_SPREAD = 1  # JPEG: intervals take in the values of the neighbours within this radius
# JPEG: reported intervals also reach _JPEG_EDGE times the neighbours' value range
# beyond them, in full where the colour is at least _JPEG_EDGE_D sigma_perp off the curve
_JPEG_EDGE = 1.0
_JPEG_EDGE_D = 2.0
_ALONG_CAP = 3.0  # noise along the curve: at most this many times the off-curve estimate
_R3D = 4.0


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


def _branch_arrays(u, max_br):
    """Work arrays of the branch search for ``u`` colours, uninitialised (the search writes
    every slot).

    Returns ``est``, ``bd`` (u, max_br) float64, ``lo``, ``hi`` (u, max_br)
    int32 (curve samples: ``n_samples <= 2**20``) and ``nbr`` (u,) int64.
    Arrays of one dtype share an allocation: numpy advises huge pages only
    for an allocation of at least 4 MiB, and separate arrays of 2.6-5.2 MB
    (324 k colours, twilight noisy 1000^2) were faulted in 4 KB at a time
    wherever the heap had been given back since the last call.  Nothing is
    cleared (the zeroed arrays were 23 MB to clear).
    """
    est, bd = np.empty((2, u, max_br))
    lo, hi = np.empty((2, u, max_br), dtype=np.int32)
    nbr = np.empty(u, dtype=np.int64)
    return est, lo, hi, bd, nbr


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
        0 turns the spatial step off (the pixelwise values); ``r > 0`` turns it
        on, with windows of ``4 r + 1`` pixels for the local statistics that
        decide how much of the smoothing to undo (default 1: 5 x 5; on the
        noisy and JPEG renders of ``benchmarks/colormap.py`` 2 and 3 changed
        the mean errors by at most 0.01 % of range).  The step
        adapts to the image: a Wiener filter estimated from the image's own
        spectrum and noise level, then, where the local residual is more than
        the colour noise explains, the pixelwise value is kept, so texture and
        edges of the field are kept and a clean image comes back (nearly)
        pixelwise.
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
        two noise estimates (sRGB model, or the residual in that metric),
        scaled down to what the quietest 8 x 8 blocks show at the highest
        spatial frequencies (a clean JPEG's chroma errors hardly move that
        projection: smoothing for them took texture away).
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
    sig_bins = np.zeros(0)  # along-curve noise per bin of t: none
    if len(shape) == 2 and not given:
        # noise the off-curve distances cannot see (luma noise on a grey map, JPEG
        # ringing along the curve) shows in the second differences of the positions
        # along the curve; texture raises them too, hence the cap at 3 sigma_perp
        arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(curve.lab, axis=0), axis=1))])
        # arc length and t at each colour's nearest sample: rows of one block (huge pages; see
        # _branch_arrays)
        s_near, t_near = np.empty((2, len(k_near)))
        np.take(arc, k_near, out=s_near)
        np.take(curve.t, k_near, out=t_near)
        est = _along_noise(s_near, on_curve, t_near, inv.reshape(shape),
                           period=arc[-1] if curve.cyclic else None)
        del s_near, t_near
        if est is not None:
            sig_bins = np.clip(est[1], sigma_perp, _ALONG_CAP * sigma_perp)
    # the true colour is |noise| from the pixel: within d + 3σ along the curve of
    # the nearest branch, and within ~4σ (3-D) of any other branch it may lie on
    # (σ: sigma_u raised to the along-curve noise of the colour's bin of t, if any)
    radius = _search_radius(d, sigma_u, sig_bins, curve.t, k_near, _R3D)
    # per-colour arrays are dropped after their last use below: less memory is held
    # at the per-pixel steps, which then reuse it instead of faulting in fresh pages
    del keys, sigma_u

    est, lo, hi, bd, nbr = _branch_arrays(len(cols), _MAX_BRANCHES)
    _branch_search(lab, radius, k_near, curve.lab, curve.group_center, curve.group_radius, _GROUP,
                   curve.block_center, curve.block_radius, _BLOCK, _MAX_BRANCHES, est, lo, hi, bd, nbr)
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

    valid = _on_curve_pixels(on_curve, inv).reshape(shape)
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
        if is_jpeg and not given:
            # the model's variance comes from chroma errors off the curve, which the
            # Y Cb Cr projection hardly sees on a clean JPEG: keep what the quietest
            # blocks confirm, else texture is taken for noise and smoothed away
            scale = _quiet_block_scale(t_val, var_raw, inv_px, valid)
            if scale < 1.0:
                var_raw *= scale  # (a fresh array of this call's)
        t_smooth = _wiener_smooth(t_val, var_raw, inv_px, valid, t_lo, t_hi)
        t_val = _keep_texture(t_val, t_smooth, var_raw, inv_px, valid, 2 * smoothing)
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
