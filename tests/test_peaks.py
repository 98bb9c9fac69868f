"""Tests of drr.tools.peaks: find_peaks and cluster_center.

Exact checks on hand-made images (plateaus, prominence against a brute-force
definition, border policy, masks), statistical checks with seeded generators
(sub-pixel accuracy, calibrated uncertainties), and InputError on bad input.
All images are float64 or int64 so that only one compiled variant is built.
"""

import math

import numpy as np
import pytest
from scipy import ndimage

from drr.errors import InputError
from drr.tools.peaks import (FLAG_BORDER, FLAG_MASKED, FLAG_PLATEAU, FLAG_PROMINENCE_BOUND, PEAK_DTYPE,
                             cluster_center, find_peaks)

FWHM = 3.0
SIG = FWHM / (2.0 * math.sqrt(2.0 * math.log(2.0)))

# hand-made images: no smoothing, known background and noise, every maximum kept
EXACT = dict(smooth_fwhm=0.0, background=0.0, noise=1.0, threshold_sigma=1e-9, prominence_sigma=0.0,
             min_distance=0.0, exclude_border=False, subpixel="none")


def gaussian_image(shape, sources, sig=SIG, background=0.0, half=12):
    """Point-sampled Gaussians ``(x, y, amplitude)`` (cut at ``half`` px) on a constant background."""
    img = np.full(shape, background, dtype=np.float64)
    for x0, y0, a in sources:
        r0, r1 = max(0, int(y0) - half), min(shape[0], int(y0) + half + 1)
        c0, c1 = max(0, int(x0) - half), min(shape[1], int(x0) + half + 1)
        yy, xx = np.mgrid[r0:r1, c0:c1]
        img[r0:r1, c0:c1] += a * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * sig * sig))
    return img


# --------------------------------------------------------------------------- table

def test_table_columns_and_ranking():
    rng = np.random.default_rng(0)
    img = gaussian_image((64, 64), [(20.3, 30.6, 40.0), (45.5, 12.2, 80.0), (40.0, 50.0, 20.0)])
    img += rng.normal(0.0, 1.0, img.shape)
    t = find_peaks(img, fwhm=FWHM)
    assert t.dtype == PEAK_DTYPE
    assert t.size == 3
    # ranked by the detection image: brightest first, isolation inf for the first only
    np.testing.assert_array_equal(np.round(t["x"]), [46.0, 20.0, 40.0])
    assert np.all(np.diff(t["significance"]) < 0)
    assert t["isolation"][0] == np.inf and np.all(np.isfinite(t["isolation"][1:]))
    # isolation = distance to the nearest higher row
    d2 = math.hypot(t["x"][2] - t["x"][1], t["y"][2] - t["y"][1])
    d0 = math.hypot(t["x"][2] - t["x"][0], t["y"][2] - t["y"][0])
    assert t["isolation"][2] == pytest.approx(min(d0, d2), rel=1e-12)
    assert np.allclose(t["background"], 0.0, atol=0.3)
    assert np.allclose(t["noise"], 1.0, atol=0.25)
    np.testing.assert_allclose(t["snr"], t["height"] / t["noise"], rtol=1e-12)
    np.testing.assert_allclose(t["height"], [80.0, 40.0, 20.0], rtol=0.1)


def test_input_not_modified_and_empty_result():
    rng = np.random.default_rng(1)
    img = rng.normal(10.0, 1.0, (96, 96))
    img[5, 5] = np.nan
    before = img.copy()
    t = find_peaks(img)
    np.testing.assert_array_equal(img, before)     # NaN-aware equality
    assert t.size == 0 and t.dtype == PEAK_DTYPE    # pure noise: nothing above 5 sigma


# --------------------------------------------------------------------------- sub-pixel accuracy

def test_single_gaussian_noise_free_is_exact():
    img = gaussian_image((40, 40), [(17.37, 21.81, 100.0)], background=5.0)
    t = find_peaks(img, fwhm=FWHM, noise=1.0)
    assert t.size == 1
    assert abs(t["x"][0] - 17.37) < 1e-5 and abs(t["y"][0] - 21.81) < 1e-5
    assert t["height"][0] == pytest.approx(100.0, rel=1e-5)
    assert t["sigma"][0] == pytest.approx(SIG, rel=1e-5)
    assert t["background"][0] == pytest.approx(5.0, abs=1e-6)


