"""Tests of drr.tools.strips (strip puzzle) and the ``drr strips`` command."""

import argparse
import itertools

import numpy as np
import pytest

from drr.errors import InputError
from drr.tools.strips import reassemble
from drr.tools.strips.boundaries import (
    _alternating,
    _baseline,
    _boundary_scores,
    _boundary_scores_np,
)
from drr.tools.strips.candidates import (
    _equal_cuts,
    _over_segment,
    _partner_scores,
    _peak_cuts,
    _peak_relative,
    _periodic_counts,
    _twin_cuts,
)
from drr.tools.strips.costs import _pair_costs, _rho, _SeamCache, _strip_features, _whitened_sq
from drr.tools.strips.grow import _PARTNER_MIN, _strong_jumps
from drr.tools.strips.jumps import (
    _OFFSET_HIGH,
    _OFFSET_LOW,
    _jump_cuts,
    _jump_offset_profiles,
    _jump_profile,
    _jump_z,
    _offset_z,
    _SeamOffsets,
)
from drr.tools.strips.kernels import _rho_pair_sums
from drr.tools.strips.model import (
    _ALPHA,
    _JPEG_EXCESS,
    _JPEG_FLOOR,
    _as_float,
    _blockiness,
    _channel_mean,
    _Model,
    _noise_model,
)
from drr.tools.strips.order import (
    _cycles,
    _held_karp,
    _or_opt,
    _or_opt_py,
    _patch,
    _patch_py,
    _path_cost,
    _solve_order,
)
from drr.tools.strips.quality import _JUMP_COST, _JUMP_Z, _MOVE_COST, _W_REL, _quality


def _smooth_field(shape, seed, sigma=6.0):
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    f = gaussian_filter(rng.normal(size=shape), sigma=(sigma, sigma) + (0,) * (len(shape) - 2))
    f = (f - f.min()) / (f.max() - f.min())
    return (f * 255).round().astype(np.uint8)


def _shuffle(img, bounds, perm, axis=1):
    pieces = [np.take(img, np.arange(bounds[k], bounds[k + 1]), axis=axis) for k in perm]
    widths = np.diff(bounds)[perm]
    cuts = tuple(int(c) for c in np.r_[0, np.cumsum(widths)[:-1]])
    return np.concatenate(pieces, axis=axis), cuts, tuple(int(k) for k in np.argsort(perm))


def _without_later_steps(monkeypatch):
    """Switch off the steps added after a test's case was found (the weak peaks added
    together, the re-ordered refine trials, the cuts dropped by the quality's order):
    they restore some of those cases on their own, so the switch under test could no
    longer make them fail."""
    for name in ("_BULK", "_REFINE_REORDER", "_QUALITY_ORDER"):
        monkeypatch.setattr(f"drr.tools.strips.grow.{name}", False)
    _without_wider_search(monkeypatch)


def _without_wider_search(monkeypatch):
    """Switch off the wider search added last (the neighbours of rejected peaks, pairs
    among more tried cuts, _grow again from the over-segmentation): it restores the cases
    of several older tests on its own."""
    from drr.tools.strips import grow

    monkeypatch.setattr(grow, "_SHOULDERS", False)
    monkeypatch.setattr(grow, "_PAIR_K_WIDE", grow._PAIR_K)
    monkeypatch.setattr("drr.tools.strips.search._RESTART", False)


def _old_objective(monkeypatch):
    """The quality as it was before the seam offsets paid from 0.5 units, strong cuts moved
    free and the baseline was mirrored at the ends: these restore some older tests' cases
    on their own, so the switch under test could no longer make them fail."""
    monkeypatch.setattr("drr.tools.strips.quality._SEAM_OFFSET_LOW", None)
    monkeypatch.setattr("drr.tools.strips.quality._MOVE_FREE_Z", None)
    monkeypatch.setattr("drr.tools.strips.boundaries._BASELINE_ENDS", False)


def _without_sweep(monkeypatch):
    """Switch off the last step of the search (every boundary with a better partner tried
    as a cut, the order solved for the quality): it restores several older tests' cases
    on its own, and with an older objective or steps switched off it can also end
    elsewhere."""
    monkeypatch.setattr("drr.tools.strips.search._SWEEP", False)


def _without_texture(monkeypatch):
    """Switch off the texture term of the quality (added last, 2026-11-27): it restores
    many older tests' cases on its own (the case for the switch off no longer fails), and
    two cases of the sweep's tests (page 20 h seed 20, 40 v seed 17) are lost with it; the
    tests keep checking their step with the objective it was written for."""
    monkeypatch.setattr("drr.tools.strips.quality._TEXTURE_W", 0.0)


@pytest.fixture(scope="module")
def astronaut():
    skdata = pytest.importorskip("skimage.data")
    return skdata.astronaut()[::2, ::2].copy()        # 256 x 256 x 3 uint8


def test_shipped_image_known_count(astronaut):
    bounds = np.round(np.linspace(0, 256, 7)).astype(int)
    perm = np.array([3, 0, 5, 1, 4, 2])
    sh, cuts, order = _shuffle(astronaut, bounds, perm)
    res = reassemble(sh, n_strips=6)
    assert res.cuts == cuts
    assert res.order == order
    assert np.array_equal(res.image, astronaut)
    assert res.optimal and res.gap == 0.0
    assert res.seam_costs.shape == (5,) and res.confidence.shape == (5,)
    assert np.all((res.confidence >= 0) & (res.confidence <= 1))


def test_shipped_image_unknown_count_unequal_widths(astronaut):
    bounds = np.array([0, 30, 71, 90, 150, 199, 256])
    perm = np.array([4, 2, 0, 5, 3, 1])
    sh, cuts, order = _shuffle(astronaut, bounds, perm)
    res = reassemble(sh)
    assert res.cuts == cuts
    assert res.order == order
    assert np.array_equal(res.image, astronaut)


def test_horizontal_grayscale_float_given_cuts():
    img = _smooth_field((90, 70), seed=1).astype(np.float32) / 255.0
    bounds = np.array([0, 12, 40, 51, 90])
    perm = np.array([2, 0, 3, 1])
    sh, cuts, order = _shuffle(img, bounds, perm, axis=0)
    before = sh.copy()
    res = reassemble(sh, axis=0, cuts=cuts)
    assert np.array_equal(sh, before)                 # input not modified
    assert res.cuts == cuts and res.order == order
    assert res.image.dtype == np.float32
    assert np.array_equal(res.image, img)


def test_two_strips():
    img = _smooth_field((64, 50, 3), seed=2)
    sh, cuts, order = _shuffle(img, np.array([0, 21, 50]), np.array([1, 0]))
    res = reassemble(sh, n_strips=2)
    assert res.cuts == (0, 29) and cuts == (0, 29)
    assert res.order == (1, 0)
    assert np.array_equal(res.image, img)


def test_single_strip():
    img = _smooth_field((40, 30), seed=3)
    res = reassemble(img, n_strips=1)
    assert res.cuts == (0,) and res.order == (0,)
    assert res.seam_costs.shape == (0,) and res.optimal
    assert np.array_equal(res.image, img)


def test_strips_of_width_one():
    img = _smooth_field((80, 9), seed=4, sigma=3.0)
    perm = np.array([6, 2, 8, 0, 4, 1, 7, 3, 5])
    sh, cuts, order = _shuffle(img, np.arange(10), perm)
    res = reassemble(sh, n_strips=9)
    assert res.cuts == tuple(range(9))
    assert res.order == order
    assert np.array_equal(res.image, img)


def test_many_strips_branch_and_bound():
    img = _smooth_field((120, 160, 3), seed=5)
    rng = np.random.default_rng(5)
    perm = rng.permutation(16)
    sh, cuts, order = _shuffle(img, np.arange(0, 161, 10), perm)
    res = reassemble(sh, cuts=cuts)
    assert res.order == order
    assert np.array_equal(res.image, img)
    assert res.optimal


@pytest.mark.parametrize("n", [None, 4])
def test_constant_image(n):
    img = np.full((20, 24, 3), 7, dtype=np.uint8)
    res = reassemble(img, n_strips=n)
    assert np.array_equal(res.image, img)
    assert res.cuts == ((0,) if n is None else (0, 6, 12, 18))
    assert len(res.order) == len(res.cuts)


def test_held_karp_matches_brute_force():
    rng = np.random.default_rng(7)
    for _ in range(5):
        d = rng.random((7, 7))
        np.fill_diagonal(d, np.inf)
        best = min(itertools.permutations(range(7)), key=lambda p: _path_cost(d, p))
        path = _held_karp(d)
        assert _path_cost(d, path) == pytest.approx(_path_cost(d, best), abs=1e-12)


def test_branch_and_bound_matches_held_karp(monkeypatch):
    monkeypatch.setattr("drr.tools.strips.order._DP_MAX", 1)
    rng = np.random.default_rng(8)
    for _ in range(6):
        d = rng.random((10, 10))
        np.fill_diagonal(d, np.inf)
        exact = _path_cost(d, _held_karp(d))
        path, optimal, lb = _solve_order(d, time_limit=10.0)
        assert sorted(path) == list(range(10))
        assert optimal
        assert _path_cost(d, path) == pytest.approx(exact, abs=1e-12)
        assert lb <= exact + 1e-12


def test_equal_cuts_dynamic_programme():
    logz = np.zeros(22)
    logz[np.array([5, 9, 14, 19]) - 1] = 1.0       # widths 5, 4, 5, 5, 4 of 23
    assert _equal_cuts(logz, 23, 5) == [5, 9, 14, 19]


@pytest.mark.parametrize("kwargs, match", [
    (dict(image=np.zeros(10)), "2-D"),
    (dict(image=np.zeros((4, 4, 3, 2))), "2-D"),
    (dict(image=np.zeros((8, 6)), n_strips=7), "n_strips"),
    (dict(image=np.zeros((8, 6)), n_strips=0), "n_strips"),
    (dict(image=np.zeros((8, 6)), n_strips=2.0), "n_strips"),
    (dict(image=np.zeros((8, 6)), axis=2), "axis"),
    (dict(image=np.full((8, 6), np.nan)), "finite"),
    (dict(image=np.zeros((8, 6), dtype=complex)), "dtype"),
    (dict(image=np.zeros((8, 6)), cuts=[3, 2]), "cuts"),
    (dict(image=np.zeros((8, 6)), cuts=[3], n_strips=2), "not both"),
])
def test_bad_input(kwargs, match):
    image = kwargs.pop("image")
    with pytest.raises(InputError, match=match):
        reassemble(image, **kwargs)


def test_cli_round_trip(tmp_path, capsys):
    sitk = pytest.importorskip("SimpleITK")
    from drr.cli import strips as cli

    img = _smooth_field((48, 60, 3), seed=9)
    sh, cuts, order = _shuffle(img, np.array([0, 20, 40, 60]), np.array([2, 0, 1]))
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    sitk.WriteImage(sitk.GetImageFromArray(sh, isVector=True), str(src))
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["strips", str(src), "-o", str(dst), "--n-strips", "3"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "cuts: 0 20 40" in out and "order: 1 2 0" in out
    assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(dst))), img)
    args = parser.parse_args(["strips", str(tmp_path / "missing.png"), "-o", str(dst)])
    with pytest.raises(InputError, match="IN"):
        args.func(args)


def _jpeg(img, quality=75):
    from io import BytesIO

    pil = pytest.importorskip("PIL.Image")
    buf = BytesIO()
    pil.fromarray(img).save(buf, format="JPEG", quality=quality)
    return np.array(pil.open(buf))


def test_blockiness_detects_jpeg_grid():
    img = _smooth_field((96, 120, 3), seed=10, sigma=2.0)
    x = img.astype(np.float64)
    assert abs(_blockiness(x)) < 0.1
    assert _blockiness(_jpeg(img).astype(np.float64)) > _JPEG_EXCESS
    # the detector switches the seam model: higher covariance floor, no per-row term
    assert _noise_model(_jpeg(img).astype(np.float64), 1.0) == (_JPEG_FLOOR, 0.0)
    assert _noise_model(x, 1.0) == (1.0, _ALPHA)


