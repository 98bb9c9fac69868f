""":class:`StripsResult`, the result of :func:`~drr.tools.strips.reassemble`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StripsResult:
    """The result of :func:`reassemble`.

    Attributes
    ----------
    image : numpy.ndarray
        The restored image, same shape and dtype as the input.
    cuts : tuple of int
        Where each strip of the *shuffled* image starts (pixel index along ``axis``),
        increasing, starting with 0; ``len(cuts)`` is the number of strips.
    order : tuple of int
        Indices of the shuffled strips (0 = leftmost/topmost) in their restored order.
    seam_costs : numpy.ndarray
        ``(n - 1,)`` float64, the normalised seam cost of each seam of the restored image
        (about 1 or less for a convincing seam).
    confidence : numpy.ndarray
        ``(n - 1,)`` float64 in [0, 1]: for each seam, one minus the ratio of its cost to
        the best alternative for either strip (0: an alternative is as good).
    optimal : bool
        True when the order is proven to minimise the total seam cost.
    gap : float
        Relative gap ``(cost - lower_bound) / cost`` (0 when ``optimal``).
    cost : float
        Total normalised seam cost of the restored order.
    lower_bound : float
        Proven lower bound on the total cost of any order.
    """

    image: np.ndarray
    cuts: tuple
    order: tuple
    seam_costs: np.ndarray
    confidence: np.ndarray
    optimal: bool
    gap: float
    cost: float
    lower_bound: float

    @property
    def n_strips(self) -> int:
        """Number of strips."""
        return len(self.cuts)