@pytest.mark.parametrize("subpixel", ["gauss", "centroid"])
def test_subpixel_accuracy_and_calibrated_errors(subpixel):
    # 100 sources at SNR 20 with random sub-pixel positions; the per-axis RMSE of a
    # Gaussian fit is ~0.8/SNR = 0.04 px (Cramer-Rao); the pulls must have unit spread.
    rng = np.random.default_rng(2)
    c = np.arange(12.0, 200.0, 19.0)
    gx, gy = np.meshgrid(c, c)
    xs = gx.ravel() + rng.uniform(-0.5, 0.5, gx.size)
    ys = gy.ravel() + rng.uniform(-0.5, 0.5, gx.size)
    img = gaussian_image((212, 212), [(x, y, 20.0) for x, y in zip(xs, ys)], background=100.0)
    img += rng.normal(0.0, 1.0, img.shape)
    t = find_peaks(img, fwhm=FWHM, subpixel=subpixel)
    assert t.size == xs.size
    o = np.argmin(np.hypot(t["x"][None, :] - xs[:, None], t["y"][None, :] - ys[:, None]), axis=1)
    assert np.unique(o).size == xs.size                            # one-to-one
    ex, ey = t["x"][o] - xs, t["y"][o] - ys
    rmse = math.sqrt(np.mean(np.r_[ex, ey] ** 2))
    assert rmse < 0.06
    pulls = np.r_[ex / t["x_err"][o], ey / t["y_err"][o]]
    assert 0.75 < pulls.std() < 1.3
    assert abs(np.mean(np.r_[ex, ey])) < 0.015                    # no global offset


@pytest.mark.parametrize("masked", [False, True])
def test_gauss_fit_equals_scipy_least_squares(masked):
    # the LM kernel (separable normal equations on a complete stamp, pixel sums on a stamp
    # with a masked pixel) reaches the least-squares minimum and the Cramer-Rao errors
    from scipy.optimize import least_squares

    from drr.tools.peaks import subpixel as P

    rng = np.random.default_rng(31 + masked)
    h = 3
    for trial in range(8):
        x0, y0 = 10.0 + rng.uniform(-0.5, 0.5), 11.0 + rng.uniform(-0.5, 0.5)
        amp = rng.uniform(8.0, 200.0)
        img = gaussian_image((22, 22), [(x0, y0, amp)], sig=SIG * rng.uniform(0.8, 1.25), background=50.0)
        img += rng.normal(0.0, 1.0, img.shape)
        mask = np.zeros(img.shape, bool)
        if masked:
            mask[11 + int(rng.integers(-3, 4)), 10 + int(rng.integers(-3, 4))] = True
        mask[11, 10] = False
        out = np.empty(7)
        ok = P._gauss_one(img, mask, True, 10, 11, 10.0, 11.0, amp, 50.0, SIG, h, 1.0, out)
        assert ok
        yy, xx = np.mgrid[11 - h:11 + h + 1, 10 - h:10 + h + 1]
        keep = ~mask[11 - h:11 + h + 1, 10 - h:10 + h + 1]
        xx, yy, v = xx[keep], yy[keep], img[11 - h:11 + h + 1, 10 - h:10 + h + 1][keep]

        def resid(q):
            return q[4] + q[0] * np.exp(-((xx - q[1]) ** 2 + (yy - q[2]) ** 2) / (2 * q[3] ** 2)) - v

        ref = least_squares(resid, [amp, 10.0, 11.0, SIG, 50.0], xtol=1e-14, ftol=1e-14, gtol=1e-14)
        cov = np.linalg.inv(ref.jac.T @ ref.jac)
        assert out[0] == pytest.approx(ref.x[1], abs=2e-5)     # (LM stops at steps < 1e-4 px)
        assert out[1] == pytest.approx(ref.x[2], abs=2e-5)
        assert out[4] == pytest.approx(ref.x[0], rel=1e-5)
        assert out[5] == pytest.approx(ref.x[4], abs=1e-3)      # (B is not in the stopping rule)
        assert out[6] == pytest.approx(ref.x[3], rel=1e-5)
        assert out[2] == pytest.approx(math.sqrt(cov[1, 1]), rel=1e-4)
        assert out[3] == pytest.approx(math.sqrt(cov[2, 2]), rel=1e-4)


def test_no_pixel_locking_noise_free():
    # sub-pixel phases across a pixel: the estimate follows the truth (error << 0.01 px)
    errs = []
    for ph in np.linspace(-0.5, 0.5, 11):
        img = gaussian_image((30, 30), [(14.0 + ph, 15.0 - 0.3 * ph, 50.0)])
        t = find_peaks(img, fwhm=FWHM, noise=0.1, exclude_border=False)
        assert t.size == 1
        errs.append((t["x"][0] - 14.0 - ph, t["y"][0] - 15.0 + 0.3 * ph))
    assert np.max(np.abs(errs)) < 1e-5


# --------------------------------------------------------------------------- plateaus

