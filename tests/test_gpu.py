"""The CUDA backend.  Tests marked ``gpu`` need CuPy and a CUDA device and are skipped otherwise.

On a GPU the kernel must agree with the float64 reference (1e-5 relative), with
the Numba backend, and with the kernel's own host build (tests/test_kernel_host.py),
which runs the same per-ray code with the same float arithmetic.
"""

from __future__ import annotations

import importlib
import re

import numpy as np
import pytest

import drr
import test_render as tr
from drr.backends import cuda_unavailable_reason
from drr.backends.cpu_backend import CPUBackend
from drr.backends.cuda import MAX_GRID_Z, CUDABackend, plan_chunks
from siddon_reference import render_reference
from test_kernel_host import RENDER_CASES, TEXTURE_CASES

REASON = cuda_unavailable_reason()


def random_case(seed, *, shape_range=(4, 24), n=3, det=(12, 11)):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(*shape_range, size=3))
    vol = drr.Volume(rng.uniform(0, 0.05, size=shape), spacing=rng.uniform(0.5, 2.0, 3),
                     origin=rng.uniform(-50, 50, 3), direction=tr.random_rotation(rng))
    geo = tr.random_look_at(rng, vol.center(), 80.0, shape=det, spacing=2.5, n=n, inside=seed % 3 == 2)
    return vol, geo


# ------------------------------------------------------------- no GPU needed

def test_plan_chunks():
    assert plan_chunks(10, 100, 350) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert plan_chunks(5, 100, 10**9) == [(0, 5)]
    assert plan_chunks(3, 100, 10) == [(0, 1), (1, 2), (2, 3)]          # >= 1 pose per launch
    chunks = plan_chunks(MAX_GRID_Z + 7, 4, 2**40)
    assert chunks == [(0, MAX_GRID_Z), (MAX_GRID_Z, MAX_GRID_Z + 7)]    # gridDim.z limit
    with pytest.raises(drr.InputError, match="n_poses"):
        plan_chunks(0, 100, 1000)


def test_backend_module_imports_and_errors_without_cuda():
    module = importlib.import_module("drr.backends.cuda")
    assert module.CUDABackend.name == "cuda"
    if REASON is None:
        pytest.skip("a CUDA device is present")
    with pytest.raises(drr.BackendError, match="cuda.*unavailable"):
        CUDABackend(drr.Volume(np.zeros((2, 2, 2))))
    with pytest.raises(drr.InputError, match="storage"):
        CUDABackend(drr.Volume(np.zeros((2, 2, 2))), storage="float64")


# -------------------------------------------------------------------- GPU

