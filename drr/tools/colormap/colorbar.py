""":func:`find_colorbar`: locate a continuous colour bar in a figure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InputError
from .checks import _check_int, _image_to_float
from .cielab import srgb_to_lab


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