def test_plateau_gives_one_peak_at_its_centroid():
    img = np.zeros((20, 20))
    cells = [(5, 5), (5, 6), (5, 7), (6, 5), (7, 5)]         # an L of equal pixels (row, col)
    for r, c in cells:
        img[r, c] = 3.0
    img[14, 12] = 2.0
    t = find_peaks(img, **EXACT)
    assert t.size == 2
    assert t["x"][0] == pytest.approx(np.mean([c for _, c in cells]), abs=1e-12)
    assert t["y"][0] == pytest.approx(np.mean([r for r, _ in cells]), abs=1e-12)
    assert t["npix"][0] == 5 and t["flags"][0] & FLAG_PLATEAU
    assert (t["x"][1], t["y"][1], t["npix"][1]) == (12.0, 14.0, 1)
    assert not t["flags"][1] & FLAG_PLATEAU
    # a fit seeded at the centroid stays one peak; on this symmetric L it stays on the diagonal
    t2 = find_peaks(img, **{**EXACT, "subpixel": "gauss"})
    assert t2.size == 2 and abs(t2["x"][0] - t2["y"][0]) < 1e-9 and abs(t2["x"][0] - 5.6) < 0.6


def test_shoulder_plateau_is_not_a_peak():
    # a flat shelf touching a higher pixel has prominence 0: no peak, whatever the scan order
    img = np.zeros((12, 12))
    img[3:9, 3:9] = 1.0
    img[3, 3] = 2.0
    t = find_peaks(img, **EXACT)
    assert t.size == 1 and (t["x"][0], t["y"][0]) == (3.0, 3.0)
    img2 = np.zeros((12, 12))
    img2[3:9, 3:9] = 1.0
    img2[8, 8] = 2.0                                     # the higher pixel late in scan order
    t2 = find_peaks(img2, **EXACT)
    assert t2.size == 1 and (t2["x"][0], t2["y"][0]) == (8.0, 8.0)


def test_saturated_sources_no_duplicates():
    rng = np.random.default_rng(3)
    truth = [(15.3, 14.6), (40.7, 20.2), (25.1, 45.9)]
    img = gaussian_image((64, 64), [(x, y, 5000.0) for x, y in truth], background=100.0)
    img = np.minimum(img + rng.normal(0.0, 1.0, img.shape), 1100.0)    # flat tops
    for smooth in (None, 0.0):
        t = find_peaks(img, fwhm=FWHM, smooth_fwhm=smooth)
        assert t.size == 3
        for x, y in truth:
            assert np.min(np.hypot(t["x"] - x, t["y"] - y)) < 0.35


# --------------------------------------------------------------------------- prominence

def test_prominence_exact_on_hand_made_image():
    img = np.zeros((9, 15))
    img[4, 1:14] = [1, 10, 6, 4, 5, 7, 5, 5.5, 6, 2, 1, 3, 1]   # ridge: peaks 10, 7, 6, 3
    t = find_peaks(img, **EXACT)
    got = {int(x): p for x, p in zip(t["x"], t["prominence"])}
    level = 1e-9
    assert got == pytest.approx({2: 10.0 - level, 6: 7.0 - 4.0, 9: 6.0 - 5.0, 12: 3.0 - 1.0})
    assert set(int(x) for x in t["x"][t["flags"] & FLAG_PROMINENCE_BOUND > 0]) == {2}
    np.testing.assert_array_equal(t["x"], [2, 6, 9, 12])        # ranked by height
    np.testing.assert_allclose(t["isolation"], [np.inf, 4.0, 3.0, 3.0])
    # a prominence cut in noise sigmas removes the low-prominence peaks only
    t2 = find_peaks(img, **{**EXACT, "prominence_sigma": 2.5})
    np.testing.assert_array_equal(t2["x"], [2, 6])


