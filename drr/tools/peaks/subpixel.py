"""Sub-pixel positions: Levenberg-Marquardt Gaussian fit and Gaussian-weighted centroid, with uncertainties."""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _solve5(h, g, n, m, z):
    """Solve the n x n symmetric system h z = g by Gaussian elimination with partial pivoting.

    ``m``: scratch of shape (n, n + 1); the solution goes into ``z``.  Returns
    False (``z`` undefined) for a singular system."""
    for i in range(n):
        for j in range(n):
            m[i, j] = h[i, j]
        m[i, n] = g[i]
    for c in range(n):
        piv = c
        for r in range(c + 1, n):
            if abs(m[r, c]) > abs(m[piv, c]):
                piv = r
        if not abs(m[piv, c]) > 1e-300:
            return False
        if piv != c:
            for j in range(n + 1):
                t = m[c, j]
                m[c, j] = m[piv, j]
                m[piv, j] = t
        for r in range(c + 1, n):
            f = m[r, c] / m[c, c]
            for j in range(c, n + 1):
                m[r, j] -= f * m[c, j]
    for r in range(n - 1, -1, -1):
        s = m[r, n]
        for j in range(r + 1, n):
            s -= m[r, j] * z[j]
        z[r] = s / m[r, r]
    return True


@numba.njit(cache=True, nogil=True, inline="always")
def _weight_tables(cx, cy, h, x, y, inv, tx, ty):
    """Separable Gaussian weights of the stamp columns and rows: ``exp(-(c - x)^2 inv)``."""
    for c in range(2 * h + 1):
        tx[c] = math.exp(-((cx - h + c) - x) ** 2 * inv)
        ty[c] = math.exp(-((cy - h + c) - y) ** 2 * inv)


@numba.njit(cache=True, nogil=True)
def _centroid_one(img, mask, has_mask, cx, cy, x0, y0, bgv, sw, h, noise):
    """Gaussian-weighted iterative centroid on the stamp of half-width h around (cx, cy).

    Returns (x, y, x_err, y_err, ok).  Fixed point of
    ``x = sum(W I x) / sum(W I)``, ``W = exp(-r^2 / (2 sw^2))``; the error is the
    linear propagation of white pixel noise through one step, divided by
    ``1 - dF/dx`` at the fixed point (``dF/dx`` estimated numerically from the
    weighted second moment: ``var_W / sw^2``).  ``W`` is separable, from
    per-column and per-row tables (2 (2h+1) exps per step instead of (2h+1)^2).
    """
    ny, nx = img.shape
    x = x0
    y = y0
    ok = False
    sum_wi = 0.0
    inv = 1.0 / (2.0 * sw * sw)
    tx = np.empty(2 * h + 1)
    ty = np.empty(2 * h + 1)
    for _it in range(50):
        _weight_tables(cx, cy, h, x, y, inv, tx, ty)
        swi = 0.0
        swix = 0.0
        swiy = 0.0
        for yy in range(max(0, cy - h), min(ny, cy + h + 1)):
            for xx in range(max(0, cx - h), min(nx, cx + h + 1)):
                v = np.float64(img[yy, xx])
                if not (v == v) or (has_mask and mask[yy, xx]):
                    continue
                wt = tx[xx - (cx - h)] * ty[yy - (cy - h)]
                iv = v - bgv
                swi += wt * iv
                swix += wt * iv * xx
                swiy += wt * iv * yy
        if not swi > 0.0:
            ok = False
            break
        xn = swix / swi
        yn = swiy / swi
        if abs(xn - cx) > h or abs(yn - cy) > h:
            ok = False
            break
        step = abs(xn - x) + abs(yn - y)
        x = xn
        y = yn
        sum_wi = swi
        ok = True
        if step < 1e-5:
            break
    if not ok:
        return x0, y0, math.nan, math.nan, False
    # error propagation
    _weight_tables(cx, cy, h, x, y, inv, tx, ty)
    vx = 0.0
    vy = 0.0
    mxx = 0.0
    myy = 0.0
    for yy in range(max(0, cy - h), min(ny, cy + h + 1)):
        for xx in range(max(0, cx - h), min(nx, cx + h + 1)):
            v = np.float64(img[yy, xx])
            if not (v == v) or (has_mask and mask[yy, xx]):
                continue
            wt = tx[xx - (cx - h)] * ty[yy - (cy - h)]
            iv = v - bgv
            vx += (wt * (xx - x)) ** 2
            vy += (wt * (yy - y)) ** 2
            mxx += wt * iv * (xx - x) ** 2
            myy += wt * iv * (yy - y) ** 2
    gx = 1.0 - (mxx / sum_wi) / (sw * sw)     # 1 - dF/dx
    gy = 1.0 - (myy / sum_wi) / (sw * sw)
    if not (gx > 0.05 and gy > 0.05):
        gx = max(gx, 0.05)
        gy = max(gy, 0.05)
    ex = noise * math.sqrt(vx) / sum_wi / gx
    ey = noise * math.sqrt(vy) / sum_wi / gy
    return x, y, ex, ey, True


