"""Render DRRs: choose a backend, prepare the volume once, trace every ray.

``render(volume, geometry)`` is the one-call form; ``Renderer(volume)`` keeps
the prepared attenuation volume (and, on the GPU, its device copy) for many
calls, as parameter sweeps and registration loops need.
"""

from __future__ import annotations

import numpy as np

from .backends import resolve_backend
from .backends.cuda import FILTERINGS, STORAGES
from .errors import InputError
from .geometry import Geometry
from .volume import Volume

__all__ = ["Renderer", "render", "OUTPUTS", "METHODS", "STORAGES", "FILTERINGS"]

#: Output transforms: the line integral of mu, or the Beer-Lambert intensity.
OUTPUTS = ("line_integral", "intensity")
#: Integration methods: exact Siddon, or trilinear samples with the trapezoid rule.
METHODS = ("siddon", "trilinear")
# STORAGES (voxel storage; float16: CUDA only) and FILTERINGS (trilinear sampling on
# the GPU: the texture unit, or software with exact weights) come from the CUDA backend.


class Renderer:
    """A volume prepared for rendering on one backend.

    Parameters
    ----------
    volume : Volume
        In HU (converted to mu at ``energy_kev``) or in mu (1/mm).
    backend : {"auto", "cpu", "cuda"}, keyword-only
        ``"auto"`` picks CUDA when CuPy and a GPU are present, else the CPU.
    energy_kev : float, optional, keyword-only
        Effective energy for HU -> mu (default :data:`drr.DEFAULT_ENERGY_KEV`);
        only for HU volumes.
    storage : {"float32", "float16"}, keyword-only
        Voxel storage on the GPU.  ``"float16"`` halves memory traffic at a
        relative error of at most 2**-11 per line integral (CUDA backend only).
    filtering : {"texture", "software"}, keyword-only
        How the CUDA backend samples ``method="trilinear"``: the texture unit
        (default, fast; weights rounded to 1/256) or software filtering with
        exact weights (the CPU backend's image, slower).  CUDA backend only.

    Examples
    --------
    >>> import numpy as np, drr
    >>> vol = drr.Volume(np.full((4, 4, 4), 0.02, np.float32))
    >>> geo = drr.Geometry.look_at((1.5, -100, 1.5), (1.5, 100, 1.5), shape=(1, 1), pixel_spacing=1)
    >>> round(float(drr.Renderer(vol, backend="cpu")(geo)[0, 0]), 6)  # 4 mm of mu = 0.02/mm
    0.08
    """

    def __init__(self, volume: Volume, *, backend: str = "auto", energy_kev: float | None = None,
                 storage: str = "float32", filtering: str = "texture"):
        if not isinstance(volume, Volume):
            raise InputError(f"`volume` must be a drr.Volume, not {type(volume).__name__}; "
                             "wrap an array with drr.Volume(data, spacing=..., origin=...)")
        if storage not in STORAGES:
            raise InputError(f"`storage` must be one of {STORAGES}, not {storage!r}")
        backend_cls = resolve_backend(backend)
        if filtering not in FILTERINGS:
            raise InputError(f"`filtering` must be one of {FILTERINGS}, not {filtering!r}")
        if storage != "float32" and backend_cls.name != "cuda":
            raise InputError(f"`storage` {storage!r} needs backend 'cuda', not {backend_cls.name!r}")
        if filtering != "texture" and backend_cls.name != "cuda":
            raise InputError(f"`filtering` {filtering!r} needs backend 'cuda', not {backend_cls.name!r} "
                             "(the CPU always filters in software)")
        self._volume = volume.to_mu(energy_kev=energy_kev)
        extra = {"storage": storage} if storage != "float32" else {}
        if filtering != "texture":
            extra["filtering"] = filtering
        self._backend = backend_cls(self._volume, **extra)

    @property
    def volume(self) -> Volume:
        """The volume in mu (1/mm) that this renderer traces."""
        return self._volume

    @property
    def backend(self) -> str:
        """The backend in use: ``"cpu"`` or ``"cuda"``."""
        return self._backend.name

    def __call__(self, geometry: Geometry, *, output: str = "line_integral", i0: float = 1.0,
                 method: str = "siddon", step: float = 0.5, device_output: bool = False):
        """Render every pose of ``geometry``.

        Parameters
        ----------
        geometry : Geometry
        output : {"line_integral", "intensity"}, keyword-only
            ``"line_integral"``: ``∫ mu dl`` from the source to each pixel centre
            (dimensionless).  ``"intensity"``: ``i0 * exp(-∫ mu dl)``.
        i0 : float, keyword-only
            Unattenuated intensity for ``output="intensity"``.
        method : {"siddon", "trilinear"}, keyword-only
            ``"siddon"`` (default): the exact integral of the voxelized volume.
            ``"trilinear"``: the integral of the trilinearly interpolated volume
            (zero outside), sampled every ``step`` voxel and summed by the
            trapezoid rule: no stair steps, slightly smoother.  On the CUDA
            backend the texture unit interpolates, with weights rounded to
            1/256 (median 2e-5, at most ~2e-3 relative on the example CT; see
            ``docs/method.md``), unless the renderer was made with
            ``filtering="software"``.
        step : float, keyword-only
            Trilinear sample spacing as a fraction of the smallest voxel spacing
            (default 0.5: half a voxel).
        device_output : bool, keyword-only
            CUDA only: return a CuPy array left on the GPU (DLPack-compatible,
            e.g. ``torch.from_dlpack``) instead of copying to NumPy.

        Returns
        -------
        numpy.ndarray (or cupy.ndarray), float32, shape ``(rows, cols)`` or ``(N, rows, cols)``
            The latter when ``geometry`` is a batch.
        """
        if not isinstance(geometry, Geometry):
            raise InputError(f"`geometry` must be a drr.Geometry, not {type(geometry).__name__}")
        if output not in OUTPUTS:
            raise InputError(f"`output` must be one of {OUTPUTS}, not {output!r}")
        if output == "intensity" and not (isinstance(i0, (int, float)) and np.isfinite(i0) and i0 > 0):
            raise InputError(f"`i0` must be a positive number, not {i0!r}")
        if method not in METHODS:
            raise InputError(f"`method` must be one of {METHODS}, not {method!r}")
        if method not in self._backend.methods:
            raise InputError(f"`method` {method!r} is not available on the {self._backend.name!r} "
                             f"backend (it has {self._backend.methods}); use backend='cpu'")
        if not (isinstance(step, (int, float)) and np.isfinite(step) and 0 < step <= 2):
            raise InputError(f"`step` must be a number in (0, 2] (fraction of a voxel), not {step!r}")
        kwargs = {"method": method, "step": float(step)} if method != "siddon" else {}
        if device_output and self._backend.name != "cuda":
            raise InputError(f"`device_output` needs backend 'cuda', not {self._backend.name!r}")
        if device_output:
            images = self._backend.render(geometry, device_output=True, **kwargs)
        else:
            images = self._backend.render(geometry, **kwargs)
        if output == "intensity":
            images = (np.float32(i0) * np.exp(-images)).astype(np.float32)
        return images if geometry.batched else images[0]

    render = __call__


def render(volume: Volume, geometry: Geometry, *, backend: str = "auto",
           output: str = "line_integral", i0: float = 1.0, energy_kev: float | None = None,
           method: str = "siddon", step: float = 0.5, storage: str = "float32",
           filtering: str = "texture", device_output: bool = False):
    """Render DRR(s) of ``volume`` for every pose of ``geometry``.

    The exact line integral of the voxelized attenuation along the segment from
    the source to each pixel centre (Siddon's radiological path), or with
    ``method="trilinear"`` of the interpolated volume.  See :class:`Renderer`
    for the parameters.

    Returns
    -------
    numpy.ndarray, float32, shape ``(rows, cols)`` or ``(N, rows, cols)``
    """
    renderer = Renderer(volume, backend=backend, energy_kev=energy_kev, storage=storage, filtering=filtering)
    return renderer(geometry, output=output, i0=i0, method=method, step=step,
                    device_output=device_output)
