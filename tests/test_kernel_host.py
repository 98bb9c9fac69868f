"""The CUDA kernel's per-ray code, built for the CPU and checked against exact answers.

``drr/kernels/siddon_ray.h`` is the traversal every GPU thread runs.  Here it is
compiled by the host C compiler (``drr/kernels/host_api.c``, with
``host_shim.h`` standing in for CUDA's built-ins) into a shared library, twice:

* ``float`` — ``DRR_REAL=float``, exactly the arithmetic of the GPU build;
* ``double`` — ``DRR_REAL=double``, which must reproduce the Numba backend.

Every backend-parametrized test of ``tests/test_render.py`` is re-run with both
builds standing in for the backend, then the builds are checked against the
Numba backend and the float64 references on random, axis-parallel, in-plane,
grazing and 512-voxel rays, in float16 storage, and in segment-count mode.
"""

from __future__ import annotations

import ctypes
import importlib
import inspect
import itertools
from pathlib import Path

import numpy as np
import pytest

import drr
import test_render as tr
import test_trilinear as tt
from drr.backends.cpu import ray_integral
from drr.backends.cpu_trilinear import ray_integral_trilinear, trilinear
from drr.backends.cpu_backend import CPUBackend
from drr.backends import host_build
from drr.backends.host_build import find_c_compiler, host_render, host_render_trilinear, voxels
from siddon_reference import render_reference, siddon_sum

BUILDS = ("float", "double")


def build_host_library(real: str, directory: Path) -> ctypes.CDLL:
    """The kernels' host build (skips the test when there is no C compiler)."""
    if find_c_compiler() is None:
        pytest.skip("no C compiler (cc, gcc or clang; or $CC) to build the kernels' host library")
    return host_build.build_host_library(real, directory)


@pytest.fixture(scope="session")
def host_libs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("kernel_host")
    return {real: build_host_library(real, directory) for real in BUILDS}


def host_ray(lib, mu, a, b, *, half=False) -> float:
    vox = voxels(mu, half)
    nk, nj, ni = mu.shape
    return lib.drr_ray_integral_host(vox.ctypes.data, int(half), ni, nj, nk, *map(float, a), *map(float, b))


class HostBackend:
    """Stands in for a drr backend: the kernels' host build (``texture_weights``: the texture
    unit's trilinear weights, emulated)."""

    name = "cpu"
    methods = ("siddon", "trilinear")

    def __init__(self, volume, lib, texture_weights=False):
        self._volume, self._lib, self._texture = volume, lib, texture_weights

    def render(self, geometry, *, method="siddon", step=0.5):
        if method == "trilinear":
            step_mm = step * float(np.min(self._volume.spacing))
            return host_render_trilinear(self._lib, self._volume, geometry, step_mm=step_mm,
                                         texture_weights=self._texture)
        return host_render(self._lib, self._volume, geometry)


def max_rel(actual, expected) -> float:
    scale = max(float(np.max(np.abs(expected))), 1e-30)
    return float(np.max(np.abs(np.asarray(actual, np.float64) - expected)) / scale)


# ------------------------------------------- every backend test of test_render.py

def render_test_cases(module):
    """(function, kwargs) for each backend-parametrized test of ``module``."""
    cases = []
    for name, fn in sorted(vars(module).items()):
        if not (name.startswith("test_") and callable(fn)):
            continue
        if "backend" not in inspect.signature(fn).parameters:
            continue
        grids = [m.args for m in getattr(fn, "pytestmark", [])
                 if m.name == "parametrize" and m.args[0] != "backend"]
        names = [[n.strip() for n in g[0].split(",")] for g in grids]
        for values in itertools.product(*[g[1] for g in grids]):
            kwargs = {}
            for keys, value in zip(names, values):
                kwargs.update(zip(keys, value if len(keys) > 1 else (value,)))
            cases.append(pytest.param(fn, kwargs, id=name + "".join(f"-{k}={v}" for k, v in kwargs.items())))
    return cases


RENDER_CASES = render_test_cases(tr)
TRILINEAR_CASES = render_test_cases(tt)


