"""Geometry: pixel centres, constructors, projection matrices, degenerate input."""

from __future__ import annotations

import numpy as np
import pytest

import drr
from drr import Geometry


def test_pixel_centres_follow_the_documented_formula():
    g = Geometry(source=(0, 0, -100), center=(1, 2, 3), u=(1, 0, 0), v=(0, 1, 0),
                 pixel_spacing=(0.5, 2.0), shape=(3, 4))
    pix = g.pixel_centers()
    assert pix.shape == (1, 3, 4, 3)
    for r in range(3):
        for c in range(4):
            want = np.array([1, 2, 3]) + (c - 1.5) * 0.5 * np.array([1, 0, 0]) + (r - 1.0) * 2.0 * np.array([0, 1, 0])
            np.testing.assert_allclose(pix[0, r, c], want)


def test_look_at_is_perpendicular_and_reads_like_a_pa_film():
    # PA chest: source posterior (+y), board anterior; superior (+z) at the top.
    g = Geometry.look_at((0, 1000, 0), (0, -500, 0), up=(0, 0, 1), shape=(5, 5), pixel_spacing=1.0)
    np.testing.assert_allclose(g.u[0], [1, 0, 0], atol=1e-12)    # columns run toward patient's left
    np.testing.assert_allclose(g.v[0], [0, 0, -1], atol=1e-12)   # rows run toward the feet
    beam = g.center[0] - g.source[0]
    assert abs(np.dot(beam, g.u[0])) < 1e-9 and abs(np.dot(beam, g.v[0])) < 1e-9
    assert g.source_to_detector_distance()[0] == pytest.approx(1500.0)


def test_carm_angles():
    g = Geometry.carm((10, 20, 30), sid=700, sdd=1200, shape=(4, 4), pixel_spacing=1.0)
    np.testing.assert_allclose(g.source[0], [10, 720, 30])              # posterior, under the table
    np.testing.assert_allclose(g.center[0], [10, 20 - 500, 30])
    lao = Geometry.carm((0, 0, 0), sid=700, sdd=1200, primary_deg=90, shape=(4, 4), pixel_spacing=1.0)
    np.testing.assert_allclose(lao.center[0], [500, 0, 0], atol=1e-9)    # detector at patient's left
    cran = Geometry.carm((0, 0, 0), sid=700, sdd=1200, secondary_deg=90, shape=(4, 4), pixel_spacing=1.0)
    np.testing.assert_allclose(cran.center[0], [0, 0, 500], atol=1e-9)   # detector at the head
    batch = Geometry.carm((0, 0, 0), sid=700, sdd=1200, primary_deg=[0, 30, 60], shape=(4, 4),
                          pixel_spacing=1.0)
    assert len(batch) == 3 and batch.batched
    assert np.allclose(np.linalg.norm(batch.source, axis=1), 700)


@pytest.mark.parametrize("seed", range(3))
def test_projection_matrix_round_trip(seed):
    rng = np.random.default_rng(seed)
    g = Geometry.look_at(rng.normal(size=3) * 500, rng.normal(size=3) * 50, up=rng.normal(size=3),
                         shape=(7, 9), pixel_spacing=(0.7, 1.1))
    P = g.projection_matrices()[0]
    # Every pixel centre projects onto its own (col, row).
    pix = g.pixel_centers()[0]
    h = np.c_[pix.reshape(-1, 3), np.ones(63)] @ P.T
    cr = h[:, :2] / h[:, 2:]
    rr, cc = np.mgrid[0:7, 0:9]
    np.testing.assert_allclose(cr, np.c_[cc.ravel(), rr.ravel()], atol=1e-9)
    assert np.all(h[:, 2] > 0)
    back = Geometry.from_projection_matrix(P * 3.5, shape=(7, 9), pixel_spacing=(0.7, 1.1))
    for name in ("source", "center", "u", "v", "pixel_spacing"):
        np.testing.assert_allclose(getattr(back, name), getattr(g, name), atol=1e-8)


def test_batches_broadcast_and_index():
    g = Geometry(source=[[0, 0, -100], [0, 0, -200]], center=(0, 0, 50), u=(1, 0, 0), v=(0, 1, 0),
                 pixel_spacing=1.0, shape=(2, 3))
    assert len(g) == 2 and g.batched
    assert not g[1].batched and np.allclose(g[1].source, [[0, 0, -200]])
    s = Geometry.stack([g, g[0]])
    assert len(s) == 3


@pytest.mark.parametrize("kwargs, match", [
    (dict(u=(1, 0, 0.1)), "unit"),
    (dict(v=(1, 0, 0)), "perpendicular"),
    (dict(pixel_spacing=(0, 1)), "pixel_spacing"),
    (dict(pixel_spacing=(1, -1)), "pixel_spacing"),
    (dict(source=(0, 0, 5)), "detector plane"),
    (dict(source=(np.nan, 0, -5)), "finite"),
    (dict(shape=(0, 3)), "shape"),
    (dict(shape=(2.5, 3)), "shape"),
    (dict(center=[[0, 0, 5], [0, 0, 6], [0, 0, 7]], source=[[0, 0, -5], [0, 0, -6]]), "batch"),
    (dict(u=(1, 0)), "shape"),
])
def test_degenerate_geometry_is_refused(kwargs, match):
    args = dict(source=(0, 0, -5), center=(0, 0, 5), u=(1, 0, 0), v=(0, 1, 0), pixel_spacing=1.0,
                shape=(2, 3))
    args.update(kwargs)
    with pytest.raises(drr.GeometryError, match=match):
        Geometry(**args)


def test_degenerate_constructor_input_is_refused():
    with pytest.raises(drr.GeometryError, match="up"):
        Geometry.look_at((0, 0, 0), (0, 0, 10), up=(0, 0, 1), shape=(2, 2), pixel_spacing=1)
    with pytest.raises(drr.GeometryError, match="sid"):
        Geometry.carm((0, 0, 0), sid=1000, sdd=900, shape=(2, 2), pixel_spacing=1)
    with pytest.raises(drr.GeometryError, match="shape"):
        Geometry.from_projection_matrix(np.eye(3), shape=(2, 2), pixel_spacing=1)
    P = Geometry.look_at((0, 0, -100), (0, 0, 100), up=(0, 1, 0), shape=(2, 2),
                         pixel_spacing=(1, 2)).projection_matrices()[0]
    with pytest.raises(drr.GeometryError, match="aspect"):
        Geometry.from_projection_matrix(P, shape=(2, 2), pixel_spacing=(1, 1))
