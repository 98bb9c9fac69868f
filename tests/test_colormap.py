"""Tests of drr.tools.colormap: colormap inversion, colour-bar finding, identification."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
pytest.importorskip("scipy")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from scipy import ndimage  # noqa: E402

from drr.errors import InputError  # noqa: E402
from drr.tools.colormap import (  # noqa: E402
    ColorbarLocation,
    find_colorbar,
    identify_colormap,
    invert_colormap,
    srgb_to_lab,
)
from drr.tools.colormap.colors import _pack_colors  # noqa: E402


def smooth_field(seed, n=96):
    """Seeded smooth field in [0, 1]: a sum of six Gaussian bumps, rescaled."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:n, 0:n] / n
    f = np.zeros((n, n))
    for _ in range(6):
        c = rng.random(2)
        s = 0.15 + 0.3 * rng.random()
        f += rng.normal() * np.exp(-((x - c[0]) ** 2 + (y - c[1]) ** 2) / (2 * s * s))
    return (f - f.min()) / (f.max() - f.min())


def render(field, name):
    """uint8 RGB image of field through the matplotlib colormap `name` (as imshow paints it)."""
    return (matplotlib.colormaps[name](field)[..., :3] * 255 + 0.5).astype(np.uint8)


def rmse(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2)))


def covered(res, truth):
    return (truth >= res.interval_low) & (truth <= res.interval_high)


def figure_rgb(fig):
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def bbox_pixels(ax, height):
    """(row0, row1, col0, col1) of an axes' window extent in image pixel indices."""
    bb = ax.get_window_extent()
    return height - bb.y1, height - bb.y0, bb.x0, bb.x1


# ----------------------------------------------------------------- colour science


def test_srgb_to_lab_reference_values():
    lab = srgb_to_lab([[1, 1, 1], [0, 0, 0], [1, 0, 0], [0, 0, 1]])
    # reference: CIE 15 / Lindbloom calculator, D65, sRGB
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.01)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.02)
    np.testing.assert_allclose(lab[3], [32.30, 79.19, -107.86], atol=0.02)


# ----------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", ["viridis", "jet", "gray", "twilight"])
def test_clean_round_trip(name):
    truth = smooth_field(1)
    img = render(truth, name)
    res = invert_colormap(img, cmap=name)
    assert res.valid.all()
    assert res.values.shape == truth.shape and res.values.dtype == np.float64
    # the rendering quantises to 256 bins: the floor is 1/(256 sqrt 12) = 0.00113
    assert rmse(res.values, truth) < 0.0025
    assert np.abs(res.values - truth).max() < 0.016
    # twilight folds near its dark middle (0.497 and 0.506 look alike): at a field
    # extremum there a few pixels take the mirror branch, whose interval misses
    assert covered(res, truth).mean() >= (0.998 if name == "twilight" else 1.0)
    assert (res.interval_low <= res.values).all() and (res.values <= res.interval_high).all()


def test_noisy_round_trip_beats_pixelwise_and_covers_truth():
    truth = smooth_field(2)
    rng = np.random.default_rng(3)
    img = render(truth, "viridis").astype(float) + rng.normal(0, 5, (96, 96, 3))
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    res = invert_colormap(img, cmap="viridis")
    raw = invert_colormap(img, cmap="viridis", smoothing=0)
    ok = res.valid
    assert ok.mean() > 0.98
    assert rmse(res.values[ok], truth[ok]) < 0.006
    assert rmse(res.values[ok], truth[ok]) < 0.5 * rmse(raw.values[raw.valid], truth[raw.valid])
    assert covered(res, truth)[ok].mean() > 0.97
    assert 1.0 < res.noise < 8.0  # estimated along the curve, ΔE


def textured_field(seed, n=96):
    """Seeded field with texture at the pixel scale: smooth field + smoothed white noise, in [0, 1]."""
    rng = np.random.default_rng(seed)
    f = smooth_field(seed, n) + 0.5 * ndimage.gaussian_filter(rng.normal(size=(n, n)), 1.0)
    return (f - f.min()) / (f.max() - f.min())


