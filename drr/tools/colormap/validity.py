"""Spatial validity: specks of text and markers, and the data regions of an image laid out as a figure."""

from __future__ import annotations

import numba
import numpy as np

_FIG_BG_AREA = 0.10  # background must cover at least this fraction of a figure
_FIG_MIN_AREA = 0.002  # a data region holds at least this fraction of the image (and 64 px)
_FIG_FILL = 0.9  # ... and fills this fraction of its (trimmed) bounding box


@numba.njit(cache=True)  # serial: see _SERIAL_MS
def _on_curve_pixels(on_curve, inv):
    """``on_curve[inv]`` (per pixel, from per colour) in one pass: numpy's fancy indexing
    first converts the int32 ``inv`` to an intp copy (1000^2: ~1.6 -> ~0.6 ms)."""
    out = np.empty(inv.shape[0], dtype=np.bool_)
    for i in range(inv.shape[0]):
        out[i] = on_curve[inv[i]]
    return out


@numba.njit(cache=True)  # serial: see _SERIAL_MS
def _drop_specks(valid):
    """Valid pixels with fewer than 2 valid 8-neighbours are specks of text/markers: invalid.

    Per row the column sums of three rows, then their sums over three columns
    (branch-free: 3.8 -> 0.2 ms at 1000^2, one thread).
    """
    h, w = valid.shape
    out = np.empty_like(valid)
    col = np.zeros(w + 2, dtype=np.uint8)  # col[x + 1]: valid pixels of rows y-1..y+1 in column x
    for y in range(h):
        for x in range(w):
            c = np.uint8(valid[y, x])
            if y > 0:
                c += np.uint8(valid[y - 1, x])
            if y + 1 < h:
                c += np.uint8(valid[y + 1, x])
            col[x + 1] = c
        for x in range(w):
            n = col[x] + col[x + 1] + col[x + 2]  # the pixel itself included
            out[y, x] = valid[y, x] and n >= 3
    return out


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