def test_jpeg_compressed_shuffle_restored():
    # chelsea (300 x 451 RGB), 3 strips, shuffled then JPEG q=75: the ringing at the cuts
    # made the wrong order cheaper before the JPEG-aware model
    skdata = pytest.importorskip("skimage.data")
    img = skdata.chelsea()
    bounds = np.round(np.linspace(0, img.shape[1], 4)).astype(int)
    sh, cuts, order = _shuffle(img, bounds, np.array([1, 0, 2]))
    res = reassemble(_jpeg(sh), cuts=cuts)
    assert res.order == order == (1, 0, 2)


def test_pair_costs_match_per_pair_formula():
    rng = np.random.default_rng(11)
    x = rng.normal(100.0, 20.0, size=(30, 40, 3))
    starts, ends = np.array([0, 7, 15, 30]), np.array([7, 15, 30, 40])
    f = _strip_features(x, starts, ends, 1.0)
    d = _pair_costs(f, alpha=0.5)
    for i in range(4):
        for j in range(4):
            if i == j:
                assert d[i, j] == np.inf
                continue
            g = f["first"][j] - f["last"][i]                              # (H, C)
            p = f["mur"][i] + 0.5 * (f["gr"][i] - f["mur"][i])
            q = f["mul"][j] + 0.5 * (f["gl"][j] - f["mul"][j])
            e1 = (g - p) @ f["ar"][i].T
            e2 = (g - q) @ f["al"][j].T
            want = (np.log1p((e1 ** 2).sum(1) / 3).sum() + np.log1p((e2 ** 2).sum(1) / 3).sum()) / 60
            assert d[i, j] == pytest.approx(want, rel=1e-12)


def test_periodic_counts_prefers_the_period():
    logz = np.full(99, -0.5)
    logz[np.arange(10, 100, 10) - 1] = 2.0                  # cuts every 10 px of 100
    assert _periodic_counts(logz, 100, nmax=25)[0] == 10


def test_unknown_count_textured_image_relative_score():
    # brick (512 x 512 grey), one cut at 306: natural mortar edges (boundary 18: raw score
    # 1.85) outscore the true cut (1.32), but not relative to their surroundings; the
    # absolute-score quality restored the wrong piece before
    skdata = pytest.importorskip("skimage.data")
    img = skdata.brick()
    sh = np.concatenate([img[:, 206:], img[:, :206]], axis=1)
    res = reassemble(sh)
    assert res.cuts == (0, 306) and res.order == (1, 0)
    assert np.array_equal(res.image, img)


def test_over_segment_min_width_and_order():
    z = np.array([1.0, 2.0, 1.9, 1.0, 1.0, 3.0, 1.0, 1.0, 1.0, 1.4, 1.0, 1.0, 5.0])
    # peaks above 1.3 at boundaries 2, 6, 10 and 13; 13 is the strongest but leaves a
    # 1-pixel piece at the end (W = 14), 3 is next to 2 (not a local maximum)
    assert _over_segment(z, thresh=1.3, min_width=2) == [2, 6, 10]
    assert _over_segment(z, thresh=1.3, min_width=5) == [6]


def test_quality_kept_cuts_cancel_and_moves_cost():
    rng = np.random.default_rng(12)
    w = 30
    s = rng.uniform(0.5, 2.0, w - 1)
    base = _baseline(s)
    cuts = [7, 15, 22]
    raw = rng.uniform(0.5, 2.0, (4, 4))
    for k, c in enumerate(cuts):
        raw[k, k + 1] = s[c - 1]          # an original neighbour: the boundary's own score
    assert _quality(raw, [0, 1, 2, 3], cuts, s, base, w) == pytest.approx(0.0, abs=1e-12)
    # order 2 3 0 1: seams 2|3 and 0|1 are kept (cancel), 3|0 is new, cut 15 is undone;
    # the baseline at the end of piece 3 (x = W) is the last boundary's, at the start of 0
    # the first boundary's
    q = _quality(raw, [2, 3, 0, 1], cuts, s, base, w)
    b_end, b_start = base[w - 2], base[0]
    seam = max(raw[3, 0] / np.sqrt(b_end * b_start), 1.0)
    undone = max(s[14] / base[14], 1.0)
    want = (_W_REL * (np.log(seam) - np.log(undone))
            + (raw[2, 3] + raw[3, 0] + raw[0, 1] - s[cuts[0] - 1] - s[14] - s[21]) / np.median(s)
            + _MOVE_COST)
    assert q == pytest.approx(want, rel=1e-12)


def test_seam_cache_matches_direct_costs():
    rng = np.random.default_rng(13)
    x = rng.normal(100.0, 20.0, size=(30, 40, 3))
    model = _Model(1.0, _ALPHA)
    cache = _SeamCache(x, model)
    for cuts in ([7, 15, 30], [7, 12, 15, 30, 33], [3, 15, 33]):     # shared and new edges
        starts, ends = np.array([0] + cuts), np.array(cuts + [40])
        want = _pair_costs(_strip_features(x, starts, ends, 1.0), alpha=_ALPHA)
        got = cache.costs(starts, ends)
        assert np.array_equal(np.isinf(got), np.isinf(want))
        np.testing.assert_allclose(got[np.isfinite(got)], want[np.isfinite(want)], rtol=1e-12)
    assert len(cache.rows) == 7 and len(cache.cols) == 7     # each edge computed once


def test_jump_cuts_plain_detector():
    x = np.tile(np.arange(30.0), (8, 1))[:, :, None]       # ramp: every difference is 1
    x[:, 12:] += 50.0                                      # jump before column 12
    x[:, 13:] += 30.0                                      # and a weaker one next to it
    x[:, 20:] += 40.0
    x[:, 29:] += 60.0                                      # would leave a 1-pixel piece
    assert _jump_cuts(x, n_sigma=1.0) == [12, 20]


def test_unknown_count_periodic_texture_better_partner():
    """moon, 20 unequal strips, nothing given: several cuts hardly stand out from the
    2-pixel texture (relative score ~1.1); the partner scores find them (restored exactly;
    failed before _partner_scores was used in _grow)."""
    skdata = pytest.importorskip("skimage.data")
    moon = skdata.moon()
    bounds = np.array([0, 38, 54, 63, 101, 140, 153, 206, 216, 230, 278, 287, 325, 334, 373,
                       385, 419, 438, 467, 503, 512])
    perm = np.array([12, 10, 7, 6, 19, 3, 16, 17, 5, 18, 4, 13, 15, 8, 0, 1, 9, 11, 14, 2])
    sh, cuts, _ = _shuffle(moon, bounds, perm)
    res = reassemble(sh)
    np.testing.assert_array_equal(res.image, moon)


def test_partner_scores_separate_cuts_from_natural_boundaries():
    img = _smooth_field((64, 120, 3), seed=5, sigma=4.0)
    bounds = np.array([0, 17, 40, 58, 81, 99, 120])
    sh, cuts, _ = _shuffle(img, bounds, np.array([4, 1, 5, 0, 3, 2]))
    x, unit, _ = _as_float(sh, 1)
    model = _noise_model(x, unit)
    s = _boundary_scores(x, model.unit, alpha=model.alpha)
    p = _partner_scores(x, model, s / _baseline(s), extra=list(cuts[1:]))
    at_cuts = p[np.array(cuts[1:]) - 1]
    mask = np.ones(p.size, dtype=bool)
    mask[np.array(cuts[1:]) - 1] = False
    assert p[0] == -np.inf and p[-1] == -np.inf
    assert at_cuts.min() > _PARTNER_MIN
    assert at_cuts.min() > np.max(p[mask])


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_boundary_scores_kernel_matches_numpy(channels):
    """The numba boundary scores equal the plain numpy ones (grey, 2 and 3 channels)."""
    rng = np.random.default_rng(21 + channels)
    x = rng.normal(100.0, 20.0, size=(37, 53, channels))
    for alpha in (0.0, _ALPHA):
        want = _boundary_scores_np(x, 1.0, alpha=alpha)
        got = _boundary_scores(x, 1.0, alpha=alpha)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_seam_kernels_huge_range_do_not_overflow():
    """Steps of 1e30 grey levels over a noise of 1: each log term at those boundaries is
    ~1e60 and a product of a few would overflow; the kernels log such terms on their own
    (same costs as the numpy path; with the guard removed they are inf)."""
    rng = np.random.default_rng(8)
    x = rng.normal(0.0, 1.0, size=(40, 30, 1))
    x[:, 15:] += 1e30
    x[:, 22:] -= 3e30
    want = _boundary_scores_np(x, 1.0)
    got = _boundary_scores(x, 1.0)
    assert np.all(np.isfinite(got)) and got.max() > 100.0
    np.testing.assert_allclose(got, want, rtol=1e-12)
    f = _strip_features(x, np.array([0, 10, 20]), np.array([10, 20, 30]), 1.0)
    last, first = f["last"], f["first"]
    pred = last + f["mur"][:, None, :] + _ALPHA * (f["gr"] - f["mur"][:, None, :])
    ref = _rho(_whitened_sq(f["ar"], first, pred), 1).sum(axis=2)     # one direction
    got1 = _rho_pair_sums(np.ascontiguousarray(f["ar"]), np.ascontiguousarray(first),
                            np.ascontiguousarray(pred), 1.0)
    assert np.all(np.isfinite(got1)) and got1.max() > 1000.0
    np.testing.assert_allclose(got1, ref, rtol=1e-12)


def test_or_opt_kernel_matches_python():
    rng = np.random.default_rng(3)
    for t in range(60):
        n = int(rng.integers(3, 30))
        d = rng.random((n, n))
        if t % 2:
            d = np.round(d * 4) / 4                       # many ties
        d[rng.random((n, n)) < 0.05] = np.inf
        np.fill_diagonal(d, np.inf)
        p = [int(v) for v in rng.permutation(n)]
        assert _or_opt(d, p) == _or_opt_py(d, p)


def test_channel_mean_is_numpy_mean():
    rng = np.random.default_rng(4)
    for c in (1, 3, 4):
        a = rng.normal(size=(9, 11, c)) * 1e3
        assert np.array_equal(_channel_mean(a), a.mean(axis=2))


def test_jump_profile_is_numpy_median():
    rng = np.random.default_rng(5)
    for h in (7, 8):                                      # odd and even number of rows
        x = rng.normal(size=(h, 20, 3))
        xt = np.ascontiguousarray(x.transpose(1, 0, 2))
        want = np.median(np.abs(np.diff(x, axis=1)).mean(axis=2), axis=0)
        np.testing.assert_array_equal(_jump_profile(xt), want)


def test_unknown_count_two_pixel_texture_parity():
    """moon (a 2-pixel periodic texture: boundary scores alternate ~0.7 / ~11 x median),
    2 strips, nothing given: with the running median the baseline at the ends of the
    shuffled image took the low phase and the restored seam looked worse than no cut; the
    parity-free baseline restores it exactly."""
    skdata = pytest.importorskip("skimage.data")
    moon = skdata.moon()
    sh = np.concatenate([moon[:, 256:], moon[:, :256]], axis=1)
    x, unit, _ = _as_float(sh, 1)
    s = _boundary_scores(x, unit)
    assert _alternating(s)
    base = _baseline(s)
    lo, hi = np.percentile(s[100:200], [10, 90])                   # the two phases
    assert np.all((base > 1.5 * lo) & (base < 0.67 * hi))         # between them, ends too
    assert np.ptp(base[100:110]) < 0.1 * base[100]                 # no parity jump
    res = reassemble(sh)
    assert res.cuts == (0, 256) and res.order == (1, 0)
    np.testing.assert_array_equal(res.image, moon)


def test_alternating_scores_detection():
    rng = np.random.default_rng(6)
    alt = np.tile([1.0, 10.0], 40) * rng.uniform(0.8, 1.2, 80)
    assert _alternating(alt)
    assert not _alternating(rng.uniform(0.5, 2.0, 80))           # about 2/3 extrema
    assert not _alternating(alt[:10])                             # too short
    base = _baseline(alt)
    assert np.all((base > 2.0) & (base < 5.0))                      # between the levels