@pytest.mark.parametrize("seed", range(4))
@pytest.mark.gpu
@pytest.mark.skipif(REASON is not None, reason=f"no CUDA backend: {REASON}")
def test_cuda_equals_reference_and_cpu(seed):
    vol, geo = random_case(400 + seed)
    img = CUDABackend(vol).render(geo)
    assert img.dtype == np.float32 and img.shape == (3, 12, 11) and isinstance(img, np.ndarray)
    tr.assert_close(img, render_reference(vol, geo), rtol=1e-5)
    tr.assert_close(img, CPUBackend(vol).render(geo).astype(np.float64), rtol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(REASON is not None, reason=f"no CUDA backend: {REASON}")
def test_cuda_equals_the_kernel_host_build(tmp_path):
    """Same code, same float arithmetic (fmad off): the GPU and the host build agree to rounding."""
    import test_kernel_host as kh

    lib = kh.build_host_library("float", tmp_path)
    for seed in range(3):
        vol, geo = random_case(500 + seed, shape_range=(20, 90), det=(40, 37))
        gpu_img = CUDABackend(vol).render(geo)
        host_img = kh.host_render(lib, vol, geo)
        assert kh.max_rel(gpu_img, host_img.astype(np.float64)) <= 1e-6
        gpu16 = CUDABackend(vol, storage="float16").render(geo)
        assert kh.max_rel(gpu16, kh.host_render(lib, vol, geo, half=True).astype(np.float64)) <= 1e-6
        counts = CUDABackend(vol).count_segments(geo)
        np.testing.assert_array_equal(counts, kh.host_render(lib, vol, geo, count=True))


@pytest.mark.gpu
@pytest.mark.skipif(REASON is not None, reason=f"no CUDA backend: {REASON}")
@pytest.mark.parametrize("fn, kwargs", RENDER_CASES)
def test_render_suite_on_cuda(fn, kwargs):
    fn(backend="cuda", **kwargs)


@pytest.mark.gpu
@pytest.mark.skipif(REASON is not None, reason=f"no CUDA backend: {REASON}")
@pytest.mark.parametrize("fn, kwargs", TEXTURE_CASES)
def test_trilinear_suite_on_cuda(fn, kwargs):
    """test_trilinear.py's renderer tests, hardware texture filtering."""
    fn(backend="cuda", **kwargs)


@pytest.mark.gpu
@pytest.mark.skipif(REASON is not None, reason=f"no CUDA backend: {REASON}")
def test_cuda_trilinear_equals_the_host_build_and_the_cpu(tmp_path):
    """Software filtering = the host build's arithmetic; the texture unit = its emulation
    (weights rounded to 1/256), and within the weights' error of the exact CPU result."""
    import test_kernel_host as kh
    from drr.backends.host_build import host_render_trilinear

    lib = kh.build_host_library("float", tmp_path)
    for seed in range(3):
        vol, geo = random_case(510 + seed, shape_range=(20, 90), det=(40, 37))
        step_mm = 0.5 * float(np.min(vol.spacing))
        soft = CUDABackend(vol, filtering="software").render(geo, method="trilinear")
        host = host_render_trilinear(lib, vol, geo, step_mm=step_mm).astype(np.float64)
        assert kh.max_rel(soft, host) <= 1e-6
        cpu = CPUBackend(vol).render(geo, method="trilinear").astype(np.float64)
        assert kh.max_rel(soft, cpu) <= 1e-5
        tex = CUDABackend(vol).render(geo, method="trilinear")
        assert kh.max_rel(tex, cpu) <= 2e-3
        # The emulation's weights are the card's (test_texture_unit_corner_weights and
        # test_kernel_host.py); the card sums the 8 products exactly and rounds once, as the
        # emulation does up to rounding ties (benchmarks/texture_probe.py section 2).
        emulated = host_render_trilinear(lib, vol, geo, step_mm=step_mm, texture_weights=True)
        assert kh.max_rel(tex, emulated.astype(np.float64)) <= 1e-5
        tex16 = CUDABackend(vol, storage="float16").render(geo, method="trilinear")
        soft16 = CUDABackend(vol, storage="float16", filtering="software").render(geo, method="trilinear")
        assert kh.max_rel(tex16, soft16.astype(np.float64)) <= 2e-3
        # Half-float textures: the unit rounds each fetch to binary16, as the emulation does,
        # but 0.1-0.2 % of fetches round the other way (one binary16 step, 2^-10 relative:
        # tests/test_kernel_host.py, half-float fetches), so a ray of ~100 samples can differ
        # by ~1e-5.  Measured on an H200: 1.07e-5 (4.9e-5 without the rounding).
        emulated16 = host_render_trilinear(lib, vol, geo, step_mm=step_mm, half=True, texture_weights=True)
        assert kh.max_rel(tex16, emulated16.astype(np.float64)) <= 2.5e-5


_PROBE = r"""
extern "C" __global__ void probe(cudaTextureObject_t tex, const float* x, const float* y, const float* z,
                                 float* out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = tex3D<float>(tex, x[i], y[i], z[i]);
}
"""


@pytest.mark.gpu
@pytest.mark.skipif(REASON is not None, reason=f"no CUDA backend: {REASON}")
@pytest.mark.parametrize("storage", ["float32", "float16"])
def test_texture_unit_corner_weights(storage):
    """What the texture unit does with drr's texture (benchmarks/texture_probe.py has more):
    a 2x2x2 texture holding a single 1 returns that corner's weight.  The 8 weights are
    multiples of 1/256 that sum to exactly 1, each within 2/256 of the exact product of
    fractions, and follow the rule that drr_texture_unit_trilinear emulates (in 1/256:
    U1 = rnd(X1 Zc / 256), U0 = Zc - U1 per z layer c; W11c = rnd(U1 Y1 / 256),
    W10c = U1 - W11c, W00c = rnd(U0 Y0 / 256), W01c = U0 - W00c; rnd rounds half up)."""
    import cupy as cp

    kernel = cp.RawModule(code=_PROBE).get_function("probe")
    X1, Y1, Z1 = (a.ravel() for a in np.meshgrid(np.arange(0, 256, 5), np.arange(0, 256, 3),
                                                 [0, 1, 64, 128, 129, 255], indexing="ij"))
    pts = [cp.asarray(0.5 + a / 256.0, dtype=cp.float32) for a in (X1, Y1, Z1)]
    weights = np.empty((8, X1.size))
    for c in range(8):
        vox = np.zeros((2, 2, 2), dtype=np.float32)
        vox[c >> 2, (c >> 1) & 1, c & 1] = 1.0
        backend = CUDABackend(drr.Volume(vox), storage=storage)
        _array, texture = backend._make_texture()
        out = cp.empty(X1.size, dtype=cp.float32)
        kernel((-(-X1.size // 256),), (256,), (texture, *pts, out, np.int32(X1.size)))
        weights[c] = cp.asnumpy(out) * 256
        backend.close()
    assert np.all(np.isfinite(weights))
    np.testing.assert_array_equal(weights, np.round(weights))
    np.testing.assert_array_equal(weights.sum(axis=0), 256)
    for c in range(8):
        fx, fy, fz = (f if (c >> b) & 1 else 256 - f for b, f in enumerate((X1, Y1, Z1)))
        assert np.all(np.abs(weights[c] - fx * fy * fz / 65536.0) < 2)
    for c in (0, 1):
        zc = Z1 if c else 256 - Z1
        u1 = (X1 * zc + 128) >> 8
        u0 = zc - u1
        w11 = (u1 * Y1 + 128) >> 8
        w00 = (u0 * (256 - Y1) + 128) >> 8
        for corner, expected in ((0, w00), (1, u1 - w11), (2, u0 - w00), (3, w11)):
            np.testing.assert_array_equal(weights[corner + 4 * c], expected)


# ------------------------------- the backend's host logic, with a stand-in for CuPy

class _FakeCuPy:
    """Just enough of CuPy for drr.backends.cuda, running kernels with the host build."""

    float32 = np.float32

    class _OOM(MemoryError):
        pass

    def __init__(self, lib):
        import types

        fake = self
        self.lib, self.launches, self.used, self.limit = lib, [], 0, 0
        self.compiled = []

        class Array:
            def __init__(self, arr, owner=True):
                self.arr = arr
                self.shape, self.dtype = arr.shape, arr.dtype
                if owner:
                    if fake.limit and fake.used + arr.nbytes > fake.limit:
                        raise fake._OOM(f"fake pool limit {fake.limit}")
                    fake.used += arr.nbytes
                    import weakref
                    weakref.finalize(self, fake._free, arr.nbytes)

            def __getitem__(self, key):
                return Array(self.arr[key], owner=False)

        class Kernel:
            def __init__(self, name):
                self.name = name

            def __call__(self, grid, block, args):
                import ctypes as C

                source, ni, nj, nk, poses, n, rows, cols, *tail, out = args
                assert all(isinstance(a, np.int32) for a in (ni, nj, nk, n, rows, cols))
                assert block == (16, 8, 1) and grid == (-(-cols // 16), -(-rows // 8), n)
                assert out.arr.shape == (n, rows, cols) and poses.arr.shape == (n, 8, 3)
                fake.launches.append(int(n))
                p = poses.arr.ctypes.data_as(C.POINTER(C.c_double))
                o = out.arr.ctypes.data_as(C.POINTER(C.c_float))
                if self.name.startswith("drr_siddon"):
                    assert tail == []
                    fake.lib.drr_render_host(
                        source.arr.ctypes.data, int(self.name.endswith("f16")), int(self.name.endswith("count")),
                        int(ni), int(nj), int(nk), p, int(n), int(rows), int(cols), o)
                    return
                (step_mm,) = tail
                assert isinstance(step_mm, np.float64)
                if self.name == "drr_trilinear_tex":
                    assert isinstance(source, fake.TextureObject)
                    vox, half, texture = source.voxels(), source.half, 1
                else:
                    vox, half, texture = source.arr, self.name.endswith("f16"), 0
                assert vox.shape == (int(nk), int(nj), int(ni))
                fake.lib.drr_render_trilinear_host(vox.ctypes.data, int(half), texture, int(ni), int(nj), int(nk),
                                                   p, int(n), int(rows), int(cols), float(step_mm), o)

        class Module:
            def __init__(self, code, options):
                self.code = code
                fake.compiled.append((code, options))

            def get_function(self, name):
                assert re.search(r"void __launch_bounds__\(DRR_TILE_X \* DRR_TILE_Y(, \w+)?\)\n" + name + r"\(",
                                 self.code)
                return Kernel(name)

        class Pool:
            def used_bytes(self):
                return fake.used

            def free_bytes(self):
                return 0

            def get_limit(self):
                return fake.limit

            def set_limit(self, size):
                fake.limit = size

            def free_all_blocks(self):
                pass

        class Device:
            id = 0

            def __init__(self, device=None):
                assert device in (None, 0)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

        # cupy.cuda.texture: checks that the backend asks for exactly the texture the kernel assumes
        runtime = types.SimpleNamespace(
            getDeviceCount=lambda: 1, memGetInfo=lambda: (2**34, 2**35),
            cudaChannelFormatKindFloat=2, cudaResourceTypeArray=0, cudaAddressModeBorder=3,
            cudaAddressModeClamp=1, cudaFilterModeLinear=1, cudaReadModeElementType=0)

        class ChannelFormatDescriptor:
            def __init__(self, x, y, z, w, f):
                assert (y, z, w, f) == (0, 0, 0, runtime.cudaChannelFormatKindFloat) and x in (16, 32)
                self.bits = x

        class CUDAarray:
            def __init__(self, desc, width, height=0, depth=0, flags=0):
                self.desc, self.shape, self.data = desc, (depth, height, width), None
                fake.textures.append(self)

            def copy_from(self, src, stream=None):
                assert isinstance(src, Array) and src.shape == self.shape
                assert src.dtype.itemsize * 8 == self.desc.bits
                self.data = src.arr.copy()

        class ResourceDescriptor:
            def __init__(self, restype, cuArr=None, **kw):
                assert restype == runtime.cudaResourceTypeArray and isinstance(cuArr, CUDAarray)
                self.array = cuArr

        class TextureDescriptor:
            def __init__(self, addressModes=None, filterMode=0, readMode=0, sRGB=None, borderColors=None,
                         normalizedCoords=None, maxAnisotropy=None):
                assert tuple(addressModes) == (runtime.cudaAddressModeBorder,) * 3     # zero outside
                assert filterMode == runtime.cudaFilterModeLinear
                assert readMode == runtime.cudaReadModeElementType
                assert normalizedCoords == 0 and tuple(borderColors or (0,)) == (0,) * len(borderColors or (0,))

        class TextureObject:
            def __init__(self, resource, desc):
                self.array = resource.array
                self.half = resource.array.desc.bits == 16

            def voxels(self):
                return self.array.data

        self.Array, self.RawModule, self._pool, self.TextureObject = Array, Module, Pool(), TextureObject
        self.textures = []
        self.cuda = types.SimpleNamespace(
            Device=Device, memory=types.SimpleNamespace(OutOfMemoryError=self._OOM), runtime=runtime,
            texture=types.SimpleNamespace(ChannelFormatDescriptor=ChannelFormatDescriptor, CUDAarray=CUDAarray,
                                          ResourceDescriptor=ResourceDescriptor,
                                          TextureDescriptor=TextureDescriptor, TextureObject=TextureObject))

    def _free(self, nbytes):
        self.used -= nbytes

    def get_default_memory_pool(self):
        return self._pool

    def asarray(self, a):
        return self.Array(np.array(a, order="C", copy=True))

    def empty(self, shape, dtype):
        return self.Array(np.full(shape, np.nan, dtype=dtype))

    def asnumpy(self, a, out=None):
        out[...] = a.arr
        return out


def test_backend_logic_with_a_stand_in_cupy(tmp_path, monkeypatch):
    """Uploads, launches, chunking, device output and release, with the host build as the 'GPU'."""
    import sys

    import test_kernel_host as kh

    import drr.backends.cuda as cuda_mod

    fake = _FakeCuPy(kh.build_host_library("float", tmp_path))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(cuda_mod, "_MODULES", {})
    assert cuda_unavailable_reason() is None
    assert drr.Renderer(drr.Volume(np.zeros((2, 2, 2))), backend="auto").backend == "cuda"

    vol, geo = random_case(1000, shape_range=(5, 15), n=40, det=(20, 23))
    want = kh.host_render(fake.lib, vol, geo)
    backend = CUDABackend(vol)
    assert fake.compiled[0][1] == cuda_mod.COMPILE_OPTIONS and len(fake.compiled) == 1
    resident = fake.used
    np.testing.assert_array_equal(backend.render(geo), want)
    assert fake.launches == [40] and fake.used == resident          # outputs released
    tr.assert_close(backend.render(geo), render_reference(vol, geo), rtol=1e-5)

    fake.launches.clear()
    fake.limit = resident + 5 * 20 * 23 * 4 + 4000                  # room for ~5 images
    np.testing.assert_array_equal(backend.render(geo), want)
    assert len(fake.launches) > 10 and sum(fake.launches) == 40 and max(fake.launches) <= 5
    with pytest.raises(drr.BackendError, match="device_output"):
        backend.render(geo, device_output=True)
    fake.limit = 0
    dev = backend.render(geo, device_output=True)
    np.testing.assert_array_equal(dev.arr, want)
    del dev

    half = CUDABackend(vol, storage="float16")
    np.testing.assert_array_equal(half.render(geo), kh.host_render(fake.lib, vol, geo, half=True))
    np.testing.assert_array_equal(backend.count_segments(geo), kh.host_render(fake.lib, vol, geo, count=True))
    assert len(fake.compiled) == 1                                     # compiled once per process

    # trilinear: texture (emulated weights) and software filtering, float32 and float16
    from drr.backends.host_build import host_render_trilinear

    step_mm = 0.25 * float(np.min(vol.spacing))
    tex = backend.render(geo, method="trilinear", step=0.25)
    assert len(fake.textures) == 1 and len(fake.compiled) == 2         # trilinear.cu, on first use
    np.testing.assert_array_equal(tex, host_render_trilinear(fake.lib, vol, geo, step_mm=step_mm, texture_weights=True))
    backend.render(geo, method="trilinear", step=0.25)
    assert len(fake.textures) == 1 and len(fake.compiled) == 2         # texture and module reused
    soft = CUDABackend(vol, filtering="software").render(geo, method="trilinear", step=0.25)
    np.testing.assert_array_equal(soft, host_render_trilinear(fake.lib, vol, geo, step_mm=step_mm))
    tr.assert_close(soft, CPUBackend(vol).render(geo, method="trilinear", step=0.25).astype(np.float64))
    np.testing.assert_array_equal(
        half.render(geo, method="trilinear"),
        host_render_trilinear(fake.lib, vol, geo, step_mm=0.5 * float(np.min(vol.spacing)), half=True,
                              texture_weights=True))
    assert fake.textures[-1].data.dtype == np.float16
    soft16 = CUDABackend(vol, storage="float16", filtering="software").render(geo, method="trilinear")
    np.testing.assert_array_equal(soft16, host_render_trilinear(
        fake.lib, vol, geo, step_mm=0.5 * float(np.min(vol.spacing)), half=True))
    with pytest.raises(drr.InputError, match="filtering"):
        CUDABackend(vol, filtering="nearest")
    with pytest.raises(drr.InputError, match="method"):
        backend.render(geo, method="cubic")
    with pytest.raises(drr.InputError, match="too small"):             # the kernel's int sample count
        backend.render(geo, method="trilinear", step=1e-9)
    img = drr.render(vol, geo, backend="cuda", method="trilinear", step=0.25)     # through the Renderer
    np.testing.assert_array_equal(img, tex)
    img = drr.render(vol, geo, backend="cuda", method="trilinear", step=0.25, filtering="software")
    np.testing.assert_array_equal(img, soft)
    with pytest.raises(drr.InputError, match="float16"):
        CUDABackend(vol.with_data(np.full(vol.data.shape, 1e5)), storage="float16")
    half.close()
    backend.close()
    assert fake.used == 0
    with pytest.raises(drr.BackendError, match="closed"):
        backend.render(geo)
