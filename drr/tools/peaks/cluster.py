"""The centre of the densest cluster of 2-D points (:func:`cluster_center`).

The mode of the densest cluster, refined on the raw points by mean shift, then
by a local Poisson fit of a Gaussian plus a plane to the histogram, with a close
neighbouring cluster modelled as a second Gaussian (removes the kernel's pull
towards it), with an uncertainty.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import numpy as np

from ...errors import InputError
from .checks import _real_scalar
from .detection import _FWHM_PER_SIGMA


class ClusterCenter(NamedTuple):
    """Result of :func:`cluster_center` (data units)."""

    x: float
    y: float
    x_err: float
    y_err: float
    bandwidth_x: float
    bandwidth_y: float
    n_eff: float      # effective number of points under the kernel, (sum w)^2 / sum w^2
    n_iter: int
    refined: bool     # True: x, y, x_err, y_err from the local fit (step 5); False: mean shift
    nearby: int = 0   # neighbouring clusters modelled in that fit (0 without a fit)


def _nearby_clusters(hist, ex, ey, m, h, *, nsigma=5.0, reach=2.5, max_count=2):
    """Clusters next to the mode ``m`` whose tails reach into its fit window (step 5 of cluster_center).

    The histogram smoothed by a Gaussian of the bandwidth ``h`` (in bins) has the
    local maxima (3 x 3) that rise more than ``nsigma`` times its Poisson noise
    at the median count, ``sqrt(median / (4 pi hx hy))``, above its median; those
    more than 2 bandwidths from ``m``, whose +-``reach`` sigma box meets the
    window +-3 ``h`` around ``m``, are returned (at most ``max_count``, the
    highest first) as starting values ``(amplitude, x, y, sx, sy)`` of a
    bin-integrated Gaussian: the maximum's position, its half-maximum widths
    along the axes (walking down only) deconvolved from the smoothing, and the
    count that a Gaussian of that height and width holds.
    """
    from scipy import ndimage

    bx, by = float(np.median(np.diff(ex))), float(np.median(np.diff(ey)))
    hb = np.array([h[0] / bx, h[1] / by])
    sm = ndimage.gaussian_filter(hist.astype(np.float64), hb, mode="constant")
    base = float(np.median(sm))
    noise = math.sqrt(max(float(np.median(hist)), 1.0) / (4.0 * math.pi * hb[0] * hb[1]))
    top = ndimage.maximum_filter(sm, size=3, mode="constant")
    ii, jj = np.nonzero((sm == top) & (sm > base + nsigma * noise))
    xc, yc = 0.5 * (ex[1:] + ex[:-1]), 0.5 * (ey[1:] + ey[:-1])
    found = []
    for t in np.argsort(-sm[ii, jj], kind="stable"):
        i, j = int(ii[t]), int(jj[t])
        px, py = float(xc[i]), float(yc[j])
        if math.hypot((px - m[0]) / h[0], (py - m[1]) / h[1]) < 2.0:
            continue                                   # the mode itself
        half = base + 0.5 * (sm[i, j] - base)

        def width(profile, c):                         # FWHM in bins / 2.3548, walking downhill only
            lo = c
            while lo > 0 and half < profile[lo - 1] <= profile[lo]:
                lo -= 1
            hi = c
            while hi < profile.size - 1 and half < profile[hi + 1] <= profile[hi]:
                hi += 1
            return max((hi - lo + 1) / _FWHM_PER_SIGMA, 0.5)

        sx = math.sqrt(max(width(sm[:, j], i) ** 2 - hb[0] ** 2, 0.25)) * bx
        sy = math.sqrt(max(width(sm[i, :], j) ** 2 - hb[1] ** 2, 0.25)) * by
        if abs(px - m[0]) > 3.0 * h[0] + reach * sx or abs(py - m[1]) > 3.0 * h[1] + reach * sy:
            continue                                   # too far to matter in the window
        amp = ((sm[i, j] - base) * 2.0 * math.pi * math.sqrt(sx * sx + h[0] * h[0])
               * math.sqrt(sy * sy + h[1] * h[1]) / (bx * by))
        found.append((amp, px, py, sx, sy))
        if len(found) >= max_count:
            break
    return found


def _fit_mode(hist, ex, ey, m, h, nearby=(), *, half_width=3.0, nearby_reach=2.0, max_move=0.5, max_iter=100):
    """Refine a mean-shift mode by a local Poisson fit of Gaussians plus a plane to the histogram.

    The mean-shift fixed point is a mode of the *smoothed* density, which a neighbouring
    structure pulls by ``(s^2 + h^2) grad(rho_2) / rho_1`` (``s`` the cluster sigma, ``h``
    the kernel bandwidth, ``rho_1, rho_2`` the cluster and neighbour densities).  A fit
    with an explicit local background removes that pull: within a window of
    ``+-half_width * h`` (at least +-3.5 bins) around ``m``, the counts ``n_ij`` of the
    bins are modelled as

        mu_ij = sum_k A_k Fx_ki Fy_kj + c + gx (xc_i - m_x) + gy (yc_j - m_y),
        Fx_ki = Phi((ex[i+1] - x_k) / sx_k) - Phi((ex[i] - x_k) / sx_k)  (Fy likewise),

    axis-aligned Gaussians of total count ``A_k`` integrated over each bin (exact for any
    bin size, non-uniform edges included) plus a plane.  Component 0 is the cluster at
    ``m``; the others are the neighbouring clusters ``nearby`` (starting values
    ``(A, x, y, sx, sy)`` from :func:`_nearby_clusters`), whose curved tails a plane alone
    cannot follow; with them the window grows to include each one's ``+-nearby_reach``
    sigma box, so that its parameters are measured on its core.  By point symmetry the
    centre is unbiased for any centrally symmetric cluster, correlated ones included.  The
    ``5 K + 3`` parameters maximise the Poisson likelihood by Fisher scoring
    (Gauss-Newton with weights ``1/mu``, whose fixed point is the likelihood equation;
    McCullagh & Nelder, *Generalized Linear Models*, 2nd ed., sec. 2.5), each step halved
    until the deviance ``2 sum(n ln(n/mu) - (n - mu))`` does not increase (and every
    sigma stays positive).  The covariance is the inverse Fisher information
    ``(J^T diag(1/mu) J)^-1``, which assumes Poisson counts (frequency weights).

    Returns ``(x0, y0, x_err, y_err)`` of component 0 or None -- the caller keeps the
    mean-shift answer -- when the window holds fewer than 5 bins per axis or 40 in all,
    the information matrix is singular or ill-conditioned, the fit does not converge,
    ``A_0 <= 0``, a fitted sigma of component 0 leaves ``[h/3, 3h]``, or its centre moves
    more than ``max_move * h`` from ``m`` on either axis.
    """
    win = _fit_window(hist, ex, ey, m, h, nearby, half_width, nearby_reach)
    if win is None:
        return None
    q = _start_values(win, m, h, nearby)
    if q is None:
        return None
    nf = win.n.ravel()
    fit = _fisher_scoring(q, win, 1 + len(nearby), nf, h, max_iter)
    if fit is None:
        return None
    return _centre_and_errors(*fit, nf, m, h, max_move)


class _Window(NamedTuple):
    """The histogram bins that :func:`_fit_mode` fits (``nx, ny`` of them along each axis)."""

    n: np.ndarray           # float64 (nx, ny): counts
    exw: np.ndarray         # float64 (nx + 1,): bin edges along x
    eyw: np.ndarray         # float64 (ny + 1,)
    dx: np.ndarray          # float64 (nx,): bin centres minus m[0]
    dy: np.ndarray          # float64 (ny,)
    inner: np.ndarray       # bool (nx, ny): within +-half_width bandwidths of m


def _fit_window(hist, ex, ey, m, h, nearby, half_width, nearby_reach):
    """The bins of the fit window around the mode ``m`` (data units) as :class:`_Window`.

    None when it holds fewer than 5 bins per axis or 40 in all.
    """
    xc = 0.5 * (ex[1:] + ex[:-1])
    yc = 0.5 * (ey[1:] + ey[:-1])
    # the window: +-half_width bandwidths, but at least +-3.5 bins (7 x 7 bins), and the
    # +-nearby_reach sigma box of each neighbour
    wx = max(half_width * h[0], 3.5 * float(np.median(np.diff(ex))))
    wy = max(half_width * h[1], 3.5 * float(np.median(np.diff(ey))))
    x_lo, x_hi, y_lo, y_hi = m[0] - wx, m[0] + wx, m[1] - wy, m[1] + wy
    for _a, px, py, sx, sy in nearby:
        x_lo, x_hi = min(x_lo, px - nearby_reach * sx), max(x_hi, px + nearby_reach * sx)
        y_lo, y_hi = min(y_lo, py - nearby_reach * sy), max(y_hi, py + nearby_reach * sy)
    ix = np.flatnonzero((xc >= x_lo) & (xc <= x_hi))
    iy = np.flatnonzero((yc >= y_lo) & (yc <= y_hi))
    if ix.size < 5 or iy.size < 5 or ix.size * iy.size < 40:
        return None
    dx, dy = xc[ix] - m[0], yc[iy] - m[1]
    return _Window(n=hist[ix[0]:ix[-1] + 1, iy[0]:iy[-1] + 1].astype(np.float64),
                   exw=ex[ix[0]:ix[-1] + 2], eyw=ey[iy[0]:iy[-1] + 2], dx=dx, dy=dy,
                   inner=(np.abs(dx) <= wx)[:, None] & (np.abs(dy) <= wy)[None, :])


def _start_values(win, m, h, nearby):
    """The starting parameters (float64, ``5 K + 3``) of :func:`_fit_mode`, or None.

    ``(A, x, y, sx, sy)`` per component -- the cluster at ``m`` with sigmas ``h``
    and the count above the plane in the window around ``m``, then ``nearby`` --
    and the plane ``(c, gx, gy)``, flat at the median of the window's rim.  None
    when that count is not positive.
    """
    n = win.n
    rim = np.concatenate([n[0], n[-1], n[1:-1, 0], n[1:-1, -1]])
    c0 = float(np.median(rim))
    a0 = float((n - c0)[win.inner].sum())
    if not a0 > 0:
        return None
    return np.array([a0, m[0], m[1], h[0], h[1]] + [v for comp in nearby for v in comp] + [c0, 0.0, 0.0])


_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _model(q, win, ncomp):
    """The expected counts ``mu`` (float64, ``nx * ny``) at the parameters ``q``, and their Jacobian.

    ``ncomp`` bin-integrated Gaussians plus a plane (see :func:`_fit_mode`); the
    Jacobian is float64 of shape ``(5 ncomp + 3, nx * ny)``.
    """
    from scipy.special import ndtr

    k = _INV_SQRT_2PI
    npar = 5 * ncomp + 3
    mu = q[-3] + q[-2] * win.dx[:, None] + q[-1] * win.dy[None, :]
    jac = np.empty((npar,) + win.n.shape)
    for c in range(ncomp):
        a, x0, y0, sx, sy = q[5 * c:5 * c + 5]
        ux, uy = (win.exw - x0) / sx, (win.eyw - y0) / sy
        px, py = np.exp(-0.5 * ux * ux), np.exp(-0.5 * uy * uy)     # sqrt(2 pi) phi(u)
        fx, fy = np.diff(ndtr(ux)), np.diff(ndtr(uy))
        dfx = -k * np.diff(px) / sx              # d Fx / d x0
        dfy = -k * np.diff(py) / sy
        dsx = -k * np.diff(ux * px) / sx         # d Fx / d sx
        dsy = -k * np.diff(uy * py) / sy
        f = np.outer(fx, fy)
        mu = mu + a * f
        jac[5 * c] = f
        jac[5 * c + 1] = a * np.outer(dfx, fy)
        jac[5 * c + 2] = a * np.outer(fx, dfy)
        jac[5 * c + 3] = a * np.outer(dsx, fy)
        jac[5 * c + 4] = a * np.outer(fx, dsy)
    jac[-3] = 1.0
    jac[-2] = win.dx[:, None]
    jac[-1] = win.dy[None, :]
    return mu.ravel(), jac.reshape(npar, -1)


def _deviance(nf, pos, mu):
    """The Poisson deviance ``2 sum(n ln(n/mu) - (n - mu))`` (``pos``: n > 0); inf unless all mu > 0."""
    if not np.all(mu > 0):
        return math.inf
    return 2.0 * float((nf[pos] * np.log(nf[pos] / mu[pos])).sum() - (nf - mu).sum())


def _fisher_scoring(q, win, ncomp, nf, h, max_iter):
    """Maximise the Poisson likelihood of the counts ``nf`` (flat) from the parameters ``q``.

    Fisher scoring steps, each halved until the deviance does not increase and every
    sigma stays positive, until the centre of component 0 moves less than 1e-6
    bandwidths ``h``.  Returns ``(q, mu, jac)`` at the optimum, or None if the
    information matrix is singular, the start has an infinite deviance, it does not
    converge in ``max_iter`` steps, or the step halving stops it while the full step
    is not negligible.
    """
    widths = np.array([5 * c + j for c in range(ncomp) for j in (3, 4)])
    pos = nf > 0
    mu, jac = _model(q, win, ncomp)
    dev = _deviance(nf, pos, mu)
    if not math.isfinite(dev):
        return None
    conv = False
    for _ in range(max_iter):
        wj = jac / mu
        info = wj @ jac.T
        try:
            step = np.linalg.solve(info, wj @ (nf - mu))
        except np.linalg.LinAlgError:
            return None
        t = 1.0
        for _half in range(30):
            qn = q + t * step
            if np.all(qn[widths] > 0):
                mun, jacn = _model(qn, win, ncomp)
                devn = _deviance(nf, pos, mun)
                if devn <= dev:
                    break
            t *= 0.5
        else:
            break                     # no step lowers the deviance: at the optimum
        q, mu, jac, dev = qn, mun, jacn, devn
        if abs(t * step[1]) < 1e-6 * h[0] and abs(t * step[2]) < 1e-6 * h[1]:
            conv = True
            break
    else:
        return None
    if not conv:
        # stopped by the step halving: accept only if the last full step was negligible
        if not (abs(step[1]) < 1e-5 * h[0] and abs(step[2]) < 1e-5 * h[1]):
            return None
    return q, mu, jac


def _centre_and_errors(q, mu, jac, nf, m, h, max_move):
    """``(x0, y0, x_err, y_err)`` of component 0 of the fit ``q``, or None if it is not plausible.

    None when ``A_0 <= 0``, a sigma leaves ``[h/3, 3h]``, the centre moved more
    than ``max_move * h`` from ``m``, or the information matrix at the fit is
    singular or ill-conditioned.
    """
    a, x0, y0, sx, sy = q[:5]
    if not (a > 0 and h[0] / 3 <= sx <= 3 * h[0] and h[1] / 3 <= sy <= 3 * h[1]):
        return None
    if abs(x0 - m[0]) > max_move * h[0] or abs(y0 - m[1]) > max_move * h[1]:
        return None
    # (mu floored at 1% of the mean count: with a sparse background the likelihood may put
    # the plane's edge at mu -> 0 in empty bins, whose weight 1/mu would swamp the matrix)
    info = (jac / np.maximum(mu, 0.01 * max(float(nf.mean()), 1e-300))) @ jac.T
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return None
    d = np.sqrt(np.abs(np.diag(info)))
    if not (cov[1, 1] > 0 and cov[2, 2] > 0 and np.all(d > 0)) or np.linalg.cond(info / np.outer(d, d)) > 1e10:
        return None      # (condition number of the scaled information matrix)
    return float(x0), float(y0), math.sqrt(cov[1, 1]), math.sqrt(cov[2, 2])


def _points(values, name):
    try:
        arr = np.asarray(values)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"`{name}` must be a 1-D array of real numbers, not {type(values).__name__}") from exc
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise InputError(f"`{name}` must hold real numbers, not dtype {arr.dtype}")
    if arr.ndim != 1:
        raise InputError(f"`{name}` must be 1-D, not an array of shape {arr.shape}")
    return arr.astype(np.float64)


def cluster_center(x, y, *, bins=64, range=None, weights=None, bandwidth=None, tol=1e-6,
                   max_iter=500, refine=True):
    """Centre of the densest cluster of 2-D points: the mode, refined by mean shift.

    1. Seed: the maximum of the point histogram (``bins``, ``range`` as in
       :func:`numpy.histogram2d`) smoothed by a Gaussian of 1 bin.
    2. Bandwidth (unless given): per axis, the cluster's sigma from the
       half-maximum width of the smoothed histogram around the seed (above its
       median level), deconvolved from the 1-bin smoothing, at least half a bin.
    3. Mean shift (Comaniciu & Meer 2002, IEEE TPAMI 24(5), eq. 17) with a
       Gaussian kernel of that bandwidth on the raw points: ``m <- sum(K_i p_i)
       / sum(K_i)``, ``K_i = w_i exp(-|(p_i - m) / h|^2 / 2)``, until the step is
       below ``tol`` bandwidths.  The fixed point is a mode of the kernel
       density estimate, which a uniform background does not move.
    4. Uncertainty: the sandwich (M-estimator) covariance of the fixed point
       ``sum K_i (p_i - m) = 0``: ``J^-1 V J^-T`` with
       ``J = sum K_i ((p_i - m)(p_i - m)^T / h^2 - I)`` and
       ``V = sum w_i k_i^2 (p_i - m)(p_i - m)^T`` (``k_i`` the kernel value).
    5. Refinement (``refine=True``): the mean-shift mode is pulled towards a
       neighbouring cluster by the kernel smoothing, by about
       ``(s^2 + h^2) grad(rho_2) / rho_1``; a Poisson maximum-likelihood fit of a
       bin-integrated Gaussian plus a plane to the histogram within +-3 bandwidths
       of the mode (:func:`_fit_mode`) absorbs the neighbour's local slope.  A
       neighbouring cluster close enough for its curved tail to reach into that
       window (a significant local maximum of the histogram smoothed at the
       bandwidth, :func:`_nearby_clusters`; at most two) is modelled as a further
       bin-integrated Gaussian, the window then covering its core as well
       (``nearby`` in the result counts them; if that fit fails, the fit without
       them is tried).  The fitted centre and Fisher-information errors replace
       the mean-shift ones unless the fit is ill-conditioned, does not converge,
       or moves more than half a bandwidth (then ``refined`` is False and steps
       3-4 are the answer).  The histogram of step 1 (``bins``, ``range``) is the
       one fitted, so the bins should be at most about a cluster sigma wide (at
       least 5 per axis in the window).

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Point coordinates (any units).  Pairs with a non-finite coordinate are
        ignored; at least 3 finite points are needed.
    bins : int or (int, int) or (array, array), keyword-only
        Histogram bins for the seed, as in :func:`numpy.histogram2d`.
    range : ((xmin, xmax), (ymin, ymax)) or None, keyword-only
        Histogram range (default: the data's extent).
    weights : array_like, shape (n,), optional
        Non-negative frequency weights (e.g. counts when ``x, y`` are bin
        centres of an existing histogram).
    bandwidth : float or (float, float) or None, keyword-only
        Gaussian kernel sigma per axis (data units); None: automatic (step 2).
    tol : float, keyword-only
        Convergence tolerance in bandwidths.
    max_iter : int, keyword-only
        At most this many mean-shift steps.
    refine : bool, keyword-only
        Refine the mean-shift mode by the local histogram fit (step 5).

    Returns
    -------
    ClusterCenter
        ``x, y`` (the centre), ``x_err, y_err`` (1 sigma), the bandwidth used,
        the effective number of points under the kernel, the mean-shift
        iterations, whether the fit of step 5 gave ``x, y``, and how many
        neighbouring clusters that fit modelled.
    """
    args = _check_cluster_args(x, y, weights, bandwidth, tol, max_iter, refine)
    hist, ex, ey = _histogram(args.x, args.y, args.weights, bins, range)
    sm, i, j = _smoothed_maximum(hist)                                          # step 1
    seed = np.array([0.5 * (ex[i] + ex[i + 1]), 0.5 * (ey[j] + ey[j + 1])])
    bw = _auto_bandwidth(sm, i, j, ex, ey) if args.bandwidth is None else args.bandwidth     # step 2
    h = bw.astype(np.float64)
    pts, wts = np.column_stack([args.x, args.y]), args.weights
    m, n_iter = _mean_shift(pts, wts, seed, h, args.tol, args.max_iter)         # step 3
    x_err, y_err, n_eff = _sandwich_errors(pts, wts, m, h)                     # step 4
    mx, my, refined, nearby = float(m[0]), float(m[1]), False, 0
    if args.refine:                                                             # step 5
        fit, n_near = _local_fit(hist, ex, ey, m, h)
        if fit is not None:
            (mx, my, x_err, y_err), refined, nearby = fit, True, n_near
    return ClusterCenter(mx, my, x_err, y_err, float(h[0]), float(h[1]), n_eff, int(n_iter), refined, nearby)


class _ClusterArgs(NamedTuple):
    """The checked arguments of :func:`cluster_center`."""

    x: np.ndarray                   # float64 (n,): the finite points with weight > 0 (n >= 3)
    y: np.ndarray
    weights: np.ndarray             # float64 (n,), > 0; ones when not given
    bandwidth: np.ndarray | None    # float64 (2,), > 0; None: automatic
    tol: float
    max_iter: int
    refine: bool


def _check_cluster_args(x, y, weights, bandwidth, tol, max_iter, refine):
    """The arguments of :func:`cluster_center`, checked (InputError), as :class:`_ClusterArgs`.

    Drops the pairs with a non-finite coordinate or a zero weight.
    """
    xs = _points(x, "x")
    ys = _points(y, "y")
    if xs.shape != ys.shape:
        raise InputError(f"`x` and `y` must have the same length, not {xs.size} and {ys.size}")
    wts = None
    if weights is not None:
        wts = _points(weights, "weights")
        if wts.shape != xs.shape:
            raise InputError(f"`weights` must have the length of `x` ({xs.size}), not {wts.size}")
        if not np.all(np.isfinite(wts)) or np.any(wts < 0):
            raise InputError("`weights` must be finite and >= 0")
    tol = _real_scalar(tol, "tol", low=0.0, low_open=True)
    if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise InputError(f"`max_iter` must be an int >= 1, not {max_iter!r}")
    if not isinstance(refine, (bool, np.bool_)):
        raise InputError(f"`refine` must be True or False, not {refine!r}")
    bw = None
    if bandwidth is not None:
        try:
            bw = np.asarray(bandwidth, dtype=np.float64)
        except (TypeError, ValueError):
            bw = np.zeros(0)
        if bw.shape == ():
            bw = np.full(2, float(bw))
        if bw.shape != (2,) or not np.all(np.isfinite(bw)) or np.any(bw <= 0):
            raise InputError(f"`bandwidth` must be a positive number or two (x, y), not {bandwidth!r}")
    ok = np.isfinite(xs) & np.isfinite(ys)
    if wts is not None:
        ok &= wts > 0
    xs, ys = xs[ok], ys[ok]
    wts = np.ones(xs.size) if wts is None else wts[ok]
    if xs.size < 3:
        raise InputError(f"`x`, `y` must hold at least 3 finite points (with weight > 0), not {xs.size}")
    return _ClusterArgs(xs, ys, wts, bw, tol, max_iter, refine)


def _histogram(x, y, weights, bins, range):
    """:func:`numpy.histogram2d` of the points: counts (float64 (nx, ny)) and edges; InputError if it refuses."""
    try:
        return np.histogram2d(x, y, bins=bins, range=range, weights=weights)
    except (ValueError, TypeError) as exc:
        raise InputError(f"`bins`/`range` are not valid for numpy.histogram2d: {exc}") from exc


def _smoothed_maximum(hist):
    """Step 1 of :func:`cluster_center`: the histogram smoothed by a Gaussian of 1 bin, and its maximum bin.

    Returns the smoothed histogram (float64, the shape of ``hist``) and the
    maximum's indices ``i, j`` (along x, y).
    """
    from scipy import ndimage

    sm = ndimage.gaussian_filter(hist, 1.0, mode="constant")
    i, j = np.unravel_index(int(np.argmax(sm)), sm.shape)
    return sm, i, j


def _auto_bandwidth(sm, i, j, ex, ey):
    """Step 2 of :func:`cluster_center`: the cluster's sigma per axis (float64 (2,), data units).

    From the half-maximum (above the median level) width of the smoothed histogram
    ``sm`` through its maximum bin ``i, j``; ``ex``, ``ey`` the bin edges.
    """
    base = float(np.median(sm))
    half = base + 0.5 * (sm[i, j] - base)
    bwx, bwy = np.diff(ex), np.diff(ey)
    return np.array([_sigma_in_bins(sm[:, j], i, half) * bwx[i], _sigma_in_bins(sm[i, :], j, half) * bwy[j]])


def _sigma_in_bins(profile, c, half):
    """The sigma (bins) of the peak of the 1-D ``profile`` at index ``c``, from its width at the level ``half``.

    The width between the interpolated crossings of ``half`` on either side,
    deconvolved from the 1-bin smoothing; at least half a bin.
    """
    lo = c
    while lo > 0 and profile[lo - 1] > half:
        lo -= 1
    hi = c
    while hi < profile.size - 1 and profile[hi + 1] > half:
        hi += 1
    # linear interpolation of the half-maximum crossings (in bins)
    left = lo - (0.5 if lo == 0 else (profile[lo] - half) / max(profile[lo] - profile[lo - 1], 1e-300))
    right = hi + (0.5 if hi == profile.size - 1 else
                  (profile[hi] - half) / max(profile[hi] - profile[hi + 1], 1e-300))
    fw = (right - left) / _FWHM_PER_SIGMA
    return math.sqrt(max(fw * fw - 1.0, 0.25))


def _mean_shift(pts, wts, m, h, tol, max_iter):
    """Step 3 of :func:`cluster_center`: Gaussian mean shift from ``m`` on the points ``pts`` (n, 2).

    ``wts`` (n,) weights, ``h`` (2,) the bandwidth (data units).  Returns the fixed
    point (float64 (2,)) and the number of steps; InputError if no point is near.
    """
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        d = (pts - m) / h
        k = wts * np.exp(-0.5 * np.einsum("ij,ij->i", d, d))
        sk = k.sum()
        if not sk > 0:
            raise InputError("no point lies near the histogram maximum; give `bandwidth` or `bins`")
        new = k @ pts / sk
        step = np.abs((new - m) / h).max()
        m = new
        if step < tol:
            break
    return m, n_iter


def _sandwich_errors(pts, wts, m, h):
    """Step 4 of :func:`cluster_center`: the 1-sigma errors of the mode ``m`` and n_eff.

    Returns ``(x_err, y_err, n_eff)`` (data units; the errors NaN if ``J`` is
    singular); ``pts`` (n, 2), ``wts`` (n,), ``h`` (2,) as :func:`_mean_shift`.
    """
    d = pts - m
    kern = np.exp(-0.5 * np.einsum("ij,ij->i", d / h, d / h))
    kk = wts * kern
    # J = d/dm sum K_i (p_i - m) = sum K_i ((p_i - m)(p_i - m)^T / h^2 - I), h per axis
    jmat = np.einsum("i,ij,ik->jk", kk, d, d / (h * h)) - np.eye(2) * kk.sum()
    vmat = np.einsum("i,ij,ik->jk", wts * kern * kern, d, d)
    try:
        jinv = np.linalg.inv(jmat)
        cov = jinv @ vmat @ jinv.T
        x_err, y_err = math.sqrt(max(cov[0, 0], 0.0)), math.sqrt(max(cov[1, 1], 0.0))
    except np.linalg.LinAlgError:
        x_err = y_err = math.nan
    n_eff = float(kk.sum() ** 2 / max((wts * kern * kern).sum(), 1e-300))
    return x_err, y_err, n_eff


def _local_fit(hist, ex, ey, m, h):
    """Step 5 of :func:`cluster_center`: :func:`_fit_mode` with the nearby clusters, else without.

    Returns ``((x, y, x_err, y_err), nearby)`` -- the fit and how many neighbouring
    clusters it modelled -- or ``(None, 0)`` if both fits fail.
    """
    nearby = _nearby_clusters(hist, ex, ey, m, h)
    fit = _fit_mode(hist, ex, ey, m, h, nearby) if nearby else None
    if fit is None:                      # no neighbour, or the fit with them failed
        nearby = []
        fit = _fit_mode(hist, ex, ey, m, h)
    return fit, len(nearby)
