"""Exactness of drr.tools.outline: areas, pixel-centre containment, topology, lattice vertices."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backend_bases import MouseEvent  # noqa: E402
from matplotlib.path import Path  # noqa: E402
from skimage.measure import euler_number, label  # noqa: E402

from drr.errors import InputError  # noqa: E402
from drr.tools.outline import outline_path, outline_paths, outline_rings, plot_outline  # noqa: E402


# --------------------------------------------------------------------------- helpers

def shoelace(ring):
    """Signed area; relative to the first vertex, so far-off extents keep their precision."""
    x, y = ring[:, 0] - ring[0, 0], ring[:, 1] - ring[0, 1]
    return 0.5 * float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))


def grid_of(shape, extent=None, origin=None):
    """Independent statement of imshow's convention (checked against matplotlib below)."""
    h, w = shape
    if extent is None:
        return np.arange(w + 1) - 0.5, np.arange(h + 1) - 0.5
    left, right, bottom, top = extent
    xe = left + (right - left) * np.arange(w + 1) / w
    if origin in (None, "upper"):
        ye = top + (bottom - top) * np.arange(h + 1) / h
    else:
        ye = bottom + (top - bottom) * np.arange(h + 1) / h
    return xe, ye


def topology(mask, connectivity):
    """(components, holes) by scikit-image: holes are background components, with the
    complementary connectivity, that do not reach outside the image."""
    fg_conn, bg_conn = (2, 1) if connectivity == 8 else (1, 2)
    n_comp = label(mask, connectivity=fg_conn).max()
    bg = np.pad(~mask, 1, constant_values=True)
    n_holes = label(bg, connectivity=bg_conn).max() - 1
    assert n_comp - n_holes == euler_number(mask, connectivity=fg_conn)
    return n_comp, n_holes


def filled(mask, connectivity):
    """The mask with its holes filled (background components not reaching outside)."""
    bg = label(np.pad(~mask, 1, constant_values=True), connectivity=1 if connectivity == 8 else 2)
    return (bg != bg[0, 0])[1:-1, 1:-1]


def boundary_edges(mask):
    """Directed unit edges ((x0, y0), (x1, y1)) in (col, row) lattice units, selection on
    the left in (x, y) math axes with y = row; built independently of the tracer."""
    h, w = mask.shape
    p = np.pad(mask, 1)
    edges = set()
    # horizontal line at row i, from col j to j+1: pixel (i, j) below, (i-1, j) above
    below, above = p[1:, 1:-1], p[:-1, 1:-1]
    for i, j in zip(*np.nonzero(below & ~above)):
        edges.add(((j, i), (j + 1, i)))
    for i, j in zip(*np.nonzero(above & ~below)):
        edges.add(((j + 1, i), (j, i)))
    # vertical line at col j, from row i to i+1: pixel (i, j) right, (i, j-1) left
    right, left = p[1:-1, 1:], p[1:-1, :-1]
    for i, j in zip(*np.nonzero(left & ~right)):
        edges.add(((j, i), (j, i + 1)))
    for i, j in zip(*np.nonzero(right & ~left)):
        edges.add(((j, i + 1), (j, i)))
    return edges


def ring_unit_edges(ring):
    """Unit edges of a lattice ring (integer corners), in order; asserts corner-only rings."""
    v = np.rint(ring).astype(int)
    assert np.array_equal(v, ring)
    assert np.array_equal(v[0], v[-1])
    seg = np.diff(v, axis=0)
    assert np.all((seg[:, 0] == 0) != (seg[:, 1] == 0)), "every segment is axis-aligned, non-empty"
    horiz = seg[:, 1] == 0
    assert np.all(horiz != np.roll(horiz, 1)), "segments alternate: corner vertices only"
    out = []
    for (x0, y0), (dx, dy) in zip(v[:-1], seg):
        n = abs(dx) + abs(dy)
        sx, sy = np.sign(dx), np.sign(dy)
        for k in range(n):
            out.append(((x0 + k * sx, y0 + k * sy), (x0 + (k + 1) * sx, y0 + (k + 1) * sy)))
    return out