@numba.njit(cache=True, nogil=True)
def _gauss_one(img, mask, has_mask, cx, cy, x0, y0, a0, b0, s0, h, noise, out):
    """Levenberg-Marquardt fit of B + A exp(-r^2/(2 s^2)) on the stamp around (cx, cy).

    Writes (x, y, x_err, y_err, A, B, s) into ``out``; returns True on success.

    The Gaussian is separable, ``exp(-(dx^2 + dy^2) / 2s^2) = ex[col] ey[row]``,
    so a model evaluation takes 2 (2h+1) exps.  On a complete stamp (no pixel
    masked, NaN or past the border: nearly every peak) the normal equations
    ``J^T J`` are also separable -- every entry is a product of one-axis sums
    ``sum ex^k dx^p`` and ``sum ey^k dy^p`` -- and ``J^T r`` follows from row
    sums of the residuals that the chi^2 pass leaves behind; an incomplete
    stamp sums ``J^T J`` and ``J^T r`` pixel by pixel.
    """
    ny, nx = img.shape
    w = 2 * h + 1
    m = w * w
    px = np.empty(m)
    py = np.empty(m)
    pv = np.empty(m)
    kx = np.empty(m, np.int64)   # column / row of each pixel within the stamp
    ky = np.empty(m, np.int64)
    pw = np.empty((w, w))        # the complete stamp as rows x columns
    n = 0
    for yy in range(max(0, cy - h), min(ny, cy + h + 1)):
        for xx in range(max(0, cx - h), min(nx, cx + h + 1)):
            v = np.float64(img[yy, xx])
            if not (v == v) or (has_mask and mask[yy, xx]):
                continue
            px[n] = xx
            py[n] = yy
            pv[n] = v
            kx[n] = xx - (cx - h)
            ky[n] = yy - (cy - h)
            pw[yy - (cy - h), xx - (cx - h)] = v
            n += 1
    if n < 8:
        return False
    full = n == m
    ex = np.empty(w)
    ey = np.empty(w)
    rs = np.empty((3, w))        # complete stamp: per row, sum_col res ex dx^k (k = 0, 1, 2)
    rsum = np.zeros(1)           # and the sum of the residuals
    mx = np.empty((3, 5))        # one-axis sums: mx[k, p] = sum ex^k dx^p (k = 1, 2)
    my = np.empty((3, 5))
    p = np.array([a0, x0, y0, s0, b0])
    hh = np.empty((5, 5))
    g = np.empty(5)
    jac = np.empty(5)
    hd = np.empty((5, 5))        # scratch of the iterations (no allocation per step)
    step = np.zeros(5)
    q = np.empty(5)
    work = np.empty((5, 6))

    def table(e, c0, mu, inv, q2):
        # e[c] = exp(-(c0 + c - mu)^2 inv) by ratios from the column nearest mu outwards:
        # e[c + 1] / e[c] = exp(-(2 d + 1) inv), and that ratio shrinks by q2 = exp(-2 inv) per
        # column (4 exps per axis instead of w; every factor is <= 1 away from the centre)
        k = min(max(int(math.floor(mu - c0 + 0.5)), 0), w - 1)
        d = c0 + k - mu
        e[k] = math.exp(-d * d * inv)
        rt = math.exp(-(2.0 * d + 1.0) * inv)
        for c in range(k + 1, w):
            e[c] = e[c - 1] * rt
            rt *= q2
        rt = math.exp((2.0 * d - 1.0) * inv)
        for c in range(k - 1, -1, -1):
            e[c] = e[c + 1] * rt
            rt *= q2

    def tables(q, inv):
        q2 = math.exp(-2.0 * inv)
        table(ex, cx - h, q[1], inv, q2)
        table(ey, cy - h, q[2], inv, q2)

    def chi2(q):
        c = 0.0
        inv = 1.0 / (2.0 * q[3] * q[3])
        tables(q, inv)
        if full:
            tot = 0.0
            for r in range(w):
                e_r = ey[r]
                s0r = 0.0
                s1r = 0.0
                s2r = 0.0
                for k in range(w):
                    res = pw[r, k] - q[4] - q[0] * (ex[k] * e_r)
                    c += res * res
                    tot += res
                    t = res * ex[k]
                    d = (cx - h + k) - q[1]
                    s0r += t
                    s1r += t * d
                    s2r += t * d * d
                rs[0, r] = s0r
                rs[1, r] = s1r
                rs[2, r] = s2r
            rsum[0] = tot
            return c
        for k in range(n):
            e = ex[kx[k]] * ey[ky[k]]
            r = pv[k] - q[4] - q[0] * e
            c += r * r
        return c

    def moments(e, c0, d0, out2):
        for k in range(1, 3):
            for j in range(5):
                out2[k, j] = 0.0
        for c in range(w):
            d = (c0 + c) - d0
            e1 = e[c]
            e2 = e1 * e1
            d2 = d * d
            out2[1, 0] += e1
            out2[1, 1] += e1 * d
            out2[1, 2] += e1 * d2
            out2[2, 0] += e2
            out2[2, 1] += e2 * d
            out2[2, 2] += e2 * d2
            out2[2, 3] += e2 * d2 * d
            out2[2, 4] += e2 * d2 * d2

    def normal(p, with_g):
        """J^T J (into hh) and, with ``with_g``, J^T r (into g) at p; needs the tables (and rs) of p."""
        for i in range(5):
            g[i] = 0.0
            for j in range(5):
                hh[i, j] = 0.0
        s2 = p[3] * p[3]
        if full:
            moments(ex, cx - h, p[1], mx)
            moments(ey, cy - h, p[2], my)
            k1 = p[0] / s2
            k3 = p[0] / (s2 * p[3])
            hh[0, 0] = mx[2, 0] * my[2, 0]
            hh[1, 0] = k1 * mx[2, 1] * my[2, 0]
            hh[2, 0] = k1 * mx[2, 0] * my[2, 1]
            hh[3, 0] = k3 * (mx[2, 2] * my[2, 0] + mx[2, 0] * my[2, 2])
            hh[4, 0] = mx[1, 0] * my[1, 0]
            hh[1, 1] = k1 * k1 * mx[2, 2] * my[2, 0]
            hh[2, 1] = k1 * k1 * mx[2, 1] * my[2, 1]
            hh[3, 1] = k1 * k3 * (mx[2, 3] * my[2, 0] + mx[2, 1] * my[2, 2])
            hh[4, 1] = k1 * mx[1, 1] * my[1, 0]
            hh[2, 2] = k1 * k1 * mx[2, 0] * my[2, 2]
            hh[3, 2] = k1 * k3 * (mx[2, 2] * my[2, 1] + mx[2, 0] * my[2, 3])
            hh[4, 2] = k1 * mx[1, 0] * my[1, 1]
            hh[3, 3] = k3 * k3 * (mx[2, 4] * my[2, 0] + 2.0 * mx[2, 2] * my[2, 2] + mx[2, 0] * my[2, 4])
            hh[4, 3] = k3 * (mx[1, 2] * my[1, 0] + mx[1, 0] * my[1, 2])
            hh[4, 4] = m
            if with_g:
                g0 = 0.0
                g1 = 0.0
                g2 = 0.0
                g3 = 0.0
                for r in range(w):
                    d = (cy - h + r) - p[2]
                    e_r = ey[r]
                    g0 += e_r * rs[0, r]
                    g1 += e_r * rs[1, r]
                    g2 += e_r * d * rs[0, r]
                    g3 += e_r * (rs[2, r] + d * d * rs[0, r])
                g[0] = g0
                g[1] = k1 * g1
                g[2] = k1 * g2
                g[3] = k3 * g3
                g[4] = rsum[0]
        else:
            for k in range(n):
                dx = px[k] - p[1]
                dy = py[k] - p[2]
                r2 = dx * dx + dy * dy
                e = ex[kx[k]] * ey[ky[k]]
                jac[0] = e
                jac[1] = p[0] * e * dx / s2
                jac[2] = p[0] * e * dy / s2
                jac[3] = p[0] * e * r2 / (s2 * p[3])
                jac[4] = 1.0
                if with_g:
                    r = pv[k] - p[4] - p[0] * e
                    for i in range(5):
                        g[i] += jac[i] * r
                for i in range(5):
                    for j in range(i + 1):
                        hh[i, j] += jac[i] * jac[j]
        for i in range(5):
            for j in range(i + 1, 5):
                hh[i, j] = hh[j, i]

    chi = chi2(p)
    current = True              # ex, ey (and rs) hold the values at p
    lam = 1e-3
    conv = False
    for _it in range(40):
        if not current:
            chi = chi2(p)       # (after an accepted step chi2 left the tables of p in place)
            current = True
        normal(p, True)
        accepted = False
        for _try in range(12):
            for i in range(5):
                for j in range(5):
                    hd[i, j] = hh[i, j]
            for i in range(5):
                hd[i, i] += lam * hh[i, i] + 1e-300
            ok = _solve5(hd, g, 5, work, step)
            if not ok:
                lam *= 10.0
                continue
            for i in range(5):
                q[i] = p[i] + step[i]
            if q[3] < 0.2 * s0 or q[3] > 5.0 * s0 or abs(q[1] - cx) > h + 0.5 or abs(q[2] - cy) > h + 0.5:
                lam *= 10.0
                continue
            cq = chi2(q)
            current = False
            if cq <= chi:
                for i in range(5):
                    p[i] = q[i]
                chi = cq
                current = True
                lam = max(lam * 0.3, 1e-7)
                accepted = True
                break
            lam *= 10.0
        if not accepted:
            conv = True     # no downhill step left: at the minimum (or stuck)
            break
        if abs(step[1]) < 1e-4 and abs(step[2]) < 1e-4 and abs(step[3]) < 1e-4 * p[3]:
            conv = True
            break
    if not conv or not p[0] > 0.0:
        return False
    # covariance at the solution: noise^2 (J^T J)^-1 (undamped, recomputed at p)
    tables(p, 1.0 / (2.0 * p[3] * p[3]))
    normal(p, False)
    e1 = np.zeros(5)
    e1[1] = 1.0
    z1 = np.empty(5)
    ok1 = _solve5(hh, e1, 5, work, z1)
    e2 = np.zeros(5)
    e2[2] = 1.0
    z2 = np.empty(5)
    ok2 = _solve5(hh, e2, 5, work, z2)
    if not (ok1 and ok2 and z1[1] > 0.0 and z2[2] > 0.0):
        return False
    out[0] = p[1]
    out[1] = p[2]
    out[2] = noise * math.sqrt(z1[1])
    out[3] = noise * math.sqrt(z2[2])
    out[4] = p[0]
    out[5] = p[4]
    out[6] = p[3]
    return True


