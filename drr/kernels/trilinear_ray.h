/* trilinear_ray.h — the per-ray interpolating renderer (method "trilinear"),
 * shared by the CUDA kernels (trilinear.cu) and the host build (host_api.c).
 * It is a line-by-line port of drr/backends/cpu_trilinear.py (read that first).
 *
 * The field is the trilinear interpolation of the voxel values, zero outside
 * (the volume padded by one layer of zero voxels), so it can be non-zero only
 * for grid coordinates in (-1/2, n + 1/2) on every axis.  The part of the ray
 * x(t) = a + t (b - a) in that box, [t_lo, t_hi], is cut into m equal pieces of
 * at most step_t, and
 *
 *     integral = L * h * (f_0 / 2 + f_1 + ... + f_{m-1} + f_m / 2),   h = (t_hi - t_lo) / m
 *
 * (the trapezoid rule; L the ray's length in mm; f_q the field at sample q).
 *
 * Where f comes from (drr_sampler):
 *   - the GPU's texture unit (hardware != 0; trilinear.cu, drr_trilinear_tex):
 *     CUDA's unnormalised texture coordinates put texel i's centre at i + 1/2,
 *     which is exactly drr's grid coordinate of voxel i's centre, and the
 *     border address mode reads zero outside: tex3D(x, y, z) *is* the field
 *     above, except that the unit works with weights in fixed point (CUDA C++
 *     Programming Guide, "Texture fetching: linear filtering"): each axis's
 *     coordinate is rounded to the nearest 1/256 (ties up) before it is split
 *     into a cell and a fraction, and the 8 corner weights are rounded again
 *     to multiples of 1/256 that sum to 1, each within 1/256 of the exact
 *     product (read off an H200,
 *     benchmarks/texture_probe.py; the rule: drr_texture_unit_trilinear).
 *   - software filtering from the voxel array (hardware == 0): exact weights
 *     (texture_weights = 0, what the CPU backend does), or the texture unit's
 *     weights (texture_weights = 1, drr_texture_unit_trilinear: the rule read
 *     off the card, emulated, so the host build can stand in for the hardware
 *     and measure its error on a machine without a GPU).
 *
 * Precision: the set-up (clipping, m, h, the entry point) is float64, as on the
 * CPU; the sample positions are entry + q * (h d) in DRR_REAL (texture
 * coordinates are float anyway), and the sum is Kahan-compensated.
 */
#ifndef DRR_TRILINEAR_RAY_H
#define DRR_TRILINEAR_RAY_H

#include "ray_common.h"

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
typedef cudaTextureObject_t drr_texture;
#else
typedef unsigned long long drr_texture;   /* the host build never samples a texture */
#endif

/* Where field values come from; see the top of this file. */
typedef struct drr_sampler {
    int hardware;        /* != 0: tex3D(tex, ...) (GPU only) */
    drr_texture tex;     /* 3-D float (or half) texture, linear filter, border address, unnormalised */
    const void* vol;     /* software: C-ordered (nk, nj, ni) float32, or binary16 bits if half */
    int half;
    int ni, nj, nk;
    int texture_weights; /* software: 0 = exact weights; 1 = the texture unit's (emulated) */
} drr_sampler;

/* Voxel (i, j, k), or zero outside the grid. */
DRR_HD drr_real drr_texel(const drr_sampler* s, int i, int j, int k)
{
    if (i < 0 || j < 0 || k < 0 || i >= s->ni || j >= s->nj || k >= s->nk)
        return (drr_real)0.0;
    return (drr_real)drr_load_voxel(s->vol, ((long long)k * s->nj + j) * s->ni + i, s->half);
}

DRR_HD drr_real drr_lerp(drr_real a, drr_real b, drr_real w)
{
    return ((drr_real)1.0 - w) * a + w * b;
}

/* The texture unit's fixed-point coordinate on one axis: g - 1/2 (texel centres at
 * integers) in units of 1/256, rounded to nearest, ties up: q = floor(256 (g - 1/2) + 1/2).
 * The cell's low texel is floor(q / 256) and the fraction q mod 256, in [0, 255]: the
 * unit rounds the coordinate before it splits it, so a fraction that rounds to 1 moves
 * to the next cell with fraction 0 (read off an H200; which corner weights a tie then
 * rounds depends on it, see drr_texture_unit_trilinear). */
DRR_HD void drr_fixed8_coordinate(drr_real g, int* cell, int* fraction)
{
    double q = floor(((double)g - 0.5) * 256.0 + 0.5);
    double c = floor(q / 256.0);
    *cell = (int)c;
    *fraction = (int)(q - 256.0 * c);
}

