"""Volume geometry and validation; HU -> mu."""

from __future__ import annotations

import numpy as np
import pytest

import drr


def test_volume_index_world_round_trip_and_corners():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    v = drr.Volume(np.zeros((2, 3, 4)), spacing=(0.5, 1.0, 2.0), origin=(10, 20, 30), direction=q)
    assert v.shape_ijk == (4, 3, 2)
    ijk = rng.uniform(-1, 5, size=(10, 3))
    np.testing.assert_allclose(v.world_to_index(v.index_to_world(ijk)), ijk, atol=1e-12)
    np.testing.assert_allclose(v.index_to_world([0, 0, 0]), [10, 20, 30])
    np.testing.assert_allclose(v.index_to_world([1, 0, 0]), np.array([10, 20, 30]) + 0.5 * q[:, 0])
    A, b = v.world_to_grid_affine()
    np.testing.assert_allclose(A @ v.index_to_world([1, 2, 1]) + b, [1.5, 2.5, 1.5], atol=1e-12)
    # the box's 8 corners are half a voxel outside the outer voxel centres
    assert v.corners().shape == (8, 3)
    np.testing.assert_allclose(A @ v.corners().T + b[:, None] >= -1e-12, True)


def test_volume_copies_and_is_read_only():
    a = np.ones((2, 2, 2))
    v = drr.Volume(a)
    a[0, 0, 0] = 5
    assert v.data[0, 0, 0] == 1 and v.data.dtype == np.float32
    with pytest.raises(ValueError):
        v.data[0, 0, 0] = 3


@pytest.mark.parametrize("kwargs, match", [
    (dict(data=np.zeros((2, 2))), "3-D"),
    (dict(data=np.zeros((0, 2, 2))), "empty"),
    (dict(data=np.full((2, 2, 2), np.nan)), "finite"),
    (dict(spacing=(1, 0, 1)), "spacing"),
    (dict(spacing=(1, 1)), "spacing"),
    (dict(origin=(0, np.inf, 0)), "origin"),
    (dict(direction=np.diag([1, 2, 1])), "orthonormal"),
    (dict(direction=np.eye(2)), "direction"),
    (dict(units="kg"), "units"),
    (dict(data="abc"), "data"),
])
def test_bad_volume_input(kwargs, match):
    args = dict(data=np.zeros((2, 2, 2)))
    args.update(kwargs)
    with pytest.raises(drr.VolumeError, match=match):
        drr.Volume(**args)


def test_mu_water_matches_nist_table_points():
    # NISTIR 5632, water: mu/rho at 60, 80, 100 keV (cm^2/g); density 1 g/cm^3; /10 -> 1/mm
    for e, mu_rho in ((60, 0.2059), (80, 0.1837), (100, 0.1707)):
        assert drr.mu_water(e) == pytest.approx(mu_rho / 10, rel=1e-12)
    # log-log interpolation is monotone between table points
    assert drr.mu_water(80) < drr.mu_water(70) < drr.mu_water(60)


def test_hu_to_mu():
    mw = drr.mu_water(70)
    got = drr.hu_to_mu(np.array([-1000.0, 0.0, 1000.0, -3024.0]), energy_kev=70)
    np.testing.assert_allclose(got, [0.0, mw, 2 * mw, 0.0], rtol=1e-6)
    assert got.dtype == np.float32
    with pytest.raises(drr.InputError, match="energy_kev"):
        drr.hu_to_mu([0.0], energy_kev=5)
    vol = drr.Volume(np.zeros((2, 2, 2)), units="HU").to_mu(energy_kev=60)
    assert vol.units == "mu" and vol.data[0, 0, 0] == pytest.approx(0.02059)