def chroma_420(img):
    """JPEG-like chroma blur: YCbCr (ITU-R BT.601, full range), Cb and Cr averaged over 2x2 cells."""
    m = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
    ycc = img.astype(float) @ m.T
    h, w = img.shape[:2]
    cells = ycc[:, :, 1:].reshape(h // 2, 2, w // 2, 2, 2).mean(axis=(1, 3))
    ycc[:, :, 1:] = cells.repeat(2, axis=0).repeat(2, axis=1)
    return np.clip(np.rint(ycc @ np.linalg.inv(m).T), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", ["viridis", "gray"])
def test_smoothing_keeps_texture_of_clean_image(name):
    # texture at the pixel scale, clean 8-bit rendering: the colour noise is the
    # rounding alone, so the spatial step must give back the pixelwise values
    truth = textured_field(16)
    img = render(truth, name)
    res = invert_colormap(img, cmap=name)
    raw = invert_colormap(img, cmap=name, smoothing=0)
    np.testing.assert_array_equal(res.values, raw.values)
    assert rmse(res.values, truth) < 0.0017


def test_smoothing_adapts_to_noise_on_textured_image(monkeypatch):
    # noisy texture at the pixel scale on gray: the Wiener filter removes noise and some
    # texture; the local gain puts back what the noise cannot explain
    import drr.tools.colormap.invert as imod  # invert_colormap reads _keep_texture

    truth = textured_field(17)
    rng = np.random.default_rng(117)
    img = render(truth, "gray").astype(float) + rng.normal(0, 5, (96, 96, 3))
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    res = invert_colormap(img, cmap="gray")
    raw = invert_colormap(img, cmap="gray", smoothing=0)
    monkeypatch.setattr(imod, "_keep_texture", lambda r, smooth, var, inv, valid, *a, **k: np.where(valid, smooth, r))
    wiener = invert_colormap(img, cmap="gray")
    ok = res.valid & raw.valid & wiener.valid
    # measured 0.00980 / 0.01148 pixelwise / 0.00996 Wiener filter alone
    assert rmse(res.values[ok], truth[ok]) < 0.9 * rmse(raw.values[ok], truth[ok])
    assert rmse(res.values[ok], truth[ok]) < rmse(wiener.values[ok], truth[ok])


@pytest.mark.parametrize("name,max_rmse", [("viridis", 0.008), ("twilight", 0.008)])
def test_chroma_subsampled_image(name, max_rmse):
    # 4:2:0 chroma (as JPEG stores it) on a field that changes by ~2 % per pixel
    truth = smooth_field(18)
    img = chroma_420(render(truth, name))
    res = invert_colormap(img, cmap=name)
    assert res.valid.all()
    assert rmse(res.values, truth) < max_rmse
    assert covered(res, truth).mean() > 0.99


def test_distance_is_the_nearest_curve_sample():
    from scipy.spatial import cKDTree

    from drr.tools.colormap.curve import _build_curve, _knots_from_cmap

    rng = np.random.default_rng(19)
    colors = rng.integers(0, 256, (2000, 3), dtype=np.uint8)
    for name in ("viridis", "twilight", "flag"):
        res = invert_colormap(colors, cmap=name, max_distance=1000.0)
        curve = _build_curve(*_knots_from_cmap(name), 4096)
        d, _ = cKDTree(curve.lab).query(srgb_to_lab(colors / 255.0))
        np.testing.assert_allclose(res.distance, d, rtol=0, atol=1e-9)


def test_cyclic_map_branch_chosen_from_neighbours():
    # twilight is (nearly) white at both 0 and 1: a field that sits near 0 must come back near 0
    truth = 0.3 * smooth_field(4)
    img = render(truth, "twilight")
    res = invert_colormap(img, cmap="twilight")
    raw = invert_colormap(img, cmap="twilight", smoothing=0)
    assert (res.n_branches[truth < 0.01] >= 2).all()
    assert rmse(res.values, truth) < 0.0025
    assert np.nanmax(raw.values) > 0.9  # pixelwise, some pixels took the wrong branch
    assert covered(res, truth).all()


def test_flat_part_of_jet_gives_wide_interval():
    jet = matplotlib.colormaps["jet"]
    colors = (jet(np.array([0.118, 0.5]))[:, :3] * 255 + 0.5).astype(np.uint8)
    res = invert_colormap(colors, cmap="jet")
    assert res.valid.all()
    lo, hi = res.interval_low, res.interval_high
    # jet is pure blue from 0.110 to 0.125
    assert lo[0] <= 0.1105 and hi[0] >= 0.1245
    assert lo[0] <= res.values[0] <= hi[0]
    assert hi[1] - lo[1] < 0.02  # jet changes fast at 0.5
    assert abs(res.values[1] - 0.5) < 0.004
    assert (res.n_branches == 1).all()


def test_repeating_map_reports_several_branches():
    flag = matplotlib.colormaps["flag"]  # red-white-blue-black repeated
    color = (np.asarray(flag(0.3))[None, :3] * 255 + 0.5).astype(np.uint8)
    res = invert_colormap(color, cmap="flag")
    assert res.n_branches[0] >= 4


def test_reversed_map_and_vmin_vmax():
    truth = smooth_field(5)
    img = render(truth, "viridis_r")
    res = invert_colormap(img, cmap="viridis_r", vmin=-10.0, vmax=30.0)
    assert rmse(res.values, -10 + 40 * truth) < 40 * 0.0025
    flipped = invert_colormap(img, cmap="viridis", vmin=30.0, vmax=-10.0)
    np.testing.assert_allclose(flipped.values, res.values, atol=1e-9)
    assert (flipped.interval_low <= flipped.interval_high).all()


def test_colormap_object_and_list_of_colours():
    from matplotlib.colors import LinearSegmentedColormap

    truth = smooth_field(6)
    names = ["navy", "white", "darkred"]
    cm = LinearSegmentedColormap.from_list("custom", names)
    img = (cm(truth)[..., :3] * 255 + 0.5).astype(np.uint8)
    as_obj = invert_colormap(img, cmap=cm)
    as_names = invert_colormap(img, cmap=names)
    as_array = invert_colormap(img, cmap=np.array([matplotlib.colors.to_rgb(c) for c in names]))
    assert rmse(as_obj.values, truth) < 0.0025
    # knots at 0, 0.5, 1 versus LUT bin centres: at most half a bin apart
    assert rmse(as_names.values, truth) < 0.003
    np.testing.assert_allclose(as_array.values, as_names.values)


@pytest.mark.parametrize("name", ["gray", "RdBu"])
def test_figure_page_and_frame_in_map_colours_are_invalid(name):
    # white page, black frame, ticks and labels are colours of gray (and white of RdBu)
    truth = smooth_field(11, n=120)
    fig = plt.figure(figsize=(3, 3), dpi=100)
    ax = fig.add_axes([0.15, 0.15, 0.7, 0.7])
    ax.imshow(truth, cmap=name, interpolation="nearest")
    ax.set_title("title")
    rgb = figure_rgb(fig)
    r0, r1, c0, c1 = bbox_pixels(ax, rgb.shape[0])
    plt.close(fig)
    box = np.zeros(rgb.shape[:2], bool)
    box[int(np.floor(r0)) : int(np.ceil(r1)), int(np.floor(c0)) : int(np.ceil(c1))] = True
    inner = ndimage.binary_erosion(box, iterations=2)
    plain = invert_colormap(rgb, cmap=name, spatial_validity=False)
    res = invert_colormap(rgb, cmap=name)
    assert plain.valid[~box].mean() > 0.5  # the colour test alone accepts the page
    assert not res.valid[~box].any()
    assert res.valid[inner].all()
    # the frame line (uniform black on gray) hugging the image is peeled off: the
    # outer rows and columns of what stays valid show the field, not one colour
    ys, xs = np.nonzero(res.valid)
    for line in (rgb[ys.min(), xs.min() : xs.max() + 1], rgb[ys.max(), xs.min() : xs.max() + 1],
                 rgb[ys.min() : ys.max() + 1, xs.min()], rgb[ys.min() : ys.max() + 1, xs.max()]):
        assert np.ptp(line[:, 0].astype(int)) > 20
    if name == "gray":  # black is on gray: the colour test alone accepts the frame
        assert plain.valid[ys.min() - 1, xs.min() : xs.max() + 1].all()
    # same values up to the spatial step, which no longer averages in page pixels
    np.testing.assert_allclose(res.values[res.valid], plain.values[res.valid], atol=0.02)
    deep = ndimage.distance_transform_cdt(inner) > 4
    # these Agg figures step on the 8-px grid at the frame and ticks and are taken for JPEG,
    # whose variance factor (_quiet_block_scale) is image-wide: the flat page, valid in
    # `plain`, is its quietest block; compared without the JPEG rules, deep inside the data
    # only the Wiener filter's global estimates differ (its noise level is the mean over
    # the valid pixels, its spectrum that of the image with the page filled in): measured
    # 2.3e-4 at most (RdBu), within the data's 8-bit step of 1/255
    res, plain = (invert_colormap(rgb, cmap=name, jpeg=False, spatial_validity=sv) for sv in (True, False))
    np.testing.assert_allclose(res.values[deep], plain.values[deep], rtol=0, atol=1e-3)


def test_spatial_validity_leaves_plain_images_alone():
    # a field with a flat region along the whole border is not a figure
    truth = smooth_field(12, n=96)
    truth[:8] = truth[-8:] = 0.0
    truth[:, :8] = truth[:, -8:] = 0.0
    img = render(truth, "gray")
    a = invert_colormap(img, cmap="gray")
    b = invert_colormap(img, cmap="gray", spatial_validity=False)
    assert a.valid.all()
    np.testing.assert_array_equal(a.values, b.values)


def test_spatial_validity_flat_field_around_bumps_is_not_a_page():
    # flat value along the border, one broad bump and small ones: the flat part is
    # data (a page would be the exact complement of rectangular data boxes)
    yy, xx = np.mgrid[0:120, 0:120]
    truth = np.exp(-((yy - 60) ** 2 + (xx - 60) ** 2) / (2 * 15.0**2))
    for cy, cx in ((15, 15), (15, 100), (100, 20), (105, 105)):
        truth += 0.5 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 2.0)
    img = render(truth / truth.max(), "cividis")
    a = invert_colormap(img, cmap="cividis")
    b = invert_colormap(img, cmap="cividis", spatial_validity=False)
    assert b.valid.all()
    np.testing.assert_array_equal(a.valid, b.valid)


def test_spatial_validity_must_be_bool():
    with pytest.raises(InputError, match="spatial_validity"):
        invert_colormap(np.zeros((4, 4, 3), np.uint8), cmap="gray", spatial_validity="yes")


def test_background_text_and_axes_are_invalid():
    truth = smooth_field(7, n=120)
    fig = plt.figure(figsize=(3, 3), dpi=100)
    ax = fig.add_axes([0.1, 0.1, 0.8, 0.8])
    ax.imshow(truth, cmap="viridis", interpolation="nearest")
    txt = ax.text(60, 60, "Hello 42", color="white", fontsize=14, ha="center", va="center")
    ax.plot([10, 110], [100, 20], "r-", lw=2)
    with_text = figure_rgb(fig)
    txt.set_visible(False)
    ax.lines[0].set_visible(False)
    without = figure_rgb(fig)
    r0, r1, c0, c1 = bbox_pixels(ax, with_text.shape[0])
    plt.close(fig)

    drawn = np.any(with_text != without, axis=2)  # text and line, anti-aliased edges included
    box = np.zeros(drawn.shape, bool)  # the image fills the axes
    box[int(r0) : int(np.ceil(r1)), int(c0) : int(np.ceil(c1))] = True
    clear = ndimage.binary_erosion(box, iterations=2) & ~ndimage.binary_dilation(drawn, iterations=1)
    res = invert_colormap(with_text, cmap="viridis")
    precision = (box & ~drawn)[res.valid].mean()
    recall = res.valid[clear].mean()
    assert precision > 0.99
    assert recall > 0.99
    assert (res.valid & drawn).sum() < 0.15 * drawn.sum()  # only faint anti-aliased edges pass
    assert not res.valid[0, 0] and np.isnan(res.values[0, 0])  # white background
    assert not res.valid[~box].any()  # axes labels, ticks, margins
    # pixels that are plainly text (white) are invalid
    assert not res.valid[np.all(with_text == 255, axis=2) & box].any()


def test_transparent_pixels_are_invalid_and_input_untouched():
    truth = smooth_field(8, n=32)
    rgba = (matplotlib.colormaps["magma"](truth) * 255 + 0.5).astype(np.uint8)
    rgba[:4, :, 3] = 0
    before = rgba.copy()
    res = invert_colormap(rgba, cmap="magma")
    assert not res.valid[:4].any() and res.valid[5:].all()
    np.testing.assert_array_equal(rgba, before)


# ----------------------------------------------------------------- colour bars


@pytest.mark.parametrize(
    "name,orientation", [("viridis", "vertical"), ("jet", "horizontal"), ("gray", "vertical"), ("magma_r", "vertical")]
)
def test_find_colorbar_in_agg_figure(name, orientation):
    truth = smooth_field(9)
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    im = ax.imshow(truth, cmap=name)
    ax.set_title("a title")
    fig.colorbar(im, ax=ax, orientation=orientation, label="value")
    rgb = figure_rgb(fig)
    r0, r1, c0, c1 = bbox_pixels(fig.axes[1], rgb.shape[0])
    plt.close(fig)
    loc = find_colorbar(rgb)
    assert isinstance(loc, ColorbarLocation)
    assert loc.orientation == orientation
    # the interior lies within 3 px of the axes box (frame line included)
    assert abs(loc.rows[0] - r0) <= 3 and abs(loc.rows[1] - r1) <= 3
    assert abs(loc.cols[0] - c0) <= 3 and abs(loc.cols[1] - c1) <= 3
    # the bar's colours run from low to high: they match the colormap
    cm = matplotlib.colormaps[name]
    expected = cm(loc.positions)[:, :3]
    err = np.linalg.norm(srgb_to_lab(loc.colors) - srgb_to_lab(expected), axis=1)
    assert np.median(err) < 1.5


def test_find_colorbar_none_without_bar():
    assert find_colorbar(np.full((50, 80, 3), 255, np.uint8)) is None
    rng = np.random.default_rng(10)
    assert find_colorbar(rng.integers(0, 256, (60, 60, 3), dtype=np.uint8)) is None


def test_invert_with_colorbar_crop_and_location():
    truth = smooth_field(11)
    img = render(truth, "plasma")
    # a vertical bar crop, high values on top, 200 px long
    bar = render(np.repeat(np.linspace(1, 0, 200)[:, None], 12, axis=1), "plasma")
    res = invert_colormap(img, cmap=bar)
    assert rmse(res.values, truth) < 0.004
    assert covered(res, truth).mean() > 0.99
    # the same bar found in a padded canvas and passed as a ColorbarLocation
    canvas = np.full((260, 60, 3), 255, np.uint8)
    canvas[29:231, 19:33] = 0
    canvas[30:230, 20:32] = bar
    loc = find_colorbar(canvas)
    assert loc.rows == (30, 230) and loc.cols == (20, 32)
    res2 = invert_colormap(img, cmap=loc)
    assert rmse(res2.values, truth) < 0.004


def test_uint8_input_read_as_bytes_gives_the_float_result():
    # 8-bit images are keyed and checked for JPEG from their bytes (no float copy): the
    # results must be those of the same image given as floats, RGB and RGBA, noisy and JPEG
    rng = np.random.default_rng(30)
    img = np.clip(np.rint(render(smooth_field(31), "jet") + rng.normal(0, 6, (96, 96, 3))), 0, 255).astype(np.uint8)
    rgba = np.concatenate([img, np.full((96, 96, 1), 255, np.uint8)], axis=2)
    rgba[:10, :10, 3] = 0
    for a, kw in ((img, {}), (rgba, {}), (img, {"jpeg": True})):
        fast = invert_colormap(a, cmap="jet", **kw)
        slow = invert_colormap(a / 255.0, cmap="jet", **kw)
        for name in ("values", "interval_low", "interval_high", "valid", "distance", "n_branches"):
            np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name))
        assert fast.noise == slow.noise
    from drr.tools.colormap.jpeg import _jpeg_blockiness

    assert _jpeg_blockiness(img) == _jpeg_blockiness(img / 255.0)