def check_exact(labels, value, connectivity=8, **grid):
    """All exactness claims of the module for one call; returns the rings."""
    labels = np.asarray(labels)
    mask = np.isin(labels, np.atleast_1d(value))
    rings = outline_rings(labels, value, connectivity=connectivity, **grid)
    path = outline_path(labels, value, connectivity=connectivity, **grid)
    if "x_edges" in grid:
        xe, ye = np.asarray(grid["x_edges"], float), np.asarray(grid["y_edges"], float)
    else:
        xe, ye = grid_of(labels.shape, grid.get("extent"), grid.get("origin"))
    cell = np.abs(np.outer(np.diff(ye), np.diff(xe)))
    # 1. area
    areas = np.array([shoelace(r) for r in rings])
    assert areas.sum() == pytest.approx(cell[mask].sum(), rel=1e-12, abs=1e-12)
    # 2. pixel centres: the winding number (nonzero rule over all rings) is the mask.
    cx, cy = np.meshgrid((xe[:-1] + xe[1:]) / 2, (ye[:-1] + ye[1:]) / 2)
    centres = np.column_stack([cx.ravel(), cy.ravel()])
    winding = np.zeros(len(centres), int)
    for r, a in zip(rings, areas):
        winding += int(np.sign(a)) * Path(r, closed=True).contains_points(centres)
    np.testing.assert_array_equal(winding.reshape(mask.shape), mask.astype(int))
    # matplotlib's compound-path test ORs the sub-paths (it ignores holes): it gives
    # back the mask with its holes filled, exactly
    n_comp, n_holes = topology(mask, connectivity)
    inside = path.contains_points(centres).reshape(mask.shape)
    np.testing.assert_array_equal(inside, filled(mask, connectivity))
    # 3. topology: outer rings counter-clockwise, holes clockwise, counts from skimage
    assert (int((areas > 0).sum()), int((areas < 0).sum())) == (n_comp, n_holes)
    # 4. vertices on the pixel-corner lattice
    if rings:
        allv = np.concatenate(rings)
        assert np.isin(allv[:, 0], xe).all() and np.isin(allv[:, 1], ye).all()
    # 5. the path is the rings
    assert len(path.vertices) == sum(len(r) for r in rings)
    if rings:
        np.testing.assert_array_equal(path.vertices, np.concatenate(rings))
    return rings


def lattice_edges_of(rings, shape=None):
    """Unit edges of rings traced with the default extent, in lattice units."""
    edges = []
    for r in rings:
        edges += ring_unit_edges(r + 0.5)
    return edges


# --------------------------------------------------------------------------- exactness

def test_single_pixel_is_a_unit_square():
    lab = np.zeros((3, 4), int)
    lab[1, 2] = 7
    (ring,) = check_exact(lab, 7)
    assert shoelace(ring) == 1.0
    np.testing.assert_array_equal(ring, [[1.5, 0.5], [2.5, 0.5], [2.5, 1.5], [1.5, 1.5], [1.5, 0.5]])


def test_users_problem_values_0_1_3():
    rng = np.random.default_rng(3)
    lab = rng.choice([0, 1, 3], size=(40, 50), p=[0.5, 0.2, 0.3])
    for conn in (4, 8):
        rings = check_exact(lab, 3, connectivity=conn)
        assert sorted(lattice_edges_of(rings, lab.shape)) == sorted(boundary_edges(lab == 3))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("connectivity", [4, 8])
def test_random_label_images(seed, connectivity):
    rng = np.random.default_rng(seed)
    for trial in range(25):
        h, w = rng.integers(1, 14, size=2)
        k = int(rng.integers(2, 5))
        lab = rng.integers(0, k, size=(h, w))
        value = 1 if trial % 3 else [1, k - 1]
        rings = check_exact(lab, value, connectivity=connectivity)
        mask = np.isin(lab, np.atleast_1d(value))
        edges = lattice_edges_of(rings, lab.shape)
        assert len(edges) == len(set(edges)), "no edge used twice"
        assert set(edges) == boundary_edges(mask)
        # documented order: each ring starts at its first corner in (row, col) raster
        # order, and rings are sorted by that corner
        firsts = [(r[0, 1] + 0.5, r[0, 0] + 0.5) for r in rings]
        assert firsts == sorted(firsts)
        for r, f in zip(rings, firsts):
            assert f == min(zip(r[:, 1] + 0.5, r[:, 0] + 0.5))


@pytest.mark.parametrize("connectivity", [4, 8])
def test_random_blobs_larger(connectivity):
    # smoothed noise: big regions with holes and islands
    rng = np.random.default_rng(11)
    noise = rng.standard_normal((120, 90))
    for _ in range(3):
        noise = (noise + np.roll(noise, 1, 0) + np.roll(noise, 1, 1) + np.roll(noise, -1, 0)
                 + np.roll(noise, -1, 1)) / 5
    lab = np.digitize(noise, [-0.15, 0.0, 0.15])
    for v in (0, 2, [1, 3]):
        rings = check_exact(lab, v, connectivity=connectivity)
        assert set(lattice_edges_of(rings, lab.shape)) == boundary_edges(np.isin(lab, v))