/* x rounded to the nearest IEEE binary16 value (ties away from zero), kept in double.
 * The texture unit filters a half-float texture as it does a float one, then rounds
 * the result to binary16 (read off an H200: 99.8-99.9 % of 600,000 random fetches equal
 * the exact sum rounded so, ties rounded up; the rest lie within 0.75 of a binary16 step
 * of the exact sum and were rounded the other way: the unit's accumulator for half
 * textures is narrower, in a way not pinned down).  |x| <= 65504 here: a convex
 * combination of binary16 voxels. */
DRR_HD double drr_round_binary16(double x)
{
    int e;
    double q;
    if (x == 0.0)
        return x;
    frexp(x, &e);                                       /* |x| = m 2^e, m in [1/2, 1) */
    q = ldexp(1.0, (e - 1 >= -14 ? e : -13) - 11);      /* binary16 spacing there: 11 bits, or 2^-24 */
    return round(x / q) * q;
}

/* The texture unit's trilinear filter, emulated, at grid point (gx, gy, gz).  The
 * unit's eight corner weights, in units of 1/256, as read off an H200
 * (benchmarks/texture_probe.py: all 3.67 M weights of its table and 400,000 at random
 * fractions follow this; tests/test_kernel_host.py checks 4,000 of the table's, 8,000
 * at random fractions, its 1-D sweeps and 1,000 half-float fetches): each axis's coordinate is rounded to 1/256 and split into a cell (i, j, k)
 * and fractions X1, Y1, Z1 in [0, 255] (drr_fixed8_coordinate; X0 = 256 - X1, ...);
 * in each z layer c (Zc = Z0 or Z1) the x weights are U1 = rnd(X1 Zc / 256),
 * U0 = Zc - U1, split across y as W(1,1,c) = rnd(U1 Y1 / 256), W(1,0,c) = U1 - W(1,1,c),
 * W(0,0,c) = rnd(U0 Y0 / 256), W(0,1,c) = U0 - W(0,0,c), with rnd(v) = floor(v + 1/2).
 * They sum to exactly 256.  The unit sums the eight products W T in a wide accumulator
 * and rounds once (99.7 % of 200,000 random fetches equal the exact sum rounded to
 * float32; the rest are ties that the card rounds up, or differ by < 0.05 ulp): here
 * the sum is double and rounded once to DRR_REAL, or first to binary16 for a
 * half-float texture (drr_round_binary16). */
DRR_HD drr_real drr_texture_unit_trilinear(const drr_sampler* s, drr_real gx, drr_real gy, drr_real gz)
{
    int i, j, k, x1, y1, z1, y0, c;
    double acc = 0.0;
    drr_fixed8_coordinate(gx, &i, &x1);
    drr_fixed8_coordinate(gy, &j, &y1);
    drr_fixed8_coordinate(gz, &k, &z1);
    y0 = 256 - y1;
    for (c = 0; c < 2; ++c) {
        int zc = c ? z1 : 256 - z1;
        int u1 = (x1 * zc + 128) >> 8, u0 = zc - u1;
        int w11 = (u1 * y1 + 128) >> 8, w10 = u1 - w11;
        int w00 = (u0 * y0 + 128) >> 8, w01 = u0 - w00;
        acc += (double)w00 * (double)drr_texel(s, i, j, k + c) + (double)w10 * (double)drr_texel(s, i + 1, j, k + c)
             + (double)w01 * (double)drr_texel(s, i, j + 1, k + c) + (double)w11 * (double)drr_texel(s, i + 1, j + 1, k + c);
    }
    acc *= 1.0 / 256.0;
    return (drr_real)(s->half ? drr_round_binary16(acc) : acc);
}

/* The field at grid point (gx, gy, gz) by software filtering, with exact weights or
 * the texture unit's (texture_weights).  cpu_trilinear.py: trilinear */