# ----------------------------------------------------------------- identification


def test_identify_plain_image_ranks_true_map_first():
    img = render(smooth_field(12), "viridis")
    ranking = identify_colormap(img)
    assert ranking[0].name == "viridis"
    # without a colour bar a map and its reverse have the same colours: a tie
    assert ranking[1].name == "viridis_r"
    assert ranking[1].score == pytest.approx(ranking[0].score)
    assert ranking[2].score > ranking[0].score + 3.0
    assert identify_colormap(render(smooth_field(13), "jet"), top=1)[0].name == "jet"


def test_identify_uses_colorbar_for_direction():
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    im = ax.imshow(smooth_field(14), cmap="magma_r")
    fig.colorbar(im, ax=ax)
    rgb = figure_rgb(fig)
    plt.close(fig)
    ranking = identify_colormap(rgb, candidates=["magma", "magma_r", "inferno", "inferno_r", "gray", "viridis"])
    assert ranking[0].name == "magma_r"
    magma = next(m for m in ranking if m.name == "magma")
    assert magma.score > ranking[0].score + 2.0


@pytest.mark.parametrize("noise", [0.0, 3.0])
def test_identify_separates_cyclic_maps_by_smoothness(noise):
    # twilight and twilight_shifted have the same colours (the loop, its seam half a period
    # apart): the colour fit ties; with the wrong one the smooth field wraps along a contour
    rng = np.random.default_rng(20)
    for seed in (21, 22):
        field = smooth_field(seed)
        for name in ("twilight", "twilight_shifted"):
            img = np.clip(np.rint(render(field, name) + rng.normal(0.0, noise, (96, 96, 3))), 0, 255).astype(np.uint8)
            ranking = identify_colormap(img, candidates=["twilight", "twilight_shifted"])
            assert ranking[0].name == name and ranking[0].jumps < 0.001
            # the other map's jumps are computed unless its colour fit alone already loses
            assert ranking[1].jumps is None or ranking[1].jumps > 0.005


def test_jump_pairs_counts_wraps_not_seam_placement():
    from drr.tools.colormap.identify import _jump_pairs

    f = smooth_field(23)
    assert _jump_pairs(f, cyclic=True) == 0 and _jump_pairs(f, cyclic=False) == 0
    wrapped = (f + 0.5) % 1.0  # the same field seen through the map rolled by half a period
    n_wrap = _jump_pairs(wrapped, cyclic=True)
    assert n_wrap >= 40  # about the length, in pixels, of the contour f = 1/2
    # seam colours placed at the other end (a minimum read as 0.99) can be moved back: not counted
    moved = np.where(f < 0.03, 1.0 - f, f)
    assert _jump_pairs(moved, cyclic=True) == 0 and _jump_pairs(moved, cyclic=False) > 0
    holes = wrapped.copy()
    holes[::7] = np.nan  # missing pixels are no neighbours
    assert 0 < _jump_pairs(holes, cyclic=True) <= n_wrap


def test_identify_ignores_bar_that_no_map_explains():
    # a strip of a plain image that passes for a colour bar (here a piece of viridis, framed)
    # matches no map over its length: it must not decide between viridis and its reverse
    img = render(smooth_field(16, 128), "viridis")
    img[36:84, 56:69] = 0
    img[40:80, 60:65] = render(np.linspace(0.25, 0.55, 40)[:, None] * np.ones((1, 5)), "viridis")
    assert find_colorbar(img) is not None
    ranking = identify_colormap(img, candidates=["viridis", "viridis_r"])
    assert ranking[0].name == "viridis"
    assert ranking[1].score == pytest.approx(ranking[0].score)


def test_identify_groups_identical_maps():
    ranking = identify_colormap(render(smooth_field(15), "gray"), candidates=["gray", "grey", "viridis"])
    assert ranking[0].name == "gray" and ranking[0].equivalents == ("grey",)
    assert len(ranking) == 2


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "rgb,kwargs",
    [
        (np.zeros((4, 5)), {}),  # no channel axis
        (np.zeros((4, 4, 2)), {}),
        (np.zeros((0, 3)), {}),
        (np.full((4, 4, 3), 1.5), {}),
        (np.full((4, 4, 3), np.nan), {}),
        (np.zeros((4, 4, 3), np.int32), {}),
        (np.zeros((4, 4, 3), bool), {}),
        ("image.png", {}),
        (np.zeros((4, 4, 3)), {"cmap": "no_such_map"}),
        (np.zeros((4, 4, 3)), {"cmap": 7}),
        (np.zeros((4, 4, 3)), {"cmap": ["red"]}),
        (np.zeros((4, 4, 3)), {"cmap": [[0, 0, 2], [1, 1, 1]]}),
        (np.zeros((4, 4, 3)), {"cmap": ["red", "not a colour"]}),
        (np.zeros((4, 4, 3)), {"vmin": 1.0, "vmax": 1.0}),
        (np.zeros((4, 4, 3)), {"vmin": np.nan}),
        (np.zeros((4, 4, 3)), {"noise": -1.0}),
        (np.zeros((4, 4, 3)), {"max_distance": 0.0}),
        (np.zeros((4, 4, 3)), {"smoothing": -1}),
        (np.zeros((4, 4, 3)), {"smoothing": 1.5}),
        (np.zeros((4, 4, 3)), {"n_samples": 4}),
        (np.zeros((0, 0, 3), np.uint8), {}),  # empty image
        (np.zeros((2, 4, 4, 3)), {}),  # a stack: one image at a time
        (np.zeros((4, 4, 5)), {}),
        (np.full((4, 4, 4), np.nan), {}),  # all-NaN RGBA
        (np.full((4, 4, 3), np.inf), {}),
        (np.full((4, 4, 3), -0.1), {}),
        (np.zeros((4, 4, 3), np.int64), {}),
    ],
)
def test_invert_bad_input(rgb, kwargs):
    kwargs = {"cmap": "viridis", **kwargs}
    with pytest.raises(InputError):
        invert_colormap(rgb, **kwargs)


def test_other_functions_bad_input():
    with pytest.raises(InputError):
        find_colorbar(np.zeros((10, 3)))
    with pytest.raises(InputError):
        find_colorbar(np.zeros((10, 10, 3)), min_length=1)
    with pytest.raises(InputError):
        identify_colormap(np.zeros((10, 10, 3)), candidates="viridis")
    with pytest.raises(InputError):
        identify_colormap(np.zeros((10, 10, 3)), candidates=["viridis", "nope"])
    with pytest.raises(InputError):
        identify_colormap(np.zeros((10, 10, 3)), top=0)
    with pytest.raises(TypeError):
        invert_colormap(np.zeros((4, 4, 3)), "viridis")  # cmap is keyword-only


def test_fully_transparent_image_is_all_invalid():
    # an empty alpha mask is documented behaviour, not an error: nothing is valid
    rgba = np.zeros((40, 40, 4), np.uint8)
    res = invert_colormap(rgba, cmap="viridis")
    assert not res.valid.any()
    assert np.isnan(res.values).all() and np.isnan(res.interval_low).all() and np.isnan(res.interval_high).all()
    assert (res.n_branches == 0).all()
    with pytest.raises(InputError):
        identify_colormap(rgba)  # nothing to rank


