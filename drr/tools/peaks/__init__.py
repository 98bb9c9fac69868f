"""Robust peak finding in noisy 2-D images, and the centre of a cluster of points.

* :func:`find_peaks` (``find.py``) -- the significant peaks of an image (stars,
  spots, the bins of a 2-D histogram): a ranked table (``table.py``) with
  sub-pixel positions and their uncertainties, height, local background and
  noise, SNR, 2-D topographic prominence and isolation.  Its method is
  described in ``find.py``'s docstring.
* :func:`cluster_center` (``cluster.py``) -- the mode of the densest cluster of
  2-D points, with an uncertainty.

Pixel convention: ``x`` is the column and ``y`` the row index, in pixels; the
centre of pixel ``image[r, c]`` is at ``(x, y) = (c, r)``.

The stages of :func:`find_peaks`, one module each:

=============== ===============================================================
``checks``      argument validation
``stats``       sigma-clipped background and noise (median/MAD by quickselect)
``detection``   matched-filter detection image and its candidates
``merge_tree``  union-find merge tree: peaks, plateaus, key cols (prominence)
``subpixel``    Levenberg-Marquardt Gaussian fit and weighted centroid
``isolation``   isolation distances and thinning by ``min_distance``
``threads``     thread pools for the GIL-free Numba kernels
=============== ===============================================================
"""

from .cluster import ClusterCenter, cluster_center
from .find import find_peaks
from .table import FLAG_BORDER, FLAG_FIT_FAILED, FLAG_MASKED, FLAG_PLATEAU, FLAG_PROMINENCE_BOUND, PEAK_DTYPE

__all__ = [
    "find_peaks",
    "cluster_center",
    "ClusterCenter",
    "PEAK_DTYPE",
    "FLAG_BORDER",
    "FLAG_MASKED",
    "FLAG_FIT_FAILED",
    "FLAG_PLATEAU",
    "FLAG_PROMINENCE_BOUND",
]
