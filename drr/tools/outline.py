"""Exact outlines of label-image regions, along the pixel edges.

Given a label image ``labels`` (rows, cols) and a selected value (or several),
the outline is the boundary of the union of the selected pixels, each pixel
being a closed square cell: closed rings made of pixel edges only, with a
vertex only where the ring turns.  Unlike marching squares (matplotlib
``contour``, scikit-image ``find_contours``), nothing is interpolated: a single
pixel is a unit square (area 1, not a diamond of area 0.5), and

* the shoelace area of the rings equals the pixel area of the selection;
* the winding number of the rings at the pixel centres is the mask exactly (1 on
  selected pixels, 0 elsewhere), so filling the path -- nonzero or even-odd
  rule -- paints exactly the selected pixels;
* there is one outer ring per connected component and one hole ring per hole;
* every vertex is a pixel corner, ``(x_edges[col], y_edges[row])``.

Algorithm
---------
1. Boundary edges are the lattice edges between a selected and an unselected
   pixel (outside the image counts as unselected).  Each is oriented so the
   selection lies on its right in (col, row) lattice coordinates; this makes
   outer boundaries and hole boundaries wind in opposite senses without any
   bookkeeping.
2. Edges are linked into rings by walking from vertex to vertex (compiled
   with Numba).  At each lattice vertex the 2x2 pixel neighbourhood (a 4-bit
   code) fixes the single outgoing edge, except at a diagonal touch (codes
   "a+d" and "b+c"), where two edges leave: there the ``connectivity`` rule
   picks the turn.  With 8-connectivity the ring turns towards the diagonal
   pixel (both pixels belong to one component, one ring); with 4-connectivity
   it turns back around its own pixel (two rings that touch at the corner).
   This is the classic crack-following boundary tracing (Rosenfeld, "Digital
   topology", Amer. Math. Monthly 86:621-630, 1979; the 8/4 pairing keeps the
   foreground/background topology consistent, so ring and hole counts match
   ``skimage.measure.label`` and ``euler_number``).
3. A vertex is emitted only where the direction changes, so collinear runs are
   merged and every ring has corner vertices only.
4. Lattice corners are mapped to data coordinates with matplotlib's ``imshow``
   convention (``extent``, ``origin``) or explicit ``pcolormesh`` edges.  Rings
   are finally oriented so outer rings are counter-clockwise (positive shoelace
   area) and holes clockwise *in data coordinates*, whatever the axis flips.

Several values
--------------
``value`` may be a sequence: the selection is then the *union* of those values,
and the outline goes around the union only -- an edge shared by two selected
values is interior and is not drawn at all (so never drawn twice).  To get one
closed outline per value instead, use :func:`outline_paths`, which returns a
``dict`` ``{value: Path}``; each of those paths is exact for its own value, so
an edge shared by two selected values appears once in *each* of the two paths
(once per region, by construction of closed rings).

Caveat: matplotlib's ``Path.contains_point(s)`` does not apply a fill rule across
sub-paths: it tests each closed ring on its own and ORs the results, so a point in
a hole counts as inside (the answer is the mask with its holes filled; exact for a
selection without holes).  For the exact test use the rings' winding number::

    rings = outline_rings(labels, value)
    inside = sum(np.sign(area(r)) * Path(r).contains_points(points) for r in rings) > 0

(``area`` the shoelace formula), or rasterise the filled path, which Agg does with
the nonzero rule over all rings.

Public functions: :func:`outline_rings` (raw vertex arrays),
:func:`outline_path` (a ``matplotlib.path.Path``), :func:`outline_paths`
(one path per value) and :func:`plot_outline` (draw on an ``Axes``).
"""

from __future__ import annotations

import functools
import numbers

import numpy as np

from ..errors import InputError

__all__ = ["outline_rings", "outline_path", "outline_paths", "plot_outline"]

# Walking directions in (row, col) lattice steps, numbered clockwise on screen
# (row down): a right turn is d + 1, a left turn is d + 3 (mod 4).
_R, _D, _L, _U = 0, 1, 2, 3


