"""Validation of the arguments of :func:`~drr.tools.strips.reassemble` (clear `InputError`
messages).
"""

from __future__ import annotations

import numpy as np

from ...errors import InputError


def _validate(image, n_strips, axis, cuts):
    if isinstance(image, np.ndarray):
        a = image
    else:
        try:
            a = np.asarray(image)
        except Exception as exc:  # pragma: no cover - exotic inputs
            raise InputError(f"`image` must be an array, not {type(image).__name__}") from exc
    if a.ndim not in (2, 3):
        raise InputError(f"`image` must be 2-D (rows, cols) or 3-D (rows, cols, channels), "
                         f"not {a.ndim}-D with shape {a.shape}")
    if a.dtype.kind not in "biuf":
        raise InputError(f"`image` must have a numeric dtype, not {a.dtype}")
    if a.size == 0:
        raise InputError(f"`image` must not be empty, not shape {a.shape}")
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or axis not in (0, 1):
        raise InputError(f"`axis` must be 0 (horizontal strips) or 1 (vertical strips), "
                         f"not {axis!r}")
    length = a.shape[axis]
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise InputError("`image` must be finite, not contain NaN or inf; fill them first")
    if n_strips is not None and cuts is not None:
        raise InputError("give `n_strips` or `cuts`, not both")
    if n_strips is not None:
        if isinstance(n_strips, bool) or not isinstance(n_strips, (int, np.integer)):
            raise InputError(f"`n_strips` must be an int or None, not {type(n_strips).__name__}")
        if not 1 <= n_strips <= length:
            raise InputError(f"`n_strips` must be between 1 and the image size along axis "
                             f"{axis} ({length}), not {n_strips}")
        n_strips = int(n_strips)
    if cuts is not None:
        c = np.asarray(cuts)
        if c.ndim != 1 or c.dtype.kind not in "iu":
            raise InputError(f"`cuts` must be a 1-D sequence of ints, not {cuts!r}")
        c = [int(v) for v in c]
        if c and c[0] == 0:
            c = c[1:]
        if any(not 0 < v < length for v in c) or any(b <= a_ for a_, b in zip(c, c[1:])):
            raise InputError(f"`cuts` must be increasing positions in (0, {length}), not {cuts!r}")
        cuts = [0] + c
    return a, n_strips, int(axis), cuts