@numba.njit(cache=True, nogil=True)
def _refine(img, mask, has_mask, ix, iy, x0, y0, plateau, a0, b0, noise, s0, h, method):
    """Sub-pixel positions of all peaks.  method: 0 gauss, 1 centroid, 2 none.

    Returns an (n, 7) array (x, y, x_err, y_err, height, sigma, flags-extra) where
    flags-extra holds FLAG_BORDER | FLAG_MASKED | FLAG_FIT_FAILED bits.
    """
    ny, nx = img.shape
    npk = ix.size
    res = np.empty((npk, 7))
    out = np.empty(7)
    for i in range(npk):
        cx = ix[i]
        cy = iy[i]
        fl = 0
        if cx - h < 0 or cy - h < 0 or cx + h >= nx or cy + h >= ny:
            fl |= 1
        for yy in range(max(0, cy - h), min(ny, cy + h + 1)):
            for xx in range(max(0, cx - h), min(nx, cx + h + 1)):
                v = np.float64(img[yy, xx])
                if not (v == v) or (has_mask and mask[yy, xx]):
                    fl |= 2
        x = x0[i]
        y = y0[i]
        ex = math.sqrt(1.0 / 12.0)
        ey = ex
        height = np.float64(img[cy, cx]) - b0[i]
        sig = math.nan
        if method == 2:
            if plateau[i] > 1:
                ex = math.sqrt(1.0 / 12.0 / plateau[i])   # documented convention
                ey = ex
        elif method == 0:
            if _gauss_one(img, mask, has_mask, cx, cy, x, y, a0[i], b0[i], s0, h, noise[i], out):
                x, y, ex, ey, height, sig = out[0], out[1], out[2], out[3], out[4], out[6]
            else:
                fl |= 4
                xc, yc, exc, eyc, okc = _centroid_one(img, mask, has_mask, cx, cy, x, y, b0[i], s0, h, noise[i])
                if okc:
                    x, y, ex, ey = xc, yc, exc, eyc
        else:
            xc, yc, exc, eyc, okc = _centroid_one(img, mask, has_mask, cx, cy, x, y, b0[i], s0, h, noise[i])
            if okc:
                x, y, ex, ey = xc, yc, exc, eyc
            else:
                fl |= 4
        res[i, 0] = x
        res[i, 1] = y
        res[i, 2] = ex
        res[i, 3] = ey
        res[i, 4] = height
        res[i, 5] = sig
        res[i, 6] = fl
    return res