def _turn_table(connectivity: int) -> np.ndarray:
    """Outgoing direction for each (vertex code, incoming direction), int8 (16, 4).

    The code of lattice vertex (i, j) is ``a + 2 b + 4 c + 8 d`` with the pixels
    ``a = (i-1, j-1)``, ``b = (i-1, j)``, ``c = (i, j-1)``, ``d = (i, j)``
    (1 = selected).  Edges keep the selection on the walker's left as seen on
    screen (row axis pointing down), i.e. on the right in (col, row) math axes:
    right along a row line iff the pixel above is selected, down along a
    column line iff the pixel to the right is selected.  -1 marks codes with no
    boundary (0 and 15).
    """
    table = np.full((16, 4), -1, dtype=np.int8)
    for code in range(1, 15):
        a, b, c, d = (code >> 0) & 1, (code >> 1) & 1, (code >> 2) & 1, (code >> 3) & 1
        for din in range(4):
            if code in (9, 6):  # diagonal touch: a+d or b+c
                table[code, din] = (din + 1) % 4 if connectivity == 8 else (din + 3) % 4
            elif b and not d:
                table[code, din] = _R
            elif c and not a:
                table[code, din] = _L
            elif d and not c:
                table[code, din] = _D
            else:
                table[code, din] = _U
    return table


