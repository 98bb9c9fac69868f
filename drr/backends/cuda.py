"""CUDA backend: the exact Siddon kernel (``drr/kernels/siddon.cu``) and the
interpolating one (``drr/kernels/trilinear.cu``) through CuPy.

The kernels' per-ray code is ``drr/kernels/siddon_ray.h`` and
``trilinear_ray.h``, ports of :mod:`drr.backends.cpu` and
:mod:`drr.backends.cpu_trilinear` that the tests also build and check on the
CPU (``tests/test_kernel_host.py``).  Here each ``.cu`` file is compiled once
per process with NVRTC (:class:`cupy.RawModule`; CuPy also caches the binary
on disk), the volume is uploaded once per :class:`CUDABackend` (and copied
into a 3-D texture on the first trilinear render), and every call renders all
poses of a geometry in as few launches as free device memory allows (one
thread per ray, the pose index in the grid).

Importing this module never needs CuPy; constructing a backend does.
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources

import numpy as np

from ..errors import BackendError, InputError
from ..geometry import Geometry
from ..volume import Volume
from .poses import pose_table

__all__ = ["CUDABackend", "STORAGES", "FILTERINGS", "kernel_source", "plan_chunks", "COMPILE_OPTIONS"]

#: Voxel storage on the device: float32, or float16 (half the memory traffic;
#: each voxel rounded to 11 significant bits: <= 2^-11 ~ 4.9e-4 relative error
#: on any line integral of a non-negative volume, see ``siddon_ray.h``).
STORAGES = ("float32", "float16")

#: NVRTC options: no fused multiply-add contraction, so the GPU does, operation
#: for operation, the arithmetic of the host build that the tests check.
COMPILE_OPTIONS = ("--fmad=false",)

#: Trilinear sampling: the texture unit's hardware filter (fast; weights in fixed
#: point, multiples of 1/256), or software filtering from the voxel array (exact weights, the
#: CPU backend's arithmetic).  See ``drr/kernels/trilinear_ray.h``.
FILTERINGS = ("texture", "software")

TILE = (16, 8)                 # threads per block along (cols, rows): DRR_TILE_X, DRR_TILE_Y
MAX_GRID_Z = 65535             # poses per launch (CUDA's limit on gridDim.z)
MAX_GRID_Y = 65535
FLOAT16_MAX = 65504.0
_SIDDON = {"float32": "drr_siddon_f32", "float16": "drr_siddon_f16", "count": "drr_siddon_count"}
_TRILINEAR = {"texture": "drr_trilinear_tex", "float32": "drr_trilinear_f32", "float16": "drr_trilinear_f16"}
_MODULES: dict = {}            # (source digest, options, device) -> cupy.RawModule


def _kernel_file(name: str) -> str:
    return resources.files("drr").joinpath("kernels", name).read_text(encoding="utf-8")


def kernel_source(name: str = "siddon.cu") -> str:
    """The CUDA source file ``name`` with its local ``#include "..."`` lines replaced by the files.

    Inlining keeps NVRTC free of include paths (the package may live anywhere,
    e.g. inside a wheel's site-packages).  Each header is inlined once (they
    all have include guards).  ``host_shim.h`` sits in a branch that device
    compilation skips, so it is left as an ``#include`` line.
    """
    done: set[str] = set()

    def expand(fname: str) -> list[str]:
        out = []
        for n, line in enumerate(_kernel_file(fname).splitlines()):
            match = re.fullmatch(r'\s*#\s*include "([A-Za-z0-9_]+\.h)"\s*', line)
            if match and match.group(1) != "host_shim.h":
                header = match.group(1)
                if header in done:
                    out.append("")                     # keeps this file's line numbers
                else:
                    done.add(header)
                    out += [f'#line 1 "{header}"', *expand(header), f'#line {n + 2} "{fname}"']
                continue
            out.append(line)
        return out

    return "\n".join(expand(name)) + "\n"


def _module(name: str, options: tuple[str, ...]):
    """The compiled RawModule of ``name`` for ``options`` (one per process and device)."""
    import cupy

    source = kernel_source(name)
    key = (hashlib.sha256(source.encode()).hexdigest(), options, cupy.cuda.Device().id)
    module = _MODULES.get(key)
    if module is None:
        module = _MODULES[key] = cupy.RawModule(code=source, options=options)
    return module


def _functions(name: str, options: tuple[str, ...], kernels: tuple[str, ...]):
    """The kernels ``kernels`` of the module ``name`` (compiled on first use, NVRTC)."""
    try:
        module = _module(name, options)
        return tuple(module.get_function(k) for k in kernels)
    except Exception as exc:
        raise BackendError(f"the CUDA kernel {name} failed to compile or load with NVRTC: {exc}") from exc


def plan_chunks(n_poses: int, bytes_per_pose: int, budget_bytes: int,
                max_per_launch: int = MAX_GRID_Z) -> list[tuple[int, int]]:
    """Split ``range(n_poses)`` into ``(start, stop)`` launches that fit ``budget_bytes``.

    Each launch holds at least one pose; a pose that alone exceeds the budget
    is still tried (the allocation then decides).
    """
    if n_poses < 1:
        raise InputError(f"`n_poses` must be >= 1, not {n_poses}")
    if bytes_per_pose < 1:
        raise InputError(f"`bytes_per_pose` must be >= 1, not {bytes_per_pose}")
    per = max(1, min(max_per_launch, int(budget_bytes) // int(bytes_per_pose)))
    return [(s, min(s + per, n_poses)) for s in range(0, n_poses, per)]


class CUDABackend:
    """Exact Siddon and trilinear DRRs on a CUDA device (CuPy + NVRTC), with the volume resident.

    Parameters
    ----------
    volume : Volume
        In mu (1/mm), as :class:`drr.Renderer` passes it.
    storage : {"float32", "float16"}, keyword-only
        Voxel storage on the device (see :data:`STORAGES`); the trilinear
        texture uses the same type.
    filtering : {"texture", "software"}, keyword-only
        How ``method="trilinear"`` samples the volume (see :data:`FILTERINGS`):
        the texture unit (default; its weights are multiples of 1/256, see
        ``docs/method.md`` for what that costs), or software filtering with
        exact weights (the CPU backend's result, more slowly).
    memory_fraction : float, keyword-only
        Fraction of the free device memory (plus CuPy's cached free blocks,
        within its pool limit) that one launch's outputs may use; larger
        batches are rendered in several launches.

    Raises
    ------
    BackendError
        If CuPy or a CUDA device is missing, or the kernel does not compile.

    Notes
    -----
    The first trilinear render with ``filtering="texture"`` copies the volume
    into a CUDA array (a second device copy of the volume, kept until
    :meth:`close`).
    """

    name = "cuda"
    methods = ("siddon", "trilinear")

    def __init__(self, volume: Volume, *, storage: str = "float32", filtering: str = "texture",
                 memory_fraction: float = 0.5):
        from . import cuda_unavailable_reason

        if not isinstance(volume, Volume):
            raise InputError(f"`volume` must be a drr.Volume, not {type(volume).__name__}")
        if storage not in STORAGES:
            raise InputError(f"`storage` must be one of {STORAGES}, not {storage!r}")
        if filtering not in FILTERINGS:
            raise InputError(f"`filtering` must be one of {FILTERINGS}, not {filtering!r}")
        if not (isinstance(memory_fraction, (int, float)) and 0 < memory_fraction <= 1):
            raise InputError(f"`memory_fraction` must be in (0, 1], not {memory_fraction!r}")
        data = volume.data
        if storage == "float16":
            peak = float(np.max(np.abs(data)))
            if peak > FLOAT16_MAX:
                raise InputError(f"`storage` 'float16' holds |values| <= {FLOAT16_MAX:g}, but this "
                                 f"volume reaches {peak:g}; use storage='float32'")
        reason = cuda_unavailable_reason()
        if reason is not None:
            raise BackendError(f"backend 'cuda' is unavailable: {reason}; use backend='cpu' or 'auto'")
        import cupy

        self._cupy = cupy
        self._volume = volume
        self._storage = storage
        self._filtering = filtering
        self._fraction = float(memory_fraction)
        self._device = cupy.cuda.Device().id
        self._kernel, self._count_kernel = _functions("siddon.cu", COMPILE_OPTIONS,
                                                      (_SIDDON[storage], _SIDDON["count"]))
        self._trilinear_kernel = None   # compiled on the first trilinear render
        self._texture = None            # (CUDAarray, TextureObject), made on the first texture render
        host = np.ascontiguousarray(data, dtype=np.float16 if storage == "float16" else np.float32)
        try:
            self._vox = cupy.asarray(host)                      # uploaded once, stays resident
        except cupy.cuda.memory.OutOfMemoryError as exc:
            raise BackendError(f"the volume ({host.nbytes / 2**20:.0f} MiB as {storage}) does not fit "
                               f"in device memory: {exc}; try storage='float16' or backend='cpu'") from None

    # ------------------------------------------------------------ properties
    @property
    def storage(self) -> str:
        """``"float32"`` or ``"float16"``."""
        return self._storage

    @property
    def filtering(self) -> str:
        """``"texture"`` or ``"software"`` (trilinear sampling)."""
        return self._filtering

    @property
    def device_volume(self):
        """The resident voxel array on the device, ``(nk, nj, ni)``."""
        return self._vox

    def close(self) -> None:
        """Release the device copies of the volume (and CuPy's unused cached blocks)."""
        self._vox = None
        self._texture = None
        self._cupy.get_default_memory_pool().free_all_blocks()

    # --------------------------------------------------------------- render
    def render(self, geometry: Geometry, *, method: str = "siddon", step: float = 0.5,
               device_output: bool = False):
        """Line integrals for every pose: ``(N, rows, cols)`` float32.

        Parameters
        ----------
        geometry : Geometry
        method : {"siddon", "trilinear"}, keyword-only
            Exact Siddon, or the trilinear field by the trapezoid rule.
        step : float, keyword-only
            Trilinear only: the longest sample spacing as a fraction of the
            smallest voxel spacing (as on the CPU backend).
        device_output : bool, keyword-only
            False (default): a NumPy array.  True: a CuPy array left on the
            device (DLPack-compatible: ``torch.from_dlpack(img)``); the whole
            batch must then fit in device memory.
        """
        if method not in self.methods:
            raise InputError(f"`method` must be one of {self.methods}, not {method!r}")
        if method == "siddon":
            return self._run(geometry, device_output, self._kernel, self._vox, ())
        if not (isinstance(step, (int, float)) and np.isfinite(step) and step > 0):
            raise InputError(f"`step` must be a positive number (fraction of a voxel), not {step!r}")
        step_mm = float(step) * float(np.min(self._volume.spacing))
        diagonal_mm = float(np.linalg.norm(np.array(self._volume.data.shape[::-1]) * self._volume.spacing))
        if diagonal_mm / step_mm + 2 > 2**31 - 1:        # the kernel counts samples in an int
            raise InputError(f"`step` {step!r} is too small for this volume: a ray would need over 2^31 "
                             "samples; use a larger step")
        kernel, source = self._trilinear()
        return self._run(geometry, device_output, kernel, source, (np.float64(step_mm),))

    def count_segments(self, geometry: Geometry, *, device_output: bool = False):
        """The number of voxel segments of every ray, ``(N, rows, cols)`` float32 (benchmarks)."""
        return self._run(geometry, device_output, self._count_kernel, self._vox, ())

    def _trilinear(self):
        """``(kernel, first argument)`` of the trilinear renderer: the texture object or the voxels."""
        if self._vox is None:
            raise BackendError("this CUDA backend was closed; make a new Renderer")
        if self._trilinear_kernel is None:
            name = "texture" if self._filtering == "texture" else self._storage
            (self._trilinear_kernel,) = _functions("trilinear.cu", COMPILE_OPTIONS, (_TRILINEAR[name],))
        if self._filtering == "software":
            return self._trilinear_kernel, self._vox
        if self._texture is None:
            self._texture = self._make_texture()
        return self._trilinear_kernel, self._texture[1]

    def _make_texture(self):
        """The volume as a 3-D texture: linear filter, zero border, unnormalised coordinates.

        Texel ``(i, j, k)`` is centred at ``(i, j, k) + 1/2``, which is drr's grid
        coordinate of the voxel's centre, so ``tex3D(x, y, z)`` samples the
        field at grid point ``(x, y, z)`` (see ``drr/kernels/trilinear_ray.h``).
        """
        cp = self._cupy
        rt = cp.cuda.runtime
        tex = cp.cuda.texture
        nk, nj, ni = self._vox.shape
        bits = 16 if self._storage == "float16" else 32
        try:
            with cp.cuda.Device(self._device):
                channel = tex.ChannelFormatDescriptor(bits, 0, 0, 0, rt.cudaChannelFormatKindFloat)
                array = tex.CUDAarray(channel, ni, nj, nk)
                array.copy_from(self._vox)                      # device -> array, no host trip
                resource = tex.ResourceDescriptor(rt.cudaResourceTypeArray, cuArr=array)
                desc = tex.TextureDescriptor((rt.cudaAddressModeBorder,) * 3, rt.cudaFilterModeLinear,
                                             rt.cudaReadModeElementType, borderColors=(0, 0, 0, 0),
                                             normalizedCoords=0)
                return array, tex.TextureObject(resource, desc)
        except Exception as exc:            # CUDARuntimeError: too large for a 3-D texture, out of memory
            raise BackendError(f"the {ni}x{nj}x{nk} volume could not be made a 3-D texture ({exc}); "
                               "use CUDABackend(..., filtering='software') or backend='cpu'") from exc

    def _budget(self) -> int:
        cp = self._cupy
        pool = cp.get_default_memory_pool()
        free, _total = cp.cuda.runtime.memGetInfo()
        avail = free + pool.free_bytes()
        limit = pool.get_limit()
        if limit:
            avail = min(avail, limit - pool.used_bytes())
        return max(0, int(avail * self._fraction))

    def _run(self, geometry: Geometry, device_output: bool, kernel, source, tail: tuple):
        """Launch ``kernel(source, ni, nj, nk, poses, n, rows, cols, *tail, out)`` over all poses."""
        if not isinstance(geometry, Geometry):
            raise InputError(f"`geometry` must be a drr.Geometry, not {type(geometry).__name__}")
        if self._vox is None:
            raise BackendError("this CUDA backend was closed; make a new Renderer")
        cp = self._cupy
        rows, cols = geometry.shape
        if -(-rows // TILE[1]) > MAX_GRID_Y:
            raise InputError(f"`shape` rows must be <= {MAX_GRID_Y * TILE[1]} on the GPU, not {rows}")
        poses = np.ascontiguousarray(pose_table(self._volume, geometry))
        n = len(poses)
        pixel_bytes = rows * cols * 4
        nk, nj, ni = self._vox.shape
        grid_xy = (-(-cols // TILE[0]), -(-rows // TILE[1]))
        dims = (np.int32(ni), np.int32(nj), np.int32(nk))

        def launch(d_out, start, stop):
            d_poses = cp.asarray(poses[start:stop])
            kernel(grid_xy + (stop - start,), TILE + (1,),
                   (source, *dims, d_poses, np.int32(stop - start), np.int32(rows), np.int32(cols),
                    *tail, d_out))

        with cp.cuda.Device(self._device):
            if device_output:
                try:
                    out = cp.empty((n, rows, cols), dtype=cp.float32)
                except cp.cuda.memory.OutOfMemoryError:
                    raise BackendError(
                        f"`device_output` needs the whole batch on the device ({n * pixel_bytes / 2**20:.0f} "
                        "MiB), which does not fit; render fewer poses per call, or device_output=False "
                        "(host output is rendered in chunks)") from None
                for start, stop in plan_chunks(n, 192, 2**30):          # only the pose tables
                    launch(out[start:stop], start, stop)
                return out
            out = np.empty((n, rows, cols), dtype=np.float32)
            start = 0
            per = plan_chunks(n, pixel_bytes + 192, self._budget())[0][1]
            while start < n:
                stop = min(start + per, n)
                try:
                    d_out = cp.empty((stop - start, rows, cols), dtype=cp.float32)
                    launch(d_out, start, stop)
                    cp.asnumpy(d_out, out=out[start:stop])
                except cp.cuda.memory.OutOfMemoryError:
                    if per == 1:
                        raise BackendError(
                            f"one {rows}x{cols} image ({pixel_bytes / 2**20:.0f} MiB) does not fit in "
                            "device memory; use a smaller detector or backend='cpu'") from None
                    per = max(1, per // 2)                # memory shrank meanwhile: smaller launches
                    continue
                finally:
                    d_out = None
                start = stop
            return out


def launch_shape(rows: int, cols: int, n_poses: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """``(grid, block)`` of one launch (for the benchmarks and tests)."""
    return ((-(-cols // TILE[0]), -(-rows // TILE[1]), n_poses), TILE + (1,))