def test_render_cases_were_found():
    names = {p.values[0].__name__ for p in RENDER_CASES}
    assert {"test_uniform_box_equals_chord_length", "test_random_volume_matches_float64_reference",
            "test_ray_in_a_voxel_plane_sees_the_average_of_both_sides",
            "test_float32_output_within_1e_5_on_512_voxel_rays"} <= names
    assert len(RENDER_CASES) >= 15
    names = {p.values[0].__name__ for p in TRILINEAR_CASES}
    assert {"test_uniform_box_equals_chord_length_away_from_edges",
            "test_gaussian_blob_line_integrals_match_closed_form"} <= names


def run_with_host_backend(monkeypatch, lib, fn, kwargs, texture_weights=False):
    render_module = importlib.import_module("drr.render")
    calls = []

    def resolve(name):
        calls.append(name)
        return lambda volume: HostBackend(volume, lib, texture_weights)

    monkeypatch.setattr(render_module, "resolve_backend", resolve)
    fn(backend="cpu", **kwargs)
    assert calls, "the test did not render through the patched backend"


@pytest.mark.parametrize("real", BUILDS)
@pytest.mark.parametrize("fn, kwargs", RENDER_CASES + TRILINEAR_CASES)
def test_render_suite_with_the_kernel_host_build(host_libs, monkeypatch, real, fn, kwargs):
    """The Renderer tests (both methods) pass with the kernels' per-ray code in place of Numba."""
    run_with_host_backend(monkeypatch, host_libs[real], fn, kwargs)


# A tolerance below the texture weights' own error (about 2e-4 on the box's ramps, see
# test_texture_weights_on_the_uniform_box) cannot hold for the texture unit.
TEXTURE_CASES = [c for c in TRILINEAR_CASES if c.values[1].get("rtol", 1.0) >= 1e-3]


@pytest.mark.parametrize("fn, kwargs", TEXTURE_CASES)
def test_trilinear_suite_with_texture_weights(host_libs, monkeypatch, fn, kwargs):
    """The trilinear tests also pass with the texture unit's fixed-point weights (emulated)."""
    run_with_host_backend(monkeypatch, host_libs["float"], fn, kwargs, texture_weights=True)


# --------------------------------------------------- the double build equals Numba

def test_double_build_equals_numba_on_random_segments(host_libs):
    rng = np.random.default_rng(21)
    mu = rng.uniform(0, 1, size=(5, 6, 7)).astype(np.float32)
    worst = 0.0
    for _ in range(400):
        a = rng.uniform(-4, 11, 3)
        b = rng.uniform(-4, 11, 3)
        # axis-parallel and in-plane variants: copy coordinates, snap to planes
        mode = rng.integers(0, 4)
        if mode >= 1:
            ax = rng.integers(0, 3)
            b[ax] = a[ax] = np.round(a[ax]) if mode == 2 else a[ax]
        if mode == 3:
            ax2 = (ax + 1) % 3
            b[ax2] = a[ax2] = np.round(a[ax2])
        want = ray_integral(mu, *a, *b)
        got = host_ray(host_libs["double"], mu, a, b)
        assert got == pytest.approx(want, rel=1e-12, abs=1e-13)
        worst = max(worst, abs(got - want))
    assert worst < 1e-12


@pytest.mark.parametrize("seed", range(3))
def test_double_build_equals_numba_on_random_images(host_libs, seed):
    rng = np.random.default_rng(200 + seed)
    shape = tuple(rng.integers(4, 20, size=3))
    vol = drr.Volume(rng.uniform(0, 0.05, size=shape), spacing=rng.uniform(0.5, 2.0, 3),
                     origin=rng.uniform(-20, 20, 3), direction=tr.random_rotation(rng))
    geo = tr.random_look_at(rng, vol.center(), 40.0, shape=(16, 15), spacing=1.3, n=3, inside=seed == 2)
    numba = CPUBackend(vol).render(geo)
    host = host_render(host_libs["double"], vol, geo)
    assert np.count_nonzero(numba) > 100
    # Both round the same float64 value to float32: at most one float32 ulp apart.
    np.testing.assert_allclose(host, numba, rtol=2.0 ** -23, atol=0)


# ------------------------------------------------ the float build (what the GPU runs)

