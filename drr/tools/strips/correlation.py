"""The fine texture of two columns compared: the correlation of their high-passed profiles,
as evidence for or against a restored seam (:func:`.quality._quality`).

Two columns that were side by side in the original image share its fine texture (the grain
of paper, film or sensor, the strokes of letters): along the seam direction their
high-passed profiles are correlated.  Columns from unrelated places are not, even where
their levels and gradients agree (two blank margins of a page).  On ``skimage.data.page``,
for instance, neighbouring blank rows have a correlation of about 0.6 (median 0.68) after a
5-pixel box high-pass along the row, and random pairs of blank rows 0.0 +- 0.17.

The gradient statistic of the seam costs (:mod:`.costs`) is a per-row distance, summed
robustly; it scales with the texture's contrast and, on low-contrast grain, stays close to
the quantisation floor.  The correlation is scale-free: it is the normalised dot product
of the two profiles.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

_CORR_WIN = 5   # length of the box filter (pixels along the seam) whose residual is the
#                 high-passed profile (5 / 9 / 17 separated page's answers and truths alike)


class _TextureCorrelation:
    """Correlation of the high-passed profiles of two columns (each column's unit profile
    computed once, when first needed, and each pair's correlation kept).

    Parameters
    ----------
    xt : ndarray, shape (W, H, C), float64
        The shuffled image, columns first (as :func:`.search._search` holds it).

    The profile of column ``k`` is ``x_k - box(x_k)`` along its ``H`` rows (a box filter
    of :data:`_CORR_WIN` pixels, edges repeated), all ``C`` channels together, minus its
    mean and divided by its norm; a constant column has the zero profile (correlation 0
    with everything).  :meth:`rho` is then the Pearson correlation of two columns' profiles.
    """

    def __init__(self, xt):
        self.xt = xt
        w, h, c = xt.shape
        self.u = np.zeros((w, h * c))
        self.done = np.zeros(w, dtype=bool)
        self.known = {}

    def _units(self, cols):
        cols = np.asarray(cols, dtype=np.int64)
        new = np.unique(cols[~self.done[cols]])
        if len(new):
            x = self.xt[new]
            hp = (x - uniform_filter1d(x, _CORR_WIN, axis=1, mode="nearest")).reshape(len(new), -1)
            hp -= hp.mean(axis=1, keepdims=True)
            norm = np.sqrt(np.einsum("ij,ij->i", hp, hp))
            scale = np.zeros_like(norm)
            ok = norm > 1e-9 * (1.0 + np.abs(x).reshape(len(new), -1).max(axis=1))
            scale[ok] = 1.0 / norm[ok]
            self.u[new] = hp * scale[:, None]
            self.done[new] = True
        return self.u[cols]

    def rho(self, left, right):
        """Correlation of columns ``left[k]`` and ``right[k]``, shape ``(len(left),)``
        (each pair computed once: the search asks for the same seams many times)."""
        keys = list(zip(np.asarray(left).tolist(), np.asarray(right).tolist()))
        new = [k for k in dict.fromkeys(keys) if k not in self.known]
        if new:
            a, b = np.array(new, dtype=np.int64).T
            r = np.einsum("ij,ij->i", self._units(a), self._units(b))
            self.known.update(zip(new, r.tolist()))
        return np.array([self.known[k] for k in keys], dtype=np.float64)

    def natural(self, left):
        """Correlation across each boundary ``left[k] | left[k] + 1`` of the shuffled image."""
        left = np.asarray(left, dtype=np.int64)
        return self.rho(left, left + 1)

    def matrix(self, left, right):
        """Correlation of every column of ``left`` with every column of ``right``,
        shape ``(len(left), len(right))``."""
        return self._units(left) @ self._units(right).T
