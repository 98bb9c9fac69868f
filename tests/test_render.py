"""The renderer against exact answers: closed-form chords and a float64 Siddon reference."""

from __future__ import annotations

import numpy as np
import pytest

import drr
from drr.backends.cpu import ray_integral
from siddon_reference import box_chord, render_reference, siddon_sum

BACKENDS = ["cpu"]


def random_rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def random_look_at(rng, center, radius, shape, spacing, n=1, inside=False):
    """Random sources on a sphere (or inside the box), boards on the far side."""
    sources, centers, ups = [], [], []
    for _ in range(n):
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        src = center + (rng.uniform(-0.3, 0.3, 3) * radius if inside else radius * d)
        far = center - radius * d + rng.normal(size=3) * 0.1 * radius
        sources.append(src)
        centers.append(far)
        ups.append(rng.normal(size=3))
    return drr.Geometry.look_at(np.array(sources), np.array(centers), up=np.array(ups),
                                shape=shape, pixel_spacing=spacing)


def assert_close(actual, expected, rtol=1e-5):
    """Relative agreement, measured against the image's largest value."""
    assert np.all(np.isfinite(actual)), "NaN or inf in the image"
    scale = max(float(np.max(np.abs(expected))), 1e-30)
    err = np.max(np.abs(actual.astype(np.float64) - expected)) / scale
    assert err <= rtol, f"max relative error {err:.3g} > {rtol:g}"


# ---------------------------------------------------------------- closed form: uniform box

def box_volume(shape_kji=(7, 9, 11), spacing=(1.3, 0.7, 2.1), origin=(-5.0, 3.0, 10.0),
               direction=np.eye(3), mu=0.037):
    return drr.Volume(np.full(shape_kji, mu, np.float32), spacing=spacing, origin=origin,
                      direction=direction, units="mu")


def box_bounds(vol):
    """Local-frame bounds of a volume's box: origin at voxel (0,0,0) centre, axes = direction."""
    ext = np.array(vol.shape_ijk) * vol.spacing
    lo = -0.5 * vol.spacing
    return lo, lo + ext


