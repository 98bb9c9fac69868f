"""Writing DRRs to disk: display images (16-bit PNG/TIFF) and raw values (float32 TIFF/NPY).

Display convention (as on film): **bright = more attenuation**.  A line-integral
image ``p`` is mapped linearly from the window ``[lo, hi]`` to ``[0, 65535]``
(values outside are clipped); by default the window is the image's own
``[min, max]``.  An intensity image (``I0 exp(-p)``) is shown inverted, so that
it too is bright where little radiation arrives.

Raw outputs keep the float32 values unchanged: ``.npy`` (any shape) and
``.tif``/``.tiff`` with ``raw=True`` (one page per pose).

Every file is written to a temporary name and renamed (never a partial file).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError, OutputError
from .atomic import atomic_path

__all__ = ["to_display", "write_image", "check_output", "DISPLAY_SUFFIXES", "RAW_SUFFIXES"]

DISPLAY_SUFFIXES = (".png", ".tif", ".tiff")
RAW_SUFFIXES = (".npy", ".tif", ".tiff")


def to_display(image, *, window=None, invert: bool = False) -> np.ndarray:
    """Map an image to uint16 for display: ``[lo, hi] -> [0, 65535]``, clipped.

    Parameters
    ----------
    image : array_like, float
        Line integrals (or intensities with ``invert=True``).
    window : (lo, hi), optional
        Values mapped to black and white.  Default: the image's min and max
        (a constant image maps to black).
    invert : bool
        Map ``hi`` to black instead (for intensity images).

    Returns
    -------
    numpy.ndarray of uint16, same shape.
    """
    img = np.asarray(image, dtype=np.float64)
    if not np.all(np.isfinite(img)):
        raise InputError("`image` must be finite to be displayed")
    if window is None:
        lo, hi = (float(img.min()), float(img.max())) if img.size else (0.0, 1.0)
    else:
        try:
            lo, hi = (float(w) for w in window)
        except (TypeError, ValueError):
            raise InputError(f"`window` must be two numbers (lo, hi), not {window!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
            raise InputError(f"`window` must satisfy lo < hi, not {window!r}")
    scale = (hi - lo) if hi > lo else 1.0
    x = np.clip((img - lo) / scale, 0.0, 1.0)
    if invert:
        x = 1.0 - x
    return np.round(x * 65535.0).astype(np.uint16)


def check_output(path, *, raw: bool | None = None, n_images: int = 1) -> tuple[Path, bool]:
    """Check that ``path`` can take ``n_images`` images (before any work is done).

    Returns the path and the resolved ``raw`` flag (default: raw for ``.npy``).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if raw is None:
        raw = suffix == ".npy"
    allowed = RAW_SUFFIXES if raw else DISPLAY_SUFFIXES
    if suffix not in allowed:
        kind = "raw float32" if raw else "16-bit display"
        raise OutputError(f"output `{path.name}` must end in one of {allowed} for a {kind} image")
    if suffix == ".png" and n_images != 1:
        raise OutputError(f"a PNG holds one image, not {n_images}; write .npy or .tif "
                          "for a batch of poses")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"cannot write {str(path)!r}: folder {str(parent)!r} does not exist")
    return path, raw


def write_image(path, image, *, raw: bool | None = None, window=None, invert: bool = False) -> Path:
    """Write ``image`` to ``path``, choosing the format from the suffix.

    Parameters
    ----------
    path : str or Path
        ``.png`` (16-bit display, one image), ``.tif``/``.tiff`` (16-bit
        display, or float32 with ``raw=True``), ``.npy`` (raw float32).
    image : (rows, cols) or (N, rows, cols) array_like
    raw : bool, optional
        Raw float32 values instead of a display image.  Default: raw for
        ``.npy``, display otherwise.
    window, invert
        Display mapping, see :func:`to_display`.

    Returns
    -------
    Path of the written file.
    """
    img = np.asarray(image)
    if img.ndim not in (2, 3) or img.size == 0:
        raise InputError(f"`image` must be (rows, cols) or (N, rows, cols), not shape {img.shape}")
    path, raw = check_output(path, raw=raw, n_images=img.shape[0] if img.ndim == 3 else 1)
    suffix = path.suffix.lower()
    if img.ndim == 3 and suffix == ".png":
        img = img[0]
    data = img.astype(np.float32) if raw else to_display(img, window=window, invert=invert)
    with atomic_path(path) as tmp:
        if suffix == ".npy":
            np.save(tmp, data)
        else:
            import SimpleITK as sitk
            sitk_img = sitk.GetImageFromArray(data, isVector=False)
            sitk.WriteImage(sitk_img, str(tmp))
    return path
