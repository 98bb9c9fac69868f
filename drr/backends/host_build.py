"""The CUDA kernels' per-ray code built for the CPU (tests and benchmarks).

``drr/kernels/host_api.c`` includes the very headers that every GPU thread
runs (``siddon_ray.h``, ``trilinear_ray.h``), with ``host_shim.h`` standing in
for CUDA's built-ins.  :func:`build_host_library` compiles it with the system C
compiler into a shared library, loaded with :mod:`ctypes`:

* ``real="float"`` — the march in float32, exactly the GPU build's arithmetic;
* ``real="double"`` — the march in float64, which reproduces the Numba backend.

:func:`host_render` and :func:`host_render_trilinear` are the kernels' grid
loops over poses and pixels; ``texture_weights=True`` gives the trilinear
sampler the texture unit's fixed-point weights (the rule read off an H200,
see ``docs/method.md``), so the host build stands in for
``drr_trilinear_tex`` on a machine without a GPU.  Not used by the renderer itself.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import BackendError
from ..geometry import Geometry
from ..volume import Volume
from .poses import pose_table

__all__ = ["SOURCES", "find_c_compiler", "build_host_library", "host_render", "host_render_trilinear"]

#: Files the host library is built from (all in ``drr/kernels``).
SOURCES = ("host_api.c", "ray_common.h", "siddon_ray.h", "trilinear_ray.h", "host_shim.h")


def kernel_dir() -> Path:
    return Path(str(resources.files("drr").joinpath("kernels")))


def find_c_compiler() -> str | None:
    """``$CC``, else the first of cc, gcc, clang on PATH; None if there is none."""
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name.split()[0]):
            return name
    return None


def build_host_library(real: str, directory) -> ctypes.CDLL:
    """Compile ``host_api.c`` with ``DRR_REAL=real`` (``"float"`` or ``"double"``) into ``directory``.

    The library's name carries a digest of the sources, so an edited kernel is
    rebuilt and an unchanged one is reused.

    Raises
    ------
    BackendError
        If there is no C compiler, a source is missing, or compilation fails.
    """
    if real not in ("float", "double"):
        raise BackendError(f"`real` must be 'float' or 'double', not {real!r}")
    cc = find_c_compiler()
    if cc is None:
        raise BackendError("no C compiler (cc, gcc or clang on PATH, or $CC) to build the kernels' host library")
    kdir = kernel_dir()
    missing = [s for s in SOURCES if not (kdir / s).is_file()]
    if missing:
        raise BackendError(f"kernel sources missing from {kdir}: {missing}")
    digest = hashlib.sha256(b"".join((kdir / s).read_bytes() for s in SOURCES)).hexdigest()[:16]
    lib = Path(directory) / f"drr_host_{real}_{digest}.so"
    if not lib.exists():
        tmp = lib.with_name(lib.name + f".{os.getpid()}.tmp")
        cmd = cc.split() + ["-O2", "-shared", "-fPIC", "-std=c99", "-ffp-contract=off",
                            f"-DDRR_REAL={real}", f"-I{kdir}", str(kdir / "host_api.c"), "-o", str(tmp), "-lm"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BackendError(f"building the kernels' host library failed: {' '.join(cmd)}\n{proc.stderr}")
        os.replace(tmp, lib)
    so = ctypes.CDLL(str(lib))
    dp, vp, fp = ctypes.POINTER(ctypes.c_double), ctypes.c_void_p, ctypes.POINTER(ctypes.c_float)
    i, d = ctypes.c_int, ctypes.c_double
    so.drr_render_host.argtypes = [vp, i, i, i, i, i, dp, i, i, i, fp]
    so.drr_render_host.restype = None
    so.drr_ray_integral_host.argtypes = [vp, i, i, i, i] + [d] * 6
    so.drr_ray_integral_host.restype = d
    so.drr_render_trilinear_host.argtypes = [vp, i, i, i, i, i, dp, i, i, i, d, fp]
    so.drr_render_trilinear_host.restype = None
    so.drr_trilinear_sample_host.argtypes = [vp, i, i, i, i, i, d, d, d]
    so.drr_trilinear_sample_host.restype = d
    so.drr_trilinear_ray_host.argtypes = [vp, i, i, i, i, i] + [d] * 7
    so.drr_trilinear_ray_host.restype = d
    so.drr_real_size.restype = i
    if so.drr_real_size() != {"float": 4, "double": 8}[real]:
        raise BackendError(f"the host library {lib} was not built with DRR_REAL={real}")
    return so


def voxels(mu: np.ndarray, half: bool) -> np.ndarray:
    """The voxel buffer the kernels read: C-ordered float32, or float16 bits."""
    return np.ascontiguousarray(mu, dtype=np.float16 if half else np.float32)


def _prepare(volume: Volume, geometry: Geometry):
    """The pose table and an empty ``(N, rows, cols)`` float32 output for a grid loop."""
    rows, cols = geometry.shape
    poses = np.ascontiguousarray(pose_table(volume, geometry))
    return poses, np.empty((len(geometry), rows, cols), dtype=np.float32)


def _ptr(array: np.ndarray, ctype):
    return array.ctypes.data_as(ctypes.POINTER(ctype))


def host_render(lib, volume: Volume, geometry: Geometry, *, half: bool = False, count: bool = False) -> np.ndarray:
    """Exact Siddon, ``(N, rows, cols)`` float32, by ``siddon.cu``'s per-ray code on the CPU."""
    nk, nj, ni = volume.data.shape
    vox = voxels(volume.data, half)
    poses, out = _prepare(volume, geometry)
    lib.drr_render_host(vox.ctypes.data, int(half), int(count), ni, nj, nk, _ptr(poses, ctypes.c_double),
                        len(geometry), *geometry.shape, _ptr(out, ctypes.c_float))
    return out


def host_render_trilinear(lib, volume: Volume, geometry: Geometry, *, step_mm: float, half: bool = False,
                          texture_weights: bool = False) -> np.ndarray:
    """Trilinear renderer, ``(N, rows, cols)`` float32, by ``trilinear.cu``'s per-ray code on the CPU.

    ``texture_weights=False``: exact weights (``drr_trilinear_f32`` / ``_f16``);
    True: the texture unit's fixed-point weights (``drr_trilinear_tex``, emulated).
    """
    nk, nj, ni = volume.data.shape
    vox = voxels(volume.data, half)
    poses, out = _prepare(volume, geometry)
    lib.drr_render_trilinear_host(vox.ctypes.data, int(half), int(bool(texture_weights)), ni, nj, nk,
                                  _ptr(poses, ctypes.c_double), len(geometry), *geometry.shape,
                                  float(step_mm), _ptr(out, ctypes.c_float))
    return out
