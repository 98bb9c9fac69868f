"""Colormap inversion: recover the scalar field behind a colormapped image.

* :func:`invert_colormap` (``invert.py``) -- the values behind an image
  rendered with a known colormap (``jet``, ``viridis``, a list of colours, or
  the colour bar printed next to it), with an ambiguity interval, the number
  of branches and a validity flag per pixel (:class:`ColormapInversion`).
  Its method is described in ``invert.py``'s docstring.
* :func:`find_colorbar` (``colorbar.py``) -- the colour bar of a figure
  (:class:`ColorbarLocation`, which ``invert_colormap`` takes as ``cmap``).
* :func:`identify_colormap` (``identify.py``) -- matplotlib's registered
  colormaps ranked by how well they explain an image (:class:`ColormapMatch`).
* :func:`srgb_to_lab` (``cielab.py``) -- sRGB -> CIELAB (D65).

The stages, one module each:

============== ================================================================
``checks``     argument validation (images, colour lists, keywords)
``cielab``     sRGB -> CIELAB, kernels and the 8-bit decoding table
``curve``      colormap -> dense curve (knots, resampling, bounding spheres)
``colors``     distinct colours of an image (keys over the 8-bit cube)
``search``     bounding-sphere search: nearest sample, branches, sRGB refinement
``nearest``    nearest curve sample per colour, memoised per curve over the cube
``noise``      noise estimates and the sRGB -> Lab noise model
``jpeg``       JPEG block-grid detection, value variance, interval widening
``validity``   specks; data regions of an image laid out as a figure
``resolve``    branch choice: chi-square plausibility, spatial resolution
``gather``     per-pixel value and interval of the chosen branch -> values
``smoothing``  Wiener filter within the intervals, texture kept (local gain)
``invert``     :func:`invert_colormap`: the pipeline
``colorbar``   :func:`find_colorbar`
``identify``   :func:`identify_colormap`
============== ================================================================

Notes shared by the modules:

* Allocation note: large per-pixel outputs are allocated by numpy, not inside
  numba kernels: numpy advises huge pages for them (a 1000^2 float64 array: a
  few 2 MB page faults instead of 2048 of 4 KB at ~2.7 us each on this VM;
  32 MB measured 13 -> 4 ms).
* Kernels marked "serial: see _SERIAL_MS" run serially (``_SERIAL_MS`` below).
"""

from .cielab import srgb_to_lab
from .colorbar import ColorbarLocation, find_colorbar
from .identify import ColormapMatch, identify_colormap
from .invert import ColormapInversion, invert_colormap

_SERIAL_MS = 3  # kernels that take at most this long serially at 1000^2 run serially: on a shared
# machine a parallel region can wait a scheduler tick (4-8 ms measured) for a descheduled thread

__all__ = [
    "ColormapInversion",
    "ColorbarLocation",
    "ColormapMatch",
    "srgb_to_lab",
    "invert_colormap",
    "find_colorbar",
    "identify_colormap",
]