def test_unknown_count_text_two_strips_jump_evidence():
    """text, 2 equal strips, nothing given: a letter's edge at 376 has a higher seam score
    than the true cut at 224 (3.96 against 3.79 x median) and was taken before; the true
    cut's median column jump stands out (z 7.5 against 0.7), and the jump term of
    _quality now picks it (restored exactly)."""
    skdata = pytest.importorskip("skimage.data")
    text = skdata.text()
    sh = np.concatenate([text[:, 224:], text[:, :224]], axis=1)
    res = reassemble(sh)
    assert res.cuts == (0, 224) and res.order == (1, 0)
    np.testing.assert_array_equal(res.image, text)


def test_quality_jump_term_counts_separated_cuts_only():
    rng = np.random.default_rng(9)
    w = 40
    s = rng.uniform(0.5, 1.5, w - 1)
    base = _baseline(s)
    cuts = [10, 20, 30]
    raw = rng.uniform(0.5, 1.5, (4, 4))
    jump = np.zeros(w - 1)
    jump[19] = 5.0                                  # boundary 20 jumps, 10 and 30 do not
    order = [0, 1, 3, 2]                            # cut 10 kept; 20 and 30 separated
    q0 = _quality(raw, order, cuts, s, base, w)
    q1 = _quality(raw, order, cuts, s, base, w, jump=jump)
    # cut 20 has z 5 >= _JUMP_Z (no cost), cut 30 z 0 costs _JUMP_COST * _JUMP_Z
    assert q1 - q0 == pytest.approx(_JUMP_COST * _JUMP_Z, rel=1e-12)


def test_jump_z_spread_ignores_a_few_strong_edges():
    jp = np.ones(200)
    jp[::2] = 1.5
    jp[:4] = 40.0                                    # a strong border (2 % of boundaries)
    jp[100] = 6.0                                    # a cut
    z = _jump_z(jp)
    plain = (jp - jp.mean()) / jp.std()
    assert z[100] > 10.0 > plain[100]


def test_patch_kernel_matches_python():
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(11)
    for t in range(80):
        n = int(rng.integers(2, 60))
        m = rng.random((n, n))
        if t % 3 == 0:
            m = np.round(m * 3) / 3                        # ties
        np.fill_diagonal(m, 1e9)
        succ = [int(v) for v in (linear_sum_assignment(m)[1] if t % 2 else rng.permutation(n))]
        got = _patch(m, succ)
        assert got == _patch_py(m, succ)
        assert len(_cycles(got)) == 1


def test_peaks_in_two_pixel_texture_are_few():
    """moon: relative to the parity-free baseline every boundary of the high phase stands
    out; the peak hypothesis uses the high phase as its baseline instead (a 256-strip
    hypothesis made one solve take its whole time limit)."""
    skdata = pytest.importorskip("skimage.data")
    moon = skdata.moon()
    x, unit, _ = _as_float(moon, 1)
    s = _boundary_scores(x, unit)
    base = _baseline(s)
    z = s / base
    assert len(_peak_cuts(z, s)) > 100
    assert len(_peak_cuts(_peak_relative(s, base, z), s)) < 20


def test_jpeg_colour_uses_luma():
    """coffee (400 x 600 RGB), 40 equal strips, cuts given, JPEG q75 after shuffling: on
    RGB the chroma that JPEG smooths over 16 x 16 blocks across each cut misled the order
    (wrong for seeds 0-5); on the luma it is exact."""
    skdata = pytest.importorskip("skimage.data")
    img = skdata.coffee()
    bounds = np.round(np.linspace(0, img.shape[1], 41)).astype(int)
    perm = np.random.default_rng(0).permutation(40)
    sh, cuts, order = _shuffle(img, bounds, perm)
    res = reassemble(_jpeg(sh), cuts=cuts)
    assert res.order == order
    x, unit, _ = _as_float(_jpeg(sh), 1)
    assert _noise_model(x, unit).unit > unit                       # taken for JPEG


@pytest.mark.parametrize("add", [False, True])
def test_unknown_count_page_strong_jumps_added_together(monkeypatch, add):
    """page, 6 unequal strips, nothing given: the true cuts at shuffled positions 125 and
    346 have jump z 7.7 and 4.8 but adding either alone does not improve the order; _grow
    now adds the strong jumps not yet cut all at once (_add_jumps).  Without it the
    answer is wrong (checks that the test can fail)."""
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, [0, 88, 118, 156, 218, 313, 384], [4, 1, 3, 5, 0, 2])
    monkeypatch.setattr("drr.tools.strips.grow._JUMP_ADD", add)
    monkeypatch.setattr("drr.tools.strips.grow._PAIRS", False)   # (pairs find them too)
    monkeypatch.setattr("drr.tools.strips.grow._BULK", False)    # (and so do the weak peaks)
    _without_wider_search(monkeypatch)
    res = reassemble(sh)
    assert np.array_equal(res.image, page) == add


@pytest.mark.parametrize("shift, refine", [(False, False), (True, False), (False, True)])
def test_unknown_count_text_cut_shifted_onto_jump(monkeypatch, shift, refine):
    """text, 10 unequal horizontal strips, nothing given: the seam statistic puts a cut
    at 132 (a glyph's edge, z 4.9) next to the true cut at 131 (jump z 4.2 against 0.4);
    _shift_to_jumps moves it by one pixel when the quality improves, and so does
    _refine_weak (the cut at 132 is weak); with both off it stays."""
    skdata = pytest.importorskip("skimage.data")
    text = skdata.text()
    sh, _, _ = _shuffle(text, [0, 5, 46, 58, 74, 80, 122, 137, 154, 163, 172],
                           [8, 3, 5, 4, 0, 7, 6, 9, 2, 1], axis=0)
    monkeypatch.setattr("drr.tools.strips.grow._JUMP_SHIFT", shift)
    monkeypatch.setattr("drr.tools.strips.grow._REFINE_WEAK", refine)
    shift = shift or refine
    res = reassemble(sh, axis=0)
    assert (131 in res.cuts) == shift
    assert np.array_equal(res.image, text) == shift


