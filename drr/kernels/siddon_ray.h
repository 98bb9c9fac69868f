/* siddon_ray.h — the per-ray exact Siddon/Jacobs traversal, shared by the CUDA
 * kernel (siddon.cu, compiled by NVRTC through CuPy, or by nvcc) and by a host
 * build (host_api.c, compiled by the system C compiler in the tests).
 *
 * It is a line-by-line port of drr/backends/cpu.py (read that first): the same
 * slab clipping, the same start voxel (floor + clamp of the entry point), the
 * same next-crossing rule (each crossing from its plane index, never from
 * accumulated increments), the same axis choice (`<=` in the order x, y, z),
 * the same zero-length-step rule, the same in-plane 2x2 averaging and the same
 * loop bound ni + nj + nk + 1.
 *
 * Precision (what the GPU runs: DRR_REAL = float):
 *   - everything per ray up to the entry point is float64, from the float64
 *     pose table: pixel position, direction, slab clipping, t_lo / t_hi, the
 *     entry point e = a + t_lo d and its voxel.  (A few dozen double operations
 *     per ray; the march is float.)
 *   - the march is re-based at the entry point: t' = t - t_lo, and each entry
 *     coordinate is split into its integer part and a fraction in [0, 1), so a
 *     crossing is t' = ((plane - floor(e)) - frac(e)) / d with a small exact
 *     integer on the left: its error is relative to the distance travelled
 *     inside the volume, not to the source's distance (~ulp(n) voxels, not
 *     ~ulp(|a|)), and no coordinate of magnitude ~n is ever rounded to float.
 *   - the sum of mu * dt uses Kahan compensation.
 *   Measured against the float64 reference in tests/test_kernel_host.py.
 *   Define DRR_REAL as double before including this file to get a march in
 *   float64 (the tests compare that build with the Numba backend at ~1e-12).
 *
 * Voxels are float32, or IEEE binary16 bits ("float16 storage": half the memory
 * traffic; every voxel rounded to 11 significant bits, i.e. a relative error
 * <= 2^-11 ~ 4.9e-4 per voxel and so <= 4.9e-4 on any line integral of a
 * non-negative volume, plus <= 2^-25 /mm absolute for |mu| < 6.1e-5 /mm, the
 * subnormal range).  The march itself is the same in both modes.
 *
 * Grid coordinates: voxel (i, j, k) is the cube [i,i+1) x [j,j+1) x [k,k+1);
 * the volume is indexed [k][j][i] (i fastest), as a C-ordered (nk, nj, ni) array.
 */
#ifndef DRR_SIDDON_RAY_H
#define DRR_SIDDON_RAY_H

#include "ray_common.h"

/* Larger than any crossing that can matter (t' <= 1): an axis that never moves. */
#define DRR_NEVER ((drr_real)1e30f)

/* ------------------------------------------------------------- ray set-up */

/* One axis of a ray, ready for the march. */
typedef struct drr_axis {
    int moving;     /* the direction component is non-zero */
    int start;      /* first voxel index (moving axes) */
    int step;       /* +1 or -1 (moving axes) */
    int base;       /* (step > 0) - floor(e): the next plane of voxel i is i + base + floor(e) */
    drr_real frac;  /* e - floor(e), in [0, 1] (1 only by rounding) */
    drr_real d;     /* direction component b - a (never 0 for a moving axis) */
} drr_axis;

/* Intersect [t_lo, t_hi] with the slab 0 <= a + t d <= n (d != 0).  cpu.py: _clip */
DRR_HD void drr_clip(double a, double d, int n, double* t_lo, double* t_hi)
{
    double t0 = (0.0 - a) / d;
    double t1 = ((double)n - a) / d;
    if (t0 > t1) { double s = t0; t0 = t1; t1 = s; }
    if (t0 > *t_lo) *t_lo = t0;
    if (t1 < *t_hi) *t_hi = t1;
}

/* Fixed indices and weights on an axis the ray does not move along.  cpu.py: _lateral
 * Inside a voxel: that voxel, weight 1.  On the plane between voxels m-1 and m:
 * each with weight 1/2 (a voxel outside the grid has weight 0). */
DRR_HD void drr_lateral(double a, int n, int* i0, drr_real* w0, int* i1, drr_real* w1)
{
    double m = floor(a);
    int mi = (int)m;
    if (a == m) {
        *i0 = mi - 1; *w0 = (mi - 1 >= 0) ? (drr_real)0.5 : (drr_real)0.0;
        *i1 = mi;     *w1 = (mi < n) ? (drr_real)0.5 : (drr_real)0.0;
    } else {
        *i0 = mi; *w0 = (drr_real)1.0;
        *i1 = mi; *w1 = (drr_real)0.0;
    }
}

