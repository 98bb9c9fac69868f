"""The trilinear (interpolating) renderer: an independent interpolator, a uniform box, a Gaussian blob."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import map_coordinates

import drr
from drr.backends.cpu_trilinear import ray_integral_trilinear
from test_render import BACKENDS, box_volume, expected_box_image, random_look_at


def reference_trilinear(mu, a, b, step_t):
    """The same trapezoid rule, with scipy's map_coordinates as the interpolator (float64)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    n = np.array(mu.shape[::-1])
    d = b - a
    t_lo, t_hi = 0.0, 1.0
    for ax in range(3):
        if d[ax] == 0:
            if not (-0.5 < a[ax] < n[ax] + 0.5):
                return 0.0
            continue
        t0, t1 = sorted(((-0.5 - a[ax]) / d[ax], (n[ax] + 0.5 - a[ax]) / d[ax]))
        t_lo, t_hi = max(t_lo, t0), min(t_hi, t1)
    if t_lo >= t_hi:
        return 0.0
    m = max(1, int(np.ceil((t_hi - t_lo) / step_t)))
    t = t_lo + np.arange(m + 1) * (t_hi - t_lo) / m
    g = a + t[:, None] * d - 0.5                     # grid -> continuous voxel index (i, j, k)
    f = map_coordinates(mu.astype(np.float64), g[:, ::-1].T, order=1, mode="grid-constant", cval=0.0)
    w = np.ones(m + 1)
    w[[0, -1]] = 0.5
    return float(np.sum(w * f) * (t_hi - t_lo) / m)


def test_matches_scipy_interpolation_on_random_segments():
    rng = np.random.default_rng(21)
    mu = rng.uniform(0, 1, size=(5, 6, 7)).astype(np.float32)
    for _ in range(200):
        a, b = rng.uniform(-3, 10, 3), rng.uniform(-3, 10, 3)
        step_t = rng.uniform(0.01, 0.2)
        got = ray_integral_trilinear(mu, *a, *b, step_t)
        assert got == pytest.approx(reference_trilinear(mu, a, b, step_t), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("step, rtol", [(0.5, 5e-3), (0.05, 1e-4)])
def test_uniform_box_equals_chord_length_away_from_edges(backend, step, rtol):
    """Zero padding makes the field ramp over the outer half voxel; the ramps integrate to the
    missing half voxels, so rays through the faces (not near edges) see the chord length.
    The trapezoid rule's error at the ramps' kinks shrinks with the step."""
    rng = np.random.default_rng(22)
    vol = box_volume(shape_kji=(20, 20, 20), spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0))
    geo = random_look_at(rng, vol.center(), 60.0, shape=(7, 7), spacing=0.8, n=4)
    img = drr.render(vol, geo, backend=backend, method="trilinear", step=step)
    want = expected_box_image(vol, geo, 0.037)
    # keep rays that enter and leave through faces at least 1.5 voxels from any edge
    lo, hi = np.array([-0.5] * 3), np.array([19.5] * 3)
    pix = geo.pixel_centers()
    keep = np.zeros(want.shape, bool)
    for n in range(len(geo)):
        s = geo.source[n]
        for r in range(7):
            for c in range(7):
                d = pix[n, r, c] - s
                ts = np.sort(np.r_[(lo - s) / d, (hi - s) / d])
                t_in, t_out = ts[2], ts[3]
                ends = [s + t * d for t in (t_in, t_out)]
                near_edge = [np.sum(np.minimum(np.abs(e - lo), np.abs(e - hi)) < 1.5) for e in ends]
                keep[n, r, c] = t_in < t_out and max(near_edge) <= 1
    assert keep.sum() > 50
    np.testing.assert_allclose(img[keep], want[keep], rtol=rtol)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gaussian_blob_line_integrals_match_closed_form(backend):
    """f = A exp(-|x-c|^2 / 2 s^2) on 1 mm voxels, s = 4 mm: an infinite line at distance p from c
    integrates to A s sqrt(2 pi) exp(-p^2 / 2 s^2).  Both methods sit within the discretization
    error; the interpolating one is smooth across pixels."""
    s, A = 4.0, 0.05
    n = 41
    x = np.arange(n) - (n - 1) / 2
    zz, yy, xx = np.meshgrid(x, x, x, indexing="ij")
    vol = drr.Volume(A * np.exp(-(xx**2 + yy**2 + zz**2) / (2 * s**2)), origin=(x[0],) * 3)
    geo = drr.Geometry((0.0, 0.0, -500.0), (0.0, 0.0, 500.0), (1, 0, 0), (0, 1, 0), 0.5, (1, 25))
    pix = geo.pixel_centers()[0, 0]
    # perpendicular distance of each ray from the blob's centre (the origin)
    d = pix - geo.source[0]
    p = np.linalg.norm(np.cross(d, -geo.source[0]), axis=1) / np.linalg.norm(d, axis=1)
    exact = A * s * np.sqrt(2 * np.pi) * np.exp(-p**2 / (2 * s**2))
    tri = drr.render(vol, geo, backend=backend, method="trilinear", step=0.25)[0]
    sid = drr.render(vol, geo, backend=backend)[0]
    assert np.max(np.abs(tri - exact)) / exact.max() < 0.01
    assert np.max(np.abs(sid - exact)) / exact.max() < 0.05      # the staircase
    # Siddon's image is a staircase across the 1 mm voxels (0.5 mm pixels); trilinear's is
    # piecewise linear: its largest second difference across the row is far below Siddon's.
    curv = lambda v: np.abs(np.diff(v, 2)).max()  # noqa: E731
    assert curv(tri) < curv(sid) / 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_method_and_step_are_validated_and_selectable(backend):
    vol = drr.Volume(np.ones((3, 3, 3), np.float32) * 0.01)
    geo = drr.Geometry((1, 1, -50), (1, 1, 50), (1, 0, 0), (0, 1, 0), 1.0, (2, 2))
    with pytest.raises(drr.InputError, match="method"):
        drr.render(vol, geo, method="cubic")
    with pytest.raises(drr.InputError, match="step"):
        drr.render(vol, geo, method="trilinear", step=0)
    a = drr.render(vol, geo, backend=backend, method="trilinear", step=0.1)
    b = drr.render(vol, geo, backend=backend, method="trilinear", step=1.0)
    assert a.shape == (2, 2) and np.all(a > 0) and not np.array_equal(a, b)


def test_filtering_is_validated_and_needs_cuda():
    vol = drr.Volume(np.ones((3, 3, 3), np.float32) * 0.01)
    with pytest.raises(drr.InputError, match="`filtering` must be one of"):
        drr.Renderer(vol, backend="cpu", filtering="nearest")
    with pytest.raises(drr.InputError, match="needs backend 'cuda'"):
        drr.Renderer(vol, backend="cpu", filtering="software")
    assert drr.Renderer(vol, backend="cpu", filtering="texture").backend == "cpu"