DRR_HD drr_real drr_soft_trilinear(const drr_sampler* s, drr_real gx, drr_real gy, drr_real gz)
{
    drr_real x, y, z, fx, fy, fz, wx, wy, wz, c00, c10, c01, c11;
    int i, j, k;
    if (s->texture_weights)
        return drr_texture_unit_trilinear(s, gx, gy, gz);
    x = gx - (drr_real)0.5; y = gy - (drr_real)0.5; z = gz - (drr_real)0.5;
    fx = (drr_real)floor(x); fy = (drr_real)floor(y); fz = (drr_real)floor(z);
    i = (int)fx; j = (int)fy; k = (int)fz;
    wx = x - fx; wy = y - fy; wz = z - fz;
    c00 = drr_lerp(drr_texel(s, i, j, k), drr_texel(s, i + 1, j, k), wx);
    c10 = drr_lerp(drr_texel(s, i, j + 1, k), drr_texel(s, i + 1, j + 1, k), wx);
    c01 = drr_lerp(drr_texel(s, i, j, k + 1), drr_texel(s, i + 1, j, k + 1), wx);
    c11 = drr_lerp(drr_texel(s, i, j + 1, k + 1), drr_texel(s, i + 1, j + 1, k + 1), wx);
    return drr_lerp(drr_lerp(c00, c10, wy), drr_lerp(c01, c11, wy), wz);
}

/* The field at grid point (gx, gy, gz). */
DRR_HD drr_real drr_sample(const drr_sampler* s, drr_real gx, drr_real gy, drr_real gz)
{
#ifdef __CUDA_ARCH__
    if (s->hardware)
        return (drr_real)tex3D<float>(s->tex, (float)gx, (float)gy, (float)gz);
#endif
    return drr_soft_trilinear(s, gx, gy, gz);
}

/* Intersect [t_lo, t_hi] with -1/2 < a + t d < n + 1/2, where the field may be
 * non-zero; an empty result is t_lo >= t_hi.  cpu_trilinear.py: _clip_padded */
DRR_HD void drr_clip_padded(double a, double d, int n, double* t_lo, double* t_hi)
{
    double t0, t1;
    if (d == 0.0) {
        if (a <= -0.5 || a >= (double)n + 0.5) { *t_lo = 1.0; *t_hi = 0.0; }
        return;
    }
    t0 = (-0.5 - a) / d;
    t1 = ((double)n + 0.5 - a) / d;
    if (t0 > t1) { double u = t0; t0 = t1; t1 = u; }
    if (t0 > *t_lo) *t_lo = t0;
    if (t1 < *t_hi) *t_hi = t1;
}

/* Trapezoid-rule sum(f * dt) along the grid segment a -> b, t in [0, 1], with
 * samples at most step_t apart.  cpu_trilinear.py: ray_integral_trilinear */
DRR_HD drr_real drr_trilinear_integral(const drr_sampler* s, double ax, double ay, double az,
                                       double bx, double by, double bz, double step_t)
{
    double dx = bx - ax, dy = by - ay, dz = bz - az, t_lo = 0.0, t_hi = 1.0, h;
    int m, q;   /* m < 2^31: the host checks that the volume's diagonal / step fits (cuda.py) */
    drr_real ex, ey, ez, hx, hy, hz, f, acc = (drr_real)0.0, comp = (drr_real)0.0;

    drr_clip_padded(ax, dx, s->ni, &t_lo, &t_hi);
    drr_clip_padded(ay, dy, s->nj, &t_lo, &t_hi);
    drr_clip_padded(az, dz, s->nk, &t_lo, &t_hi);
    if (!(t_lo < t_hi))
        return (drr_real)0.0;                       /* the ray misses the volume */
    m = (int)ceil((t_hi - t_lo) / step_t);
    if (m < 1) m = 1;
    h = (t_hi - t_lo) / (double)m;
    ex = (drr_real)(ax + t_lo * dx); ey = (drr_real)(ay + t_lo * dy); ez = (drr_real)(az + t_lo * dz);
    hx = (drr_real)(h * dx);         hy = (drr_real)(h * dy);         hz = (drr_real)(h * dz);
    for (q = 0; q <= m; ++q) {
        drr_real rq = (drr_real)q;
        f = drr_sample(s, ex + rq * hx, ey + rq * hy, ez + rq * hz);
        if (q == 0 || q == m)
            f *= (drr_real)0.5;
        drr_kahan_add(&acc, &comp, f);
    }
    return acc * (drr_real)h;
}

/* The value of pixel (r, c) of one pose: the line integral (mm * 1/mm) of the
 * trilinear field, samples at most step_mm apart.  cpu.py: render_poses */
DRR_HD float drr_trilinear_pixel(const drr_sampler* s, const double* pose, int r, int c, double step_mm)
{
    double a[3], b[3], length;
    drr_real v;
    drr_pose_ray(pose, r, c, a, b, &length);
    v = drr_trilinear_integral(s, a[0], a[1], a[2], b[0], b[1], b[2], step_mm / length);
    return (float)((double)v * length);
}

#endif /* DRR_TRILINEAR_RAY_H */
