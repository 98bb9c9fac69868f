""":func:`identify_colormap`: rank matplotlib's registered colormaps by how well they explain an image."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import InputError
from .checks import _check_int, _image_to_float
from .cielab import srgb_to_lab
from .colorbar import find_colorbar
from .colors import _pack_colors
from .curve import _build_curve, _knots_from_mpl

_ID_PIXELS = 20000  # identify_colormap: pixels sampled (a regular 2-D grid for images)
_ID_CAP = 10.0  # identify_colormap: ΔE at which a colour counts as unexplained
_BAR_MATCH = _ID_CAP / 2  # identify_colormap: a found bar counts only if some map matches it this well (mean ΔE)
_JUMP_COST = _ID_CAP  # identify_colormap: ΔE per jump pair per grid pixel (see _jump_pairs)
_SEAM_BAND = 0.1  # cyclic maps: values this close to 0 or 1 may sit at either end of the range


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