@pytest.mark.parametrize("drop", [False, True])
def test_unknown_count_text_weak_cut_dropped(monkeypatch, drop):
    """text, 20 unequal horizontal strips, nothing given: _grow leaves two cuts on the tops
    of text lines (shuffled rows 133 and 135: relative score 4.8, jump z 0.2); once the
    true cuts are in, dropping one improves the quality by 2.4 (_refine_weak).  With the
    drop switched off the answer is wrong."""
    _without_sweep(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    text = skdata.text()
    bounds = [0, 31, 41, 56, 60, 82, 84, 90, 97, 112, 118, 122, 125, 129, 141, 146, 148,
              150, 156, 170, 172]
    perm = [19, 14, 17, 13, 15, 4, 6, 11, 9, 1, 7, 8, 16, 3, 12, 5, 2, 10, 0, 18]
    sh, _, _ = _shuffle(text, bounds, perm, axis=0)
    if not drop:
        _without_later_steps(monkeypatch)
    monkeypatch.setattr("drr.tools.strips.grow._REFINE_DROP_Z", np.inf)
    res = reassemble(sh, axis=0)
    assert np.array_equal(res.image, text) == drop


@pytest.mark.parametrize("refine", [False, True])
def test_unknown_count_text_weak_cut_moved(monkeypatch, refine):
    """text, 40 unequal horizontal strips, nothing given: a cut on a glyph's edge at
    shuffled row 80 (relative score 4.8, jump z -0.4) next to the true cut at 81 (jump z
    1.0); _refine_weak moves it (quality 5.6 better; no drop needed)."""
    skdata = pytest.importorskip("skimage.data")
    text = skdata.text()
    bounds = [0, 2, 4, 6, 12, 15, 19, 24, 32, 34, 39, 41, 47, 49, 51, 60, 74, 77, 80, 82,
              84, 90, 94, 97, 102, 108, 113, 115, 126, 129, 132, 135, 139, 142, 144, 151,
              153, 160, 164, 167, 172]
    perm = [32, 35, 9, 14, 13, 36, 2, 33, 1, 31, 38, 7, 16, 28, 27, 30, 19, 0, 25, 22, 21,
            10, 3, 4, 18, 34, 23, 12, 26, 29, 20, 15, 39, 5, 6, 11, 8, 37, 24, 17]
    sh, _, _ = _shuffle(text, bounds, perm, axis=0)
    monkeypatch.setattr("drr.tools.strips.grow._REFINE_DROP_Z", np.inf)
    monkeypatch.setattr("drr.tools.strips.grow._REFINE_WEAK", refine)
    _without_wider_search(monkeypatch)
    res = reassemble(sh, axis=0)
    assert (81 in res.cuts) == refine
    assert np.array_equal(res.image, text) == refine


@pytest.mark.parametrize("free", [False, True])
def test_unknown_count_page_noop_trials_not_counted(monkeypatch, free):
    """page, 10 unequal vertical strips, nothing given: the true cut at shuffled column
    150 (relative score 1.3) is far down _grow's candidate list, behind natural
    boundaries whose trials change nothing (their pieces stay together); with such
    trials not counted against the budget it is reached and the answer is exact."""
    _without_sweep(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, [0, 12, 96, 162, 195, 208, 224, 271, 293, 310, 384],
                        [3, 8, 2, 0, 7, 9, 4, 1, 5, 6])
    monkeypatch.setattr("drr.tools.strips.grow._FREE_NOOP", free)
    res = reassemble(sh)
    assert (150 in res.cuts) == free
    assert np.array_equal(res.image, page) == free


def test_twin_cuts_on_pixel_doubled_image():
    """An image upsampled by repeating each column: strips that start or end between the
    two copies of a column leave twinless columns; the cut is beside each (between two
    twinless columns side by side).  Not taken for an image without doubling."""
    small = _smooth_field((40, 30), 3, sigma=2.0)
    img = np.repeat(small, 2, axis=1)                                # 40 x 60, doubled
    # pieces [24, 38) [0, 9) [38, 60) [9, 24) at 0, 14, 23, 45: column 8 (shuffled 22)
    # and column 9 (shuffled 45) lose their twins; the cut at 14 joins two whole pairs
    sh, cuts, _ = _shuffle(img, [0, 9, 24, 38, 60], [2, 0, 3, 1])
    assert cuts == (0, 14, 23, 45)
    x, unit, _ = _as_float(sh, 1)
    assert _twin_cuts(x, _boundary_scores(x, unit)) == [23, 45]
    x0, unit0, _ = _as_float(small, 1)
    assert _twin_cuts(x0, _boundary_scores(x0, unit0)) == []


@pytest.mark.parametrize("twins", [False, True])
def test_unknown_count_moon_twin_cuts(monkeypatch, twins):
    """moon (2x pixel-doubled), 20 unequal horizontal strips, nothing given: the true cuts
    at shuffled rows 280 and 288 (relative scores 1.1 and 1.6: moon's smooth surface)
    are found from the twinless rows beside them (_add_twins)."""
    _without_texture(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    moon = skdata.moon()
    bounds = [0, 8, 42, 56, 75, 83, 106, 114, 128, 163, 208, 217, 280, 307, 333, 349, 357,
              370, 426, 456, 512]
    perm = [5, 10, 8, 4, 3, 1, 12, 19, 7, 16, 14, 13, 15, 17, 0, 2, 6, 18, 9, 11]
    sh, _, _ = _shuffle(moon, bounds, perm, axis=0)
    monkeypatch.setattr("drr.tools.strips.grow._TWINS", twins)
    res = reassemble(sh, axis=0)
    assert ({280, 288} <= set(res.cuts)) == twins
    assert np.array_equal(res.image, moon) == twins


@pytest.mark.parametrize("force", [False, True])
def test_unknown_count_moon_twin_cuts_kept(monkeypatch, force):
    """moon, 40 unequal vertical strips, nothing given: with the true cuts that twinless
    columns imply at 40, 78, 205, 379, 443 and 488 the quality is worse than without them
    (weak column jumps), but they are proven; kept, the answer is exact."""
    _without_texture(monkeypatch)
    _without_sweep(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    moon = skdata.moon()
    bounds = [0, 7, 28, 35, 49, 59, 64, 75, 79, 90, 122, 127, 144, 157, 164, 177, 203, 211,
              229, 239, 254, 258, 281, 292, 297, 303, 309, 318, 326, 346, 353, 367, 375,
              379, 427, 431, 448, 454, 484, 508, 512]
    perm = [20, 5, 21, 31, 7, 28, 3, 33, 32, 39, 24, 1, 17, 15, 4, 27, 22, 38, 26, 19, 30,
            29, 2, 18, 10, 25, 23, 9, 6, 35, 36, 11, 13, 34, 12, 16, 37, 0, 8, 14]
    sh, _, _ = _shuffle(moon, bounds, perm)
    monkeypatch.setattr("drr.tools.strips.grow._TWIN_FORCE", force)
    # the seam offsets (_SEAM_OFFSET) restore this case without forcing the twins
    monkeypatch.setattr("drr.tools.strips.quality._SEAM_OFFSET", False)
    res = reassemble(sh)
    assert np.array_equal(res.image, moon) == force


def test_strong_jumps_local_maxima_away_from_cuts():
    jz = np.zeros(30)
    jz[[5, 6, 12, 20, 27, 29]] = [4.0, 3.5, 3.2, 5.0, 2.9, 9.0]
    # boundary index i is cut i + 1: 7 is next to the stronger 6, 21 next to cut 22,
    # 28 is below _JUMP_Z and 30 would leave a 1-pixel end piece
    assert _strong_jumps(jz, 31, [22]) == [6, 13]


@pytest.mark.parametrize("pairs", [False, True])
def test_unknown_count_page_cut_pairs(monkeypatch, pairs):
    """page, 10 unequal horizontal strips, nothing given: the true cuts at shuffled rows
    107 and 169 improve the quality by 5.4 together, but neither alone (107's pieces stay
    together; 169 gains 0.47, less than its partner margin); _add_pairs tries them
    together.  Run without the level-offset evidence (search._OFFSET), which restores
    this case without the pairs."""
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, [0, 13, 30, 36, 82, 92, 103, 151, 160, 168, 191],
                        [5, 1, 8, 6, 9, 4, 2, 3, 7, 0], axis=0)
    _without_later_steps(monkeypatch)
    monkeypatch.setattr("drr.tools.strips.search._OFFSET", False)
    monkeypatch.setattr("drr.tools.strips.grow._PAIRS", pairs)
    res = reassemble(sh, axis=0)
    assert ({107, 169} <= set(res.cuts)) == pairs
    assert np.array_equal(res.image, page) == pairs


@pytest.mark.parametrize("margin", [0.0, 1.0])
def test_unknown_count_brick_pair_margin(monkeypatch, margin):
    """brick, 20 unequal vertical strips, nothing given: without a margin _add_pairs cuts
    two strong natural edges (shuffled columns 75 and 104, 0.59 better than the truth);
    with _PAIR_MARGIN 1.0 the answer is exact."""
    _without_texture(monkeypatch)
    _without_sweep(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    brick = skdata.brick()
    bounds = [0, 13, 48, 56, 76, 92, 122, 133, 151, 173, 220, 253, 287, 303, 332, 342, 377,
              390, 403, 489, 512]
    perm = [17, 8, 2, 7, 9, 0, 19, 10, 18, 3, 6, 16, 11, 1, 12, 13, 4, 5, 14, 15]
    sh, _, _ = _shuffle(brick, bounds, perm)
    monkeypatch.setattr("drr.tools.strips.grow._PAIR_MARGIN", margin)
    monkeypatch.setattr("drr.tools.strips.grow._PAIR_K", 6)
    # the seam offsets (_SEAM_OFFSET) restore this case without the margin too
    monkeypatch.setattr("drr.tools.strips.quality._SEAM_OFFSET", False)
    res = reassemble(sh)
    assert np.array_equal(res.image, brick) == (margin > 0)


@pytest.mark.parametrize("low", [1.3, 1.2])
def test_unknown_count_coins_low_rank_cut_with_partner(monkeypatch, low):
    """coins, 40 unequal horizontal strips, nothing given: the true cut at shuffled row
    151 has relative score 1.29, under _grow's 1.3, but a better partner exists (partner
    score 0.26); with _GROW_Z_LOW 1.2 it is tried and kept."""
    _without_sweep(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    coins = skdata.coins()
    bounds = [0, 5, 10, 14, 22, 29, 32, 35, 39, 44, 52, 54, 58, 67, 82, 93, 113, 126, 135,
              145, 149, 153, 156, 160, 187, 189, 193, 200, 208, 214, 221, 224, 230, 251,
              255, 259, 266, 269, 289, 295, 303]
    perm = [24, 34, 15, 27, 0, 20, 31, 6, 17, 37, 21, 16, 8, 9, 14, 4, 5, 30, 33, 36, 18,
            22, 13, 25, 2, 7, 10, 38, 28, 39, 3, 11, 23, 12, 19, 35, 1, 29, 32, 26]
    sh, _, _ = _shuffle(coins, bounds, perm, axis=0)
    _without_later_steps(monkeypatch)
    monkeypatch.setattr("drr.tools.strips.grow._GROW_Z_LOW", low)
    res = reassemble(sh, axis=0)
    assert (151 in res.cuts) == (low < 1.3)
    assert np.array_equal(res.image, coins) == (low < 1.3)


@pytest.mark.parametrize("with_jumps", [False, True])
def test_unknown_count_page_pair_with_strong_jumps(monkeypatch, with_jumps):
    """page, 10 unequal vertical strips, nothing given: the true cuts at shuffled columns
    86 and 262 are strong column jumps (jump z 5.2 and 6.1) and 326 is not (0.0); only
    the three together improve the quality (by 1.7), each alone or in pairs leaves the
    pieces together.  _add_pairs tries the strong jumps with each cut tried."""
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, [0, 102, 115, 136, 164, 237, 271, 301, 314, 326, 384],
                        [1, 4, 7, 0, 3, 2, 8, 5, 6, 9])
    monkeypatch.setattr("drr.tools.strips.grow._PAIR_JUMPS", with_jumps)
    _without_wider_search(monkeypatch)
    res = reassemble(sh)
    assert ({86, 262, 326} <= set(res.cuts)) == with_jumps
    assert np.array_equal(res.image, page) == with_jumps


def test_unknown_count_brick_two_strips_no_one_pixel_piece():
    """brick, 2 equal vertical strips swapped, nothing given: exactly the one true cut.
    The strong jumps tried with each cut in _add_pairs once also took a cut next to a
    strong jump (a 1-pixel piece at 472 | 473, pixel-exact but a false pair of cuts)."""
    skdata = pytest.importorskip("skimage.data")
    brick = skdata.brick()
    sh, cuts, _ = _shuffle(brick, [0, 256, 512], [1, 0])
    res = reassemble(sh)
    assert res.cuts == cuts
    assert np.array_equal(res.image, brick)


def _bench_module():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "strips.py"
    spec = importlib.util.spec_from_file_location("_strips_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_benchmark_unequal_widths_drawn_directly_when_rejection_is_hopeless():
    """benchmarks/strips.py bounds_for: 100 unequal strips over 600 px (every piece >= 2 px,
    acceptance about 1e-60 by rejection) are drawn directly, valid and seeded; the
    rejection draws of an existing case are unchanged; n > w is an error."""
    bench = _bench_module()
    for w, n in [(600, 100), (172, 60), (10, 5), (5, 5)]:
        b = bench.bounds_for(w, n, np.random.default_rng(1), False)
        d = np.diff(b)
        assert b[0] == 0 and b[-1] == w and len(d) == n
        assert d.min() >= min(max(2, w // (3 * n)), w // n)
    b1 = bench.bounds_for(600, 100, np.random.default_rng(7), False)
    assert np.array_equal(b1, bench.bounds_for(600, 100, np.random.default_rng(7), False))
    # an existing case (page, N = 10, seed 2, vertical) keeps its rejection draw
    rng = np.random.default_rng([2, 10, 1, 4, False])
    assert list(bench.bounds_for(384, 10, rng, False)) == [0, 102, 115, 136, 164, 237, 271,
                                                           301, 314, 326, 384]
    with pytest.raises(ValueError):
        bench.bounds_for(5, 6, np.random.default_rng(0), False)


def test_jump_offset_profiles_offset_over_smooth_rows():
    """_jump_offset_profiles: the jump profile equals _jump_profile; the offset is the
    median cross difference over the rows smooth on both sides (a level step of 5 in flat
    rows gives 5 whatever the busy rows do, a flat image 0, and a single boundary 0);
    _offset_z removes the local trend (a steady ramp is no evidence) and maps
    _OFFSET_LOW / _OFFSET_HIGH to 0 / 3."""
    rng = np.random.default_rng(0)
    img = np.full((40, 12, 1), 100.0)
    img[:, 6:] += 5.0                                    # a level step at boundary 6
    img[:10] = rng.integers(0, 255, (10, 12, 1))         # busy rows: not smooth
    xt = np.ascontiguousarray(img.transpose(1, 0, 2))
    jump, off, seg = _jump_offset_profiles(xt, 3.0)
    np.testing.assert_array_equal(jump, _jump_profile(xt))
    assert off[5] == 5.0 and np.all(np.delete(off, 5) == 0.0)
    np.testing.assert_array_equal(seg[:, 0], off)            # one part: all the rows
    _, one, _ = _jump_offset_profiles(np.ascontiguousarray(xt[:2]), 3.0)
    assert one.shape == (1,) and one[0] == 0.0
    z = _offset_z(off, 1.0)
    assert z[5] == pytest.approx(3.0 * (5.0 - _OFFSET_LOW) / (_OFFSET_HIGH - _OFFSET_LOW))
    ramp = _offset_z(np.full(20, 4.0), 1.0)              # every boundary steps by 4
    assert np.all(ramp < 0)
    tall = np.ascontiguousarray(np.repeat(xt, 20, axis=1))   # 800 rows: every 3rd used
    np.testing.assert_array_equal(_jump_offset_profiles(tall, 3.0)[1], off)


@pytest.mark.parametrize("offset", [True, False])
def test_unknown_count_page_level_offset_evidence(monkeypatch, offset):
    """page, 40 equal vertical strips (benchmark part B seed 1), nothing given: true cuts
    between text columns on the bright right of the page have jump z about 0, but the
    background level steps by 2-24 grey levels across them (_offset_z); with that evidence
    the restoration is pixel-exact, without it cuts are missing."""
    _without_texture(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    bounds = np.round(np.linspace(0, 384, 41)).astype(int)
    perm = [0, 27, 35, 38, 1, 28, 7, 6, 14, 26, 34, 16, 29, 24, 32, 12, 25, 4, 20, 30, 5,
            17, 22, 33, 10, 13, 15, 21, 9, 19, 8, 31, 23, 37, 11, 18, 2, 36, 3, 39]
    sh, _, _ = _shuffle(page, bounds, perm)
    monkeypatch.setattr("drr.tools.strips.search._OFFSET", offset)
    # the seam offsets (_SEAM_OFFSET) restore this case without the cuts' own offsets
    monkeypatch.setattr("drr.tools.strips.quality._SEAM_OFFSET", False)
    assert np.array_equal(reassemble(sh).image, page) == offset


@pytest.mark.parametrize("grow_jumps", [True, False])
def test_unknown_count_page_evidence_candidates(monkeypatch, grow_jumps):
    """page, 40 unequal vertical strips (part B seed 2): the true cut at shuffled column 60
    (level offset 6 grey levels, relative score 1.33) is not a peak of the relative score
    (59 beside it scores 1.46), so _grow reached it only as a local maximum of the cut
    evidence (_GROW_JUMPS); adding it improves the quality by 3.3."""
    _without_sweep(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    bounds = [0, 6, 13, 24, 31, 34, 56, 62, 68, 72, 92, 95, 102, 115, 132, 140, 144, 149,
              153, 165, 169, 173, 188, 195, 215, 218, 222, 228, 243, 246, 249, 252, 260,
              285, 289, 301, 347, 352, 362, 365, 384]
    perm = [27, 26, 6, 32, 14, 19, 4, 31, 16, 7, 18, 29, 0, 24, 8, 22, 35, 3, 28, 38, 34,
            10, 11, 17, 33, 12, 39, 20, 13, 36, 5, 21, 15, 2, 30, 9, 23, 1, 37, 25]
    sh, _, _ = _shuffle(page, bounds, perm)
    monkeypatch.setattr("drr.tools.strips.grow._GROW_JUMPS", grow_jumps)
    _without_wider_search(monkeypatch)   # (the neighbours of rejected peaks find it too)
    assert np.array_equal(reassemble(sh).image, page) == grow_jumps


@pytest.mark.parametrize("passes, merge", [(2, True), (1, True), (2, False)])
def test_unknown_count_page_refine_second_pass_merged(monkeypatch, passes, merge):
    """page, 10 unequal horizontal strips (part B seed 3): _refine_weak drops a false cut
    (relative score 2.1) in its first pass; only then does dropping the false cut at 58
    pay, and only judged without the cut at 34, whose pieces stay together (a gain of
    0.59 against 0.49 with it; the margin is 0.5).  Needs the second pass and the merge."""
    _without_texture(monkeypatch)
    _without_sweep(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, [0, 24, 37, 93, 125, 133, 141, 169, 176, 183, 191],
                        [0, 5, 2, 8, 6, 9, 3, 1, 4, 7], axis=0)
    _without_later_steps(monkeypatch)
    _old_objective(monkeypatch)
    monkeypatch.setattr("drr.tools.strips.grow._REFINE_PASSES", passes)
    monkeypatch.setattr("drr.tools.strips.grow._REFINE_MERGE", merge)
    assert np.array_equal(reassemble(sh, axis=0).image, page) == (passes == 2 and merge)


def test_seam_offsets_level_step_of_restored_seams():
    """_SeamOffsets: a restored seam's offset is the median cross difference over the rows
    smooth inside both pieces, minus the shuffled image's local trend, mapped like
    _offset_z; columns 0-5 at level 100 and 6-11 at 105 (busy rows not smooth): the seam
    2 | 9 steps by 5 like the boundary 5 | 6, the seam 5 | 0 by 0; a piece 1 wide has
    no inner gradient (neither side: no evidence) and is cached apart."""
    rng = np.random.default_rng(0)
    img = np.full((40, 12, 1), 100.0)
    img[:, 6:] += 5.0
    img[:10] = rng.integers(0, 255, (10, 12, 1))
    xt = np.ascontiguousarray(img.transpose(1, 0, 2))
    _, off, _ = _jump_offset_profiles(xt, 3.0)
    so = _SeamOffsets(xt, 3.0, off, 1.0)
    full = 3.0 * (5.0 - _OFFSET_LOW) / (_OFFSET_HIGH - _OFFSET_LOW)
    none = 3.0 * (0.0 - _OFFSET_LOW) / (_OFFSET_HIGH - _OFFSET_LOW)
    yes = np.array([True, True, True])
    z = so.z(np.array([6, 3, 6]), np.array([6, 9, 0]), yes, yes)
    np.testing.assert_allclose(z, [full, full, none])
    no = np.array([False])
    np.testing.assert_allclose(so.z(np.array([6]), np.array([6]), no, no), [none])
    np.testing.assert_allclose(so.z(np.array([6]), np.array([6]), yes[:1], yes[:1]), [full])
    tall = np.ascontiguousarray(np.repeat(xt, 20, axis=1))   # 800 rows: every 3rd used
    so_tall = _SeamOffsets(tall, 3.0, _jump_offset_profiles(tall, 3.0)[1], 1.0)
    # in three parts: the step is in the two lower thirds, the busy rows in the first
    so3 = _SeamOffsets(xt, 3.0, _jump_offset_profiles(xt, 3.0, 3)[2], 1.0)
    np.testing.assert_allclose(so3.z(np.array([6, 3, 6]), np.array([6, 9, 0]), yes, yes), z)
    np.testing.assert_allclose(so_tall.z(np.array([6, 3, 6]), np.array([6, 9, 0]), yes, yes), z)


@pytest.mark.parametrize("seam_offset", [True, False])
def test_unknown_count_page_restored_seam_offset(monkeypatch, seam_offset):
    """page, 10 unequal horizontal strips (benchmark part B seed 2), nothing given: a false
    cut on a text line's edge (shuffled row 154, relative score 1.8, jump z 1.5) moves a
    piece whose restored seam 111 | 154 steps the background by 9 grey levels; charged
    for that level offset (_SEAM_OFFSET) the truth scores better and the restoration is
    pixel-exact."""
    _without_texture(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, [0, 40, 48, 54, 67, 79, 88, 95, 112, 121, 191],
                        [8, 3, 6, 4, 9, 2, 0, 7, 5, 1], axis=0)
    monkeypatch.setattr("drr.tools.strips.quality._SEAM_OFFSET", seam_offset)
    assert np.array_equal(reassemble(sh, axis=0).image, page) == seam_offset


@pytest.mark.parametrize("plain", [True, False])
def test_unknown_count_page_hypotheses_judged_without_seam_offsets(monkeypatch, plain):
    """page, 20 unequal vertical strips (part B seed 0): the peak hypothesis misses two
    true cuts, so some of its restored seams join unrelated places and pay the seam
    offset term; judged with it the over-segmentation wins, from which _grow does not
    reach the truth.  The hypotheses are compared without the term (_HYP_PLAIN) and only
    the best is scored with it before _grow."""
    _without_sweep(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, [0, 10, 24, 44, 56, 87, 106, 116, 129, 157, 187, 197, 226, 242,
                               272, 282, 305, 345, 363, 377, 384],
                        [6, 0, 16, 12, 11, 10, 14, 1, 19, 4, 9, 17, 18, 5, 13, 3, 8, 15, 7, 2])
    _without_later_steps(monkeypatch)
    monkeypatch.setattr("drr.tools.strips.search._HYP_PLAIN", plain)
    assert np.array_equal(reassemble(sh).image, page) == plain


def test_offset_parts_of_a_seam():
    """_jump_offset_profiles and _SeamOffsets over parts of the rows: each part's offset is
    the median cross difference over its own smooth rows (a numpy definition); a restored
    seam joining a flat piece to one whose background is 6 grey levels higher over its
    upper third and 6 lower over its lower third (the same in the middle: a median of 0
    over all rows) has the offset z of a step of 6 in three parts, none in one."""
    rng = np.random.default_rng(1)
    h = 90
    img = np.full((h, 32, 1), 120.0) + rng.normal(0, 0.3, (h, 32, 1)).round()
    img[:30, 16:] += 6.0
    img[60:, 16:] -= 6.0
    xt = np.ascontiguousarray(img.transpose(1, 0, 2))
    _, off, seg = _jump_offset_profiles(xt, 3.0, 3)
    g = np.diff(xt[..., 0], axis=0)
    for b in range(1, 30):
        for q in range(3):
            rows = np.arange(h * q // 3, h * (q + 1) // 3)
            ok = (np.abs(g[b - 1, rows]) <= 3.0) & (np.abs(g[b + 1, rows]) <= 3.0)
            want = np.median(g[b, rows[ok]]) if ok.sum() >= 8 else 0.0
            assert seg[b, q] == want
    assert abs(off[15]) <= 0.5 and seg[15, 0] == pytest.approx(6.0, abs=1)
    yes = np.array([True, True])
    ends, starts = np.array([32, 8]), np.array([0, 8])   # seam 31 | 0, natural 7 | 8
    six = 3.0 * (6.0 - _OFFSET_LOW) / (_OFFSET_HIGH - _OFFSET_LOW)
    so3 = _SeamOffsets(xt, 3.0, seg, 1.0)
    z3 = so3.z(ends, starts, yes, yes)
    assert z3[0] == pytest.approx(six, abs=0.7) and z3[1] < 0
    so1 = _SeamOffsets(xt, 3.0, _jump_offset_profiles(xt, 3.0, 1)[2], 1.0)
    assert np.all(so1.z(ends, starts, yes, yes) < 0)


@pytest.mark.parametrize("parts", [3, 1])
def test_unknown_count_text_seam_offset_in_parts(monkeypatch, parts):
    """text, 20 unequal horizontal strips (part B seed 1): with the true cut 166 (relative
    score 2.6, jump z 1.4) missing, a false seam 130 | 88 steps the background by about 6
    grey levels over the first third of its length and not over all of it; the seam
    offsets taken over thirds (_SEAM_SEGMENTS) make the truth the better answer."""
    _without_texture(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    text = skdata.text()
    sh, _, _ = _shuffle(text, [0, 6, 21, 29, 41, 46, 51, 56, 58, 62, 67, 87, 93, 98, 103, 111,
                               125, 141, 157, 165, 172],
                        [6, 13, 14, 10, 12, 19, 7, 17, 8, 16, 5, 9, 11, 1, 3, 18, 2, 15, 4, 0],
                        axis=0)
    monkeypatch.setattr("drr.tools.strips.search._SEAM_SEGMENTS", parts)
    _old_objective(monkeypatch)   # (with it this case is lost: a search-path change)
    assert np.array_equal(reassemble(sh, axis=0).image, text) == (parts == 3)


# page, 20 unequal horizontal strips (part B seed 2)
_PAGE_20H_S2 = ([0, 5, 10, 37, 54, 71, 80, 90, 95, 102, 105, 122, 128, 136, 141, 145, 157, 162,
                 185, 188, 191], [1, 15, 4, 3, 9, 12, 2, 10, 13, 16, 7, 5, 19, 8, 11, 17, 6, 18,
                                  14, 0])


@pytest.mark.parametrize("reorder", [True, False])
def test_unknown_count_page_runs_reordered_by_quality(monkeypatch, reorder):
    """page, 20 unequal horizontal strips (part B seed 2): the cuts found are the true ones,
    but the shortest path of the seam costs puts the last six pieces between blank rows,
    where two seams step the background (offset z 4.3 and 4.7); re-ordering the runs
    between such seams by the quality (_reorder_blocks) restores the page."""
    _without_sweep(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, *_PAGE_20H_S2, axis=0)
    _without_later_steps(monkeypatch)
    _old_objective(monkeypatch)
    monkeypatch.setattr("drr.tools.strips.grow._REORDER", reorder)
    assert np.array_equal(reassemble(sh, axis=0).image, page) == reorder


@pytest.mark.parametrize("apart", [True, False])
def test_unknown_count_page_no_one_pixel_peak_pieces(monkeypatch, apart):
    """page, 6 equal horizontal strips (part B seed 1), nothing given: the peak hypothesis
    cut both rows of two adjacent pairs (132/133, 158/159), 1-pixel pieces whose seams are
    cheap anywhere; keeping the one of each pair with the stronger evidence (_PEAK_APART)
    restores the page."""
    _without_texture(monkeypatch)
    _without_sweep(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, [0, 32, 64, 96, 127, 159, 191], [3, 4, 2, 0, 1, 5], axis=0)
    monkeypatch.setattr("drr.tools.strips.candidates._PEAK_APART", apart)
    assert np.array_equal(reassemble(sh, axis=0).image, page) == apart


def test_apart_keeps_the_best_of_adjacent_boundaries():
    """_apart: no two kept indices adjacent, the larger key first, ties to the first."""
    from drr.tools.strips.candidates import _apart
    key = np.array([0.0, 5.0, 6.0, 5.5, 0.0, 2.0, 2.0, 0.0, 3.0])
    np.testing.assert_array_equal(_apart(np.array([1, 2, 3, 5, 6, 8]), key), [2, 5, 8])
    np.testing.assert_array_equal(_apart(np.array([1, 3]), key), [1, 3])


def test_offset_trend_is_windowed_nanmedian():
    """_offset_trend (a Numba kernel) equals its numpy definition: the nanmedian of the
    _OFFSET_TREND offsets each side (NaN-padded at the ends, the boundary itself out), for
    every column, also when there are fewer boundaries than the window."""
    from drr.tools.strips.jumps import _OFFSET_TREND, _offset_trend

    def ref(o):
        k = _OFFSET_TREND
        pad = np.concatenate([np.full(k, np.nan), o, np.full(k, np.nan)])
        win = np.delete(np.lib.stride_tricks.sliding_window_view(pad, 2 * k + 1), k, axis=1)
        return np.nanmedian(win, axis=1)

    rng = np.random.default_rng(3)
    for n in (2, 3, 8, 9, 17, 300):
        o = rng.normal(0, 7, (n, 3))
        got = _offset_trend(o)
        for q in range(3):
            np.testing.assert_array_equal(got[:, q], ref(o[:, q]))
        np.testing.assert_array_equal(_offset_trend(o[:, 0]), ref(o[:, 0]))


# ---------------------------------------------------------------- speed paths, bit for bit

def test_column_grad_stats_three_channels_bitwise():
    """The three-channel kernel of _column_grad_stats gives the generic loop's values bit
    for bit (the same sums in the same order)."""
    from drr.tools.strips.kernels import _column_grad_stats, _column_grad_stats_any
    rng = np.random.default_rng(21)
    for xt in (rng.integers(0, 256, (40, 33, 3)).astype(np.float64),
               rng.normal(0.0, 1e3, (7, 5, 3)), np.zeros((2, 1, 3))):
        for a, b in zip(_column_grad_stats(xt), _column_grad_stats_any(xt)):
            assert a.tobytes() == b.tobytes()


def _edge_arrays(xt, b):
    from drr.tools.strips.costs import _edge_features, _grad_whitening
    stats = _grad_whitening(xt, 1.0)
    return _edge_features(xt, stats, "r", b), _edge_features(xt, stats, "l", b)


def test_partner_costs_equal_the_full_minimum():
    """_partner_costs (pairs abandoned once above the best so far) gives the minimum of the
    full cost matrices of _edge_pair_costs over the far pairs, bit for bit, for one, two
    and three channels; inf where no candidate is far."""
    from drr.tools.strips.costs import _edge_pair_costs, _partner_costs
    rng = np.random.default_rng(22)
    for c in (1, 2, 3):
        img = _smooth_field((48, 60), 5)[:, :, None] * 40.0 + rng.normal(0, 2, (48, 60, c))
        img[:, 30:] = img[:, 30:][:, ::-1]                 # a few real discontinuities
        xt = np.ascontiguousarray(img.transpose(1, 0, 2))
        b = np.arange(2, 58)
        cand = np.array([3, 10, 17, 30, 31, 44, 55])
        r_b, l_b = _edge_arrays(xt, b)
        r_c, l_c = _edge_arrays(xt, cand)
        far = np.abs(b[:, None] - cand[None, :]) >= 4
        far[5] = False                                     # no candidate at all
        d_out = np.where(far, _edge_pair_costs(r_b, l_c, _ALPHA), np.inf)
        d_in = np.where(far.T, _edge_pair_costs(r_c, l_b, _ALPHA), np.inf)
        want = np.minimum(d_out.min(axis=1), d_in.min(axis=0))
        got = _partner_costs(r_b, l_b, r_c, l_c, far, _ALPHA)
        assert got.tobytes() == want.tobytes() and got[5] == np.inf


def test_counted_median_is_the_median():
    """_counted_median (whole-number keys, by counting) equals np.median of the values
    bit for bit, odd and even counts, with and without a shift; _signed_key inverts
    ``t / c`` and refuses values that are not such a quotient."""
    from drr.tools.strips.jumps import _COUNT_BINS, _counted_median, _signed_key
    rng = np.random.default_rng(23)
    hist = np.zeros(2 * _COUNT_BINS, dtype=np.int64)
    for n in (1, 2, 3, 8, 9, 85, 512):
        for c in (1, 3):
            t = rng.integers(-40, 41, n)
            keys = t + _COUNT_BINS
            got = _counted_median(keys, 0, n, _COUNT_BINS, c, hist)
            assert np.float64(got).tobytes() == np.median(t.astype(np.float64) / c).tobytes()
            assert [_signed_key(v / c, c, _COUNT_BINS) for v in t[:5]] == list(keys[:5])
            a = np.abs(t)
            got = _counted_median(a, 1, n, 0, c, hist[:_COUNT_BINS]) if n > 1 else None
            if n > 1:
                assert got == np.median(a[1:].astype(np.float64) / c)
    assert not hist.any()
    assert _signed_key(0.1, 3, _COUNT_BINS) == -1 and _signed_key(5e3, 1, _COUNT_BINS) == -1


def test_jump_offset_profiles_counting_equals_selection():
    """The offsets of _jump_offset_profiles (medians by counting for an 8-bit image) equal
    their numpy definition bit for bit, over all the rows and over thirds; the image
    times 1.0001 (no whole numbers: numba's selection) gives the scaled definition."""
    from drr.tools.strips.jumps import _OFFSET_ROWS
    rng = np.random.default_rng(24)
    img = 100.0 + rng.integers(0, 4, (90, 30, 3)) + np.linspace(0, 20, 90)[:, None, None]
    img[:, 12:] += 7.0
    img[::7] = rng.integers(0, 255, (13, 30, 3))

    def ref(x, tau, k):
        g = np.diff(x, axis=1)
        g = ((g[..., 0] + g[..., 1]) + g[..., 2]).T / 3      # (W - 1, H), the channel mean
        off, seg = np.zeros(len(g)), np.zeros((len(g), k))
        h = x.shape[0]
        need = max(8, int(np.ceil(_OFFSET_ROWS * h)))
        need_k = max(8, int(np.ceil(_OFFSET_ROWS * h / k)))
        for b in range(len(g)):
            lo, hi = (b - 1 if b > 0 else b + 1), (b + 1 if b < len(g) - 1 else b - 1)
            ok = (np.abs(g[lo]) <= tau) & (np.abs(g[hi]) <= tau)
            if ok.sum() >= need:
                off[b] = np.median(g[b][ok])
            for q in range(k):
                part = np.zeros(h, bool)
                part[(h * q) // k:(h * (q + 1)) // k] = True
                if (ok & part).sum() >= need_k:
                    seg[b, q] = np.median(g[b][ok & part])
        return off, seg

    for x in (img, img * 1.0001):
        xt = np.ascontiguousarray(x.transpose(1, 0, 2))
        _, off, seg = _jump_offset_profiles(xt, 3.0, 3)
        want_off, want_seg = ref(x, 3.0, 3)
        assert off.tobytes() == want_off.tobytes() and seg.tobytes() == want_seg.tobytes()
        assert np.count_nonzero(off) >= 3 and np.count_nonzero(seg) > 3


def test_equal_cuts_matches_the_numpy_programme():
    """_equal_cuts (a Numba kernel) gives the cuts of the numpy dynamic programme it
    replaced, ties included (first maximum, wide strip only where strictly better)."""
    def ref(logz, w, n):
        q, r = divmod(w, n)
        if n == 1:
            return []
        val = np.full(r + 1, -np.inf)
        val[0] = 0.0
        choice = np.zeros((n, r + 1), dtype=bool)
        for k in range(1, n):
            up = np.concatenate([[-np.inf], val[:-1]])
            take = up > val
            best = np.where(take, up, val)
            choice[k] = take
            m = np.arange(r + 1)
            pos = k * q + m
            ok = (m <= k) & (m >= r - (n - k)) & (pos >= 1) & (pos <= w - 1)
            val = best + np.where(ok, logz[np.clip(pos - 1, 0, w - 2)], -np.inf)
        end = np.full(r + 1, -np.inf)
        end[r - 1 if r else r:] = val[r - 1 if r else r:]
        m = int(np.argmax(end))
        cuts = []
        for k in range(n - 1, 0, -1):
            cuts.append(k * q + m)
            m -= int(choice[k][m])
        return cuts[::-1]

    rng = np.random.default_rng(25)
    for t in range(300):
        w = int(rng.integers(2, 300))
        n = int(rng.integers(1, w + 1))
        logz = rng.normal(0, 1, w - 1)
        if t % 3 == 0:
            logz = np.round(logz)                          # ties
        assert _equal_cuts(logz, w, n) == ref(logz, w, n)


def test_blockiness_on_the_rows_it_uses():
    """_blockiness scales and averages only the rows of the blocks it uses: the same value
    as from the whole image scaled first (8-bit, float, JPEG, small images)."""
    from scipy.fft import dctn

    def ref(y3):
        y = _channel_mean(y3)
        hf = np.add.outer(np.arange(8), np.arange(8)) >= 6
        frac = []
        for o in (0, 4):
            h, w = ((y.shape[0] - o) // 8) * 8, ((y.shape[1] - o) // 8) * 8
            if h == 0 or w == 0:
                return 0.0
            blocks = y[o:o + h, o:o + w].reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3)
            step = max(1, blocks.shape[0] * blocks.shape[1] // 1024)
            coef = dctn(blocks[::step], axes=(2, 3), norm="ortho")[..., hf]
            frac.append(float(np.mean(np.abs(coef) < 1.0)))
        return frac[0] - frac[1]

    rng = np.random.default_rng(26)
    img = (np.clip(_smooth_field((300, 280), 4) * 60 + 120, 0, 255)).astype(np.uint8)
    rgb = np.stack([img, img[::-1], img[:, ::-1]], axis=2)
    for a in (img, rgb, _jpeg(rgb), rgb[:20, :30], rgb[:11], rng.random((270, 90)) * 3.0):
        x, unit, _ = _as_float(a, 1)
        lo = float(x.min())
        assert _blockiness(x, lo, unit) == ref((x - lo) / unit)


def test_held_karp_kernel_matches_the_numpy_layers():
    """_held_karp (a Numba kernel) gives the path of the numpy Held-Karp it replaced,
    ties included (the first minimum over the last-but-one node; inf costs)."""
    def ref(d):
        n = d.shape[0]
        full = 1 << n
        dp = np.full((full, n), np.inf)
        parent = np.full((full, n), -1, dtype=np.int64)
        for j in range(n):
            dp[1 << j, j] = 0.0
        masks = np.arange(full)
        pop = np.array([bin(m).count("1") for m in range(full)])
        dd = np.where(np.isfinite(d), d, 1e300)
        for p in range(2, n + 1):
            layer = masks[pop == p]
            for k in range(n):
                sub = layer[(layer >> k) & 1 == 1]
                cand = dp[sub ^ (1 << k)] + dd[:, k][None, :]
                arg = np.argmin(cand, axis=1)
                dp[sub, k] = cand[np.arange(len(sub)), arg]
                parent[sub, k] = arg
        mask, k, path = full - 1, int(np.argmin(dp[full - 1])), []
        while k >= 0:
            path.append(k)
            mask, k = mask ^ (1 << k), int(parent[mask, k])
        return path[::-1]

    rng = np.random.default_rng(27)
    for t in range(200):
        n = int(rng.integers(2, 10))
        d = np.round(rng.random((n, n)) * 3) / 3 if t % 2 else rng.random((n, n))
        d[rng.random((n, n)) < (0.3 if t % 3 == 0 else 0.0)] = np.inf
        np.fill_diagonal(d, np.inf)
        assert _held_karp(d) == ref(d)


@pytest.mark.parametrize("bulk", [True, False])
def test_unknown_count_coins_weak_cuts_added_together(monkeypatch, bulk):
    """coins, 40 unequal horizontal strips (part B seed 6): three true cuts (13, 106, 131,
    relative score 1.0-2.1) each leave their pieces together when added alone, and a
    fourth (112) makes the image worse alone; adding all weak peaks at once with the
    natural seams favoured in the order (_add_bulk) finds them together."""
    _without_texture(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    coins = skdata.coins()
    sh, _, _ = _shuffle(coins, [0, 10, 12, 17, 20, 31, 34, 36, 40, 54, 63, 75, 87, 91, 99, 107,
                                120, 132, 141, 143, 155, 161, 165, 167, 171, 173, 181, 189, 207,
                                219, 228, 243, 246, 250, 255, 287, 293, 295, 297, 299, 303],
                        [26, 5, 36, 30, 33, 21, 17, 16, 28, 32, 34, 35, 39, 24, 12, 29, 37, 10,
                         7, 11, 8, 13, 4, 6, 0, 14, 2, 15, 31, 22, 18, 20, 3, 38, 1, 9, 25, 19,
                         23, 27], axis=0)
    monkeypatch.setattr("drr.tools.strips.grow._BULK", bulk)
    _without_wider_search(monkeypatch)
    assert np.array_equal(reassemble(sh, axis=0).image, coins) == bulk


@pytest.mark.parametrize("reorder", [True, False])
def test_unknown_count_page_refine_trials_reordered(monkeypatch, reorder):
    """page, 20 unequal horizontal strips (part B seed 5): the answer has one false cut
    (37, relative score 2.0, evidence 2.7); dropping it is 3.7 worse in the order of the
    seam costs and 5 better once the runs between offset seams are re-ordered by the
    quality (_REFINE_REORDER: each trial of _refine_weak re-ordered, and the answer it
    starts from)."""
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, [0, 5, 13, 17, 25, 37, 41, 65, 85, 113, 121, 124, 132, 152, 158,
                               161, 166, 173, 184, 187, 191],
                        [11, 16, 7, 5, 10, 2, 15, 9, 3, 0, 6, 1, 12, 17, 8, 19, 4, 14, 13, 18],
                        axis=0)
    monkeypatch.setattr("drr.tools.strips.grow._REFINE_REORDER", reorder)
    assert np.array_equal(reassemble(sh, axis=0).image, page) == reorder


@pytest.mark.parametrize("qorder", [True, False])
def test_unknown_count_page_cuts_kept_together_by_quality_order(monkeypatch, qorder):
    """page, 20 unequal vertical strips (part B seed 7): the answer has two false cuts (9,
    267) whose pieces the seam costs separate; ordered on the quality's own seam terms
    (_quality_matrix) their pieces stay together, and the cut set without them is 4.7
    better (_QUALITY_ORDER) and restores the page."""
    _without_sweep(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, [0, 15, 24, 54, 65, 79, 96, 120, 126, 140, 165, 218, 244, 259, 276,
                               286, 295, 307, 314, 346, 384],
                        [16, 8, 17, 1, 14, 6, 13, 9, 5, 12, 0, 2, 3, 15, 7, 19, 18, 11, 4, 10])
    monkeypatch.setattr("drr.tools.strips.grow._QUALITY_ORDER", qorder)
    assert np.array_equal(reassemble(sh).image, page) == qorder


def test_quality_matrix_is_quality_per_seam(monkeypatch):
    """The shortest path of _quality_matrix is the best order for _quality: for any order
    of the pieces, the quality minus the matrix's path cost is the same constant, up to
    the jump and texture terms of the cut after the last piece (which the matrix leaves
    out)."""
    from drr.tools.strips import search
    from drr.tools.strips.quality import (_JUMP_COST, _JUMP_Z, _MOVE_FREE_Z, _TEXTURE_W,
                                          _quality_bs, _quality_matrix, _texture_cost)

    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()[:, :160]
    sh, cuts, _ = _shuffle(page, [0, 12, 30, 41, 66, 80, 97, 120, 133, 160],
                           [3, 7, 0, 5, 8, 1, 6, 2, 4])
    got = {}
    orig = search._grow

    def grab(x, model, bs, best, *args, **kw):
        got["bs"] = bs
        return orig(x, model, bs, best, *args, **kw)
    monkeypatch.setattr(search, "_grow", grab)
    reassemble(sh)
    bs = got["bs"]
    w = page.shape[1]
    c = list(cuts[1:])
    starts = np.array([0] + c)
    ends = np.array(c + [w])
    rng = np.random.default_rng(3)
    raw = rng.random((9, 9)) * float(np.median(bs[0])) * 3
    res = dict(raw=raw, starts=starts, ends=ends)
    q = _quality_matrix(res, bs)
    consts = []
    for _ in range(30):
        order = [int(k) for k in rng.permutation(9)]
        last = order[-1]
        g = _JUMP_COST * max(0.0, _JUMP_Z - bs[2][ends[last] - 1]) if last < 8 else 0.0
        if last < 8 and _MOVE_FREE_Z is not None and bs[2][ends[last] - 1] >= _MOVE_FREE_Z:
            g -= _MOVE_COST                # (a strong cut moved free, _MOVE_FREE_Z)
        if last < 8:
            g -= _TEXTURE_W * float(_texture_cost(bs[4].natural([ends[last] - 1]))[0])
        path = sum(q[a, b] for a, b in zip(order[:-1], order[1:]))
        consts.append(_quality_bs(raw, order, c, w, bs) - path - g)
    assert len(bs) == 5 and _TEXTURE_W > 0
    assert np.ptp(consts) < 1e-9 * (1 + np.max(np.abs(consts)))


@pytest.mark.parametrize("regrow", [True, False])
def test_unknown_count_page_regrow_after_quality_order(monkeypatch, regrow):
    """page, 40 unequal vertical strips (part B seed 7): once _quality_order has dropped
    three false cuts, the true cut 381 (a better partner exists, partner score 1.05)
    improves the quality by 0.26, less than the partner margin it had to clear the first
    time; the candidates tried again without that margin (_QUALITY_ORDER_REGROW) add it."""
    _without_texture(monkeypatch)
    _without_sweep(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, [0, 5, 16, 24, 27, 38, 48, 60, 71, 74, 79, 82, 89, 95, 109, 120,
                               155, 164, 168, 171, 211, 214, 230, 234, 237, 254, 271, 283, 288,
                               292, 296, 331, 334, 345, 353, 357, 362, 365, 370, 376, 384],
                        [14, 5, 0, 33, 1, 6, 4, 23, 16, 25, 8, 32, 9, 39, 28, 11, 36, 22, 29,
                         27, 2, 19, 10, 26, 15, 30, 24, 7, 35, 17, 3, 21, 37, 18, 12, 20, 34,
                         13, 38, 31])
    monkeypatch.setattr("drr.tools.strips.grow._QUALITY_ORDER_REGROW", regrow)
    _old_objective(monkeypatch)
    assert np.array_equal(reassemble(sh).image, page) == regrow


@pytest.mark.parametrize("shoulders", [True, False])
def test_unknown_count_text_cut_beside_a_rejected_peak(monkeypatch, shoulders):
    """text, 40 unequal horizontal strips (part B seed 8): the true cut 118 (relative score
    2.85) is not a local maximum, as the natural boundary 119 beside it scores 5.0; 119 is
    tried and not kept, and its neighbour 118, tried next (_SHOULDERS), is 2.3 better."""
    _without_sweep(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    text = skdata.text()
    sh, _, _ = _shuffle(text, [0, 4, 8, 12, 14, 16, 21, 26, 31, 38, 40, 43, 49, 52, 54, 57, 66,
                               71, 73, 75, 81, 85, 89, 100, 108, 118, 125, 127, 130, 135, 137,
                               139, 141, 144, 149, 153, 155, 157, 159, 169, 172],
                        [17, 16, 23, 22, 38, 18, 34, 6, 5, 36, 4, 28, 33, 24, 29, 32, 19, 7, 3,
                         37, 30, 14, 11, 8, 0, 10, 15, 35, 39, 13, 21, 12, 25, 2, 31, 9, 27, 26,
                         20, 1], axis=0)
    monkeypatch.setattr("drr.tools.strips.grow._SHOULDERS", shoulders)
    assert np.array_equal(reassemble(sh, axis=0).image, text) == shoulders


@pytest.mark.parametrize("wide", [True, False])
def test_unknown_count_page_pair_among_more_tried_cuts(monkeypatch, wide):
    """page, 20 unequal horizontal strips (part B seed 6): the true cut 181 helps only
    together with another cut (the pair gains 2.0), and it is not among the first four
    cuts tried and not kept; pairs among the first eight (_PAIR_K_WIDE, the start not a
    near-equal-widths candidate) restore the page."""
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, [0, 5, 20, 28, 37, 47, 52, 61, 72, 79, 89, 95, 107, 121, 136, 148,
                               158, 162, 165, 173, 191],
                        [15, 7, 0, 2, 11, 5, 19, 17, 13, 16, 6, 9, 18, 14, 8, 1, 3, 10, 12, 4],
                        axis=0)
    from drr.tools.strips import grow
    monkeypatch.setattr(grow, "_PAIR_K_WIDE", grow._PAIR_K_WIDE if wide else grow._PAIR_K)
    assert np.array_equal(reassemble(sh, axis=0).image, page) == wide


@pytest.mark.parametrize("restart", [True, False])
def test_unknown_count_page_grown_again_from_over_segmentation(monkeypatch, restart):
    """page, 10 unequal horizontal strips (part B seed 7): grown from the peaks (the best
    candidate) the search ends 4.6 worse than the truth, which _grow reaches from the
    over-segmentation (_RESTART)."""
    _without_texture(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, [0, 17, 30, 45, 65, 88, 105, 113, 133, 155, 191],
                        [3, 6, 9, 1, 4, 2, 5, 7, 0, 8], axis=0)
    monkeypatch.setattr("drr.tools.strips.search._RESTART", restart)
    _old_objective(monkeypatch)
    assert np.array_equal(reassemble(sh, axis=0).image, page) == restart


def test_baseline_ends_mirrored(monkeypatch):
    """_baseline near the image ends: the running median's window mirrored there
    (_BASELINE_ENDS), so an odd end score is not the baseline on its own (with the end
    score repeated, 9 of the 17 values were that score)."""
    s = np.r_[0.1, np.full(40, 1.0)]
    assert _baseline(s)[0] == 1.0
    monkeypatch.setattr("drr.tools.strips.boundaries._BASELINE_ENDS", False)
    assert _baseline(s)[0] == 0.25            # (0.1, floored at a quarter of the median)


@pytest.mark.parametrize("ends", [True, False])
def test_unknown_count_text_seam_at_image_ends(monkeypatch, ends):
    """text, 3 unequal vertical strips (part B seed 9): the restored seams of the pieces
    that began and ended the shuffled image were judged against the baseline at those
    ends, which was the end boundary score alone (``text``: 0.16-0.17 at the first
    boundary against about 0.45 around it): the truth scored worse than the image left
    as it is.  With the window mirrored (_BASELINE_ENDS) the text is restored."""
    _without_texture(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    text = skdata.text()
    sh, _, _ = _shuffle(text, [0, 99, 228, 448], [1, 2, 0])
    monkeypatch.setattr("drr.tools.strips.boundaries._BASELINE_ENDS", ends)
    assert np.array_equal(reassemble(sh).image, text) == ends


@pytest.mark.parametrize("free", [6.0, None])
def test_unknown_count_text_strong_cut_moves_free(monkeypatch, free):
    """text, 2 unequal vertical strips (part B seed 7): the one true cut joins the image's
    right and left edges (evidence 7.9) and its restored seam is a letter's edge, as rough
    as the cut, so the unchanged image scored better than the truth.  A separated cut with
    evidence of at least _MOVE_FREE_Z pays no move cost: the truth (the near-equal-widths
    candidate of 53 strips, all but that cut merged) then wins the candidates' comparison,
    made without the seam offsets (with them it is still 0.35 worse: a narrow case)."""
    _without_texture(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    text = skdata.text()
    sh, _, _ = _shuffle(text, [0, 187, 448], [1, 0])
    monkeypatch.setattr("drr.tools.strips.quality._MOVE_FREE_Z", free)
    assert np.array_equal(reassemble(sh).image, text) == (free is not None)


@pytest.mark.parametrize("low", [True, False])
def test_unknown_count_page_small_seam_offsets_paid(monkeypatch, low):
    """page, 10 unequal horizontal strips (part B seed 13): the wrong answer's three new
    seams step the background by 2-2.5 units each, at or just above the offset from which
    the cut evidence counts (_OFFSET_LOW, 2), so they paid 0-0.3 together, less than the
    truth's one seam of 3 units; restored seams pay from _SEAM_OFFSET_LOW (0.5) and the
    page is restored."""
    _without_texture(monkeypatch)
    _without_sweep(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, [0, 20, 35, 44, 99, 107, 130, 146, 153, 178, 191],
                        [2, 4, 1, 7, 8, 5, 9, 0, 6, 3], axis=0)
    if not low:
        monkeypatch.setattr("drr.tools.strips.quality._SEAM_OFFSET_LOW", None)
    assert np.array_equal(reassemble(sh, axis=0).image, page) == low


# page, 20 unequal horizontal strips (part B seed 20): the true cut 97 (relative score 0.7)
# is no candidate of _grow; cut, it is 7.3 better
_PAGE_20H_S20 = ([0, 9, 17, 40, 49, 65, 79, 82, 86, 97, 110, 127, 139, 142, 148, 157, 172, 175,
                  184, 188, 191], [13, 18, 7, 4, 17, 12, 2, 10, 19, 14, 6, 8, 15, 5, 9, 0, 1, 11,
                                   3, 16])
# page, 40 unequal vertical strips (part B seed 17): the true cuts in the seam costs' order
_PAGE_40V_S17 = ([0, 4, 13, 25, 33, 40, 51, 58, 64, 70, 88, 93, 129, 134, 145, 153, 157, 165,
                  168, 173, 176, 179, 200, 214, 222, 225, 233, 241, 255, 265, 299, 305, 308, 324,
                  341, 344, 352, 362, 366, 375, 384],
                 [30, 11, 15, 9, 12, 8, 39, 5, 34, 29, 26, 19, 36, 16, 4, 1, 6, 37, 0, 14, 13,
                  38, 27, 33, 22, 23, 3, 32, 24, 21, 28, 20, 31, 18, 10, 35, 2, 25, 17, 7])


@pytest.mark.parametrize("sweep", [True, False])
def test_unknown_count_sweep_adds_weak_cut(monkeypatch, sweep):
    """page, 20 unequal horizontal strips (part B seed 20): the true cut 97 is no peak and
    no jump, so no step of _grow tries it; the sweep tries every boundary with a better
    partner and the page is restored (without the order step too)."""
    _without_texture(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, *_PAGE_20H_S20, axis=0)
    monkeypatch.setattr("drr.tools.strips.search._SWEEP", sweep)
    monkeypatch.setattr("drr.tools.strips.sweep._SWEEP_ORDER", False)
    res = reassemble(sh, axis=0)
    assert np.array_equal(res.image, page) == sweep
    assert (97 in res.cuts) == sweep


@pytest.mark.parametrize("order", [True, False])
def test_unknown_count_sweep_orders_by_quality(monkeypatch, order):
    """page, 40 unequal vertical strips (part B seed 17): the cuts found restore the page in
    the order that is best for the quality, not in the shortest path of the seam costs
    (3.5 worse); _order_by_quality adopts the former."""
    _without_texture(monkeypatch)
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, *_PAGE_40V_S17)
    monkeypatch.setattr("drr.tools.strips.sweep._SWEEP_ORDER", order)
    res = reassemble(sh)
    assert np.array_equal(res.image, page) == order
    if order:
        assert not res.optimal      # the order is no longer the seam costs' proven optimum


def test_sweep_pool_leaves_no_narrow_piece():
    """_sweep_pool: boundaries at least 2 pixels from every cut and from the image ends,
    none already cut, best partner score first; nothing without a cut to partner."""
    from drr.tools.strips.candidates import _partner_scores
    from drr.tools.strips.model import _as_float, _noise_model
    from drr.tools.strips.sweep import _sweep_pool

    img = _smooth_field((40, 60, 3), 5)
    sh, cuts, _ = _shuffle(img, [0, 13, 31, 47, 60], [2, 0, 3, 1])
    x, unit, _ = _as_float(sh, 1)
    model = _noise_model(x, unit)
    assert _sweep_pool(x, model, []) == []
    pool = _sweep_pool(x, model, [13, 31])
    assert pool, "some boundary has a better partner"
    edges = np.array([0, 13, 31, 60])
    for b in pool:
        assert np.min(np.abs(edges - b)) >= 2
    p = _partner_scores(x, model, np.ones(59), k_max=0, extra=[13, 31])
    assert all(p[b - 1] > 0 for b in pool)
    assert [p[b - 1] for b in pool] == sorted((p[b - 1] for b in pool), reverse=True)


def _at_sweep(monkeypatch, sh, axis=1):
    """``reassemble(sh)`` and what the search handed to the sweep: (result, (bs, best))."""
    from drr.tools.strips import search

    seen = {}
    orig = search._sweep

    def spy(x, model, bs, best, time_limit, cache):
        seen.update(bs=bs, best=best)
        return orig(x, model, bs, best, time_limit, cache)

    monkeypatch.setattr(search, "_sweep", spy)
    res = reassemble(sh, axis=axis)
    return res, (seen["bs"], seen["best"])


def test_order_by_quality_never_worse(monkeypatch):
    """_order_by_quality returns a permutation of the pieces with the cuts unchanged and a
    quality no worse than the order it was given, equal to _quality of that order."""
    from drr.tools.strips.quality import _quality_bs
    from drr.tools.strips.sweep import _order_by_quality

    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, cuts, _ = _shuffle(page, *_PAGE_40V_S17)
    _, (bs, best) = _at_sweep(monkeypatch, sh)
    res = _order_by_quality(bs, best, 1.0, 1e-9)
    assert sorted(res["order"]) == list(range(len(best["order"])))
    assert res["cuts"] == best["cuts"]
    assert res["quality"] <= best["quality"]
    assert np.isclose(_quality_bs(res["raw"], res["order"], res["cuts"], sh.shape[1], bs),
                      res["quality"])


def test_order_by_quality_moves_pieces_apart_only(monkeypatch):
    """page, 20 unequal horizontal strips (part B seed 2): the true cuts are found and in
    the true order, but the quality's own order puts two pairs of pieces back side by side
    (weak true cuts: their jump term is saved), 2.4 better by the quality.  That order
    drops cuts in effect and _order_by_quality does not take it, even without a margin;
    the page stays restored."""
    _without_texture(monkeypatch)
    from drr.tools.strips.order import _solve_order
    from drr.tools.strips.quality import _quality, _quality_matrix
    from drr.tools.strips.sweep import _order_by_quality

    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, *_PAGE_20H_S2, axis=0)
    res, (bs, best) = _at_sweep(monkeypatch, sh, axis=0)
    assert np.array_equal(res.image, page)
    q_order = [int(k) for k in _solve_order(_quality_matrix(best, bs))[0]]
    seams = set(zip(best["order"][:-1], best["order"][1:]))
    merged = [(a, b) for a, b in zip(q_order[:-1], q_order[1:])
              if b == a + 1 and (a, b) not in seams]
    assert merged                                 # pieces apart in best, together in q_order
    q = _quality(best["raw"], q_order, best["cuts"], bs[0], bs[1], sh.shape[0], jump=bs[2],
                 seam_off=bs[3])
    assert q < best["quality"] - 2.0              # better by the quality, beyond the margin
    monkeypatch.setattr("drr.tools.strips.sweep._SWEEP_ORDER_MARGIN", 0.0)
    assert _order_by_quality(bs, best, 1.0, 1e-9) is best


def _box_highpass_reference(col, win):
    """x - (box filter of ``win`` pixels, edges repeated) along the rows of one column
    (H, C), in float64 by explicit sums."""
    h = col.shape[0]
    half = win // 2
    out = np.empty_like(col, dtype=np.float64)
    for r in range(h):
        idx = np.clip(np.arange(r - half, r - half + win), 0, h - 1)
        out[r] = col[r] - col[idx].sum(axis=0) / win
    return out


def _texture_rho_reference(xt, a, b):
    """Pearson correlation of columns ``a`` and ``b`` of ``xt`` (W, H, C) high-passed by
    :func:`_box_highpass_reference` (0 where either is constant), by ``np.corrcoef``."""
    from drr.tools.strips.correlation import _CORR_WIN

    pa = _box_highpass_reference(xt[a], _CORR_WIN).ravel()
    pb = _box_highpass_reference(xt[b], _CORR_WIN).ravel()
    if np.ptp(pa) == 0 or np.ptp(pb) == 0:
        return 0.0
    return np.corrcoef(pa, pb)[0, 1]


def test_texture_correlation_is_pearson_of_highpassed_columns():
    """_TextureCorrelation.rho is the Pearson correlation of the two columns' high-passed
    profiles (all channels together); matrix is every pair of it; a constant column
    correlates 0 with everything; natural is each boundary's own."""
    from drr.tools.strips.correlation import _TextureCorrelation

    rng = np.random.default_rng(21)
    xt = rng.normal(size=(9, 23, 3)) * 20 + 100
    xt[4] = 77.0                                       # a constant column
    xt[6] = 0.5 * xt[5] + rng.normal(size=(23, 3))     # one correlated with its left
    tc = _TextureCorrelation(xt)
    left = np.array([0, 1, 2, 3, 4, 5, 8, 2])
    right = np.array([1, 3, 8, 0, 6, 6, 8, 2])
    want = [_texture_rho_reference(xt, a, b) for a, b in zip(left, right)]
    got = tc.rho(left, right)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert got[4] == 0.0 and got[6] == pytest.approx(1.0) and got[5] > 0.9
    m = tc.matrix(left, right)
    np.testing.assert_allclose(np.diag(m), got, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(m[1, 3], tc.rho(left[[1]], right[[3]])[0], rtol=1e-12)
    np.testing.assert_allclose(tc.natural(np.array([5, 0])), tc.rho([5, 0], [6, 1]), rtol=1e-12)


def test_quality_texture_term_seams_less_separated_cuts():
    """The texture term of _quality: W * (sum over the separated seams of log(1 - rho) -
    the same over the cuts whose pieces are separated); kept cuts cancel."""
    from drr.tools.strips.correlation import _TextureCorrelation
    from drr.tools.strips.quality import _TEXTURE_W, _texture_cost

    rng = np.random.default_rng(5)
    w = 30
    xt = rng.normal(size=(w, 16, 1)) * 10
    tc = _TextureCorrelation(xt)
    s = rng.uniform(0.5, 2.0, w - 1)
    base = _baseline(s)
    cuts = [7, 15, 22]
    raw = rng.uniform(0.5, 2.0, (4, 4))
    for k, c in enumerate(cuts):
        raw[k, k + 1] = s[c - 1]
    q_kept = _quality(raw, [0, 1, 2, 3], cuts, s, base, w, texture=tc)
    assert q_kept == pytest.approx(0.0, abs=1e-12)
    # order 2 3 0 1: seam 3|0 is new (columns 29 | 0), cut 15 (columns 14 | 15) is separated
    # (the cut after piece 1, last in the order)
    q = _quality(raw, [2, 3, 0, 1], cuts, s, base, w, texture=tc)
    q0 = _quality(raw, [2, 3, 0, 1], cuts, s, base, w)
    r_seam = _texture_rho_reference(xt, 29, 0)
    r_cut = _texture_rho_reference(xt, 14, 15)
    want = _TEXTURE_W * (np.log(1 - r_seam) - np.log(1 - r_cut))
    assert q - q0 == pytest.approx(want, rel=1e-9)
    assert _texture_cost(np.array([0.0, 0.99, -0.9])) == pytest.approx(
        [0.0, np.log(0.05), np.log(1.5)])


# part B, unequal widths (bounds, perm of benchmarks/strips.py's make)
_TEXT_2V_S2 = ([0, 117, 448], [1, 0])
_PAGE_6H_S2 = ([0, 18, 39, 139, 162, 172, 191], [4, 1, 5, 2, 0, 3])


@pytest.mark.parametrize("texture", [True, False])
def test_unknown_count_text_texture_correlation(monkeypatch, texture):
    """text, 2 unequal vertical strips (part B seed 2): without the texture term no cut
    is found at all.  The restored seam (the image's last column against its first)
    correlates 0.77, the shuffled image's boundary at the true cut 331 only 0.40."""
    skdata = pytest.importorskip("skimage.data")
    text = skdata.text()
    sh, _, _ = _shuffle(text, *_TEXT_2V_S2)
    if not texture:
        monkeypatch.setattr("drr.tools.strips.quality._TEXTURE_W", 0.0)
    assert np.array_equal(reassemble(sh).image, text) == texture


@pytest.mark.parametrize("texture", [True, False])
def test_unknown_count_page_texture_correlation(monkeypatch, texture):
    """page, 6 unequal horizontal strips (part B seed 2): without the texture term the
    true cuts 31 and 50 are missed.  The truth's restored seams correlate 0.32-0.81, the
    shuffled image's boundaries at its cuts -0.06-0.17."""
    skdata = pytest.importorskip("skimage.data")
    page = skdata.page()
    sh, _, _ = _shuffle(page, *_PAGE_6H_S2, axis=0)
    if not texture:
        monkeypatch.setattr("drr.tools.strips.quality._TEXTURE_W", 0.0)
    assert np.array_equal(reassemble(sh, axis=0).image, page) == texture