def test_checkerboard_diagonal_touches():
    lab = (np.add.outer(np.arange(6), np.arange(6)) % 2 == 0).astype(np.uint8)
    rings4 = check_exact(lab, 1, connectivity=4)
    assert len(rings4) == 18 and all(len(r) == 5 for r in rings4)
    rings8 = check_exact(lab, 1, connectivity=8)
    areas = [shoelace(r) for r in rings8]
    assert sum(a > 0 for a in areas) == 1          # one component, one outer ring
    assert sum(a < 0 for a in areas) == 8          # the 8 enclosed background pixels
    assert all(a == -1 for a in areas if a < 0)


def test_two_diagonal_pixels():
    lab = np.array([[1, 0], [0, 1]])
    (r8,) = check_exact(lab, 1, connectivity=8)
    assert shoelace(r8) == 2.0 and len(r8) == 9    # through the shared corner, 8 corners
    r4 = check_exact(lab, 1, connectivity=4)
    assert [shoelace(r) for r in r4] == [1.0, 1.0]
    # the complement: background touches diagonally as well
    r8c = check_exact(1 - lab, 1, connectivity=8)
    assert len(r8c) == 1


def test_holes_inside_holes():
    lab = np.zeros((11, 11), int)
    lab[0:11, 0:11] = 1
    lab[2:9, 2:9] = 0
    lab[3:8, 3:8] = 1
    lab[4:7, 4:7] = 0
    lab[5, 5] = 1
    for conn in (4, 8):
        rings = check_exact(lab, 1, connectivity=conn)
        assert [shoelace(r) for r in rings] == [121.0, -49.0, 25.0, -9.0, 1.0]


def test_full_image_and_empty_selection():
    lab = np.full((4, 6), 2)
    (ring,) = check_exact(lab, 2, extent=(0, 6, 0, 4))
    assert len(ring) == 5 and shoelace(ring) == 24.0
    assert {tuple(v) for v in ring} == {(0, 0), (6, 0), (6, 4), (0, 4)}
    assert outline_rings(lab, 5) == []
    p = outline_path(lab, 5)
    assert p.vertices.shape == (0, 2) and not p.contains_points([[2.0, 2.0]]).any()


@pytest.mark.parametrize("origin", ["upper", "lower"])
@pytest.mark.parametrize("extent", [None, (0, 7, 0, 5), (-3.5, 10.5, 12.0, 2.0),
                                    (7.0, -7.0, -2.5, 2.5), (1e3, 1e3 + 0.875, 4.0, 3.0)])
def test_extent_and_origin(extent, origin):
    rng = np.random.default_rng(5)
    lab = rng.integers(0, 3, size=(5, 7))
    check_exact(lab, 2, extent=extent, origin=origin)
    check_exact(lab, [0, 2], connectivity=4, extent=extent, origin=origin)


@pytest.mark.parametrize("origin", ["upper", "lower"])
@pytest.mark.parametrize("extent", [None, (0, 7, 0, 5), (-3.5, 10.5, 12.0, 2.0),
                                    (7.0, -7.0, -2.5, 2.5)])
def test_pixel_centres_agree_with_imshow(extent, origin):
    """Ties the coordinate convention to matplotlib's own: the image value under each
    pixel centre of our grid is that pixel's label, and the path contains it iff selected."""
    rng = np.random.default_rng(8)
    lab = rng.integers(0, 40, size=(5, 7))
    fig, ax = plt.subplots()
    try:
        im = ax.imshow(lab, extent=extent, origin=origin)
        fig.canvas.draw()
        xe, ye = grid_of(lab.shape, extent, origin)
        path = outline_path(lab, [3, 17, 30], extent=extent, origin=origin)
        for i in range(5):
            for j in range(7):
                c = ((xe[j] + xe[j + 1]) / 2, (ye[i] + ye[i + 1]) / 2)
                x, y = ax.transData.transform(c)
                ev = MouseEvent("motion_notify_event", fig.canvas, x, y)
                assert im.get_cursor_data(ev) == lab[i, j]
                assert path.contains_point(c) == (lab[i, j] in (3, 17, 30))
    finally:
        plt.close(fig)


