"""The table that :func:`~drr.tools.peaks.find_peaks` returns: its columns and flag bits."""

from __future__ import annotations

import numpy as np


#: The stamp used for the sub-pixel estimate reaches past the image border.
FLAG_BORDER = 1


#: The stamp contains masked or NaN pixels (they were left out of the estimate).
FLAG_MASKED = 2


#: The sub-pixel estimate failed: after a failed Gaussian fit the position is the
#: Gaussian-weighted centroid, after a failed centroid it is the peak pixel.
FLAG_FIT_FAILED = 4


#: The peak is a plateau of equal values in the detection image; its position is the centroid.
FLAG_PLATEAU = 8


#: The key col lies below the detection level: ``prominence`` is a lower bound.
FLAG_PROMINENCE_BOUND = 16


#: Columns of the table returned by :func:`find_peaks`.
PEAK_DTYPE = np.dtype([
    ("x", "f8"),             # column coordinate (px)
    ("y", "f8"),             # row coordinate (px)
    ("x_err", "f8"),         # 1-sigma uncertainty of x (px)
    ("y_err", "f8"),         # 1-sigma uncertainty of y (px)
    ("height", "f8"),        # peak amplitude above the local background (image units)
    ("background", "f8"),    # local background, sigma-clipped (image units)
    ("noise", "f8"),         # local per-pixel noise, sigma-clipped (image units)
    ("snr", "f8"),           # height / noise
    ("prominence", "f8"),    # 2-D topographic prominence in the detection image (image units)
    ("isolation", "f8"),     # distance to the nearest higher peak of the table (px), inf for the top
    ("significance", "f8"),  # detection-image peak / its noise (sigma_D units)
    ("sigma", "f8"),         # fitted Gaussian sigma (px); NaN unless subpixel="gauss" fitted it
    ("npix", "i4"),          # pixels in the detection-image plateau (1 for an ordinary peak)
    ("flags", "i4"),         # bitwise OR of the FLAG_* constants
])