@pytest.mark.parametrize("seed", range(3))
def test_float_build_on_random_volumes_and_geometries(host_libs, seed):
    rng = np.random.default_rng(300 + seed)
    shape = tuple(rng.integers(3, 12, size=3))
    vol = drr.Volume(rng.uniform(0, 0.05, size=shape), spacing=rng.uniform(0.5, 2.0, 3),
                     origin=rng.uniform(-50, 50, 3), direction=tr.random_rotation(rng))
    geo = tr.random_look_at(rng, vol.center(), 300.0, shape=(7, 6), spacing=2.0, n=3, inside=seed == 2)
    img = host_render(host_libs["float"], vol, geo)
    tr.assert_close(img, render_reference(vol, geo), rtol=1e-5)


def test_float_build_on_random_segments(host_libs):
    rng = np.random.default_rng(22)
    mu = rng.uniform(0, 1, size=(5, 6, 7)).astype(np.float32)
    for _ in range(300):
        a = rng.uniform(-4, 11, 3)
        b = rng.uniform(-4, 11, 3)
        want = siddon_sum(mu, a, b)
        got = host_ray(host_libs["float"], mu, a, b)
        assert abs(got - want) <= 1e-5 * max(want, 1e-3)


def long_rays(rng, n_rays, shape_kji, axis, lateral_slope):
    """Segments from far outside to far outside along grid ``axis``, tilted by ``lateral_slope``."""
    n = np.array(shape_kji[::-1], dtype=np.float64)
    segs = []
    for _ in range(n_rays):
        mid = rng.uniform(0.05, 0.95, 3) * n
        d = rng.normal(size=3) * lateral_slope
        d[axis] = 1.0
        far = 1.5 * n[axis]                                  # source ~ well outside the box
        segs.append((mid - far * d, mid + 2.0 * far * d))
    return segs


@pytest.mark.parametrize("axis, slope, shape", [
    (0, 1.0, (8, 8, 512)),        # oblique: hundreds of crossings on every axis
    (0, 2e-3, (8, 300, 512)),     # almost along i, lateral j coordinate ~ 300: the AP-view case
    (2, 1e-3, (512, 200, 8)),     # almost along k
])
def test_float_build_within_1e_5_on_512_voxel_rays(host_libs, axis, slope, shape):
    rng = np.random.default_rng(23 + axis)
    mu = rng.uniform(0.0, 0.05, size=shape).astype(np.float32)
    for a, b in long_rays(rng, 40, shape, axis, slope):
        want = siddon_sum(mu, a, b)
        got = host_ray(host_libs["float"], mu, a, b)
        assert want > 0
        assert abs(got - want) <= 1e-5 * want, (a, b, got, want)


def test_float_build_on_grazing_and_in_plane_rays(host_libs):
    """Rays on, or within a hair of, the box faces and interior voxel planes."""
    rng = np.random.default_rng(24)
    mu = rng.uniform(0.0, 1.0, size=(6, 7, 9)).astype(np.float32)
    n = np.array([9, 7, 6], dtype=np.float64)
    for _ in range(300):
        a = rng.uniform(-3, 12, 3)
        b = rng.uniform(-3, 12, 3)
        ax = rng.integers(0, 3)
        plane = float(rng.integers(0, n[ax] + 1))
        eps = [0.0, 1e-12, -1e-9, 1e-6][rng.integers(0, 4)]
        a[ax], b[ax] = plane, plane + eps             # in, or grazing, a plane
        want = ray_integral(mu, *a, *b)               # float64 Numba (exact rules for d == 0)
        got_d = host_ray(host_libs["double"], mu, a, b)
        got_f = host_ray(host_libs["float"], mu, a, b)
        assert got_d == pytest.approx(want, rel=1e-12, abs=1e-13)
        assert abs(got_f - want) <= 1e-5 * max(want, 1e-3)
        if eps != 0.0:                                # moving (barely): the 1985 formulation agrees
            assert want == pytest.approx(siddon_sum(mu, a, b), rel=1e-9, abs=1e-9)


# ----------------------------------------------------------------- float16 storage

