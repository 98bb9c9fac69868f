/* host_api.c — a host (CPU) build of the CUDA kernels' per-ray code, for tests
 * and benchmarks.
 *
 * Compiled by drr.backends.host_build with the system C compiler:
 *     cc -O2 -shared -fPIC -ffp-contract=off [-DDRR_REAL=double] host_api.c
 * and called through ctypes.  drr_render_host() is siddon.cu's grid loop
 * written as C loops: the per-ray work is the same drr_pixel() from
 * siddon_ray.h that every GPU thread runs; drr_render_trilinear_host() is
 * trilinear.cu's, with drr_trilinear_pixel() from trilinear_ray.h.
 */
#include "siddon_ray.h"
#include "trilinear_ray.h"

#if defined(_WIN32)
#  define DRR_EXPORT __declspec(dllexport)
#else
#  define DRR_EXPORT __attribute__((visibility("default")))
#endif

/* sizeof(drr_real): 4 for the float build (what the GPU runs), 8 for double. */
DRR_EXPORT int drr_real_size(void) { return (int)sizeof(drr_real); }

/* out[n, r, c] for every pose n < n_poses and pixel; see siddon.cu for the arguments.
 * half != 0: vol holds binary16 bits; count != 0: count segments instead. */
DRR_EXPORT void drr_render_host(const void* vol, int half, int count, int ni, int nj, int nk,
                                const double* poses, int n_poses, int rows, int cols, float* out)
{
    int n, r, c;
    for (n = 0; n < n_poses; ++n)
        for (r = 0; r < rows; ++r)
            for (c = 0; c < cols; ++c)
                out[((long long)n * rows + r) * cols + c] =
                    drr_pixel(vol, half, count, ni, nj, nk,
                              poses + (long long)n * DRR_POSE_STRIDE, r, c);
}

/* sum(mu * dt) along the grid-space segment a -> b (cpu.py: ray_integral), as double. */
DRR_EXPORT double drr_ray_integral_host(const void* vol, int half, int ni, int nj, int nk,
                                        double ax, double ay, double az,
                                        double bx, double by, double bz)
{
    return (double)drr_ray_integral(vol, half, 0, ni, nj, nk, ax, ay, az, bx, by, bz);
}

/* A software sampler of the voxels `vol` (texture_weights: see trilinear_ray.h). */
static drr_sampler soft_sampler(const void* vol, int half, int texture_weights, int ni, int nj, int nk)
{
    drr_sampler s;
    s.hardware = 0; s.tex = 0; s.vol = vol; s.half = half;
    s.ni = ni; s.nj = nj; s.nk = nk; s.texture_weights = texture_weights;
    return s;
}

/* Trilinear renderer (trilinear.cu): out[n, r, c] for every pose and pixel.
 * texture_weights = 0: exact weights (drr_trilinear_f32 / _f16, the CPU backend);
 * 1: the texture unit's fixed-point weights (drr_trilinear_tex, emulated). */
DRR_EXPORT void drr_render_trilinear_host(const void* vol, int half, int texture_weights, int ni, int nj, int nk,
                                          const double* poses, int n_poses, int rows, int cols,
                                          double step_mm, float* out)
{
    drr_sampler s = soft_sampler(vol, half, texture_weights, ni, nj, nk);
    int n, r, c;
    for (n = 0; n < n_poses; ++n)
        for (r = 0; r < rows; ++r)
            for (c = 0; c < cols; ++c)
                out[((long long)n * rows + r) * cols + c] =
                    drr_trilinear_pixel(&s, poses + (long long)n * DRR_POSE_STRIDE, r, c, step_mm);
}

/* The trilinear field at grid point (x, y, z) (cpu_trilinear.py: trilinear), as double. */
DRR_EXPORT double drr_trilinear_sample_host(const void* vol, int half, int texture_weights, int ni, int nj, int nk,
                                            double x, double y, double z)
{
    drr_sampler s = soft_sampler(vol, half, texture_weights, ni, nj, nk);
    return (double)drr_soft_trilinear(&s, (drr_real)x, (drr_real)y, (drr_real)z);
}

/* Trapezoid sum(f * dt) along grid segment a -> b (cpu_trilinear.py:
 * ray_integral_trilinear), as double. */
DRR_EXPORT double drr_trilinear_ray_host(const void* vol, int half, int texture_weights, int ni, int nj, int nk,
                                         double ax, double ay, double az, double bx, double by, double bz,
                                         double step_t)
{
    drr_sampler s = soft_sampler(vol, half, texture_weights, ni, nj, nk);
    return (double)drr_trilinear_integral(&s, ax, ay, az, bx, by, bz, step_t);
}
