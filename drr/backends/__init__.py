"""Compute backends.  Each is a class built from a Volume in mu, with a
``name``, the ``methods`` it implements (``"siddon"``, ``"trilinear"``), and a
``render(geometry, **method_options) -> (N, rows, cols) float32`` method.

* ``cpu`` — Numba (:mod:`drr.backends.cpu`), always available.
* ``cuda`` — CuPy + ``kernels/siddon.cu`` (:mod:`drr.backends.cuda`), when a GPU is present.
"""

from __future__ import annotations

from ..errors import BackendError, InputError

__all__ = ["resolve_backend", "BACKENDS", "cuda_unavailable_reason"]

BACKENDS = ("auto", "cpu", "cuda")


def cuda_unavailable_reason() -> str | None:
    """None when the CUDA backend can run here, else why not (one sentence)."""
    try:
        import cupy
    except ImportError:
        return "CuPy is not installed (pip install 'drr[cuda]')"
    except Exception as exc:  # a broken CuPy install raises many types
        return f"CuPy failed to import ({exc})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return f"no usable CUDA device ({exc})"
    if count < 1:
        return "no CUDA device is visible"
    return None


def resolve_backend(name: str):
    """The backend class for ``name`` ("auto", "cpu" or "cuda")."""
    if name not in BACKENDS:
        raise InputError(f"`backend` must be one of {BACKENDS}, not {name!r}")
    if name == "cpu" or (name == "auto" and cuda_unavailable_reason() is not None):
        from .cpu_backend import CPUBackend
        return CPUBackend
    reason = cuda_unavailable_reason()
    if reason is not None:
        raise BackendError(f"backend 'cuda' is unavailable: {reason}; use backend='cpu' or 'auto'")
    from .cuda import CUDABackend
    return CUDABackend
