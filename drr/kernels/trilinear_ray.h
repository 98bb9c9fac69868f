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
 *     fraction is rounded to the nearest 1/256 (ties up), and the 8 corner
 *     weights are rounded again to multiples of 1/256 that sum to 1, each
 *     within 1/256 of the exact product (read off an H200,
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

/* A fraction in [0, 1] in units of 1/256, rounded to nearest, ties up: rnd(256 f). */
DRR_HD int drr_fixed8(drr_real f)
{
    return (int)floor(f * (drr_real)256.0 + (drr_real)0.5);
}

/* The texture unit's trilinear filter, emulated: the value at fractions (fx, fy, fz)
 * of the cell whose low corner is voxel (i, j, k).  The unit's eight corner weights,
 * in units of 1/256, as read off an H200 (benchmarks/texture_probe.py: all 3.67 M
 * weights of its table follow this; tests/test_kernel_host.py checks 4,000 of them
 * and its 1-D sweeps): each axis's fraction is rounded, X1 = rnd(256 fx), Y1, Z1
 * alike (X0 = 256 - X1, ...); in each z layer c (Zc = Z0 or
 * Z1) the x weights are U1 = rnd(X1 Zc / 256), U0 = Zc - U1, split across y as
 * W(1,1,c) = rnd(U1 Y1 / 256), W(1,0,c) = U1 - W(1,1,c), W(0,0,c) = rnd(U0 Y0 / 256),
 * W(0,1,c) = U0 - W(0,0,c), with rnd(v) = floor(v + 1/2).  They sum to exactly 256;
 * the result is sum(W T) / 256, summed here in DRR_REAL (the card's own summation
 * order and precision are not known). */
DRR_HD drr_real drr_texture_unit_trilinear(const drr_sampler* s, int i, int j, int k,
                                           drr_real fx, drr_real fy, drr_real fz)
{
    int x1 = drr_fixed8(fx), y1 = drr_fixed8(fy), z1 = drr_fixed8(fz), y0 = 256 - y1, c;
    drr_real acc = (drr_real)0.0;
    for (c = 0; c < 2; ++c) {
        int zc = c ? z1 : 256 - z1;
        int u1 = (x1 * zc + 128) >> 8, u0 = zc - u1;
        int w11 = (u1 * y1 + 128) >> 8, w10 = u1 - w11;
        int w00 = (u0 * y0 + 128) >> 8, w01 = u0 - w00;
        acc += (drr_real)w00 * drr_texel(s, i, j, k + c) + (drr_real)w10 * drr_texel(s, i + 1, j, k + c)
             + (drr_real)w01 * drr_texel(s, i, j + 1, k + c) + (drr_real)w11 * drr_texel(s, i + 1, j + 1, k + c);
    }
    return acc * (drr_real)(1.0 / 256.0);
}

/* The field at grid point (gx, gy, gz) by software filtering, with exact weights or
 * the texture unit's (texture_weights).  cpu_trilinear.py: trilinear */
DRR_HD drr_real drr_soft_trilinear(const drr_sampler* s, drr_real gx, drr_real gy, drr_real gz)
{
    drr_real x = gx - (drr_real)0.5, y = gy - (drr_real)0.5, z = gz - (drr_real)0.5;
    drr_real fx = (drr_real)floor(x), fy = (drr_real)floor(y), fz = (drr_real)floor(z);
    int i = (int)fx, j = (int)fy, k = (int)fz;
    drr_real wx = x - fx, wy = y - fy, wz = z - fz;
    drr_real c00, c10, c01, c11;
    if (s->texture_weights)
        return drr_texture_unit_trilinear(s, i, j, k, wx, wy, wz);
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