def expected_box_image(vol, geo, mu):
    lo, hi = box_bounds(vol)
    pix = geo.pixel_centers()
    out = np.zeros(pix.shape[:3])
    for n in range(pix.shape[0]):
        for r in range(pix.shape[1]):
            for c in range(pix.shape[2]):
                out[n, r, c] = mu * box_chord(geo.source[n], pix[n, r, c], lo, hi,
                                              vol.direction, vol.origin)
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("oblique", [False, True])
@pytest.mark.parametrize("inside", [False, True])
def test_uniform_box_equals_chord_length(backend, oblique, inside):
    rng = np.random.default_rng(1 + 2 * oblique + inside)
    direction = random_rotation(rng) if oblique else np.eye(3)
    vol = box_volume(direction=direction)
    geo = random_look_at(rng, vol.center(), 40.0, shape=(9, 8), spacing=2.5, n=6, inside=inside)
    img = drr.render(vol, geo, backend=backend)
    assert img.dtype == np.float32 and img.shape == (6, 9, 8)
    expected = expected_box_image(vol, geo, 0.037)
    assert np.count_nonzero(expected) > 20 and np.count_nonzero(expected == 0) > 0 or inside
    assert_close(img, expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_axis_parallel_rays_through_box(backend):
    vol = box_volume(shape_kji=(4, 5, 6), spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0))
    # Source on the i axis line through voxel centres' interior (not on a plane).
    for axis in range(3):
        src = np.array([1.3, 1.7, 1.1])
        tgt = src.copy()
        src[axis] = -50.0
        tgt[axis] = 60.0
        u = np.eye(3)[(axis + 1) % 3]
        v = np.eye(3)[(axis + 2) % 3]
        geo = drr.Geometry(src, tgt, u, v, (0.5, 0.5), (1, 1))
        img = drr.render(vol, geo, backend=backend)
        length = vol.shape_ijk[axis] * 1.0
        assert img[0, 0] == pytest.approx(0.037 * length, rel=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rays_that_miss_give_zero(backend):
    vol = box_volume()
    lo, hi = box_bounds(vol)
    # Board beside the volume: every ray passes outside.
    geo = drr.Geometry.look_at(vol.center() + (0, -300, 0), vol.center() + (200, 300, 0),
                               shape=(5, 5), pixel_spacing=1.0)
    assert np.all(expected_box_image(vol, geo, 1.0) == 0)
    assert np.all(drr.render(vol, geo, backend=backend) == 0)
    # Board in front of the volume: the segment ends before reaching it.
    geo = drr.Geometry.look_at(vol.center() + (0, -300, 0), vol.center() + (0, -100, 0),
                               shape=(5, 5), pixel_spacing=1.0)
    assert np.all(drr.render(vol, geo, backend=backend) == 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rays_through_corners_and_edges(backend):
    """Rays along the box's space diagonals, and through an edge, at exact lattice points."""
    vol = box_volume(shape_kji=(4, 4, 4), spacing=(1.0, 1.0, 1.0), origin=(0.5, 0.5, 0.5))
    # The box is [0, 4]^3; the space diagonal from (0,0,0) to (4,4,4) crosses every
    # voxel corner (i, i, i): all three axes tie at each step.
    diag = drr.Geometry(source=(-2.0, -2.0, -2.0), center=(6.0, 6.0, 6.0),
                        u=np.array([1.0, -1.0, 0.0]) / np.sqrt(2),
                        v=np.array([1.0, 1.0, -2.0]) / np.sqrt(6), pixel_spacing=1.0, shape=(1, 1))
    img = drr.render(vol, diag, backend=backend)
    assert img[0, 0] == pytest.approx(0.037 * 4 * np.sqrt(3), rel=1e-6)
    # A face diagonal in the plane z = 2.5 (inside a voxel layer): ties of two axes.
    face = drr.Geometry(source=(-1.0, -1.0, 2.5), center=(5.0, 5.0, 2.5),
                        u=np.array([1.0, -1.0, 0.0]) / np.sqrt(2), v=(0.0, 0.0, 1.0),
                        pixel_spacing=1.0, shape=(1, 1))
    assert drr.render(vol, face, backend=backend)[0, 0] == pytest.approx(0.037 * 4 * np.sqrt(2), rel=1e-6)
    # A ray that touches the box only along an outer edge has zero chord.
    touch = drr.Geometry(source=(-1.0, 1.0, 2.5), center=(1.0, -1.0, 2.5),
                         u=np.array([1.0, 1.0, 0.0]) / np.sqrt(2), v=(0.0, 0.0, 1.0),
                         pixel_spacing=1.0, shape=(1, 1))
    assert drr.render(vol, touch, backend=backend)[0, 0] == 0.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_ray_in_a_voxel_plane_sees_the_average_of_both_sides(backend):
    """Documented convention: a ray exactly on a voxel boundary plane averages the two sides."""
    data = np.zeros((3, 3, 3), np.float32)
    data[:, :, 0] = 1.0           # i = 0 column
    data[:, :, 1] = 3.0           # i = 1 column
    data[:, 0, :] += 10.0         # j = 0 row
    vol = drr.Volume(data, units="mu")      # grid planes at -0.5, 0.5, 1.5, 2.5 (world)
    # Along k, in the plane x = 0.5 (between i=0 and i=1), at y = 1 (inside j = 1).
    geo = drr.Geometry(source=(0.5, 1.0, -10.0), center=(0.5, 1.0, 10.0), u=(1, 0, 0), v=(0, 1, 0),
                       pixel_spacing=1.0, shape=(1, 1))
    assert drr.render(vol, geo, backend=backend)[0, 0] == pytest.approx(3 * (1.0 + 3.0) / 2, rel=1e-6)
    # On the outer face x = -0.5: half of column i = 0, the other half is outside.
    geo = drr.Geometry(source=(-0.5, 1.0, -10.0), center=(-0.5, 1.0, 10.0), u=(1, 0, 0), v=(0, 1, 0),
                       pixel_spacing=1.0, shape=(1, 1))
    assert drr.render(vol, geo, backend=backend)[0, 0] == pytest.approx(3 * 1.0 / 2, rel=1e-6)
    # Along the edge x = 0.5, y = 0.5: the average of four columns.
    geo = drr.Geometry(source=(0.5, 0.5, -10.0), center=(0.5, 0.5, 10.0), u=(1, 0, 0), v=(0, 1, 0),
                       pixel_spacing=1.0, shape=(1, 1))
    four = [data[0, 0, 0], data[0, 0, 1], data[0, 1, 0], data[0, 1, 1]]
    assert drr.render(vol, geo, backend=backend)[0, 0] == pytest.approx(3 * np.mean(four), rel=1e-6)


# ------------------------------------------------------------- float64 Siddon reference

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", range(4))
def test_random_volume_matches_float64_reference(backend, seed):
    rng = np.random.default_rng(100 + seed)
    shape = tuple(rng.integers(3, 9, size=3))
    direction = random_rotation(rng) if seed % 2 else np.eye(3)
    vol = drr.Volume(rng.uniform(0, 0.05, size=shape), spacing=rng.uniform(0.5, 2.0, 3),
                     origin=rng.uniform(-20, 20, 3), direction=direction)
    geo = random_look_at(rng, vol.center(), 30.0, shape=(6, 5), spacing=1.7, n=3, inside=seed == 3)
    assert_close(drr.render(vol, geo, backend=backend), render_reference(vol, geo))


def test_ray_integral_matches_reference_on_random_segments():
    """The per-ray function against the 1985 formulation, including segments ending inside."""
    rng = np.random.default_rng(7)
    mu = rng.uniform(0, 1, size=(5, 6, 7)).astype(np.float32)
    for _ in range(300):
        a = rng.uniform(-4, 11, 3)
        b = rng.uniform(-4, 11, 3)
        got = ray_integral(mu, *a, *b)
        want = siddon_sum(mu, a, b)
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_output_within_1e_5_on_512_voxel_rays(backend):
    rng = np.random.default_rng(3)
    data = rng.uniform(0.0, 0.05, size=(3, 3, 512)).astype(np.float32)
    vol = drr.Volume(data, spacing=(0.7, 1.0, 1.0))
    # Nearly axis-parallel rays along i crossing all 512 voxels and a few j/k planes.
    geo = drr.Geometry(source=(-400.0, 1.0, 1.0), center=(800.0, 1.0, 1.0), u=(0, 1, 0),
                       v=(0, 0, 1), pixel_spacing=0.4, shape=(5, 5))
    img = drr.render(vol, geo, backend=backend)
    ref = render_reference(vol, geo)[0]
    rel = np.abs(img.astype(np.float64) - ref) / ref
    assert rel.max() <= 1e-5


# ------------------------------------------------------------------------- invariances

@pytest.mark.parametrize("backend", BACKENDS)
def test_translating_volume_and_geometry_together_changes_nothing(backend):
    rng = np.random.default_rng(11)
    data = rng.uniform(0, 0.05, size=(6, 7, 8))
    shift = np.array([123.25, -77.5, 41.0])
    vol = drr.Volume(data, spacing=(1.0, 1.5, 2.0), origin=(1.0, 2.0, 3.0))
    moved = drr.Volume(data, spacing=(1.0, 1.5, 2.0), origin=np.array([1.0, 2.0, 3.0]) + shift)
    geo = random_look_at(rng, vol.center(), 30.0, shape=(7, 6), spacing=1.3, n=2)
    geo2 = drr.Geometry(geo.source + shift, geo.center + shift, geo.u, geo.v, geo.pixel_spacing, geo.shape)
    a = drr.render(vol, geo, backend=backend)
    b = drr.render(moved, geo2, backend=backend)
    assert_close(b, a.astype(np.float64), rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_mirroring_volume_and_geometry_mirrors_the_image(backend):
    rng = np.random.default_rng(12)
    data = rng.uniform(0, 0.05, size=(5, 6, 7))
    sp = np.array([1.0, 1.5, 2.0])
    vol = drr.Volume(data, spacing=sp)
    ni = vol.shape_ijk[0]
    # x -> -x: flip the i axis of the data and move the origin accordingly.
    mirrored = drr.Volume(data[:, :, ::-1], spacing=sp, origin=(-(ni - 1) * sp[0], 0.0, 0.0))
    flip = np.array([-1.0, 1.0, 1.0])
    geo = random_look_at(rng, vol.center(), 30.0, shape=(6, 7), spacing=1.1, n=2)
    # Mirror positions; keep u pointing the same way after mirroring (u -> -mirror(u)).
    geo_m = drr.Geometry(geo.source * flip, geo.center * flip, -(geo.u * flip), geo.v * flip,
                         geo.pixel_spacing, geo.shape)
    a = drr.render(vol, geo, backend=backend)
    b = drr.render(mirrored, geo_m, backend=backend)
    assert_close(b, a[:, :, ::-1].astype(np.float64), rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_oblique_volume_equals_its_axis_aligned_twin(backend):
    """A volume with a 90-degree rotated direction equals the permuted, axis-aligned array."""
    rng = np.random.default_rng(13)
    data = rng.uniform(0, 0.05, size=(4, 5, 6))          # [k, j, i]
    sp = np.array([1.0, 2.0, 1.5])
    # direction: i -> +y, j -> -x, k -> +z
    D = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    origin = np.array([10.0, -3.0, 2.0])
    oblique = drr.Volume(data, spacing=sp, origin=origin, direction=D)
    # Axis-aligned twin: its i' runs along +x = -j, its j' along +y = i.
    twin_data = np.transpose(data, (0, 2, 1))[:, :, ::-1]  # [k, i, j reversed] -> [k, j', i']
    nj = data.shape[1]
    twin_origin = oblique.index_to_world([0, nj - 1, 0])
    twin = drr.Volume(twin_data, spacing=(sp[1], sp[0], sp[2]), origin=twin_origin)
    np.testing.assert_allclose(twin.corners().min(0), oblique.corners().min(0), atol=1e-12)
    geo = random_look_at(rng, oblique.center(), 25.0, shape=(6, 6), spacing=1.2, n=3)
    assert_close(drr.render(oblique, geo, backend=backend),
                 drr.render(twin, geo, backend=backend).astype(np.float64))


# ------------------------------------------------------------------ batches and outputs

@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_equals_single_renders(backend):
    rng = np.random.default_rng(14)
    vol = drr.Volume(rng.uniform(0, 0.05, size=(5, 6, 7)))
    geo = random_look_at(rng, vol.center(), 20.0, shape=(4, 5), spacing=1.0, n=4)
    batch = drr.Renderer(vol, backend=backend)(geo)
    assert batch.shape == (4, 4, 5)
    for n in range(4):
        single = drr.render(vol, geo[n], backend=backend)
        assert single.shape == (4, 5)
        np.testing.assert_array_equal(single, batch[n])


def test_intensity_output_is_beer_lambert():
    vol = drr.Volume(np.full((4, 4, 4), 0.1, np.float32))
    geo = drr.Geometry.look_at((1.5, -50, 1.5), (1.5, 50, 1.5), shape=(3, 3), pixel_spacing=0.5)
    li = drr.render(vol, geo, backend="cpu")
    it = drr.render(vol, geo, backend="cpu", output="intensity", i0=1000.0)
    np.testing.assert_allclose(it, 1000.0 * np.exp(-li.astype(np.float64)), rtol=1e-6)


def test_hu_volume_is_converted_at_the_default_energy():
    hu = np.zeros((4, 4, 4), np.float32)                  # water
    vol = drr.Volume(hu, units="HU")
    geo = drr.Geometry((1.5, 1.5, -20), (1.5, 1.5, 20), (1, 0, 0), (0, 1, 0), 1.0, (1, 1))
    got = drr.render(vol, geo, backend="cpu")[0, 0]
    assert got == pytest.approx(4 * drr.mu_water(drr.DEFAULT_ENERGY_KEV), rel=1e-6)
    got_60 = drr.render(vol, geo, backend="cpu", energy_kev=60)[0, 0]
    assert got_60 == pytest.approx(4 * 0.02059, rel=1e-5)


# ------------------------------------------------------------------------- bad input

def test_bad_backend_and_arguments():
    vol = drr.Volume(np.zeros((2, 2, 2)))
    geo = drr.Geometry((0, 0, -5), (0, 0, 5), (1, 0, 0), (0, 1, 0), 1.0, (2, 2))
    with pytest.raises(drr.InputError, match="backend"):
        drr.render(vol, geo, backend="opencl")
    with pytest.raises(drr.InputError, match="output"):
        drr.render(vol, geo, backend="cpu", output="log")
    with pytest.raises(drr.InputError, match="volume"):
        drr.render(np.zeros((2, 2, 2)), geo)
    with pytest.raises(drr.InputError, match="geometry"):
        drr.render(vol, "AP")
    with pytest.raises(drr.VolumeError, match="energy_kev"):
        drr.render(vol, geo, energy_kev=70)


def test_cuda_backend_without_gpu_is_a_clear_error():
    from drr.backends import cuda_unavailable_reason
    if cuda_unavailable_reason() is None:
        pytest.skip("a CUDA device is present")
    vol = drr.Volume(np.zeros((2, 2, 2)))
    with pytest.raises(drr.BackendError, match="cuda"):
        drr.Renderer(vol, backend="cuda")
    assert drr.Renderer(vol, backend="auto").backend == "cpu"


# ------------------------------------------------------- property-based: ties and lattice points

from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_coord = st.one_of(st.floats(-3.0, 9.0, allow_nan=False, allow_infinity=False),
                   st.integers(-6, 18).map(lambda n: n / 2.0))     # planes, edges, corners


@settings(max_examples=300, deadline=None, derandomize=True)
@given(a=st.tuples(_coord, _coord, _coord), b=st.tuples(_coord, _coord, _coord))
@example(a=(0.0, 0.0, 0.0), b=(0.0, 0.0, 2.225073858507203e-309))   # a subnormal step along an edge
def test_ray_integral_on_lattice_points_matches_reference(a, b):
    """Segments that start, end or run through voxel planes, edges and corners.

    Rays lying exactly in a voxel plane follow the averaging convention, which
    the midpoint reference does not implement: they are checked against the
    average of the reference on the two sides.
    """
    mu = np.random.default_rng(5).uniform(0.5, 1.5, size=(4, 5, 6)).astype(np.float32)
    a, b = np.array(a), np.array(b)
    got = ray_integral(mu, *a, *b)
    assert np.isfinite(got)
    in_plane = [ax for ax in range(3) if a[ax] == b[ax] and a[ax] == np.floor(a[ax])]
    if not in_plane:
        want = siddon_sum(mu, a, b)
    else:
        # average over the sides of each plane the ray lies in, shifting by +-h
        h = 1e-9
        shifts = np.array(np.meshgrid(*[[-h, h] if ax in in_plane else [0.0] for ax in range(3)],
                                      indexing="ij")).reshape(3, -1).T
        want = np.mean([siddon_sum(mu, a + s, b + s) for s in shifts])
    assert got == pytest.approx(want, rel=1e-7, abs=1e-7)


def test_gpu_only_options_are_refused_on_the_cpu():
    vol = drr.Volume(np.zeros((2, 2, 2)))
    geo = drr.Geometry((0, 0, -5), (0, 0, 5), (1, 0, 0), (0, 1, 0), 1.0, (2, 2))
    with pytest.raises(drr.InputError, match="storage"):
        drr.Renderer(vol, backend="cpu", storage="float16")
    with pytest.raises(drr.InputError, match="storage"):
        drr.Renderer(vol, backend="cpu", storage="int8")
    with pytest.raises(drr.InputError, match="device_output"):
        drr.render(vol, geo, backend="cpu", device_output=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_reflected_direction_equals_the_flipped_array(backend):
    """direction = diag(-1, 1, 1) (i runs toward -x) is the same volume as the array flipped along i."""
    rng = np.random.default_rng(15)
    data = rng.uniform(0, 0.05, size=(4, 5, 6))
    sp = (1.5, 1.0, 2.0)
    reflected = drr.Volume(data, spacing=sp, origin=(20.0, 1.0, 2.0), direction=np.diag([-1.0, 1.0, 1.0]))
    plain = drr.Volume(data[:, :, ::-1], spacing=sp, origin=reflected.index_to_world([5, 0, 0]))
    np.testing.assert_allclose(plain.corners().min(0), reflected.corners().min(0), atol=1e-12)
    geo = random_look_at(rng, plain.center(), 25.0, shape=(5, 6), spacing=1.0, n=2)
    assert_close(drr.render(reflected, geo, backend=backend),
                 drr.render(plain, geo, backend=backend).astype(np.float64))