def test_non_uniform_edges():
    rng = np.random.default_rng(21)
    lab = rng.integers(0, 3, size=(9, 12))
    xe = np.cumsum(rng.uniform(0.25, 3.0, size=13))
    ye = np.cumsum(rng.uniform(0.5, 2.0, size=10))
    for conn in (4, 8):
        check_exact(lab, 1, connectivity=conn, x_edges=xe, y_edges=ye)
        check_exact(lab, 1, connectivity=conn, x_edges=xe[::-1], y_edges=ye)
        check_exact(lab, [0, 2], connectivity=conn, x_edges=-xe, y_edges=-ye)


def test_uniform_edges_equal_extent():
    lab = np.random.default_rng(2).integers(0, 2, size=(6, 8))
    a = outline_path(lab, 1, extent=(0, 8, 0, 6), origin="lower")
    b = outline_path(lab, 1, x_edges=np.arange(9), y_edges=np.arange(7))
    np.testing.assert_array_equal(a.vertices, b.vertices)
    np.testing.assert_array_equal(a.codes, b.codes)


def test_path_codes_and_matplotlib_containment():
    lab = np.zeros((7, 7), int)
    lab[1:6, 1:6] = 1
    lab[3, 3] = 0
    p = outline_path(lab, 1)
    m = Path.MOVETO
    assert list(p.codes) == [m, 2, 2, 2, Path.CLOSEPOLY, m, 2, 2, 2, Path.CLOSEPOLY]
    assert [shoelace(r) for r in outline_rings(lab, 1)] == [25.0, -1.0]
    # matplotlib's Path.contains_point ORs the closed sub-paths: the hole counts as inside
    assert p.contains_point((3.0, 3.0)) and not p.contains_point((-0.2, 3.0))
    # ... whereas an outline without holes gives back exactly the pixels
    lab[3, 3] = 1
    lab[2:4, 5] = 0
    q = outline_path(lab, 1)
    assert not q.contains_point((5.0, 2.0)) and q.contains_point((3.0, 3.0))
    assert q.contains_point((5.0, 1.0)) and not q.contains_point((0.0, 3.0))