/* Start voxel, step and re-based crossing data of a moving axis.  cpu.py: _axis_start
 * (the start index is floor(a + t_lo d) clamped to [0, n-1], exactly as there). */
DRR_HD void drr_axis_start(double a, double d, double t_lo, int n, drr_axis* ax)
{
    double e = a + t_lo * d;                 /* entry coordinate, on or inside the box */
    double fl = floor(e);
    int i = (int)fl;
    drr_real df = (drr_real)d;
    i = i < 0 ? 0 : (i > n - 1 ? n - 1 : i);
    if (df == (drr_real)0.0)                 /* |d| below the float range: keep it moving */
        df = d > 0.0 ? (drr_real)1e-37f : (drr_real)-1e-37f;
    ax->moving = 1;
    ax->start = i;
    ax->step = d > 0.0 ? 1 : -1;
    ax->base = (d > 0.0 ? 1 : 0) - (int)fl;
    ax->frac = (drr_real)(e - fl);           /* exact in double for e >= 0; then one rounding */
    ax->d = df;
}

/* Crossing parameter t' = t - t_lo of the next plane of voxel i on a moving axis:
 * t = (plane - a) / d  (cpu.py), re-based: ((i + base) - frac) / d. */
DRR_HD drr_real drr_crossing(int i, const drr_axis* ax)
{
    return ((drr_real)(i + ax->base) - ax->frac) / ax->d;
}

/* ------------------------------------------------------------------ march */

/* Sum of mu * dt' over the voxels from t' = 0 to t' = span.  cpu.py: _march
 * Fixed (non-moving) axes keep the index fi / fj / fk.  count != 0: count the
 * segments of positive length instead (for the benchmarks). */
DRR_HD drr_real drr_march(const void* vol, int half, int count, int ni, int nj, int nk,
                          const drr_axis* X, const drr_axis* Y, const drr_axis* Z,
                          drr_real span, int fi, int fj, int fk)
{
    int i = fi, si = 0, j = fj, sj = 0, k = fk, sk = 0;
    drr_real tx = DRR_NEVER, ty = DRR_NEVER, tz = DRR_NEVER;
    long long idx, dsi, dsj, dsk;
    drr_real acc = (drr_real)0.0, comp = (drr_real)0.0, t = (drr_real)0.0, tn, a_frac, a_d;
    int axis, s, n_steps = ni + nj + nk + 1;   /* a ray crosses at most ni+nj+nk planes */
    int a_step, a_n, a_i, a_base;

    if (X->moving) { i = X->start; si = X->step; tx = drr_crossing(i, X); }
    if (Y->moving) { j = Y->start; sj = Y->step; ty = drr_crossing(j, Y); }
    if (Z->moving) { k = Z->start; sk = Z->step; tz = drr_crossing(k, Z); }
    idx = ((long long)k * nj + j) * ni + i;
    dsi = si;
    dsj = (long long)sj * ni;
    dsk = (long long)sk * ni * nj;

    for (s = 0; s < n_steps; ++s) {
        if (tx <= ty && tx <= tz) { tn = tx; axis = 0; }
        else if (ty <= tz)        { tn = ty; axis = 1; }
        else                      { tn = tz; axis = 2; }
        if (tn >= span) {
            if (count)
                acc += (span > t) ? (drr_real)1.0 : (drr_real)0.0;
            else
                drr_kahan_add(&acc, &comp, drr_load_voxel(vol, idx, half) * (span - t));
            break;
        }
        if (tn > t) {                           /* ties give zero-length steps: nothing */
            if (count)
                acc += (drr_real)1.0;
            else
                drr_kahan_add(&acc, &comp, drr_load_voxel(vol, idx, half) * (tn - t));
            t = tn;
        }
        /* Step across the plane on the chosen axis.  The three cases only pick
         * operands (selects, no divergent code), so a warp computes one crossing
         * per step whichever axes its threads step on. */
        a_step = axis == 0 ? si : (axis == 1 ? sj : sk);
        a_n = axis == 0 ? ni : (axis == 1 ? nj : nk);
        a_i = (axis == 0 ? i : (axis == 1 ? j : k)) + a_step;
        if (a_i < 0 || a_i >= a_n) break;
        idx += axis == 0 ? dsi : (axis == 1 ? dsj : dsk);
        a_base = axis == 0 ? X->base : (axis == 1 ? Y->base : Z->base);
        a_frac = axis == 0 ? X->frac : (axis == 1 ? Y->frac : Z->frac);
        a_d = axis == 0 ? X->d : (axis == 1 ? Y->d : Z->d);
        tn = ((drr_real)(a_i + a_base) - a_frac) / a_d;     /* drr_crossing(a_i, axis) */
        if (axis == 0)      { i = a_i; tx = tn; }
        else if (axis == 1) { j = a_i; ty = tn; }
        else                { k = a_i; tz = tn; }
    }
    return acc;
}

