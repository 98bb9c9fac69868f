"""The Wiener step of colormap inversion (drr/tools/colormap/smoothing.py: _wiener_smooth,
_fill_invalid) against float64 definitions written out with explicit matrices."""

import numpy as np
import pytest

pytest.importorskip("scipy")

from drr.tools.colormap.smoothing import _fill_invalid, _wiener_smooth  # noqa: E402


def _dct_matrix(n):
    """Orthonormal DCT-II matrix: X = C x."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    c = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * i + 1) * k / (2 * n))
    c[0] /= np.sqrt(2.0)
    return c


def _gauss_matrix(n, sigma, truncate=4.0):
    """1-D Gaussian smoothing as a matrix, mirrored about the end samples (d c b | a b c d | c b a)."""
    r = int(truncate * sigma + 0.5)
    w = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    w /= w.sum()
    g = np.zeros((n, n))
    for i in range(n):
        for t, wt in zip(range(-r, r + 1), w):
            j = i + t
            while n > 1 and (j < 0 or j > n - 1):  # mirror (period 2 n - 2; one sample: itself)
                j = -j if j < 0 else 2 * (n - 1) - j
            j = j if n > 1 else 0
            g[i, j] += wt
    return g


def _wiener_reference(raw, var_px, valid, lo, hi, bins=2.0):
    """The filter of _wiener_smooth's docstring, on an image whose invalid pixels are filled."""
    h, w = raw.shape
    ch, cw = _dct_matrix(h), _dct_matrix(w)
    coef = ch @ raw @ cw.T
    logp = np.log(np.maximum(coef**2, np.finfo(np.float32).tiny))
    # means over 2 x 2 blocks as matrices (a last odd row / column: its own mean)
    bh = np.zeros(((h + 1) // 2, h))
    bh[np.arange(h) // 2, np.arange(h)] = 1.0
    bh /= bh.sum(axis=1, keepdims=True)
    bw = np.zeros(((w + 1) // 2, w))
    bw[np.arange(w) // 2, np.arange(w)] = 1.0
    bw /= bw.sum(axis=1, keepdims=True)
    coarse = bh @ logp @ bw.T
    smooth = _gauss_matrix(len(bh), bins / 2) @ coarse @ _gauss_matrix(len(bw), bins / 2).T
    power = np.maximum(np.exp(smooth)[np.arange(h) // 2][:, np.arange(w) // 2], coef**2 / 36.0)
    gain = np.maximum(1.0 - var_px[valid].mean() / power, 0.0)
    out = ch.T @ (coef * gain) @ cw
    return np.where(valid, np.clip(out, lo, hi), raw)


def _field(h, w, rng):
    y, x = np.mgrid[0:h, 0:w]
    return 0.5 + 0.3 * np.sin(x / 7.0) * np.cos(y / 11.0) + 0.05 * rng.standard_normal((h, w))


@pytest.mark.parametrize("shape", [(24, 31), (1, 40), (17, 1)])
def test_wiener_matches_its_definition(shape):
    rng = np.random.default_rng(3)
    raw = _field(*shape, rng)
    var = rng.uniform(0.001, 0.004, raw.size)  # per colour; one colour per pixel here
    inv = np.arange(raw.size).reshape(shape)
    valid = np.ones(shape, dtype=bool)
    lo, hi = raw - 0.08, raw + 0.08
    got = _wiener_smooth(raw, var, inv, valid, lo, hi)
    want = _wiener_reference(raw, var[inv], valid, lo, hi)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)  # (transforms in float32)
    assert np.any(got != raw)  # it did filter
    assert np.all((got >= lo) & (got <= hi))


def test_wiener_removes_white_noise_and_keeps_a_smooth_field():
    rng = np.random.default_rng(7)
    h, w = 128, 160
    y, x = np.mgrid[0:h, 0:w]
    truth = 0.5 + 0.2 * np.sin(x / 25.0) + 0.1 * np.cos(y / 19.0)
    sigma = 0.02
    raw = truth + sigma * rng.standard_normal((h, w))
    var = np.full(raw.size, sigma**2)
    inv = np.arange(raw.size).reshape(h, w)
    valid = np.ones((h, w), dtype=bool)
    got = _wiener_smooth(raw, var, inv, valid, np.zeros((h, w)), np.ones((h, w)))
    rms_in = np.sqrt(np.mean((raw - truth) ** 2))
    rms_out = np.sqrt(np.mean((got - truth) ** 2))
    assert rms_in == pytest.approx(sigma, rel=0.05)
    # measured 0.13 (without the spectral-line term of the gain: 1.64, the sine waves were
    # averaged with their empty neighbours and removed)
    assert rms_out < 0.25 * rms_in


def test_wiener_invalid_pixels_zero_noise_and_empty_images():
    rng = np.random.default_rng(11)
    raw = _field(20, 30, rng)
    inv = np.arange(raw.size).reshape(raw.shape)
    valid = rng.random(raw.shape) > 0.2
    raw_nan = np.where(valid, raw, np.nan)  # invalid pixels of the pipeline are NaN
    var = np.full(raw.size, 0.002)
    lo, hi = raw - 0.1, raw + 0.1
    got = _wiener_smooth(raw_nan, var, inv, valid, lo, hi)
    assert np.all(np.isnan(got[~valid]))
    assert np.all(np.isfinite(got[valid]))
    # filled as _fill_invalid does, the valid pixels are the reference's
    filled = _fill_reference(np.where(valid, raw, 0.0), valid)
    want = _wiener_reference(filled, var[inv], valid, lo, hi)
    np.testing.assert_allclose(got[valid], want[valid], rtol=0, atol=1e-6)
    # no noise: nothing to remove; no valid pixel: nothing to do; inputs untouched
    np.testing.assert_array_equal(_wiener_smooth(raw, np.zeros(raw.size), inv, valid, lo, hi), raw)
    none = np.zeros_like(valid)
    np.testing.assert_array_equal(_wiener_smooth(raw_nan, var, inv, none, lo, hi), raw_nan)
    assert np.array_equal(np.isnan(raw_nan), ~valid)


def _fill_reference(raw, valid):
    """Row-wise linear interpolation between valid pixels (``np.interp``: the end values held);
    empty rows copy the nearest row that has a valid pixel, the one above on a tie."""
    out = raw.copy()
    rows = [y for y in range(raw.shape[0]) if valid[y].any()]
    for y in rows:
        xs = np.flatnonzero(valid[y])
        out[y] = np.interp(np.arange(raw.shape[1]), xs, raw[y, xs])
    for y in range(raw.shape[0]):
        if not valid[y].any():
            out[y] = out[min(rows, key=lambda r: (abs(r - y), r))]
    return out


def test_fill_invalid_interpolates_rows_and_returns_the_mean_variance():
    rng = np.random.default_rng(5)
    raw = rng.random((15, 19))
    valid = rng.random(raw.shape) > 0.6
    valid[3] = False  # empty rows: copies of a neighbour (above on the tie at row 3)
    valid[9:12] = False
    valid[0] = False
    valid[1, :] = False
    valid[2, 7] = True
    raw_nan = np.where(valid, raw, np.nan)
    var = rng.random(raw.size)
    inv = rng.permutation(raw.size).reshape(raw.shape)
    out = np.empty_like(raw)
    s2 = _fill_invalid(raw_nan, valid, var, inv, out)
    np.testing.assert_allclose(out, _fill_reference(np.where(valid, raw, 0.0), valid), rtol=0, atol=1e-15)
    assert s2 == pytest.approx(var[inv[valid]].mean(), rel=1e-12)
    assert np.all(np.isfinite(out))
    # into float32 (as _wiener_smooth fills): the float64 fill rounded once
    out32 = np.empty(raw.shape, dtype=np.float32)
    assert _fill_invalid(raw_nan, valid, var, inv, out32) == s2
    np.testing.assert_array_equal(out32, out.astype(np.float32))
