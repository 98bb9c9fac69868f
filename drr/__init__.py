"""drr — exact perspective DRRs (digitally reconstructed radiographs) from CT.

Public API::

    vol = drr.load_volume("ct_folder/")              # HU, LPS patient frame, mm
    geo = drr.Geometry.look_at(source, detector_center, up=(0, 0, 1),
                               shape=(256, 256), pixel_spacing=(1.0, 1.0))
    img = drr.render(vol, geo)                        # line integral of mu, (rows, cols)
"""

from .errors import (BackendError, DicomError, DRRError, GeometryError, InputError, LoadError,
                     OutputError, VolumeError)
from .physics import DEFAULT_ENERGY_KEV, hu_to_mu, mu_water
from .volume import Volume

__version__ = "0.1.0"

__all__ = [
    "Volume", "hu_to_mu", "mu_water", "DEFAULT_ENERGY_KEV",
    "DRRError", "InputError", "VolumeError", "GeometryError", "LoadError", "DicomError",
    "BackendError", "OutputError",
]

from .geometry import Geometry  # noqa: E402
from .render import Renderer, render  # noqa: E402

__all__ += ["Geometry", "Renderer", "render"]

from .io.load import load_volume  # noqa: E402

__all__ += ["load_volume"]