def test_float16_storage_accuracy(host_libs):
    """fp16 voxels: exact for the rounded volume; <= 2^-11 relative vs the float32 volume."""
    rng = np.random.default_rng(25)
    data = rng.uniform(0.001, 0.05, size=(10, 11, 12)).astype(np.float32)
    vol = drr.Volume(data, spacing=(0.8, 1.1, 1.3), direction=tr.random_rotation(rng))
    rounded = vol.with_data(data.astype(np.float16).astype(np.float32))
    geo = tr.random_look_at(rng, vol.center(), 60.0, shape=(9, 10), spacing=2.0, n=2)
    img = host_render(host_libs["float"], vol, geo, half=True)
    tr.assert_close(img, render_reference(rounded, geo), rtol=1e-5)
    ref = render_reference(vol, geo)
    hit = ref > 0
    rel = np.abs(img[hit].astype(np.float64) - ref[hit]) / ref[hit]
    assert 1e-5 < rel.max() <= 2.0 ** -11          # the rounding shows, within its bound


def test_half_conversion_of_every_float16(host_libs):
    """The shim's binary16 -> float agrees with NumPy on all 65536 bit patterns (NaN aside)."""
    bits = np.arange(65536, dtype=np.uint16)
    want = bits.view(np.float16).astype(np.float32)
    ok = np.isfinite(want)
    # one voxel per pattern, read by an axis-parallel ray of t-length 1 through it
    mu = want.copy()
    mu[~ok] = 0
    vol16 = mu.astype(np.float16).reshape(1, 1, -1)
    got = np.empty(65536)
    lib = host_libs["double"]
    for idx in np.flatnonzero(ok)[::97]:
        got[idx] = lib.drr_ray_integral_host(vol16.ctypes.data, 1, 65536, 1, 1,
                                             idx + 0.0, 0.5, 0.5, idx + 1.0, 0.5, 0.5)
        assert got[idx] == want[idx], (hex(idx), got[idx], want[idx])


# ---------------------------------------------------------------------- count mode