/* ------------------------------------------------------------- ray, pixel */

/* Exact sum(mu * dt) along the grid-space segment a -> b, t in [0, 1].  cpu.py: ray_integral
 * (multiply by the segment's length in mm to get the line integral). */
DRR_HD drr_real drr_ray_integral(const void* vol, int half, int count, int ni, int nj, int nk,
                                 double ax, double ay, double az, double bx, double by, double bz)
{
    double dx = bx - ax, dy = by - ay, dz = bz - az;
    double t_lo = 0.0, t_hi = 1.0;
    drr_axis X, Y, Z;
    int i0 = 0, i1 = 0, j0 = 0, j1 = 0, k0 = 0, k1 = 0, ci, cj, ck;
    drr_real wi0 = (drr_real)1.0, wi1 = (drr_real)0.0, wj0 = (drr_real)1.0, wj1 = (drr_real)0.0;
    drr_real wk0 = (drr_real)1.0, wk1 = (drr_real)0.0, span, total = (drr_real)0.0;

    if (dx != 0.0) drr_clip(ax, dx, ni, &t_lo, &t_hi);
    else if (ax < 0.0 || ax > (double)ni) return (drr_real)0.0;
    if (dy != 0.0) drr_clip(ay, dy, nj, &t_lo, &t_hi);
    else if (ay < 0.0 || ay > (double)nj) return (drr_real)0.0;
    if (dz != 0.0) drr_clip(az, dz, nk, &t_lo, &t_hi);
    else if (az < 0.0 || az > (double)nk) return (drr_real)0.0;
    if (!(t_lo < t_hi)) return (drr_real)0.0;
    span = (drr_real)(t_hi - t_lo);

    /* Moving axes take one slot of weight 1; fixed axes may take two (a ray in a plane). */
    X.moving = Y.moving = Z.moving = 0;
    X.start = Y.start = Z.start = X.step = Y.step = Z.step = X.base = Y.base = Z.base = 0;
    X.frac = Y.frac = Z.frac = (drr_real)0.0;
    X.d = Y.d = Z.d = (drr_real)1.0;
    if (dx != 0.0) drr_axis_start(ax, dx, t_lo, ni, &X); else drr_lateral(ax, ni, &i0, &wi0, &i1, &wi1);
    if (dy != 0.0) drr_axis_start(ay, dy, t_lo, nj, &Y); else drr_lateral(ay, nj, &j0, &wj0, &j1, &wj1);
    if (dz != 0.0) drr_axis_start(az, dz, t_lo, nk, &Z); else drr_lateral(az, nk, &k0, &wk0, &k1, &wk1);

    for (ci = 0; ci < 2; ++ci) {
        drr_real wi = ci == 0 ? wi0 : wi1;
        if (wi == (drr_real)0.0) continue;
        for (cj = 0; cj < 2; ++cj) {
            drr_real wj = cj == 0 ? wj0 : wj1;
            if (wj == (drr_real)0.0) continue;
            for (ck = 0; ck < 2; ++ck) {
                drr_real wk = ck == 0 ? wk0 : wk1;
                if (wk == (drr_real)0.0) continue;
                total += wi * wj * wk * drr_march(vol, half, count, ni, nj, nk, &X, &Y, &Z, span,
                                                  ci == 0 ? i0 : i1, cj == 0 ? j0 : j1,
                                                  ck == 0 ? k0 : k1);
            }
        }
    }
    return total;
}

/* The value of pixel (r, c) of one pose: the line integral (mm * 1/mm) from the
 * source to the pixel centre.  cpu.py: render_poses.  `pose` points at the
 * pose's 24 float64 (DRR_POSE_STRIDE).  count != 0: the number of segments. */
DRR_HD float drr_pixel(const void* vol, int half, int count, int ni, int nj, int nk,
                       const double* pose, int r, int c)
{
    double a[3], b[3], length;
    drr_real s;
    drr_pose_ray(pose, r, c, a, b, &length);
    s = drr_ray_integral(vol, half, count, ni, nj, nk, a[0], a[1], a[2], b[0], b[1], b[2]);
    return count ? (float)s : (float)((double)s * length);
}

#endif /* DRR_SIDDON_RAY_H */
