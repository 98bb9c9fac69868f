"""The CUDA backend.  Tests marked ``gpu`` need CuPy and a CUDA device and are skipped otherwise.

On a GPU the kernel must agree with the float64 reference (1e-5 relative), with
the Numba backend, and with the kernel's own host build (tests/test_kernel_host.py),
which runs the same per-ray code with the same float arithmetic.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import drr
import test_render as tr
from drr.backends import cuda_unavailable_reason
from drr.backends.cpu_backend import CPUBackend
from drr.backends.cuda import MAX_GRID_Z, CUDABackend, plan_chunks
from siddon_reference import render_reference
from test_kernel_host import RENDER_CASES

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
def test_auto_picks_cuda():
    assert drr.Renderer(drr.Volume(np.zeros((2, 2, 2))), backend="auto").backend == "cuda"


@pytest.mark.gpu
@pytest.mark.skipif(REASON is not None, reason=f"no CUDA backend: {REASON}")
def test_float16_storage_within_its_bound():
    vol, geo = random_case(600, shape_range=(30, 60), det=(30, 30))
    ref = CPUBackend(vol).render(geo).astype(np.float64)
    img = CUDABackend(vol, storage="float16").render(geo)
    hit = ref > 1e-3
    rel = np.abs(img[hit] - ref[hit]) / ref[hit]
    assert rel.max() <= 2.0 ** -11 + 1e-5


@pytest.mark.gpu
@pytest.mark.skipif(REASON is not None, reason=f"no CUDA backend: {REASON}")
def test_batch_equals_single_renders_and_device_output():
    import cupy

    vol, geo = random_case(700, n=9, det=(33, 17))
    backend = CUDABackend(vol)
    batch = backend.render(geo)
    for n in range(len(geo)):
        np.testing.assert_array_equal(backend.render(geo[n])[0], batch[n])
    dev = backend.render(geo, device_output=True)
    assert isinstance(dev, cupy.ndarray) and dev.dtype == cupy.float32 and dev.shape == batch.shape
    np.testing.assert_array_equal(cupy.asnumpy(dev), batch)
    np.testing.assert_array_equal(cupy.asnumpy(cupy.from_dlpack(dev)), batch)    # DLPack export


@pytest.mark.gpu
@pytest.mark.skipif(REASON is not None, reason=f"no CUDA backend: {REASON}")
def test_device_memory_is_released():
    import cupy

    pool = cupy.get_default_memory_pool()
    cupy.cuda.Device().synchronize()
    before = pool.used_bytes()
    vol, geo = random_case(800, shape_range=(60, 61), n=16, det=(64, 64))
    backend = CUDABackend(vol)
    resident = pool.used_bytes() - before
    assert resident >= vol.data.nbytes
    for _ in range(3):
        backend.render(geo)
    assert pool.used_bytes() - before == resident          # only the volume stays
    backend.close()
    assert pool.used_bytes() == before
    with pytest.raises(drr.BackendError, match="closed"):
        backend.render(geo)


@pytest.mark.gpu
@pytest.mark.skipif(REASON is not None, reason=f"no CUDA backend: {REASON}")
def test_batch_larger_than_device_memory_is_chunked():
    """A CuPy pool limit makes the 'device' smaller than the batch's output."""
    import cupy

    vol, geo = random_case(900, shape_range=(20, 40), n=48, det=(128, 128))   # 3 MiB of images
    backend = CUDABackend(vol)
    full = backend.render(geo)
    pool = cupy.get_default_memory_pool()
    old_limit = pool.get_limit()
    try:
        pool.set_limit(size=pool.used_bytes() + 512 * 1024)   # room for ~4 images at a time
        chunked = backend.render(geo)
        with pytest.raises(drr.BackendError, match="device_output"):
            backend.render(geo, device_output=True)
    finally:
        pool.set_limit(size=old_limit)
    np.testing.assert_array_equal(chunked, full)