def reference_segments(mu, a, b) -> int:
    """The number of positive-length in-volume pieces of the 1985 formulation."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    n = np.array(mu.shape[::-1])
    ts = [np.array([0.0, 1.0])]
    for ax in range(3):
        if d[ax] != 0:
            t = (np.arange(n[ax] + 1) - a[ax]) / d[ax]
            ts.append(t[(t > 0) & (t < 1)])
    t = np.unique(np.concatenate(ts))
    mid = a + 0.5 * (t[:-1] + t[1:])[:, None] * d
    idx = np.floor(mid).astype(np.int64)
    return int(np.sum(np.all((idx >= 0) & (idx < n), axis=1)))


@pytest.mark.parametrize("real", BUILDS)
def test_count_mode_counts_segments(host_libs, real):
    rng = np.random.default_rng(26)
    vol = drr.Volume(rng.uniform(0, 0.05, size=(9, 10, 11)), direction=tr.random_rotation(rng))
    geo = tr.random_look_at(rng, vol.center(), 40.0, shape=(5, 6), spacing=2.0, n=2)
    counts = host_render(host_libs[real], vol, geo, count=True)
    A, bb = vol.world_to_grid_affine()
    src = geo.source @ A.T + bb
    pix = geo.pixel_centers() @ A.T + bb
    want = np.array([[[reference_segments(vol.data, src[n], pix[n, r, c]) for c in range(6)]
                      for r in range(5)] for n in range(2)])
    assert want.max() > 10
    np.testing.assert_array_equal(counts, want)


# ------------------------------------------------------ the trilinear renderer (trilinear.cu)

def host_sample(lib, mu, p, *, half=False, texture=False) -> float:
    vox = voxels(mu, half)
    nk, nj, ni = mu.shape
    return lib.drr_trilinear_sample_host(vox.ctypes.data, int(half), int(texture), ni, nj, nk, *map(float, p))


def host_trilinear_ray(lib, mu, a, b, step_t, *, half=False, texture=False) -> float:
    vox = voxels(mu, half)
    nk, nj, ni = mu.shape
    return lib.drr_trilinear_ray_host(vox.ctypes.data, int(half), int(texture), ni, nj, nk,
                                      *map(float, a), *map(float, b), float(step_t))


def test_double_build_trilinear_equals_numba(host_libs):
    lib = host_libs["double"]
    rng = np.random.default_rng(31)
    mu = rng.uniform(0, 1, size=(5, 6, 7)).astype(np.float32)
    for _ in range(300):                                 # samples, inside, on the padding, outside
        p = rng.uniform(-1.5, 8.5, 3)
        assert host_sample(lib, mu, p) == pytest.approx(trilinear(mu, *p), rel=1e-14, abs=1e-15)
    for _ in range(300):
        a, b = rng.uniform(-4, 11, 3), rng.uniform(-4, 11, 3)
        mode = rng.integers(0, 3)
        if mode:                                         # axis-parallel, or on a voxel-centre plane
            ax = rng.integers(0, 3)
            a[ax] = b[ax] = (np.round(a[ax]) + 0.5) if mode == 2 else a[ax]
        step_t = rng.uniform(0.005, 0.3)
        want = ray_integral_trilinear(mu, *a, *b, step_t)
        assert host_trilinear_ray(lib, mu, a, b, step_t) == pytest.approx(want, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("seed", range(3))
def test_float_build_trilinear_equals_the_cpu_backend(host_libs, seed):
    rng = np.random.default_rng(320 + seed)
    shape = tuple(rng.integers(4, 20, size=3))
    vol = drr.Volume(rng.uniform(0, 0.05, size=shape), spacing=rng.uniform(0.5, 2.0, 3),
                     origin=rng.uniform(-20, 20, 3), direction=tr.random_rotation(rng))
    geo = tr.random_look_at(rng, vol.center(), 40.0, shape=(16, 15), spacing=1.3, n=3, inside=seed == 2)
    step = [0.5, 0.25, 1.0][seed]
    cpu = CPUBackend(vol).render(geo, method="trilinear", step=step)
    host = host_render_trilinear(host_libs["float"], vol, geo, step_mm=step * float(np.min(vol.spacing)))
    assert np.count_nonzero(cpu) > 30
    tr.assert_close(host, cpu.astype(np.float64), rtol=1e-5)


def test_float16_storage_trilinear(host_libs):
    """fp16 voxels: the exact-weight renderer of the rounded volume, within 2^-11 of float32."""
    rng = np.random.default_rng(33)
    data = rng.uniform(0.001, 0.05, size=(10, 11, 12)).astype(np.float32)
    vol = drr.Volume(data, spacing=(0.8, 1.1, 1.3), direction=tr.random_rotation(rng))
    rounded = vol.with_data(data.astype(np.float16).astype(np.float32))
    geo = tr.random_look_at(rng, vol.center(), 60.0, shape=(9, 10), spacing=2.0, n=2)
    img = host_render_trilinear(host_libs["float"], vol, geo, step_mm=0.4, half=True)
    want = CPUBackend(rounded).render(geo, method="trilinear", step=0.5).astype(np.float64)
    tr.assert_close(img, want, rtol=1e-5)
    full = CPUBackend(vol).render(geo, method="trilinear", step=0.5).astype(np.float64)
    hit = full > 1e-3
    assert 1e-5 < np.max(np.abs(img[hit] - full[hit]) / full[hit]) <= 2.0 ** -11


# ------------------------------------------- the texture unit's weights (emulated on the CPU)

TEXTURE_READINGS = Path(__file__).parent / "data" / "texture_unit_weights.npz"


@pytest.mark.parametrize("real", BUILDS)
def test_texture_weights_reproduce_the_card_readings(host_libs, real):
    """drr_texture_unit_trilinear's corner weights equal 4,000 read off an H200 (2x2x2 textures
    holding a single 1, at fractions that are multiples of 1/256, rounding ties included; the
    full table of 3.67 M readings follows the same rule), exactly."""
    data = np.load(TEXTURE_READINGS)
    lib = host_libs[real]
    deltas = []
    for c in range(8):
        mu = np.zeros((2, 2, 2), np.float32)
        mu[c >> 2, (c >> 1) & 1, c & 1] = 1.0
        deltas.append(mu)
    got = np.array([256 * host_sample(lib, deltas[c], (0.5 + x / 256, 0.5 + y / 256, 0.5 + z / 256), texture=True)
                    for c, x, y, z in zip(data["corner"], data["x1"], data["y1"], data["z1"])])
    assert np.count_nonzero(data["weight"] != np.round(data["weight"])) == 0
    np.testing.assert_array_equal(got, data["weight"])
    exact = np.array([256 * host_sample(host_libs["double"], deltas[c], (0.5 + x / 256, 0.5 + y / 256, 0.5 + z / 256))
                      for c, x, y, z in zip(data["corner"], data["x1"], data["y1"], data["z1"])])
    assert 0.5 < np.max(np.abs(got - exact)) < 1.0        # the card's corner rounding shows


TEXTURE_RANDOM_READINGS = Path(__file__).parent / "data" / "texture_unit_random_weights.npz"


def test_texture_weights_reproduce_the_card_at_random_fractions(host_libs):
    """All 8 corner weights at 1,000 random fractions (multiples of 2^-20) read off an H200
    (benchmarks/texture_probe.py section 5), exactly.  Among them the 8 of 200,000 readings that
    a rule rounding each fraction within its cell gets wrong: the unit rounds the coordinate
    first, so a fraction that rounds to 1 moves to the next cell, where a tie across y rounds
    the other corner (e.g. f * 256 = (255.53, 226.45, 64.48): weights 23 and 169, not 22 and 170)."""
    data = np.load(TEXTURE_RANDOM_READINGS)
    f, want = data["f"], data["weight"]
    lib = host_libs["float"]
    got = np.empty(want.shape)
    for c in range(8):
        d = np.array([c & 1, (c >> 1) & 1, (c >> 2) & 1])
        mu = np.zeros((4, 4, 4), np.float32)
        mu[2, 2, 2] = 1.0
        for n in range(f.shape[1]):
            got[c, n] = 256 * host_sample(lib, mu, tuple(2 - d + 0.5 + f[:, n]), texture=True)
    assert np.array_equal(got, want)
    assert np.count_nonzero(np.floor(f * 256 + 0.5) == 256) >= 200      # the cases that need the cell rule


TEXTURE_HALF_FETCHES = Path(__file__).parent / "data" / "texture_unit_half_fetches.npz"


def test_texture_emulation_reproduces_half_float_fetches(host_libs):
    """1,000 tex3D fetches of a half-float texture read off an H200: the unit filters with its
    weights, sums exactly and rounds the result to binary16, and so does the emulation (ties
    and sums that the card's accumulator rounds differently aside: >= 99 % exact, all within
    one binary16 step).  Rounding to float32 instead matches almost none."""
    data = np.load(TEXTURE_HALF_FETCHES)
    mu, pts, want = data["vox"].astype(np.float32), data["points"].astype(np.float64), data["fetch"]
    lib = host_libs["float"]
    got = np.array([host_sample(lib, mu, pts[:, n], half=True, texture=True) for n in range(len(want))])
    step = np.spacing(np.abs(want).astype(np.float16)).astype(np.float64)
    assert np.count_nonzero(got == want) >= 990
    assert np.all(np.abs(got - want) <= step)
    unrounded = np.array([host_sample(lib, mu, pts[:, n], texture=True) for n in range(len(want))])
    assert np.count_nonzero(unrounded == want) < 100


@pytest.mark.parametrize("axis, changes, weights", [
    (0, [8, 40, 72, 104, 136, 168], [2, 4, 6, 8, 10, 12]),
    (1, [24, 40, 88, 104, 152, 168], [2, 4, 6, 8, 10, 12]),
    (2, [8, 24, 40, 56, 72, 88], [1, 2, 3, 4, 5, 6]),
])
def test_texture_weights_reproduce_the_card_sweeps(host_libs, axis, changes, weights):
    """Read off an H200 (benchmarks/texture_probe.py section 1): texels equal to their index along
    one axis, sampled at 37 + 1/2 + m/4096 on it and at fraction 1/2 on the others.  The weight
    (value - 37) first changes at these m, to these multiples of 1/256: along x and y in steps of
    2/256 with ties resolved differently, along z in steps of 1/256 (the order of the rounding)."""
    shape = [4, 4, 4]
    shape[2 - axis] = 64
    mu = np.indices(shape)[2 - axis].astype(np.float32)
    lib = host_libs["float"]
    w = []
    for m in range(200):
        p = [2.0, 2.0, 2.0]
        p[axis] = 37.5 + m / 4096
        w.append(round((host_sample(lib, mu, p, texture=True) - 37) * 256, 6))
    w = np.array(w)
    steps = np.flatnonzero(np.diff(w)) + 1
    assert steps[:6].tolist() == changes
    assert w[steps[:6]].tolist() == weights


def test_texture_weight_rounding_reproduces_a_hardware_reading(host_libs):
    """tex1D between texels 1 and 2 at fraction 0.1 returns 1 + 26/256 = 1.1015625 on NVIDIA
    hardware (NVIDIA developer forum, "tex1D accuracy"): fractions are rounded to the nearest
    1/256, not truncated (that would give 25/256)."""
    mu = np.array([[[1.0, 2.0]]], np.float32)                      # ni = 2, nj = nk = 1
    lib = host_libs["float"]
    for frac, want in [(0.1, 1 + 26 / 256), (0.2, 1 + 51 / 256), (0.3, 1 + 77 / 256), (0.5, 1.5)]:
        p = (0.5 + frac, 0.5, 0.5)                                  # texel centres at 0.5 and 1.5
        assert host_sample(lib, mu, p, texture=True) == want
        assert host_sample(lib, mu, p) == pytest.approx(1 + frac, rel=1e-7)


def test_texture_weight_error_is_within_its_bound(host_libs):
    """The eight weights' errors sum to zero and their magnitudes to < 8/256, so the texture
    sample is within (8/256) * (max - min) / 2 of the exact one over the cell's texels."""
    lib = host_libs["double"]
    rng = np.random.default_rng(34)
    mu = rng.uniform(0, 1, size=(6, 7, 8)).astype(np.float32)
    pad = np.pad(mu.astype(np.float64), 1)
    worst = 0.0
    for _ in range(2000):
        p = rng.uniform(-0.4, np.array(mu.shape[::-1]) + 0.4)
        i, j, k = (np.floor(p - 0.5).astype(int) + 1)              # cell corner in the padded array
        cell = pad[k:k + 2, j:j + 2, i:i + 2]
        bound = (cell.max() - cell.min()) / 64 + 1e-12
        err = abs(host_sample(lib, mu, p, texture=True) - host_sample(lib, mu, p))
        assert err <= bound
        worst = max(worst, err / bound)
    assert worst > 0.1                                              # the rounding shows


