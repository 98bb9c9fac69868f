"""Pixel data of one DICOM file: decoding, and which decoder plugin to install."""

from __future__ import annotations

import os
import warnings

import numpy as np

from ...errors import DicomError, LoadError


# --------------------------------------------------------------------------- pixels
_INSTALL_HINT = {
    "1.2.840.10008.1.2.4.50": "pylibjpeg and pylibjpeg-libjpeg (or Pillow, or python-gdcm)",
    "1.2.840.10008.1.2.4.51": "pylibjpeg and pylibjpeg-libjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.57": "pylibjpeg and pylibjpeg-libjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.70": "pylibjpeg and pylibjpeg-libjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.80": "pyjpegls (or pylibjpeg and pylibjpeg-libjpeg, or python-gdcm)",
    "1.2.840.10008.1.2.4.81": "pyjpegls (or pylibjpeg and pylibjpeg-libjpeg, or python-gdcm)",
    "1.2.840.10008.1.2.4.90": "pylibjpeg and pylibjpeg-openjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.91": "pylibjpeg and pylibjpeg-openjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.201": "pylibjpeg and pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.202": "pylibjpeg and pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.203": "pylibjpeg and pylibjpeg-openjpeg",
}


def _pixels(path: str) -> np.ndarray:
    """The stored pixel values of a file: (rows, cols) or (frames, rows, cols)."""
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, force=False)
    except OSError as exc:
        raise LoadError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    except Exception as exc:
        raise DicomError(f"{os.path.basename(path)} cannot be read ({type(exc).__name__}: {exc}); "
                         "it is probably corrupt: remove it or export the series again") from None
    ts = getattr(ds, "file_meta", {}).get("TransferSyntaxUID")
    ts_name = getattr(ts, "name", str(ts))
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise DicomError(f"{os.path.basename(path)}: {ds.SamplesPerPixel} samples per pixel "
                         f"({ds.get('PhotometricInterpretation', '?')}); a CT slice has one "
                         "(grey values)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = ds.pixel_array
    except Exception as exc:
        if ("PixelData" not in ds and "FloatPixelData" not in ds
                and "DoubleFloatPixelData" not in ds):
            raise DicomError(f"{os.path.basename(path)}: an image slice header but no pixel data; "
                             "the file is truncated: export the series again") from None
        hint = _INSTALL_HINT.get(str(ts))
        missing = "missing dependencies" in str(exc) or "no pixel data handler" in str(exc).lower()
        if hint and (missing or isinstance(exc, (RuntimeError, NotImplementedError))):
            raise DicomError(f"{os.path.basename(path)}: cannot decode its {ts_name} pixel data: "
                             f"install {hint} (pip install ...), or decompress the files first "
                             f"(e.g. gdcmconv --raw); pydicom said: "
                             f"{str(exc).splitlines()[0]}") from None
        raise DicomError(f"{os.path.basename(path)}: cannot decode its pixel data ({ts_name}): "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}; "
                         "the file is probably corrupt or truncated: "
                         "export the series again") from None
    return arr