def brute_prominence(img, level):
    """Prominence of every strict local maximum by flooding: h - (highest col to a higher pixel)."""
    out = {}
    values = np.unique(img)[::-1]
    st = np.ones((3, 3), bool)
    for (r, c), h in np.ndenumerate(img):
        nb = img[max(0, r - 1):r + 2, max(0, c - 1):c + 2]
        if h <= level or (nb > h).any() or (nb == h).sum() > 1:
            continue
        col = level
        for v in values[values < h]:
            if v <= level:
                break
            lab, _ = ndimage.label(img >= v, structure=st)
            if (img[lab == lab[r, c]] > h).any():
                col = v
                break
        out[(c, r)] = h - col
    return out


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_prominence_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    img = ndimage.gaussian_filter(rng.normal(size=(24, 24)), 1.0) + 1.0
    level = float(np.quantile(img, 0.3))          # below the level: walls
    t = find_peaks(img, **{**EXACT, "threshold_sigma": level})
    ref = brute_prominence(img, level)
    got = {(int(x), int(y)): p for x, y, p in zip(t["x"], t["y"], t["prominence"])}
    assert got.keys() == ref.keys()
    for k in ref:
        assert got[k] == pytest.approx(ref[k], rel=0, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_merge_tree_shortcut_equals_the_full_sweep(seed):
    # integer values: many ties and plateaus, several peaks per component
    from drr.tools.peaks import merge_tree as P

    rng = np.random.default_rng(seed)
    img = np.round(ndimage.gaussian_filter(rng.normal(size=(40, 50)), 1.5) * 8.0)
    cand = np.flatnonzero(img > np.quantile(img, 0.4))
    vals = img.ravel()[cand]
    srt = np.argsort(-vals, kind="stable")                 # D descending, ties by pixel index
    full = P._sweep(cand[srt], vals[srt], *img.shape)
    got = P._merge_tree(cand, vals, *img.shape)
    assert np.count_nonzero(~got[3]) > 5 and np.any(~np.isnan(got[2]))
    np.testing.assert_array_equal(got[0], srt[full[0]])   # peaks as candidate indices
    for a, b in zip(got[1:], full[1:]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_label_starts_equal_ndimage_label_and_brute_force_starts(seed):
    # random candidate sets with many pixels in the first and last columns (the flat
    # index of an upper-left/upper-right neighbour wraps to another row there)
    from drr.tools.peaks import merge_tree as P

    rng = np.random.default_rng(seed)
    ny, nx = 30, 17
    img = np.round(rng.normal(size=(ny, nx)) * 2.0)      # ties
    on = rng.random((ny, nx)) < 0.45
    on[:, 0] |= rng.random(ny) < 0.5
    on[:, -1] |= rng.random(ny) < 0.5
    cand = np.flatnonzero(on)
    vals = img.ravel()[cand]
    label, start = P._label_starts(cand, vals, ny, nx)
    lab, _ = ndimage.label(on, structure=np.ones((3, 3)))
    comp = lab.ravel()[cand]
    first = {c: i for i, c in reversed(list(enumerate(comp)))}   # smallest index per component
    np.testing.assert_array_equal(label, [first[c] for c in comp])
    index = -np.ones(ny * nx, int)
    index[cand] = np.arange(cand.size)
    for i, p in enumerate(cand):
        y, x = divmod(int(p), nx)
        want = True
        for yy in range(max(0, y - 1), min(ny, y + 2)):
            for xx in range(max(0, x - 1), min(nx, x + 2)):
                j = index[yy * nx + xx]
                if j >= 0 and j != i and (vals[j] > vals[i] or (vals[j] == vals[i] and j < i)):
                    want = False
        assert start[i] == want


@pytest.mark.parametrize("kind", ["uniform", "integer grid", "line", "thin cloud", "crowded patch"])
def test_isolation_and_greedy_thinning_equal_brute_force(kind):
    from drr.tools.peaks import isolation as P

    rng = np.random.default_rng(len(kind))
    for n in (1, 2, 3, 57, 400):
        if kind == "uniform":
            x, y = rng.uniform(0, 2048, n), rng.uniform(0, 2048, n)
        elif kind == "integer grid":                  # many equal distances, coincident points
            x, y = rng.integers(0, 12, n).astype(float), rng.integers(0, 12, n).astype(float)
        elif kind == "crowded patch":                 # a dense patch in a wide, sparse field
            k = n - n // 10
            x = np.r_[rng.uniform(1000, 1030, k), rng.uniform(0, 4096, n - k)]
            y = np.r_[rng.uniform(2000, 2030, k), rng.uniform(0, 4096, n - k)]
            order = rng.permutation(n)
            x, y = x[order], y[order]
        elif kind == "line":
            x, y = rng.uniform(0, 500, n), np.full(n, 7.0)
        else:
            x, y = rng.normal(100, 3, n), rng.normal(50, 0.01, n)
        d2 = (x[:, None] - x[None, :]) ** 2 + (y[:, None] - y[None, :]) ** 2
        earlier = np.tril(np.ones((n, n), bool), -1)
        want = np.sqrt(np.where(earlier, d2, np.inf).min(axis=1))
        np.testing.assert_array_equal(P._isolation(x, y), want)
        for dist in (0.5, 1.0, 1.5, 10.0, 1e6):
            keep = np.ones(n, bool)
            for i in range(n):
                keep[i] = not np.any(keep[:i] & (d2[i, :i] <= dist * dist))
            np.testing.assert_array_equal(P._greedy_keep(x, y, dist), keep)


def _sigma_clip_by_sorting(v, nsigma=3.0):
    """Reference: median and MAD of the sorted kept values, clipped until stable."""
    v = np.sort(v)
    med = sig = 0.0
    for _ in range(10):
        med = float(np.median(v))
        sig = 1.482602218505602 * float(np.median(np.abs(v - med)))
        if sig == 0.0:
            t = 0.0
            for q in v:
                t += abs(q - med)
            sig = math.sqrt(math.pi / 2.0) * t / v.size
        if sig == 0.0:
            break
        kept = v[(v >= med - nsigma * sig) & (v <= med + nsigma * sig)]
        if kept.size == v.size:
            break
        v = kept
    return med, sig


@pytest.mark.parametrize("n", [1, 2, 141, 142, 1000])
def test_sigma_clip_by_selection_equals_sorting(n):
    from drr.tools.peaks.stats import _sigma_clip

    rng = np.random.default_rng(n)
    outliers = np.where(rng.random(n) < 0.1, 50.0, 0.0)
    for v in (rng.normal(size=n) + outliers,                    # continuous, outliers
              np.round(rng.normal(size=n) * 2.0),               # ties
              np.where(rng.random(n) < 0.7, 3.0, rng.normal(size=n))):   # zero MAD
        assert _sigma_clip(v) == _sigma_clip_by_sorting(v)


def test_branch_free_select_gives_exact_order_statistics():
    from drr.tools.peaks.stats import _kth, _median

    rng = np.random.default_rng(21)
    for n in (1, 2, 3, 12, 13, 14, 25, 144, 145, 1001):
        for v in (rng.normal(size=n), np.round(rng.normal(size=n)), np.full(n, 2.5),
                  np.sort(rng.normal(size=n)), np.sort(rng.normal(size=n))[::-1].copy()):
            keep = v.copy()
            sc = np.empty((3, n))
            s = np.sort(v)
            for k in {0, n // 2, n - 1, int(rng.integers(n))}:
                assert _kth(v, n, k, sc) == (s[k], s[k - 1] if k > 0 else -np.inf)
            assert _median(v, n, sc) == np.median(v)
            assert np.array_equal(v, keep)                 # the input is not permuted


def test_close_pair_resolved_and_noise_bumps_rejected():
    rng = np.random.default_rng(7)
    img = gaussian_image((48, 48), [(20.2, 24.0, 20.0), (26.2, 24.3, 20.0), (35.0, 10.0, 400.0)])
    img += rng.normal(0.0, 1.0, img.shape)
    t = find_peaks(img, fwhm=FWHM)
    assert t.size == 3                               # the pair 2 FWHM apart is two peaks
    assert np.min(np.hypot(t["x"] - 20.2, t["y"] - 24.0)) < 0.3
    assert np.min(np.hypot(t["x"] - 26.2, t["y"] - 24.3)) < 0.3
    # without the prominence and distance filters, noise adds maxima
    loose = find_peaks(img, fwhm=FWHM, smooth_fwhm=0.0, threshold_sigma=2.5, prominence_sigma=0.0,
                       min_distance=0.0)
    assert loose.size > 3


# --------------------------------------------------------------------------- border, mask, NaN

def test_border_policy():
    img = gaussian_image((40, 40), [(1.2, 20.0, 50.0), (20.0, 20.0, 50.0)])
    img += np.random.default_rng(8).normal(0.0, 1.0, img.shape)
    default = find_peaks(img, fwhm=FWHM)              # True: drop within the stamp half-width
    assert default.size == 1 and abs(default["x"][0] - 20.0) < 0.2
    keep = find_peaks(img, fwhm=FWHM, exclude_border=False)
    assert keep.size == 2
    edge = keep[np.argmin(keep["x"])]
    assert edge["flags"] & FLAG_BORDER and abs(edge["x"] - 1.2) < 0.2
    assert not keep[np.argmax(keep["x"])]["flags"] & FLAG_BORDER
    assert find_peaks(img, fwhm=FWHM, exclude_border=1).size == 2
    assert find_peaks(img, fwhm=FWHM, exclude_border=2).size == 1


def test_mask_and_nan():
    rng = np.random.default_rng(9)
    img = gaussian_image((64, 64), [(15.4, 16.7, 60.0), (45.0, 45.0, 60.0)], background=10.0)
    img += rng.normal(0.0, 1.0, img.shape)
    img[30, 50] = 1e4                                  # hot pixel
    mask = np.zeros(img.shape, bool)
    mask[40:51, 40:51] = True                          # hides the second source
    mask[30, 50] = True
    mask[17, 14] = True                                # one pixel inside the first source's stamp
    t = find_peaks(img, fwhm=FWHM, mask=mask)
    assert t.size == 1
    assert abs(t["x"][0] - 15.4) < 0.1 and abs(t["y"][0] - 16.7) < 0.1
    assert t["flags"][0] & FLAG_MASKED
    # NaN pixels are the same as masked ones
    nan_img = img.copy()
    nan_img[mask] = np.nan
    t_nan = find_peaks(nan_img, fwhm=FWHM)
    for name in ("x", "y", "height", "prominence", "flags"):
        np.testing.assert_array_equal(t_nan[name], t[name])
    # a 0/1 integer mask is accepted
    t_int = find_peaks(img, fwhm=FWHM, mask=mask.astype(np.int64))
    np.testing.assert_array_equal(t_int["x"], t["x"])


def test_tiled_background_follows_a_gradient():
    rng = np.random.default_rng(10)
    truth = [(20.3, 20.8), (70.6, 30.1), (40.2, 80.4), (90.7, 90.2)]
    yy, xx = np.mgrid[:112, :112]
    img = gaussian_image((112, 112), [(x, y, 15.0) for x, y in truth]) + 0.15 * xx + 0.05 * yy
    img += rng.normal(0.0, 1.0, img.shape)
    t = find_peaks(img, fwhm=FWHM, tile_size=16)
    assert t.size == 4
    for x, y in truth:
        assert np.min(np.hypot(t["x"] - x, t["y"] - y)) < 0.4
    # a global background cannot follow the slope: the bright side floods the threshold
    assert find_peaks(img, fwhm=FWHM).size != 4


def test_integer_image():
    img = np.round(gaussian_image((40, 40), [(20.4, 18.6, 200.0)], background=50.0)).astype(np.int64)
    t = find_peaks(img, fwhm=FWHM, noise=1.0)
    assert t.size == 1 and abs(t["x"][0] - 20.4) < 0.02 and abs(t["y"][0] - 18.6) < 0.02


@pytest.mark.parametrize("dtype, native", [(np.float16, np.float32), (">f4", np.float32), (">f8", np.float64),
                                           (np.longdouble, np.float64), (">u2", np.float32)])
def test_any_real_dtype_and_byte_order(dtype, native):
    """float16, big-endian and long-double images give the table of the same values in the
    native float type the kernels are compiled for (they used to fail inside Numba)."""
    rng = np.random.default_rng(12)
    img = np.clip(rng.normal(100, 3, (48, 48)), 0, None)
    img[20:23, 30:33] += 80
    img = img.astype(dtype)
    got = find_peaks(img)
    want = find_peaks(img.astype(native))
    assert got.size == 1
    assert got.tobytes() == want.tobytes()


def test_threads_do_not_change_the_result():
    # big enough for several row bands (>= 2**18 px per thread) and peak chunks (>= 256 peaks)
    rng = np.random.default_rng(14)
    c = np.arange(10.0, 520.0, 20.0)
    gx, gy = np.meshgrid(c, c)
    src = np.column_stack([gx.ravel() + rng.uniform(-0.5, 0.5, gx.size),
                           gy.ravel() + rng.uniform(-0.5, 0.5, gx.size), rng.uniform(8, 80, gx.size)])
    img = gaussian_image((530, 530), [tuple(r) for r in src]) + rng.normal(0.0, 1.0, (530, 530))
    img[100:110, 100:110] = np.nan                    # also the normalised-convolution path
    one = find_peaks(img, fwhm=FWHM, workers=1)
    three = find_peaks(img, fwhm=FWHM, workers=3)
    assert one.size > 600
    np.testing.assert_array_equal(one, three)


def _peaks_in_child(img, queue):
    queue.put(find_peaks(img, fwhm=FWHM, workers=2))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_thread_pool_is_remade_after_fork():
    # the thread pool is kept between calls; a forked child inherits the pool object but
    # not its threads, and must make its own instead of waiting forever
    import multiprocessing

    rng = np.random.default_rng(15)
    img = gaussian_image((1024, 600), [(x, y, 50.0) for x in range(20, 590, 24) for y in range(20, 1010, 24)])
    img += rng.normal(0.0, 1.0, img.shape)
    here = find_peaks(img, fwhm=FWHM, workers=2)      # makes the 2-thread pool in this process
    assert here.size > 512                            # (two chunks of peaks, two row bands)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_peaks_in_child, args=(img, queue))
    child.start()
    try:
        there = queue.get(timeout=120)
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
    np.testing.assert_array_equal(here, there)


# --------------------------------------------------------------------------- cluster_center

def test_cluster_center_on_noisy_point_cloud():
    rng = np.random.default_rng(11)
    centre = np.array([31.37, 62.81])
    pts = np.concatenate([rng.normal(centre, 2.0, (3000, 2)),
                          rng.normal([70.0, 30.0], 4.0, (1500, 2)),     # a looser second cluster
                          rng.uniform(0, 100, (15000, 2))])
    r = cluster_center(pts[:, 0], pts[:, 1], bins=100, range=((0, 100), (0, 100)))
    assert abs(r.x - centre[0]) < 4 * r.x_err and abs(r.y - centre[1]) < 4 * r.y_err
    assert 0.02 < r.x_err < 0.15 and 0.02 < r.y_err < 0.15
    assert math.hypot(r.x - centre[0], r.y - centre[1]) < 0.2
    assert 1.0 < r.bandwidth_x < 3.5 and r.n_iter >= 1


def _two_clusters(seed):
    # sigma 4 bins next to a broader cluster (N/2, sigma 8) 25 bins away in +x, on a uniform
    # background: the benchmark's hardest scene, where the kernel pulls the mode towards +x
    rng = np.random.default_rng(seed)
    c = np.array([47.3, 52.6])
    pts = np.concatenate([rng.normal(c, 4.0, (10000, 2)), rng.normal(c + [25.0, 0.0], 8.0, (5000, 2)),
                          rng.uniform(0, 100, (50000, 2))])
    return pts, c


def test_cluster_center_fit_removes_the_kernel_pull_towards_a_neighbour():
    pts, c = _two_clusters(11)
    kw = dict(bins=100, range=((0, 100), (0, 100)))
    ms = cluster_center(pts[:, 0], pts[:, 1], refine=False, **kw)
    r = cluster_center(pts[:, 0], pts[:, 1], **kw)
    assert not ms.refined and r.refined
    assert math.hypot(ms.x - c[0], ms.y - c[1]) > 0.15            # mean shift alone: 0.176
    assert math.hypot(r.x - c[0], r.y - c[1]) < 0.10              # fit: 0.070
    assert abs(r.x - c[0]) < 2 * r.x_err and abs(r.y - c[1]) < 2 * r.y_err
    assert 0.04 < r.x_err < 0.07 and 0.04 < r.y_err < 0.07
    assert (r.bandwidth_x, r.n_iter, r.n_eff) == (ms.bandwidth_x, ms.n_iter, ms.n_eff)
    # over 12 seeds: mean shift is biased by ~+0.07 bins towards the neighbour, the fit is not
    dx_ms, dx_fit = [], []
    for seed in range(12):
        pts, c = _two_clusters(seed)
        dx_ms.append(cluster_center(pts[:, 0], pts[:, 1], refine=False, **kw).x - c[0])
        dx_fit.append(cluster_center(pts[:, 0], pts[:, 1], **kw).x - c[0])
    assert np.mean(dx_ms) > 0.05 and abs(np.mean(dx_fit)) < 0.03


def test_cluster_center_models_a_close_neighbouring_cluster(monkeypatch):
    # a broad neighbour 18 bins away (sigma 6, as many points as the cluster): its tail curves
    # across the fit window, so a plane alone leaves a bias of ~0.2 bins towards it; the fit
    # with the neighbour as a second Gaussian does not
    from drr.tools.peaks import cluster as P

    kw = dict(bins=100, range=((0, 100), (0, 100)))
    scenes = []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        c = np.array([40.3, 52.6])
        pts = np.concatenate([rng.normal(c, 4.0, (10000, 2)), rng.normal(c + [18.0, 0.0], 6.0, (10000, 2)),
                              rng.uniform(0, 100, (50000, 2))])
        scenes.append((pts, c))
    res = [cluster_center(p[:, 0], p[:, 1], **kw) for p, _ in scenes]
    assert all(r.refined and r.nearby == 1 for r in res)
    dx = np.array([r.x - c[0] for r, (_, c) in zip(res, scenes)])
    dy = np.array([r.y - c[1] for r, (_, c) in zip(res, scenes)])
    assert abs(dx.mean()) < 0.06 and np.sqrt(np.mean(dx ** 2 + dy ** 2)) < 0.12
    pulls = np.r_[dx / [r.x_err for r in res], dy / [r.y_err for r in res]]
    assert 0.5 < pulls.std() < 1.6
    monkeypatch.setattr(P, "_nearby_clusters", lambda *a, **k: [])      # the plane alone
    plane = [cluster_center(p[:, 0], p[:, 1], **kw) for p, _ in scenes]
    assert all(r.refined and r.nearby == 0 for r in plane)
    assert np.mean([r.x - c[0] for r, (_, c) in zip(plane, scenes)]) > 0.12


def test_cluster_center_fit_falls_back_to_mean_shift_at_the_histogram_edge():
    # a cluster on the range's edge leaves fewer than 5 bins on one side: no fit, mean shift kept
    rng = np.random.default_rng(16)
    pts = np.concatenate([rng.normal([0.8, 50.0], 1.0, (2000, 2)), rng.uniform(0, 100, (5000, 2))])
    kw = dict(bins=100, range=((0, 100), (0, 100)))
    r = cluster_center(pts[:, 0], pts[:, 1], **kw)
    ms = cluster_center(pts[:, 0], pts[:, 1], refine=False, **kw)
    assert not r.refined and r == ms


def test_cluster_center_error_is_calibrated():
    rng = np.random.default_rng(12)
    pulls = []
    for _ in range(40):
        c = rng.uniform(40, 60, 2)
        pts = np.concatenate([rng.normal(c, 1.5, (800, 2)), rng.uniform(0, 100, (4000, 2))])
        r = cluster_center(pts[:, 0], pts[:, 1], bins=100, range=((0, 100), (0, 100)))
        pulls += [(r.x - c[0]) / r.x_err, (r.y - c[1]) / r.y_err]
    assert 0.7 < np.std(pulls) < 1.4


def test_cluster_center_weights_are_frequency_weights_and_nans_dropped():
    rng = np.random.default_rng(13)
    x = np.round(rng.normal(5.0, 1.0, 400), 1)
    y = np.round(rng.normal(-3.0, 0.5, 400), 1)
    (ux, uy), counts = np.unique(np.stack([x, y]), axis=1, return_counts=True)
    a = cluster_center(np.r_[x, np.nan], np.r_[y, 1.0], bins=20)
    b = cluster_center(ux, uy, weights=counts, bins=20, range=((x.min(), x.max()), (y.min(), y.max())))
    assert a.x == pytest.approx(b.x, abs=1e-9) and a.y == pytest.approx(b.y, abs=1e-9)
    assert a.x_err == pytest.approx(b.x_err, rel=1e-6)


def test_cluster_center_given_bandwidth_and_mode_not_mean():
    # a skewed cluster: the mode (found by mean shift) differs from the mean
    rng = np.random.default_rng(15)
    x = np.concatenate([rng.normal(10.0, 0.5, 4000), rng.uniform(10.0, 30.0, 4000)])
    y = rng.normal(-2.0, 0.5, x.size)
    r = cluster_center(x, y, bins=80, bandwidth=(0.4, 0.4))
    assert (r.bandwidth_x, r.bandwidth_y) == (0.4, 0.4)
    assert abs(r.x - 10.0) < 0.25 and abs(r.y + 2.0) < 0.05
    assert x.mean() > 14.0                              # the mean is far from the mode


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("kwargs", [
    dict(image=np.zeros(10)),
    dict(image=np.zeros((2, 10))),
    dict(image=np.zeros((8, 8), complex)),
    dict(image=np.zeros((8, 8), bool)),
    dict(image=np.array([[0, 1, np.inf]] * 3, float)),
    dict(image=np.full((8, 8), np.nan)),
    dict(image="abc"),
    dict(threshold_sigma=0),
    dict(threshold_sigma=float("nan")),
    dict(fwhm=-1.0),
    dict(fwhm=100.0),
    dict(min_distance=-1),
    dict(prominence_sigma=-0.5),
    dict(exclude_border=-1),
    dict(exclude_border=1.5),
    dict(mask=np.zeros((8, 7), bool)),
    dict(mask=np.full((8, 8), 2)),
    dict(background=np.zeros((3, 3))),
    dict(noise=-1.0),
    dict(noise=0.0),                      # every pixel above the background would be a peak
    dict(noise=np.zeros((8, 8))),
    dict(tile_size=4),
    dict(subpixel="parabola"),
    dict(max_peaks=0),
    dict(smooth_fwhm=-1.0),
    dict(workers=0),
])
def test_find_peaks_bad_input(kwargs):
    kwargs = dict(kwargs)
    image = kwargs.pop("image", np.zeros((8, 8)))
    with pytest.raises(InputError):
        find_peaks(image, **kwargs)


@pytest.mark.parametrize("args,kwargs", [
    ((np.zeros(5), np.zeros(4)), {}),
    ((np.zeros((5, 2)), np.zeros(5)), {}),
    ((np.array([1.0, np.nan]), np.array([1.0, 2.0])), {}),
    ((np.arange(5.0), np.arange(5.0)), dict(weights=-np.ones(5))),
    ((np.arange(5.0), np.arange(5.0)), dict(bandwidth=0.0)),
    ((np.arange(5.0), np.arange(5.0)), dict(bandwidth=[1.0, 2.0, 3.0])),
    ((np.arange(5.0), np.arange(5.0)), dict(bandwidth="wide")),
    ((np.arange(5.0), np.arange(5.0)), dict(bins=-3)),
    ((np.arange(5.0), np.arange(5.0)), dict(max_iter=0)),
    ((np.arange(5.0), np.arange(5.0)), dict(refine="yes")),
    ((np.array(["a", "b", "c"]), np.arange(3.0)), {}),
])
def test_cluster_center_bad_input(args, kwargs):
    with pytest.raises(InputError):
        cluster_center(*args, **kwargs)
