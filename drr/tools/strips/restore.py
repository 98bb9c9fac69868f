""":func:`reassemble`: validation, noise model, search, and the restored image with its seam
costs and confidence.
"""

from __future__ import annotations

import numpy as np

from .checks import _validate
from .model import _LUMA, _as_float, _noise_model
from .result import StripsResult
from .search import _search


def _confidence(d, order):
    out = []
    for a, b in zip(order, order[1:]):
        alt = min(np.min(np.delete(d[a], [a, b]), initial=np.inf),
                  np.min(np.delete(d[:, b], [a, b]), initial=np.inf))
        c = d[a, b]
        if not np.isfinite(alt) or alt <= 0:
            out.append(0.0 if c > 0 else 1.0)
        else:
            out.append(float(np.clip(1.0 - c / alt, 0.0, 1.0)))
    return np.array(out, dtype=np.float64)


def reassemble(image, n_strips=None, *, axis=1, cuts=None, time_limit=1.0):
    """Find the cuts of an image of shuffled strips and put the strips back in order.

    Parameters
    ----------
    image : array_like
        ``(rows, cols)`` grayscale or ``(rows, cols, channels)`` colour image, any integer,
        bool or float dtype (finite).  Not modified.
    n_strips : int, optional
        Number of strips, if known.  Their widths are found (near-equal widths are tried
        first).  By default the number is found too (equal or unequal widths).
    axis : {1, 0}
        1: vertical strips side by side (cut along columns); 0: horizontal strips stacked.
    cuts : sequence of int, optional
        The cut positions, if known (where each strip starts; a leading 0 is optional).
        Excludes ``n_strips``.
    time_limit : float
        Seconds the branch and bound of the order may take before it returns its best
        order with the gap to the lower bound (only for more than 12 strips).

    Returns
    -------
    StripsResult
        ``image`` (restored), ``cuts``, ``order``, ``seam_costs``, ``confidence``,
        ``optimal``, ``gap``, ``cost``, ``lower_bound``.

    Raises
    ------
    InputError
        If the image is not 2-D/3-D numeric and finite, or ``n_strips``/``cuts``/``axis``
        are invalid (e.g. more strips than pixels along ``axis``).
    """
    a, n_strips, axis, cuts = _validate(image, n_strips, axis, cuts)
    x, unit, varied = _as_float(a, axis)
    w = x.shape[1]
    if not varied:
        # a constant image: every order restores it; keep the given/equal cuts
        if cuts is None:
            n = n_strips or 1
            q, r = divmod(w, n)
            widths = [q + 1] * r + [q] * (n - r)
            cuts = list(np.cumsum([0] + widths[:-1]))
        n = len(cuts)
        return StripsResult(image=a.copy(), cuts=tuple(int(c) for c in cuts),
                            order=tuple(range(n)), seam_costs=np.zeros(max(n - 1, 0)),
                            confidence=np.zeros(max(n - 1, 0)), optimal=True, gap=0.0,
                            cost=0.0, lower_bound=0.0)
    model = _noise_model(x, unit)
    if model.unit > unit and x.shape[2] == 3:
        # JPEG colour: seams on the luma only (see _noise_model)
        x = np.ascontiguousarray((x @ _LUMA)[:, :, None])
    res = _search(x, model, n_strips, cuts, float(time_limit))
    starts, ends, order = res["starts"], res["ends"], [int(k) for k in res["order"]]
    pieces = [np.take(a, np.arange(starts[k], ends[k]), axis=axis) for k in order]
    restored = np.concatenate(pieces, axis=axis)
    d = res["norm"]
    seam = np.array([d[p, q] for p, q in zip(order, order[1:])], dtype=np.float64)
    cost = float(seam.sum())
    lb = float(min(res["lb"], cost))
    gap = 0.0 if res["optimal"] or cost <= 0 else float((cost - lb) / cost)
    return StripsResult(image=restored, cuts=tuple(int(c) for c in starts), order=tuple(order),
                        seam_costs=seam, confidence=_confidence(d, order),
                        optimal=bool(res["optimal"]), gap=gap, cost=cost, lower_bound=lb)