def _trace_py(P, table):  # pragma: no cover - compiled by Numba, see _kernel()
    """Link the boundary edges of padded mask ``P`` (uint8, (h+2, w+2)) into rings.

    Returns ``verts`` int32 (n, 2) of (row, col) lattice corners of the unpadded
    image, and ``starts`` int64 (rings + 1,): ring k is ``verts[starts[k]:starts[k+1]]``.
    Each ring starts at its first corner in raster order.
    """
    h = P.shape[0] - 2
    w = P.shape[1] - 2
    nh = 0
    for i in range(h + 1):
        for j in range(w):
            if P[i, j + 1] != P[i + 1, j + 1]:
                nh += 1
    # Each ring alternates horizontal and vertical runs: corners <= 2 * (horizontal edges),
    # and a ring has at least 2 horizontal edges.
    verts = np.empty((2 * nh, 2), np.int32)
    starts = np.empty(nh // 2 + 1, np.int64)
    hvis = np.zeros((h + 1, max(w, 1)), np.uint8)  # edge (i, j)-(i, j+1)
    vvis = np.zeros((max(h, 1), w + 1), np.uint8)  # edge (i, j)-(i+1, j)
    n = 0
    r = 0
    for i0 in range(h + 1):
        for j0 in range(w):
            if P[i0, j0 + 1] == P[i0 + 1, j0 + 1] or hvis[i0, j0]:
                continue
            # First unvisited boundary edge in raster order: its left end (i0, j0) is a
            # corner of its ring and the ring passes there once.
            starts[r] = n
            r += 1
            i = i0
            j = j0
            if P[i0, j0 + 1]:
                d = 0  # pixel above selected: the edge runs right, away from (i0, j0)
            else:  # the edge runs left, into (i0, j0): continue from there
                hvis[i0, j0] = 1
                code = P[i, j] | (P[i, j + 1] << 1) | (P[i + 1, j] << 2) | (P[i + 1, j + 1] << 3)
                d = table[code, 2]
            verts[n, 0] = i
            verts[n, 1] = j
            n += 1
            while True:
                if d == 0:
                    hvis[i, j] = 1
                    j += 1
                elif d == 1:
                    vvis[i, j] = 1
                    i += 1
                elif d == 2:
                    j -= 1
                    hvis[i, j] = 1
                else:
                    i -= 1
                    vvis[i, j] = 1
                code = P[i, j] | (P[i, j + 1] << 1) | (P[i + 1, j] << 2) | (P[i + 1, j + 1] << 3)
                dn = table[code, d]
                if dn == 0:
                    seen = hvis[i, j]
                elif dn == 1:
                    seen = vvis[i, j]
                elif dn == 2:
                    seen = hvis[i, j - 1]
                else:
                    seen = vvis[i - 1, j]
                if dn != d and not (seen and i == i0 and j == j0):
                    verts[n, 0] = i
                    verts[n, 1] = j
                    n += 1
                if seen:
                    break
                d = dn
    starts[r] = n
    return verts[:n], starts[:r + 1]


@functools.cache
def _kernel():
    """The compiled tracer (Numba imported on first use; compiled code cached on disk)."""
    import numba
    return numba.njit(cache=True, nogil=True)(_trace_py)


@functools.cache
def _table(connectivity: int) -> np.ndarray:
    table = _turn_table(connectivity)
    table.setflags(write=False)
    return table


# --------------------------------------------------------------------------- validation

def _check_labels(labels) -> np.ndarray:
    if isinstance(labels, (str, bytes)) or labels is None:
        raise InputError(f"`labels` must be a 2-D array of integers, booleans or floats, "
                         f"not {type(labels).__name__}")
    arr = np.asarray(labels)
    if arr.dtype.kind not in "biuf":
        raise InputError(f"`labels` must be a 2-D array of integers, booleans or floats, "
                         f"not dtype {arr.dtype}; convert it with np.asarray(labels, int)")
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputError(f"`labels` must be a non-empty 2-D array (rows, cols), "
                         f"not shape {arr.shape}; pass one slice of a volume")
    return arr


def _check_scalar(v, name):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if not isinstance(v, (numbers.Real, np.number)) or isinstance(v, (np.complexfloating,
                                                                       complex)):
        raise InputError(f"`{name}` must be a real number (a label value), not {v!r}")
    if v != v:
        raise InputError(f"`{name}` must be a label value, not NaN (NaN never equals a label)")
    return v


def _check_values(value, name="value") -> tuple:
    """A tuple of label values (one or more), validated."""
    if isinstance(value, (str, bytes)) or value is None:
        raise InputError(f"`{name}` must be a label value or a sequence of them, not {value!r}")
    if np.ndim(value) == 0:
        return (_check_scalar(value.item() if isinstance(value, np.ndarray) else value, name),)
    if np.ndim(value) != 1:
        raise InputError(f"`{name}` must be a label value or a flat sequence of them, "
                         f"not an array of shape {np.shape(value)}")
    vals = tuple(_check_scalar(v.item() if isinstance(v, np.generic) else v, name)
                 for v in np.asarray(value, dtype=object))
    if not vals:
        raise InputError(f"`{name}` must name at least one label value, not an empty sequence")
    return vals


def _check_connectivity(connectivity) -> int:
    if isinstance(connectivity, bool) or connectivity not in (4, 8):
        raise InputError(f"`connectivity` must be 4 or 8, not {connectivity!r}")
    return int(connectivity)


def _check_edges(edges, n, name) -> np.ndarray:
    try:
        e = np.asarray(edges, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"`{name}` must be a 1-D array of {n} numbers, not {edges!r}") from None
    if e.shape != (n,):
        raise InputError(f"`{name}` must have shape ({n},) (one more than the pixels along "
                         f"that axis), not {e.shape}")
    if not np.all(np.isfinite(e)):
        raise InputError(f"`{name}` must be finite, not contain NaN or inf")
    dif = np.diff(e)
    if not (np.all(dif > 0) or np.all(dif < 0)):
        raise InputError(f"`{name}` must be strictly increasing or strictly decreasing")
    return e


def _grid(shape, extent, origin, x_edges, y_edges):
    """Data coordinates of the pixel-corner lines: x_edges (cols+1,), y_edges (rows+1,)."""
    h, w = shape
    if (x_edges is None) != (y_edges is None):
        raise InputError("`x_edges` and `y_edges` must be given together (pcolormesh grid), "
                         "not only one of them")
    if x_edges is not None:
        if extent is not None or origin is not None:
            raise InputError("`extent`/`origin` must be None when `x_edges`/`y_edges` are given: "
                             "with edges, row i lies between y_edges[i] and y_edges[i+1]")
        return _check_edges(x_edges, w + 1, "x_edges"), _check_edges(y_edges, h + 1, "y_edges")
    if origin is None:
        origin = "upper"
    if origin not in ("upper", "lower"):
        raise InputError(f"`origin` must be 'upper' or 'lower' (as in imshow), not {origin!r}")
    if extent is None:
        # imshow's default extent puts pixel centres on integer coordinates, either origin.
        return np.arange(w + 1) - 0.5, np.arange(h + 1) - 0.5
    try:
        ext = np.asarray(extent, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"`extent` must be 4 numbers (left, right, bottom, top), "
                         f"not {extent!r}") from None
    if ext.shape != (4,) or not np.all(np.isfinite(ext)):
        raise InputError(f"`extent` must be 4 finite numbers (left, right, bottom, top), "
                         f"not {extent!r}")
    left, right, bottom, top = (float(v) for v in ext)
    if left == right or bottom == top:
        raise InputError(f"`extent` must span a non-zero width and height, not {extent!r}")
    xe = np.linspace(left, right, w + 1)
    ye = np.linspace(top, bottom, h + 1) if origin == "upper" else np.linspace(bottom, top, h + 1)
    return xe, ye


# --------------------------------------------------------------------------- core

def _lattice_rings(mask: np.ndarray, connectivity: int):
    """(row, col) corner vertices int32 (n, 2) and ring starts int64 (rings + 1,)."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return np.empty((0, 2), np.int32), np.zeros(1, np.int64)
    cols = np.flatnonzero(mask.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    P = np.zeros((r1 - r0 + 2, c1 - c0 + 2), np.uint8)
    P[1:-1, 1:-1] = mask[r0:r1, c0:c1]
    verts, starts = _kernel()(P, _table(connectivity))
    verts += np.array([r0, c0], np.int32)
    return verts, starts


def _data_rings(mask, connectivity, xe, ye):
    """Corner vertices in data coordinates, float64 (n, 2), outer rings counter-clockwise."""
    verts, starts = _lattice_rings(mask, connectivity)
    xy = np.empty(verts.shape, np.float64)
    xy[:, 0] = xe[verts[:, 1]]
    xy[:, 1] = ye[verts[:, 0]]
    # The tracer keeps the selection on the right in (col, row) axes (clockwise outer
    # rings).  Each decreasing axis mapping flips the sense; reverse unless one did.
    if (xe[-1] > xe[0]) == (ye[-1] > ye[0]) and len(xy):
        lengths = np.diff(starts)
        s = np.repeat(starts[:-1], lengths)
        e = np.repeat(starts[1:], lengths)
        p = np.arange(len(xy))
        idx = np.where(p == s, p, s + e - p)  # keep each ring's first vertex
        xy = xy[idx]
    return xy, starts


def _prepare(labels, value, connectivity, extent, origin, x_edges, y_edges):
    arr = _check_labels(labels)
    vals = _check_values(value)
    conn = _check_connectivity(connectivity)
    xe, ye = _grid(arr.shape, extent, origin, x_edges, y_edges)
    return arr, vals, conn, xe, ye


def _select(arr, vals):
    if len(vals) == 1:
        return arr == vals[0]
    return np.isin(arr, np.asarray(vals))


def _to_path(xy, starts):
    from matplotlib.path import Path
    n = len(xy)
    k = len(starts) - 1
    if n == 0:
        return Path(np.empty((0, 2)), np.empty(0, Path.code_type))
    lengths = np.diff(starts)
    out = np.arange(n) + np.repeat(np.arange(k), lengths)  # each ring gains a closing vertex
    verts = np.empty((n + k, 2), np.float64)
    codes = np.full(n + k, Path.LINETO, Path.code_type)
    verts[out] = xy
    close = starts[1:] + np.arange(k)
    verts[close] = xy[starts[:-1]]
    codes[close] = Path.CLOSEPOLY
    codes[starts[:-1] + np.arange(k)] = Path.MOVETO
    return Path(verts, codes)


# --------------------------------------------------------------------------- public API

def outline_rings(labels, value, *, connectivity=8, extent=None, origin=None,
                  x_edges=None, y_edges=None):
    """Closed rings along the pixel edges around the pixels equal to ``value``.

    Parameters
    ----------
    labels : array_like, shape (rows, cols), integer, bool or float
        Label image (not modified).
    value : scalar or sequence of scalars
        Selected label value(s).  A sequence selects the union of the values:
        edges between two selected values are interior and not part of the outline
        (see :func:`outline_paths` for one outline per value).
    connectivity : {8, 4}, keyword-only
        How pixels touching only at a corner are joined.  8: into one region (one
        ring through the shared corner, as few rings as possible); 4: separate
        regions (two rings touching at the corner).  Holes use the other one.
    extent : (left, right, bottom, top), optional, keyword-only
        As in ``imshow``: data coordinates of the outer pixel edges.  Default:
        ``imshow``'s default, pixel centres on integer (col, row) coordinates.
    origin : {'upper', 'lower'}, optional, keyword-only
        As in ``imshow`` (None means 'upper'): where row 0 goes within ``extent``.
    x_edges, y_edges : array_like, shapes (cols+1,) and (rows+1,), optional, keyword-only
        Non-uniform grid, as in ``pcolormesh(x_edges, y_edges, labels)``: pixel
        (i, j) covers ``[x_edges[j], x_edges[j+1]] x [y_edges[i], y_edges[i+1]]``.
        Strictly monotonic.  Exclusive with ``extent`` and ``origin``.

    Returns
    -------
    rings : list of ndarray, float64, shape (m + 1, 2)
        (x, y) data coordinates of each ring's corners, closed (the first vertex is
        repeated at the end).  Outer rings are counter-clockwise (positive shoelace
        area), holes clockwise, in data coordinates.  Each ring starts at its
        first corner in the (row, col) raster order of ``labels``, and rings are
        sorted by that corner.  Empty list if no pixel is selected.

    Raises
    ------
    drr.errors.InputError
        Bad ``labels``, ``value``, ``connectivity``, ``extent``, ``origin`` or edges.
    """
    arr, vals, conn, xe, ye = _prepare(labels, value, connectivity, extent, origin,
                                       x_edges, y_edges)
    xy, starts = _data_rings(_select(arr, vals), conn, xe, ye)
    return [np.concatenate([xy[s:e], xy[s:s + 1]]) for s, e in zip(starts[:-1], starts[1:])]


def outline_path(labels, value, *, connectivity=8, extent=None, origin=None,
                 x_edges=None, y_edges=None):
    """The outline of ``labels == value`` as one ``matplotlib.path.Path``.

    Same parameters as :func:`outline_rings`.  Each ring is ``MOVETO``,
    ``LINETO``..., ``CLOSEPOLY``; outer rings counter-clockwise and holes
    clockwise, so both the nonzero and the even-odd fill rules leave holes empty
    (a filled ``PathPatch`` paints exactly the selected pixels).  Note that
    matplotlib's ``path.contains_points`` ORs the rings and so ignores holes
    (see the module notes for the exact test).  A selection with no pixel gives an
    empty path (no vertices).

    Examples
    --------
    >>> import numpy as np
    >>> lab = np.array([[0, 3, 3], [0, 3, 1], [3, 0, 1]])
    >>> p = outline_path(lab, 3)                      # one ring: 3 pixels, 8-connected
    >>> int((p.codes == p.MOVETO).sum())
    1
    >>> int((outline_path(lab, 3, connectivity=4).codes == p.MOVETO).sum())
    2
    """
    arr, vals, conn, xe, ye = _prepare(labels, value, connectivity, extent, origin,
                                       x_edges, y_edges)
    return _to_path(*_data_rings(_select(arr, vals), conn, xe, ye))


def outline_paths(labels, values, *, connectivity=8, extent=None, origin=None,
                  x_edges=None, y_edges=None):
    """One outline per value: ``{value: Path}``, in the order of ``values``.

    Each path is exactly ``outline_path(labels, value, ...)``.  An edge shared by two
    of the values therefore appears in both paths (once per region); to draw the
    union of several values with its interior edges left out, pass the sequence to
    :func:`outline_path` instead.  Same keyword parameters as :func:`outline_rings`.

    Parameters
    ----------
    values : sequence of scalars
        Distinct label values (a scalar is treated as a one-element sequence).

    Returns
    -------
    dict
        ``{value: matplotlib.path.Path}``.
    """
    arr = _check_labels(labels)
    vals = _check_values(values, "values")
    if len(set(vals)) != len(vals):
        raise InputError(f"`values` must be distinct, not {list(vals)!r}")
    conn = _check_connectivity(connectivity)
    xe, ye = _grid(arr.shape, extent, origin, x_edges, y_edges)
    return {v: _to_path(*_data_rings(arr == v, conn, xe, ye)) for v in vals}


def plot_outline(ax, labels, value, *, connectivity=8, extent=None, origin=None,
                 x_edges=None, y_edges=None, **line_kwargs):
    """Draw the outline of ``labels == value`` on ``ax``; the interior stays transparent.

    Pass the same ``extent``/``origin`` as to ``ax.imshow`` (or the ``x_edges``,
    ``y_edges`` given to ``pcolormesh``) so the outline lies on the pixel edges.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    labels, value, connectivity, extent, origin, x_edges, y_edges
        As in :func:`outline_rings`.
    **line_kwargs
        Line properties for the ``PathPatch`` (``color``/``edgecolor``,
        ``linewidth``, ``linestyle``, ``alpha``, ``zorder``, ``label``, ...).

    Returns
    -------
    matplotlib.patches.PathPatch
        The added patch (``fill=False``).
    """
    from matplotlib.axes import Axes
    from matplotlib.patches import PathPatch
    if not isinstance(ax, Axes):
        raise InputError(f"`ax` must be a matplotlib Axes, not {type(ax).__name__}")
    if "fill" in line_kwargs or "facecolor" in line_kwargs or "fc" in line_kwargs:
        raise InputError("`fill`/`facecolor` must not be given: the outline's interior is "
                         "transparent; draw a filled PathPatch of outline_path(...) instead")
    path = outline_path(labels, value, connectivity=connectivity, extent=extent, origin=origin,
                        x_edges=x_edges, y_edges=y_edges)
    patch = PathPatch(path, fill=False, **line_kwargs)
    ax.add_patch(patch)
    return patch