def test_texture_weights_on_the_uniform_box(host_libs):
    """The box of test_trilinear's chord test at step 0.05: with texture weights only the
    zero-padded ramps at the faces change (the interior is uniform), by ~1e-4 of the chord."""
    rng = np.random.default_rng(22)
    vol = tr.box_volume(shape_kji=(20, 20, 20), spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0))
    geo = tr.random_look_at(rng, vol.center(), 60.0, shape=(7, 7), spacing=0.8, n=4)
    exact = host_render_trilinear(host_libs["double"], vol, geo, step_mm=0.05).astype(np.float64)
    tex = host_render_trilinear(host_libs["double"], vol, geo, step_mm=0.05, texture_weights=True)
    hit = exact > 0.1
    rel = np.abs(tex[hit] - exact[hit]) / exact[hit]
    assert hit.sum() > 100
    assert 1e-6 < np.median(rel) < 1e-4 and rel.max() < 1e-3


@pytest.mark.parametrize("real", BUILDS)
def test_host_build_compiles_without_warnings(real, tmp_path):
    """-Wall -Wextra as errors: what the GPU compile (nvcc -Werror all-warnings) asks of the device side."""
    import subprocess

    cc = find_c_compiler()
    if cc is None:
        pytest.skip("no C compiler")
    kdir = host_build.kernel_dir()
    cmd = cc.split() + ["-O2", "-shared", "-fPIC", "-std=c99", "-ffp-contract=off", "-Wall", "-Wextra",
                        "-Werror", f"-DDRR_REAL={real}", f"-I{kdir}", str(kdir / "host_api.c"),
                        "-o", str(tmp_path / "lib.so"), "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
