/* host_api.c — a host (CPU) build of the CUDA kernel's per-ray code, for tests.
 *
 * Compiled by tests/test_kernel_host.py with the system C compiler:
 *     cc -O2 -shared -fPIC -ffp-contract=off [-DDRR_REAL=double] host_api.c
 * and called through ctypes.  drr_render_host() is siddon.cu's grid loop
 * written as two C loops: the per-ray work is the same drr_pixel() from
 * siddon_ray.h that every GPU thread runs.
 */
#include "siddon_ray.h"

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