@pytest.mark.parametrize("shape", [(64, 80), (5000,)])
def test_uint8_uint16_float_and_rgba_give_the_same_answer(shape):
    # the same colours as uint8, as uint16 (x 257), as float k/255, with an opaque alpha, in
    # big-endian byte order (e.g. from FITS or TIFF); float16 colours differ by their rounding
    rng = np.random.default_rng(31)
    truth = rng.random(shape)
    u8 = render(truth, "plasma")
    ref = invert_colormap(u8, cmap="plasma")
    variants = [u8.astype(np.uint16) * 257, u8 / 255.0, u8.astype(np.float32) / np.float32(255.0),
                np.concatenate([u8, np.full(shape + (1,), 255, np.uint8)], axis=-1),
                (u8.astype(np.uint16) * 257).astype(">u2"), (u8 / 255.0).astype(">f8")]   # big-endian
    for img in variants:
        res = invert_colormap(img, cmap="plasma")
        np.testing.assert_allclose(res.values, ref.values, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(res.valid, ref.valid)
    half = invert_colormap((u8 / 255.0).astype(np.float16), cmap="plasma")   # colours off by <= 2^-12
    np.testing.assert_allclose(half.values, ref.values, rtol=0, atol=1e-3)


def test_unique_8bit_fast_path_equals_np_unique():
    # the counting pass over the 2**24 colour cube gives np.unique's answer exactly
    rng = np.random.default_rng(32)
    img = rng.integers(0, 256, (300, 70, 3)).astype(np.uint8)
    img[:100] = img[0, 0]  # a flat block: one colour, many pixels
    f = img.astype(np.float64) / 255.0
    cols, inv, counts = _pack_colors(f)
    key = (img[..., 0].astype(np.int64) << 16) | (img[..., 1].astype(np.int64) << 8) | img[..., 2]
    uniq, inv_ref, counts_ref = np.unique(key.ravel(), return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(inv, inv_ref)
    np.testing.assert_array_equal(counts, counts_ref)
    np.testing.assert_array_equal(np.rint(cols * 255).astype(np.int64), np.stack([uniq >> 16, (uniq >> 8) & 255, uniq & 255], 1))
    # off the 8-bit levels: the 16-bit path, same contract
    g = f.copy()
    g[0, 0, 0] = 0.5
    cols2, inv2, counts2 = _pack_colors(g)
    assert counts2.sum() == f.shape[0] * f.shape[1] and np.allclose(cols2[inv2], g.reshape(-1, 3), atol=1 / 65535)


def test_pixelwise_value_is_the_srgb_projection():
    # a colour halfway between two LUT entries in sRGB comes back halfway between their values
    cm = matplotlib.colormaps["viridis"]
    lut = cm(np.arange(cm.N))[:, :3]
    k = 100
    mid = 0.5 * (lut[k] + lut[k + 1])
    res = invert_colormap(mid[None, :], cmap="viridis", smoothing=0)
    assert abs(res.values[0] - (k + 1.0) / cm.N) < 1e-5  # LUT entry k sits at (k + 0.5) / N


# ----------------------------------------------------------------- 8-bit cube table, JPEG


def test_cube_table_gives_the_searched_nearest_samples(monkeypatch):
    # many distinct colours: the nearest samples come from the curve's table over the
    # 8-bit cube (filled as colours are met); every output equals the per-colour search
    import drr.tools.colormap.nearest as cmod  # the module whose _nearest reads _CUBE_MIN
    from drr.tools.colormap.curve import _build_curve, _knots_from_cmap

    rng = np.random.default_rng(41)
    img = np.clip(render(smooth_field(41, 400), "twilight") + rng.normal(0, 12, (400, 400, 3)), 0, 255)
    img = np.rint(img).astype(np.uint8)
    assert len(_pack_colors(img / 255.0)[0]) >= cmod._CUBE_MIN  # the table path is taken
    cmod._cube_cache.clear()
    first = invert_colormap(img, cmap="twilight")
    assert len(cmod._cube_cache) == 1
    table = next(iter(cmod._cube_cache.values()))
    filled = int((table != cmod._CUBE_EMPTY).sum())
    again = invert_colormap(img, cmap="twilight")  # all colours from the table now
    assert int((table != cmod._CUBE_EMPTY).sum()) == filled
    monkeypatch.setattr(cmod, "_CUBE_MIN", 1 << 40)  # per-colour search only
    ref = invert_colormap(img, cmap="twilight")
    for res in (first, again):
        for field in ("values", "interval_low", "interval_high", "distance"):
            np.testing.assert_array_equal(getattr(res, field), getattr(ref, field))
        np.testing.assert_array_equal(res.n_branches, ref.n_branches)
        np.testing.assert_array_equal(res.valid, ref.valid)
    # a table entry is the nearest sample of that colour, also for colours far off the curve
    curve = _build_curve(*_knots_from_cmap("twilight"), 4096)
    keys = np.flatnonzero(table != cmod._CUBE_EMPTY)[::997]
    cols = np.stack([(keys >> 16) & 255, (keys >> 8) & 255, keys & 255], axis=1) / 255.0
    _, k_ref = cmod._nearest(curve, srgb_to_lab(cols))
    np.testing.assert_array_equal(table[keys].astype(np.int64) - 1, k_ref)  # entries: sample + 1


def test_on_curve_pixels_equals_fancy_indexing():
    from drr.tools.colormap.validity import _on_curve_pixels

    rng = np.random.default_rng(11)
    on_curve = rng.random(500) < 0.7
    inv = rng.integers(0, 500, 20_000).astype(np.int32)
    got = _on_curve_pixels(on_curve, inv)
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, on_curve[inv])


def test_seeded_nearest_scan_equals_the_plain_scan():
    # the search of some rows started from any sample (or none, or the answer of the
    # rows _SEED_STRIDE before and after) gives the same index and distance, exact ties included
    # (flag repeats its colours: samples at exactly equal distances)
    from drr.tools.colormap.curve import _BLOCK, _build_curve, _knots_from_cmap
    from drr.tools.colormap.search import _nearest_scan, _nearest_scan_seeded

    rng = np.random.default_rng(53)
    for name in ("twilight", "flag", "viridis", "hsv"):
        curve = _build_curve(*_knots_from_cmap(name), 4096)
        cols = np.concatenate([rng.integers(0, 256, (3000, 3)), np.repeat(rng.integers(0, 256, (300, 3)), 3, axis=0),
                               np.rint(curve.rgb[::7] * 255)]) / 255.0
        cols = cols[np.argsort(rng.random(len(cols)))]
        p = np.ascontiguousarray(srgb_to_lab(cols))
        p[:40] = curve.lab[rng.integers(0, len(curve.lab), 40)]  # exactly on samples
        args = (curve.lab, curve.block_center, curve.block_radius, _BLOCK)
        d_ref, k_ref = np.empty(len(p)), np.empty(len(p), dtype=np.int64)
        _nearest_scan(p, *args, d_ref, k_ref)
        for a in range(0, len(p), 500):  # brute force: the same squared distances, first minimum
            q = p[a:a + 500, None, :] - curve.lab[None, :, :]
            d2 = (q[..., 0] * q[..., 0] + q[..., 1] * q[..., 1]) + q[..., 2] * q[..., 2]
            np.testing.assert_array_equal(k_ref[a:a + 500], np.argmin(d2, axis=1))
            assert d_ref[a:a + 500].tobytes() == np.sqrt(d2.min(axis=1)).tobytes()
        for seed in (np.full(len(p), -1), rng.integers(0, len(curve.lab), len(p)),
                     np.where(rng.random(len(p)) < 0.5, k_ref, -1), np.where(rng.random(len(p)) < 0.5, -1, 0)):
            d, k = np.full(len(p), -7.0), seed.astype(np.int64)
            rows = np.flatnonzero(rng.random(len(p)) < 0.7)
            _nearest_scan_seeded(p, rows, *args, d, k)
            np.testing.assert_array_equal(k[rows], k_ref[rows])
            assert d[rows].tobytes() == d_ref[rows].tobytes()
            rest = np.setdiff1d(np.arange(len(p)), rows)
            assert (d[rest] == -7.0).all() and (k[rest] == seed[rest]).all()  # other entries untouched


def test_nearest_over_cells_equals_brute_force():
    # the search over cells (each colour only the blocks its cell can reach, started from
    # its cell centre's sample, the row before's answer or its own start) gives the
    # brute-force answer bitwise, exact ties included, for cells from tiny to one for all
    from drr.tools.colormap.curve import _BLOCK, _build_curve, _knots_from_cmap
    from drr.tools.colormap.search import _nearest_cells

    rng = np.random.default_rng(67)
    for name in ("twilight", "flag", "viridis", "hsv"):
        curve = _build_curve(*_knots_from_cmap(name), 4096 if name != "viridis" else 1000)
        near = curve.rgb[rng.integers(0, len(curve.rgb), 2000)] + rng.normal(0.0, 0.03, (2000, 3))
        cols = np.clip(np.concatenate([rng.integers(0, 256, (2000, 3)) / 255.0, near,
                                       np.repeat(rng.integers(0, 256, (200, 3)), 3, axis=0) / 255.0]), 0.0, 1.0)
        p = np.ascontiguousarray(srgb_to_lab(cols))
        p[:40] = curve.lab[rng.integers(0, len(curve.lab), 40)]  # exactly on samples
        n = len(p)
        k_ref, d_ref = np.empty(n, dtype=np.int64), np.empty(n)
        for a in range(0, n, 500):  # brute force: the same squared distances, first minimum
            q = p[a:a + 500, None, :] - curve.lab[None, :, :]
            d2 = (q[..., 0] * q[..., 0] + q[..., 1] * q[..., 1]) + q[..., 2] * q[..., 2]
            k_ref[a:a + 500] = np.argmin(d2, axis=1)
            d_ref[a:a + 500] = np.sqrt(d2.min(axis=1))
        args = (curve.lab, curve.block_center, curve.block_radius, _BLOCK)
        for size in (0.3, 4.0, 15.0, 1000.0):
            for seed in (np.full(n, -1), rng.integers(0, len(curve.lab), n), np.where(rng.random(n) < 0.5, k_ref, -1)):
                rows = np.flatnonzero(rng.random(n) < 0.8)
                d, k = np.full(n, -7.0), seed.astype(np.int64)
                _nearest_cells(p, rows, *args, d, k, size=size)
                np.testing.assert_array_equal(k[rows], k_ref[rows])
                assert d[rows].tobytes() == d_ref[rows].tobytes()
                rest = np.setdiff1d(np.arange(n), rows)
                assert (d[rest] == -7.0).all() and (k[rest] == seed[rest]).all()  # other entries untouched
        d, k = np.full(n, -7.0), np.full(n, -1, dtype=np.int64)
        _nearest_cells(p, np.arange(0), *args, d, k)  # no rows: nothing touched
        assert (d == -7.0).all() and (k == -1).all()


def test_gather_branch_matches_its_definition():
    # per pixel: the chosen branch's value and widened interval, distance and branch
    # count of its colour (0 where invalid); the per-colour packing runs in parallel
    from drr.tools.colormap.gather import _gather_branch

    rng = np.random.default_rng(59)
    u, nb, ns = 70000, 4, 512
    t = np.linspace(0.0, 1.0, ns)
    lo = rng.integers(0, ns, (u, nb)).astype(np.int32)
    hi = np.minimum(lo + rng.integers(0, 40, (u, nb)), ns - 1).astype(np.int32)
    est_t = rng.random((u, nb))
    d, nbr = rng.random(u) * 9, rng.integers(1, 9, u)
    inv = rng.integers(0, u, (300, 310))
    choice = rng.integers(0, nb, inv.shape).astype(np.int8)
    valid = rng.random(inv.shape) < 0.9
    dt, hb = t[1] - t[0], 0.5 / 256
    got = _gather_branch(inv, choice, est_t, lo, hi, t, dt, hb, d, nbr, valid)
    want = (est_t[inv, choice], np.clip(t[lo[inv, choice]] - dt - hb, 0, 1), np.clip(t[hi[inv, choice]] + dt + hb, 0, 1),
            d[inv], np.where(valid, nbr[inv], 0).astype(np.int32))
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.tobytes() == w.tobytes()


def _jpeg(img, quality=75):
    pil = pytest.importorskip("PIL.Image")
    import io

    buf = io.BytesIO()
    pil.fromarray(img).save(buf, "JPEG", quality=quality)
    return np.asarray(pil.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def test_jpeg_detected_by_block_grid():
    from drr.tools.colormap.jpeg import _jpeg_blockiness

    rng = np.random.default_rng(43)
    field = ndimage.zoom(rng.random((40, 40)), 5, order=3)[:197, :203]  # texture at a few px, odd size
    field = (field - field.min()) / (field.max() - field.min())
    clean = render(field, "viridis")
    noisy = np.clip(np.rint(clean + rng.normal(0, 6, clean.shape)), 0, 255).astype(np.uint8)
    for img in (clean, noisy):
        assert _jpeg_blockiness(img / 255.0) < 1.04
        # q75 on texture at a few pixels: 1.075 clean, 1.096 noisy (the threshold is 1.06)
        assert _jpeg_blockiness(_jpeg(img) / 255.0) > 1.07
        # a crop that moves the block grid off the origin is still detected
        assert _jpeg_blockiness(_jpeg(img)[3:, 5:] / 255.0) > 1.07
    assert _jpeg_blockiness(clean[:20, :20] / 255.0) == 1.0  # too small to tell


def test_jpeg_metric_beats_srgb_projection_on_jpeg_and_is_off_for_png():
    rng = np.random.default_rng(44)
    field = ndimage.zoom(rng.random((32, 32)), 8, order=3)  # texture at ~8 px
    field = (field - field.min()) / (field.max() - field.min())
    img = _jpeg(render(field, "viridis"))
    auto = invert_colormap(img, cmap="viridis")
    srgb = invert_colormap(img, cmap="viridis", jpeg=False)
    forced = invert_colormap(img, cmap="viridis", jpeg=True)
    pixelwise = invert_colormap(img, cmap="viridis", jpeg=True, smoothing=0)
    np.testing.assert_array_equal(auto.values, forced.values)  # detected
    err = lambda r: np.nanmean(np.abs(r.values - field))  # noqa: E731
    lut = matplotlib.colormaps["viridis"](np.arange(256))[:, :3]
    near = (np.argmin(((img.reshape(-1, 1, 3) / 255.0 - lut[None]) ** 2).sum(-1), axis=1) + 0.5) / 256
    err_near = np.mean(np.abs(near.reshape(field.shape) - field))
    # measured: auto 1.28 %, sRGB projection 1.91 %, nearest LUT colour 1.34 %, pixelwise 0.69 %
    assert err(auto) < 0.8 * err(srgb) and err(auto) < err_near
    assert err(pixelwise) < 0.6 * err_near
    assert covered(auto, field)[auto.valid].mean() > 0.95
    # a PNG (noisy or not) is not taken for JPEG: same answer as jpeg=False
    png = np.clip(np.rint(render(field, "viridis") + rng.normal(0, 6, img.shape)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(invert_colormap(png, cmap="viridis").values,
                                  invert_colormap(png, cmap="viridis", jpeg=False).values)


def test_jpeg_interval_takes_in_the_neighbours_and_covers_gray_photo():
    # luma errors of JPEG on gray do not show off the curve; the interval must still cover
    rng = np.random.default_rng(46)  # flat patches with sharp edges, plus texture
    field = 0.7 * ndimage.zoom(rng.random((12, 12)), 16, order=0) + 0.3 * ndimage.zoom(rng.random((48, 48)), 4, order=3)
    field = (field - field.min()) / (field.max() - field.min())
    img = _jpeg(render(field, "gray"))
    res = invert_colormap(img, cmap="gray")
    plain = invert_colormap(img, cmap="gray", jpeg=False)
    # measured: 0.999 (mean width 0.14) vs 0.967 (width 0.05) without the JPEG rules
    assert covered(res, field)[res.valid].mean() >= 0.99 > covered(plain, field)[plain.valid].mean()
    res = invert_colormap(img, cmap="gray", smoothing=0)  # values = the pixelwise ones the widening used
    v = res.values
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        a = v[max(dy, 0):, max(-dx, 0):v.shape[1] - max(dx, 0)]
        b = v[:v.shape[0] - dy, max(dx, 0):][:, :a.shape[1]]
        lo = res.interval_low[max(dy, 0):, max(-dx, 0):v.shape[1] - max(dx, 0)]
        hi = res.interval_high[max(dy, 0):, max(-dx, 0):v.shape[1] - max(dx, 0)]
        assert np.all((b >= lo - 1e-12) & (b <= hi + 1e-12))  # each neighbour's value is inside


def test_jpeg_option_must_be_bool_or_none():
    img = render(smooth_field(45, 40), "viridis")
    for bad in ("yes", 1, 0.5):
        with pytest.raises(InputError, match="jpeg"):
            invert_colormap(img, cmap="viridis", jpeg=bad)


def test_keep_texture_matches_box_filter_definition():
    from drr.tools.colormap.smoothing import _keep_texture

    rng = np.random.default_rng(4)
    raw = rng.random((70, 45))  # more than one 32-row band, not a multiple of it
    smooth = raw + 0.1 * rng.normal(size=raw.shape)
    var = 0.01 * rng.random(raw.shape)
    valid = rng.random(raw.shape) > 0.1
    got = _keep_texture(raw, smooth, var.ravel(), np.arange(raw.size).reshape(raw.shape), valid, 2, 1.5)
    def box(a):
        return ndimage.uniform_filter(np.where(valid, a, 0.0), 5, mode="constant")

    n, e, vv = box(np.ones_like(raw)), box((raw - smooth) ** 2), box(var)
    g = np.clip(1.0 - 1.5 * (vv / n) / (e / n), 0.0, 1.0)
    ref = np.where(valid, smooth + g * (raw - smooth), raw)
    assert np.allclose(got, ref, rtol=0, atol=1e-9)


def test_block_hf_ratios_match_convolution_definition():
    from drr.tools.colormap.smoothing import _block_hf_ratios, _quiet_block_scale

    rng = np.random.default_rng(7)
    raw = rng.random((45, 38))  # not a multiple of the block: whole blocks only
    var = 0.01 + rng.random(raw.size)
    inv = rng.permutation(raw.size).reshape(raw.shape)
    valid = rng.random(raw.shape) > 0.05
    valid[16:24, 8:16] = False  # a block without enough usable pixels: NaN
    got = np.empty((45 // 8 + 1) // 2 * (38 // 8))  # tiles of block rows 0, 2, 4 (every other band)
    _block_hf_ratios(raw, var, inv, valid, 8, 2, got)
    k = np.outer([1.0, -2.0, 1.0], [1.0, -2.0, 1.0])
    hf = ndimage.correlate(raw, k, mode="constant")
    ok = ndimage.minimum_filter(valid, 3, mode="constant", cval=False)  # 3 x 3 inside and valid
    ref = []
    for by in range(0, 45 // 8, 2):
        for bx in range(38 // 8):
            sl = (slice(8 * by, 8 * by + 8), slice(8 * bx, 8 * bx + 8))
            m = ok[sl]
            e, v = (hf[sl][m] ** 2).sum(), 36.0 * var[inv[sl][m]].sum()
            ref.append(e / v if 2 * m.sum() >= 64 else np.nan)
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    assert np.isnan(got[38 // 8 + 1])
    r = np.asarray(ref)
    q = np.percentile(r[np.isfinite(r)], 25)
    assert _quiet_block_scale(raw, var, inv, valid, tiles=10) == max(0.1, min(1.0, 10.0 * q))
    assert _quiet_block_scale(raw, var, inv, valid, tiles=10, gain=1e-3 / q) == 0.1  # the floor
    everything = np.empty((45 // 8) * (38 // 8))
    _block_hf_ratios(raw, var, inv, valid, 8, 1, everything)
    np.testing.assert_array_equal(everything.reshape(5, 4)[::2].ravel(), got)
    assert _quiet_block_scale(raw[:7], var, inv[:7], valid[:7]) == 1.0  # no whole block


def test_jpeg_texture_kept_on_clean_jpeg_and_noise_before_compression_smoothed(monkeypatch):
    import drr.tools.colormap.invert as imod  # invert_colormap reads _quiet_block_scale

    import skimage.data

    rng = np.random.default_rng(44)
    cam = skimage.data.camera()[200:296, 250:346].astype(float)  # fine texture (grass) and edges
    tex = (cam - cam.min()) / (cam.max() - cam.min())
    y, x = np.mgrid[:96, :96] / 96.0
    ramp = 0.6 * x + 0.2 * y + 0.15 * ndimage.zoom(rng.random((24, 24)), 4, order=3) * (x > 0.5)
    ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min())
    clean = _jpeg(render(tex, "viridis"))
    noisy = np.clip(np.rint(render(ramp, "viridis") + rng.normal(0, 6, clean.shape)), 0, 255)
    noisy = _jpeg(noisy.astype(np.uint8))

    def err(res, truth):
        return 100 * np.nanmean(np.abs(res.values - truth))

    seen = []
    scale = imod._quiet_block_scale
    monkeypatch.setattr(imod, "_quiet_block_scale", lambda *a, **k: seen.append(scale(*a, **k)) or seen[-1])
    new_clean, new_noisy = invert_colormap(clean, cmap="viridis"), invert_colormap(noisy, cmap="viridis")
    monkeypatch.setattr(imod, "_quiet_block_scale", lambda *a, **k: 1.0)  # the model's variance as it is
    old_clean = invert_colormap(clean, cmap="viridis")
    raw_clean = invert_colormap(clean, cmap="viridis", smoothing=0)
    raw_noisy = invert_colormap(noisy, cmap="viridis", smoothing=0)
    # measured: clean texture 1.379 % (factor 0.20) vs 1.545 % with the model's variance
    # (pixelwise 1.405 %); noise before compression keeps the factor 1
    assert err(new_clean, tex) < 0.93 * err(old_clean, tex)
    assert err(new_clean, tex) < err(raw_clean, tex)
    assert seen[0] < 0.5 and seen[1] == 1.0
    assert err(new_noisy, ramp) < 0.7 * err(raw_noisy, ramp)
    # a noise level given by the caller is used as it is: no factor
    seen.clear()
    monkeypatch.setattr(imod, "_quiet_block_scale", lambda *a, **k: seen.append(1) or 1.0)
    invert_colormap(clean, cmap="viridis", noise=1.0)
    assert seen == []


def test_jpeg_interval_reaches_beyond_neighbours_across_edges_off_the_curve(monkeypatch):
    import drr.tools.colormap.invert as cmod  # invert_colormap reads _JPEG_EDGE

    rng = np.random.default_rng(47)  # flat patches with sharp edges (ringing), plus texture
    field = 0.7 * ndimage.zoom(rng.random((12, 12)), 16, order=0) + 0.3 * ndimage.zoom(rng.random((48, 48)), 4, order=3)
    field = (field - field.min()) / (field.max() - field.min())
    img = _jpeg(render(field, "jet"))
    res = invert_colormap(img, cmap="jet")
    monkeypatch.setattr(cmod, "_JPEG_EDGE", 0.0)
    base = invert_colormap(img, cmap="jet")
    v = res.valid
    assert np.array_equal(res.values, base.values, equal_nan=True)  # only the reported interval changes
    assert np.all(res.interval_low[v] <= base.interval_low[v]) and np.all(res.interval_high[v] >= base.interval_high[v])
    cov, cov0 = covered(res, field)[v].mean(), covered(base, field)[v].mean()
    assert cov >= cov0 + 0.01 and cov >= 0.95
    # wider where the neighbours' values spread (edges), not on the smooth stretches
    flat = (ndimage.maximum_filter(field, 3) - ndimage.minimum_filter(field, 3)) < 0.05
    grow = (res.interval_high - res.interval_low) - (base.interval_high - base.interval_low)
    assert grow[v & ~flat].mean() > 3 * grow[v & flat].mean()


def test_weighted_median_matches_the_sort_definition():
    # the noise estimates' count-weighted median: a histogram pass for whole-number
    # weights, the sort otherwise; both must give v[order][searchsorted(cumsum, half)]
    from drr.tools.colormap.noise import _weighted_median

    rng = np.random.default_rng(7)
    for it in range(400):
        n = int(rng.integers(1, 2000))
        v = [rng.random(n) * 30, np.round(rng.random(n) * 20, 1), rng.exponential(3, n), np.full(n, 2.5)][it % 4]
        w = rng.integers(1, 6, n).astype(float)
        if it % 5 == 0:
            w = np.minimum(w, 2.7)  # fractional clip (a percentile): the sort
        sel = rng.random(n) < 0.8
        sel[0] = True
        order = np.argsort(v[sel])
        cum = np.cumsum(w[sel][order])
        assert _weighted_median(v, w, sel) == v[sel][order][np.searchsorted(cum, 0.5 * cum[-1])]


def test_jpeg_phase_steps_uint8_path_equals_the_general_one():
    # the uint8 path (tables, unrolled phases) must give the same sums bit for bit
    from drr.tools.colormap.jpeg import _RGB_TO_YCC, _phase_steps, _phase_steps_u8

    rng = np.random.default_rng(11)
    for h, w in ((33, 40), (37, 101), (64, 64), (100, 33), (200, 257)):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        for a, b in zip(_phase_steps(img, _RGB_TO_YCC[0], 255.0), _phase_steps_u8(img, _RGB_TO_YCC[0], 255.0)):
            assert a.tobytes() == b.tobytes()


def test_drop_specks_matches_its_definition():
    from drr.tools.colormap.validity import _drop_specks

    rng = np.random.default_rng(12)
    for h, w in ((1, 1), (1, 7), (7, 1), (2, 2), (65, 3), (130, 129)):
        for p in (0.3, 0.7, 0.95):
            v = rng.random((h, w)) < p
            n = ndimage.convolve(v.astype(int), np.ones((3, 3), int), mode="constant") - v
            np.testing.assert_array_equal(_drop_specks(v), v & (n >= 2))


def test_unique_24bit_matches_numpy_unique():
    from drr.tools.colormap.colors import _unique_24bit

    rng = np.random.default_rng(13)
    for key in (rng.integers(0, 1 << 24, 5000), np.zeros(10), np.full(7, (1 << 24) - 1),
                rng.integers(0, 300, 20000), rng.integers(0, 64, 1000) * 64 + 63, np.arange(0, 1 << 24, 4099)):
        key = key.astype(np.int32)
        for _ in range(2):  # the kept bitmap comes back zeroed
            uniq, inv, counts = _unique_24bit(key)
            ref = np.unique(key, return_inverse=True, return_counts=True)
            np.testing.assert_array_equal(uniq, ref[0])
            np.testing.assert_array_equal(inv, ref[1].reshape(-1))
            np.testing.assert_array_equal(counts, ref[2])


def test_median_matches_numpy():
    from drr.tools.colormap.noise import _median

    rng = np.random.default_rng(17)
    for it in range(300):
        n = int(rng.integers(1, 2000))
        v = [rng.random(n) * 30, np.round(rng.random(n) * 20, 1), np.full(n, 2.5), rng.random(n) * 1e-300][it % 4]
        assert np.float64(_median(v)).tobytes() == np.float64(np.median(v)).tobytes()


def test_py_mod_matches_python_modulo():
    # the along-curve residuals of cyclic maps wrap with _py_mod: Python's % bit for bit
    import numba

    from drr.tools.colormap.noise import _py_mod

    ref = numba.njit(lambda x, p: x % p)
    rng = np.random.default_rng(19)
    for p in (1.0, 0.1, 123.456, 7.0 / 3.0):
        xs = np.concatenate([(rng.random(2000) * 3 - 1) * p, rng.random(2000) * p - rng.random(2000) * p + 0.5 * p,
                             [0.0, -0.0, p, -p, 2 * p, -p / 2, np.nextafter(p, 0), np.nextafter(-p, 0), 1e-300, -1e-300,
                              5 * p, -3 * p]])
        for x in xs:
            assert np.float64(_py_mod(x, p)).tobytes() == np.float64(ref(x, p)).tobytes()


def test_group_by_bin_matches_stable_argsort():
    from drr.tools.colormap.noise import _group_by_bin

    rng = np.random.default_rng(23)
    for n in (0, 1, 50, 3000):
        r, w = rng.random(n), rng.random(n)
        w[: n // 10] = 1.0  # the top edge goes to the last bin
        bins = np.minimum((w * 16).astype(np.int64), 15)
        got, ends = _group_by_bin(r, w, 16)
        np.testing.assert_array_equal(got, r[np.argsort(bins, kind="stable")])
        np.testing.assert_array_equal(ends, np.cumsum(np.bincount(bins, minlength=16)))


def test_medians_with_nan_or_inf_fall_back_to_numpy():
    from drr.tools.colormap.noise import _median, _weighted_median

    for bad in (np.nan, np.inf, -np.inf):
        v = np.array([1.0, 3.0, bad, 2.0, 5.0])
        assert np.float64(_median(v)).tobytes() == np.float64(np.median(v)).tobytes()
        w = np.array([1.0, 2.0, 1.0, 1.0, 3.0])
        sel = np.ones(5, bool)
        order = np.argsort(v)
        cum = np.cumsum(w[order])
        ref = v[order][np.searchsorted(cum, 0.5 * cum[-1])]
        got = _weighted_median(v, w, sel)
        assert got == ref or (np.isnan(got) and np.isnan(ref))


def _resolve_reference(est_t, inv, nstored, valid, cyclic):
    """Branch resolution with whole summed-area tables (the code the rolling rows replaced)."""
    import math

    h, w = inv.shape
    two_pi = 2.0 * np.pi
    if cyclic:  # math.cos / math.sin as in the kernel (numpy's may differ in the last bit)
        va = np.array([[math.cos(two_pi * est_t[u, 0]) for u in row] for row in inv]).reshape(h, w)
        vb = np.array([[math.sin(two_pi * est_t[u, 0]) for u in row] for row in inv]).reshape(h, w)
    else:
        va, vb = est_t[inv, 0].copy(), np.zeros((h, w))
    settled = valid & (nstored[inv] == 1)
    todo = [(y, x) for y in range(h) for x in range(w) if valid[y, x] and nstored[inv[y, x]] > 1]
    choice = np.zeros((h, w), np.int8)
    for size in (5, 17, 65, 257):
        if not todo:
            break
        sats = []
        for z in (settled.astype(float), np.where(settled, va, 0.0), np.where(settled, vb, 0.0)):
            s = np.zeros((h + 1, w + 1))
            s[1:, 1:] = np.cumsum(np.cumsum(z, axis=1), axis=0)  # sequential sums, the kernel's order
            sats.append(s)
        r = size // 2
        picks = []
        for y, x in todo:
            y0, y1, x0, x1 = max(0, y - r), min(h, y + r + 1), max(0, x - r), min(w, x + r + 1)
            n, a, b = (s[y1, x1] - s[y0, x1] - s[y1, x0] + s[y0, x0] for s in sats)
            if n <= 0.5:
                picks.append(-1)
                continue
            ref = (math.atan2(b, a) / two_pi) % 1.0 if cyclic else a / n
            u = inv[y, x]
            dd = np.abs(est_t[u, : nstored[u]] - ref)
            if cyclic:
                dd = np.minimum(dd, 1.0 - dd)
            picks.append(int(np.argmin(dd)))
        left = []
        for (y, x), j in zip(todo, picks):
            if j < 0:
                left.append((y, x))
                continue
            choice[y, x] = j
            t = est_t[inv[y, x], j]
            va[y, x], vb[y, x] = (math.cos(two_pi * t), math.sin(two_pi * t)) if cyclic else (t, 0.0)
            settled[y, x] = True
        todo = left
    return choice


def test_resolve_rolling_rows_match_whole_tables():
    from drr.tools.colormap.resolve import _resolve_branches

    rng = np.random.default_rng(29)
    # shapes whose rows wrap the ring for every window (300 > 2 * 128 + 2) and small ones that do not;
    # (300, 90): over _PARALLEL_PICKS pixels to settle, their branches picked in parallel
    for h, w, u in ((300, 9, 40), (300, 90, 60), (31, 47, 200), (7, 5, 6), (1, 12, 3)):
        est = np.sort(rng.random((u, 4)), axis=1)
        nst = rng.integers(1, 5, u)
        nst[: u // 2] = 1
        inv = rng.integers(0, u, (h, w)).astype(np.int32)
        valid = rng.random((h, w)) < 0.9
        if h == 300:  # settled pixels only in the top rows: the larger windows settle the rest
            inv[10:] = rng.integers(u // 2, u, (h - 10, w))
            nst[u // 2:] = np.maximum(nst[u // 2:], 2)
            assert w < 90 or (valid & (nst[inv] > 1)).sum() >= 20000
        for cyclic in (False, True):
            got = _resolve_branches(est, inv, nst, valid, cyclic)
            np.testing.assert_array_equal(got, _resolve_reference(est, inv, nst, valid, cyclic))


def test_resolve_tables_restarted_across_gaps_match_whole_tables():
    # pixels to settle in three bands of rows far apart, settled pixels sparse: every window
    # size settles some of them, and the kernel's tables start again below each gap of more
    # than 2 r + 1 rows (5, 17 and 65 px windows), so window sums come from tables that
    # start at different rows than the whole ones; the picks must not change (cyclic: the
    # dot products with each branch's (cos, sin) against atan2 and circular distances)
    from drr.tools.colormap.resolve import _resolve_branches

    rng = np.random.default_rng(31)
    h, w, u = 400, 60, 80
    est = np.sort(rng.random((u, 4)), axis=1)
    nst = np.ones(u, dtype=np.int64)
    nst[u // 2:] = rng.integers(2, 5, u - u // 2)
    inv = rng.integers(0, u // 2, (h, w)).astype(np.int32)  # one branch
    valid = rng.random((h, w)) < 0.003  # sparse settled pixels
    for y0 in (20, 150, 330):
        inv[y0:y0 + 6] = rng.integers(u // 2, u, (6, w))  # several branches
        valid[y0:y0 + 6] = True
    for cyclic in (False, True):
        got = _resolve_branches(est, inv, nst, valid, cyclic)
        ref = _resolve_reference(est, inv, nst, valid, cyclic)
        np.testing.assert_array_equal(got, ref)
        amb = valid & (nst[inv] > 1)
        assert (ref[amb] > 0).mean() > 0.3  # other branches than the first are picked


def test_scan_reach_test_without_sqrt_implies_the_sqrt_test():
    # _branch_scan skips a block when db2 > reach² (1 + 1e-12) before taking sqrt(db2):
    # that must only skip blocks that sqrt(db2) > reach skips too
    rng = np.random.default_rng(31)
    reach = rng.uniform(1e-6, 300.0, 200_000)
    for rel in (1e-12, 1e-13, 1e-11, 0.0):
        db2 = reach * reach * (1.0 + rel * rng.uniform(-3.0, 3.0, reach.size))
        fast = db2 > reach * reach * (1.0 + 1e-12)
        assert np.all(np.sqrt(db2[fast]) > reach[fast])


def test_branch_scan_over_cells_equals_the_plain_scan_and_brute_force():
    # the scan over cell lists gives all five outputs of the plain scan bitwise, for cells
    # small and large (lists with blocks to test, stretches inside every ball, whole groups
    # inside); the runs are those of a brute force d2 <= r2 (same squared distances); flag
    # has more runs than slots (the replacement order matters); radii up to the whole curve
    from drr.tools.colormap.curve import _BLOCK, _GROUP, _build_curve, _knots_from_cmap
    from drr.tools.colormap.search import (_branch_scan, _branch_scan_cells, _cell_lists, _cells, _item_spheres,
                                           _nearest_scan)

    rng = np.random.default_rng(61)
    for name in ("twilight", "jet", "flag", "viridis"):
        curve = _build_curve(*_knots_from_cmap(name), 4096)
        near = curve.rgb[rng.integers(0, len(curve.rgb), 2500)] + rng.normal(0.0, 0.02, (2500, 3))
        cols = np.clip(np.concatenate([rng.random((500, 3)), near]), 0.0, 1.0)
        p = np.ascontiguousarray(srgb_to_lab(cols))
        n = len(p)
        radius = np.concatenate([rng.uniform(0.5, 25.0, n - 60), rng.uniform(150.0, 300.0, 30), np.full(30, 1e-3)])
        radius = radius[rng.permutation(n)]
        k_near, dist = np.empty(n, dtype=np.int64), np.empty(n)
        _nearest_scan(p, curve.lab, curve.block_center, curve.block_radius, _BLOCK, dist, k_near)
        head = (p, radius, k_near, curve.lab, curve.group_center, curve.group_radius, _GROUP, curve.block_center,
                curve.block_radius, _BLOCK, 4)

        def outputs():
            return (np.full((n, 4), -1.0), np.full((n, 4), -1, np.int32), np.full((n, 4), -1, np.int32),
                    np.empty((n, 4)), np.zeros(n, dtype=np.int64))

        ref = outputs()
        _branch_scan(*head, *ref)
        for cell in (0.7, 2.0, 9.0):
            got = outputs()
            _branch_scan_cells(*head, *got, cell=cell)
            for g, w in zip(got, ref):
                assert g.dtype == w.dtype and g.tobytes() == w.tobytes()
        est, lo, hi, bd, nbr = ref
        for a in range(0, 1500, 500):  # brute force: every run, in sample order
            q = p[a:a + 500, None, :] - curve.lab[None, :, :]
            inside = (q[..., 0] * q[..., 0] + q[..., 1] * q[..., 1]) + q[..., 2] * q[..., 2] <= (radius[a:a + 500] ** 2)[:, None]
            edge = np.diff(np.pad(inside, ((0, 0), (1, 1))).astype(np.int8), axis=1)
            for i in range(inside.shape[0]):
                starts, ends = np.flatnonzero(edge[i] == 1), np.flatnonzero(edge[i] == -1) - 1
                u = a + i
                assert nbr[u] == len(starts)
                runs = set(zip(starts.tolist(), ends.tolist()))
                for j in range(min(nbr[u], 4)):
                    assert (int(lo[u, j]), int(hi[u, j])) in runs
                k = min(nbr[u], 4)
                assert np.all(np.diff(bd[u, :k]) >= 0) and np.all(np.isinf(bd[u, k:]))
        # the cells: each colour within rho of its cube's centre; radius range per cell;
        # each list leaves out only blocks with no sample in any of the cell's balls and
        # takes whole only blocks inside all of them
        size = 9.0
        cid, rlo, rhi, origin, dims = _cells(p, radius, size)
        q = np.stack(np.unravel_index(cid, tuple(dims)), axis=1)
        centre = origin + (q + 0.5) * size
        rho = 0.5 * np.sqrt(3.0) * size * (1.0 + 1e-12)
        assert np.all(np.linalg.norm(p - centre, axis=1) <= rho)
        want_lo, want_hi = np.full(rlo.shape, np.inf), np.full(rhi.shape, -np.inf)
        np.minimum.at(want_lo, cid, radius)
        np.maximum.at(want_hi, cid, radius)
        assert rlo.tobytes() == want_lo.tobytes() and rhi.tobytes() == want_hi.tobytes()
        istart, items = _cell_lists(rlo, rhi, origin, dims, size, curve.group_center, curve.group_radius, _GROUP,
                                    curve.block_center, curve.block_radius)
        assert istart[0] == 0 and np.all(np.diff(istart) >= 0) and istart[-1] == len(items)
        spheres = _item_spheres(items, curve.block_center, curve.block_radius)  # blocks: theirs; stretches: -inf
        blk = items[:, 1] == 0
        assert spheres.shape == (4, len(items) + 16)
        np.testing.assert_array_equal(spheres[:3, :len(items)][:, blk], curve.block_center[items[blk, 0]].T)
        np.testing.assert_array_equal(spheres[3, :len(items)][blk], curve.block_radius[items[blk, 0]])
        assert np.all(spheres[3, :len(items)][~blk] == -np.inf)
        nblk = len(curve.block_radius)
        for c in np.unique(cid)[:60]:
            members = np.flatnonzero(cid == c)
            its = items[istart[c]:istart[c + 1]]
            kind = np.full(nblk, -1)  # -1 left out, 0 to test, 1 inside every ball
            for b, nb in its:
                kind[b:b + max(nb, 1)] = 1 if nb > 0 else 0
            starts = its[:, 0]
            assert np.all(np.diff(starts) > 0)  # increasing sample order
            qq = p[members, None, :] - curve.lab[None, :, :]
            d2 = (qq[..., 0] * qq[..., 0] + qq[..., 1] * qq[..., 1]) + qq[..., 2] * qq[..., 2]
            within = d2 <= (radius[members] ** 2)[:, None]
            blk = np.repeat(kind, _BLOCK)[:len(curve.lab)]
            assert not within[:, blk == -1].any() and within[:, blk == 1].all()


def test_within_mask_equals_the_scalar_test():
    # bit i of the vectorised mask is the scalar kernels' test d2 <= t2 of sample k0 + i, the
    # same squared distance bitwise (bounds exactly at some samples' d2: ties at the edge);
    # the +inf padding of _samples_soa beyond the curve's end never passes a finite bound
    from drr.tools.colormap.search import _LANES, _blocks_soa, _samples_soa, _within_mask

    rng = np.random.default_rng(71)
    for m in (16, 100, 1000, 4096):
        lab = rng.normal(0.0, 30.0, (m, 3))
        ls = _samples_soa(lab)
        assert ls.shape == (3, -(-m // _LANES) * _LANES) and np.isinf(ls[:, m:]).all()
        assert ls[:, :m].tobytes() == np.ascontiguousarray(lab.T).tobytes()
        for _ in range(200):
            q = rng.normal(0.0, 30.0, 3)
            k0 = int(rng.integers(0, -(-m // _LANES))) * _LANES
            idx = np.arange(k0, k0 + _LANES)
            pad = np.full((_LANES, 3), np.inf)
            pad[idx < m] = lab[idx[idx < m]]
            dd = q[None, :] - pad
            d2 = (dd[:, 0] * dd[:, 0] + dd[:, 1] * dd[:, 1]) + dd[:, 2] * dd[:, 2]
            finite = d2[np.isfinite(d2)]
            t2 = float(rng.choice(finite)) if rng.random() < 0.7 else float(rng.uniform(0.0, 5000.0))
            mask = int(_within_mask(q[0], q[1], q[2], t2, ls[0], ls[1], ls[2], k0))
            want = sum(1 << i for i in range(_LANES) if d2[i] <= t2)
            assert mask == want
    bc, br = rng.normal(0.0, 30.0, (70, 3)), rng.random(70)
    bs = _blocks_soa(bc, br)
    assert bs.shape == (4, 128) and np.isinf(bs[:, 70:]).all()
    assert bs[:3, :70].tobytes() == np.ascontiguousarray(bc.T).tobytes() and bs[3, :70].tobytes() == br.tobytes()


def test_masked_searches_on_curves_of_any_length():
    # curves whose length is not a multiple of the mask's 32 samples (the padding masked
    # off): nearest sample against brute force (first minimum), runs of the branch scans
    # (plain and over cells) against brute force d2 <= r2, infinite radii included
    from drr.tools.colormap.curve import _BLOCK, _GROUP, _build_curve, _knots_from_cmap
    from drr.tools.colormap.search import _branch_scan, _branch_scan_cells, _nearest_scan

    rng = np.random.default_rng(73)
    for name, ns in (("twilight", 17), ("jet", 100), ("flag", 1000), ("viridis", 4097)):
        curve = _build_curve(*_knots_from_cmap(name), ns)
        cols = np.clip(np.concatenate([rng.random((300, 3)), curve.rgb[rng.integers(0, ns, 300)]
                                       + rng.normal(0.0, 0.02, (300, 3))]), 0.0, 1.0)
        p = np.ascontiguousarray(srgb_to_lab(cols))
        n = len(p)
        d, k = np.empty(n), np.empty(n, dtype=np.int64)
        _nearest_scan(p, curve.lab, curve.block_center, curve.block_radius, _BLOCK, d, k)
        q = p[:, None, :] - curve.lab[None, :, :]
        d2 = (q[..., 0] * q[..., 0] + q[..., 1] * q[..., 1]) + q[..., 2] * q[..., 2]
        np.testing.assert_array_equal(k, np.argmin(d2, axis=1))
        assert d.tobytes() == np.sqrt(d2.min(axis=1)).tobytes()
        radius = rng.uniform(0.5, 30.0, n)
        radius[:5] = np.inf
        head = (p, radius, k, curve.lab, curve.group_center, curve.group_radius, _GROUP, curve.block_center,
                curve.block_radius, _BLOCK, 4)
        outs = []
        for scan in (_branch_scan, _branch_scan_cells):
            o = (np.empty((n, 4)), np.empty((n, 4), np.int32), np.empty((n, 4), np.int32), np.empty((n, 4)),
                 np.empty(n, dtype=np.int64))
            scan(*head, *o)
            outs.append(o)
        for a, b in zip(*outs):
            assert a.tobytes() == b.tobytes()
        est, lo, hi, bd, nbr = outs[0]
        inside = d2 <= (radius**2)[:, None]
        edge = np.diff(np.pad(inside, ((0, 0), (1, 1))).astype(np.int8), axis=1)
        for u in range(n):
            starts, ends = np.flatnonzero(edge[u] == 1), np.flatnonzero(edge[u] == -1) - 1
            assert nbr[u] == len(starts)
            runs = set(zip(starts.tolist(), ends.tolist()))
            for j in range(min(nbr[u], 4)):
                assert (int(lo[u, j]), int(hi[u, j])) in runs
                assert lo[u, j] - 1 <= est[u, j] <= hi[u, j] + 1  # projected onto the segments beside the best


def test_project_equals_the_clipped_quotient():
    # _project takes the division only where 0 < dot < ee: the same (s, d2) as
    # s = clip(dot / ee, 0, 1) for points beyond either end, at the ends (dot == ee, dot == 0),
    # inside, and on a zero-length segment; s + a as the callers form it, bitwise
    from drr.tools.colormap.search import _project

    rng = np.random.default_rng(79)
    lab = rng.normal(0.0, 20.0, (400, 3))
    lab[201] = lab[200]  # a zero-length segment
    pts = np.concatenate([rng.normal(0.0, 30.0, (300, 3)), lab[:100], lab[1:101],
                          0.5 * (lab[:100] + lab[1:101])])
    pairs = [(a, a + 1) for a in rng.integers(0, 399, 150)] + [(200, 201)]

    def reference(q, a, b):
        e = lab[b] - lab[a]
        d = q - lab[a]
        ee = e[0] * e[0] + e[1] * e[1] + e[2] * e[2]
        s = 0.0
        if ee > 0.0:
            s = min(max((d[0] * e[0] + d[1] * e[1] + d[2] * e[2]) / ee, 0.0), 1.0)
        r = d - s * e
        return s, r[0] * r[0] + r[1] * r[1] + r[2] * r[2]

    seen = set()
    for u in range(len(pts)):
        own = [(u - 300, u - 299)] if 300 <= u < 400 else [(u - 401, u - 400)] if 401 <= u < 500 else []
        for a, b in pairs[u % 7::7] + own:  # own: the point at a (dot == 0) or at b (dot == ee)
            s, d2 = _project(pts, u, lab, a, b)
            s_ref, d2_ref = reference(pts[u], a, b)
            assert np.float64(d2).tobytes() == np.float64(d2_ref).tobytes()
            assert np.float64(a + s).tobytes() == np.float64(a + s_ref).tobytes()
            seen.add(0 if s == 0.0 else 2 if s == 1.0 else 1)
    assert seen == {0, 1, 2}


def _run_best_reference(p, u, lab, bc, br, block, run_lo, run_hi):
    """_run_best as written before its square roots were cut (every block's root taken)."""
    import math

    px, py, pz = p[u]
    b_lo, b_hi = run_lo // block, run_hi // block
    b0, lb0 = b_lo, np.inf
    for b in range(b_lo, b_hi + 1):
        dx, dy, dz = px - bc[b, 0], py - bc[b, 1], pz - bc[b, 2]
        lb = math.sqrt(dx * dx + dy * dy + dz * dz) - br[b]
        if lb < lb0:
            lb0, b0 = lb, b
    best_lo, best_d = -1, np.inf
    for step in range(b_hi - b_lo + 2):
        b = b0 if step == 0 else b_lo + step - 1
        if step > 0:
            if b == b0:
                continue
            dx, dy, dz = px - bc[b, 0], py - bc[b, 1], pz - bc[b, 2]
            lb = math.sqrt(dx * dx + dy * dy + dz * dz) - br[b] - 1e-9
            if lb > 0.0 and lb * lb > best_d + 1e-9:
                continue
        for k in range(max(b * block, run_lo), min((b + 1) * block, run_hi + 1)):
            dx, dy, dz = px - lab[k, 0], py - lab[k, 1], pz - lab[k, 2]
            d2 = dx * dx + dy * dy + dz * dz
            if d2 < best_d - 1e-12 or (d2 <= best_d + 1e-12 and k < best_lo):
                best_lo, best_d = k, d2
    best_hi = best_lo
    while best_hi < run_hi:
        k = best_hi + 1
        dx, dy, dz = px - lab[k, 0], py - lab[k, 1], pz - lab[k, 2]
        if dx * dx + dy * dy + dz * dz > best_d + 1e-12:
            break
        best_hi = k
    return best_lo, best_hi, best_d


def test_run_best_matches_its_definition():
    # the closest sample of a run with fewer square roots: the same (first, last tied, d²)
    # as every block's root taken, with exact ties (flag repeats colours), colours on
    # samples and half-way between two (distances equal up to rounding), long and short runs
    from drr.tools.colormap.curve import _BLOCK, _build_curve, _knots_from_cmap
    from drr.tools.colormap.search import _run_best, _samples_soa

    rng = np.random.default_rng(67)
    for name in ("twilight", "flag", "jet"):
        curve = _build_curve(*_knots_from_cmap(name), 4096)
        lab, m = curve.lab, len(curve.lab)
        lx, ly, lz = _samples_soa(lab)
        k = rng.integers(0, m - 1, 300)
        p = np.concatenate([lab[k[:100]] + rng.normal(0.0, 3.0, (100, 3)), lab[k[100:200]],
                            0.5 * (lab[k[200:]] + lab[k[200:] + 1])])
        for u in range(len(p)):
            lo = int(rng.integers(0, m))
            hi = min(m - 1, lo + int(rng.choice([0, 5, 40, 600, 4095])))
            got = _run_best(p, u, lab, lx, ly, lz, curve.block_center, curve.block_radius, _BLOCK, lo, hi)
            assert got == _run_best_reference(p, u, lab, curve.block_center, curve.block_radius, _BLOCK, lo, hi)


def _second_differences_reference(s_u, valid_u, t_u, inv, period, row_step):
    """Row by row in plain Python: |s - mean of the two neighbours| along y then x at each
    valid centre of every row_step-th row whose two neighbours are valid (modulo period > 0)."""
    h, w = inv.shape
    res, where = [], []
    for y in range(0, h, row_step):
        for x in range(w):
            if not valid_u[inv[y, x]]:
                continue
            c = s_u[inv[y, x]]
            for (ya, xa), (yb, xb) in (((y - 1, x), (y + 1, x)), ((y, x - 1), (y, x + 1))):
                if min(ya, xa) < 0 or yb >= h or xb >= w:
                    continue
                if not (valid_u[inv[ya, xa]] and valid_u[inv[yb, xb]]):
                    continue
                a, b = s_u[inv[ya, xa]], s_u[inv[yb, xb]]
                if period > 0:
                    half = 0.5 * period
                    r = 0.5 * (((a - c + half) % period - half) + ((b - c + half) % period - half))
                else:
                    r = c - 0.5 * (a + b)
                res.append(abs(r))
                where.append(t_u[inv[y, x]])
    return np.array(res), np.array(where)


def test_second_differences_rows_in_parallel_match_one_pass():
    from drr.tools.colormap.noise import _second_differences

    rng = np.random.default_rng(37)
    for h, w, step in ((23, 31, 1), (23, 31, 4), (40, 9, 7), (5, 5, 8)):
        u = 60
        s_u = rng.random(u) * 10.0
        valid_u = rng.random(u) < 0.8
        t_u = rng.random(u)
        inv = rng.integers(0, u, (h, w)).astype(np.int32)
        for period in (-1.0, 10.0):
            got_r, got_w = _second_differences(s_u, valid_u, t_u, inv, period, step)
            ref_r, ref_w = _second_differences_reference(s_u, valid_u, t_u, inv, period, step)
            assert len(ref_r) > 0
            np.testing.assert_array_equal(got_r, ref_r)
            np.testing.assert_array_equal(got_w, ref_w)