@pytest.mark.parametrize("connectivity", [4, 8])
def test_filled_rendering_is_the_mask(connectivity):
    """Agg fills the whole compound path (holes by their winding): the rendered pixels are
    exactly the mask, holes and diagonal touches included."""
    rng = np.random.default_rng(9)
    lab = rng.integers(0, 3, size=(24, 32))
    lab[8:16, 8:16] = 2
    lab[10:14, 10:14] = 0
    lab[11:13, 11:13] = 2
    mask = lab == 2
    k, dpi = 8, 100
    h, w = lab.shape
    fig = plt.figure(figsize=(w * k / dpi, h * k / dpi), dpi=dpi)
    try:
        ax = fig.add_axes([0, 0, 1, 1])
        ax.set_axis_off()
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        from matplotlib.patches import PathPatch
        ax.add_patch(PathPatch(outline_path(lab, 2, connectivity=connectivity),
                               facecolor="black", edgecolor="none", antialiased=False))
        fig.canvas.draw()
        img = np.asarray(fig.canvas.buffer_rgba())[:, :, 0]
        assert img.shape == (h * k, w * k)
        sampled = img[k // 2::k, k // 2::k] < 128
        np.testing.assert_array_equal(sampled, mask)
    finally:
        plt.close(fig)


def test_several_values_union_and_per_value():
    lab = np.array([[1, 1, 3, 3],
                    [1, 1, 3, 0],
                    [0, 0, 0, 0]])
    union = check_exact(lab, [1, 3])
    assert len(union) == 1
    # the shared edge x = 1.5 (between the 1s and the 3s) is interior: not in the union
    shared = {((2, 0), (2, 1)), ((2, 1), (2, 2)), ((2, 1), (2, 0)), ((2, 2), (2, 1))}
    assert not shared & set(lattice_edges_of(union, lab.shape))
    paths = outline_paths(lab, [3, 1])
    assert list(paths) == [3, 1]
    for v, p in paths.items():
        q = outline_path(lab, v)
        np.testing.assert_array_equal(p.vertices, q.vertices)
        np.testing.assert_array_equal(p.codes, q.codes)
    # per value, the shared edge (x = 2 in lattice units) is in both outlines, each
    # time with its own region on the left
    e1 = set(lattice_edges_of(outline_rings(lab, 1), lab.shape))
    e3 = set(lattice_edges_of(outline_rings(lab, 3), lab.shape))
    assert {((2, 0), (2, 1)), ((2, 1), (2, 2))} <= e1
    assert {((2, 1), (2, 0)), ((2, 2), (2, 1))} <= e3
    assert {e for e in e1 if (e[1], e[0]) in e3} == {((2, 0), (2, 1)), ((2, 1), (2, 2))}


def test_bool_float_and_view_inputs_are_not_mutated():
    rng = np.random.default_rng(4)
    lab = rng.integers(0, 3, size=(20, 30))
    ref = outline_path(lab[::2, 1::3].copy(), 2)
    view = lab[::2, 1::3]
    before = view.copy()
    p = outline_path(view, 2)
    np.testing.assert_array_equal(view, before)
    np.testing.assert_array_equal(p.vertices, ref.vertices)
    b = outline_path(view == 2, True)
    np.testing.assert_array_equal(b.vertices, ref.vertices)
    f = outline_path(view.astype(np.float32), 2.0)
    np.testing.assert_array_equal(f.vertices, ref.vertices)
    check_exact(lab.T, np.int64(1))


def test_plot_outline():
    lab = np.zeros((5, 5), int)
    lab[1:3, 1:4] = 3
    fig, ax = plt.subplots()
    try:
        ax.imshow(lab, cmap="gray", extent=(0, 10, 0, 10), origin="lower")
        patch = plot_outline(ax, lab, 3, extent=(0, 10, 0, 10), origin="lower",
                             color="red", linewidth=2)
        assert patch in ax.patches and not patch.get_fill()
        assert patch.get_linewidth() == 2
        assert tuple(patch.get_edgecolor()) == (1.0, 0.0, 0.0, 1.0)
        ref = outline_path(lab, 3, extent=(0, 10, 0, 10), origin="lower")
        np.testing.assert_array_equal(patch.get_path().vertices, ref.vertices)
        assert {tuple(v) for v in ref.vertices} == {(2, 2), (8, 2), (8, 6), (2, 6)}
        fig.canvas.draw()
        with pytest.raises(InputError, match="facecolor"):
            plot_outline(ax, lab, 3, facecolor="blue")
        with pytest.raises(InputError, match="`ax`"):
            plot_outline(fig, lab, 3)
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------- bad input

LAB = np.zeros((3, 4), int)


@pytest.mark.parametrize("kwargs, match", [
    (dict(labels=np.zeros(5)), "`labels`"),
    (dict(labels=np.zeros((2, 2, 2))), "`labels`"),
    (dict(labels=np.zeros((0, 3))), "`labels`"),
    (dict(labels=np.array([["a", "b"]])), "`labels`"),
    (dict(labels=np.array([[1 + 1j]])), "`labels`"),
    (dict(labels="abc"), "`labels`"),
    (dict(labels=None), "`labels`"),
    (dict(value=None), "`value`"),
    (dict(value=float("nan")), "`value`"),
    (dict(value=[]), "`value`"),
    (dict(value=[[1, 2]]), "`value`"),
    (dict(value="3"), "`value`"),
    (dict(value=1j), "`value`"),
    (dict(connectivity=6), "`connectivity`"),
    (dict(connectivity=True), "`connectivity`"),
    (dict(extent=(0, 1, 2)), "`extent`"),
    (dict(extent=(0, 1, 2, float("nan"))), "`extent`"),
    (dict(extent=(0, 0, 0, 1)), "`extent`"),
    (dict(extent="abcd"), "`extent`"),
    (dict(origin="top"), "`origin`"),
    (dict(x_edges=np.arange(5)), "`x_edges` and `y_edges`"),
    (dict(x_edges=np.arange(4), y_edges=np.arange(4)), "`x_edges`"),
    (dict(x_edges=np.arange(5), y_edges=np.arange(3)), "`y_edges`"),
    (dict(x_edges=[0, 1, 1, 2, 3], y_edges=np.arange(4)), "monoton|increasing"),
    (dict(x_edges=[0, 1, 2, 3, np.inf], y_edges=np.arange(4)), "finite"),
    (dict(x_edges=np.arange(5), y_edges=np.arange(4), extent=(0, 1, 0, 1)), "`extent`"),
    (dict(x_edges=np.arange(5), y_edges=np.arange(4), origin="lower"), "`origin`"),
])
@pytest.mark.parametrize("func", [outline_path, outline_rings])
def test_bad_input_raises_input_error(func, kwargs, match):
    kw = dict(labels=LAB, value=1)
    kw.update(kwargs)
    labels, value = kw.pop("labels"), kw.pop("value")
    with pytest.raises(InputError, match=match):
        func(labels, value, **kw)


def test_outline_paths_bad_values():
    with pytest.raises(InputError, match="distinct"):
        outline_paths(LAB, [1, 2, 1])
    with pytest.raises(InputError, match="`values`"):
        outline_paths(LAB, [])
    assert list(outline_paths(LAB, 0)) == [0]
