/* trilinear.cu — CUDA entry points of the interpolating renderer (method "trilinear").
 *
 * Same launch as siddon.cu: one thread per ray, 16 x 8 tiles of detector
 * pixels, the pose in blockIdx.z; every per-ray step is drr_trilinear_pixel()
 * in trilinear_ray.h, which tests/test_kernel_host.py also builds with the host
 * C compiler and checks against the Numba CPU backend.
 *
 *   drr_trilinear_tex   samples a 3-D texture object with hardware linear
 *                       filtering (the fast path; fractional weights in 1.8
 *                       fixed point, see trilinear_ray.h).  The texture holds
 *                       float32 or float16 texels; tex3D returns float either way.
 *   drr_trilinear_f32   software filtering from the voxel array, exact weights:
 *   drr_trilinear_f16   the CPU backend's arithmetic (float16: binary16 bits).
 *
 * Arguments: volume (texture object or voxel pointer), ni nj nk, poses
 * (n_poses, 8, 3) float64, n_poses, rows, cols, step_mm (longest sample
 * spacing, mm), out (n_poses, rows, cols) float32.  Compile with -fmad=false
 * (the host build's arithmetic).
 */
#include "trilinear_ray.h"

#define DRR_TILE_X 16
#define DRR_TILE_Y 8

static __device__ __forceinline__ void drr_trilinear_tile(const drr_sampler* s, const double* __restrict__ poses,
                                                          int n_poses, int rows, int cols, double step_mm,
                                                          float* __restrict__ out)
{
    int c = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    int r = (int)(blockIdx.y * blockDim.y + threadIdx.y);
    int n = (int)blockIdx.z;
    if (c >= cols || r >= rows || n >= n_poses) return;
    out[((long long)n * rows + r) * cols + c] =
        drr_trilinear_pixel(s, poses + (long long)n * DRR_POSE_STRIDE, r, c, step_mm);
}

extern "C" __global__ void __launch_bounds__(DRR_TILE_X * DRR_TILE_Y)
drr_trilinear_tex(cudaTextureObject_t tex, int ni, int nj, int nk,
                  const double* __restrict__ poses, int n_poses, int rows, int cols, double step_mm,
                  float* __restrict__ out)
{
    drr_sampler s = {1, tex, 0, 0, ni, nj, nk, 1};
    drr_trilinear_tile(&s, poses, n_poses, rows, cols, step_mm, out);
}

extern "C" __global__ void __launch_bounds__(DRR_TILE_X * DRR_TILE_Y)
drr_trilinear_f32(const float* __restrict__ vol, int ni, int nj, int nk,
                  const double* __restrict__ poses, int n_poses, int rows, int cols, double step_mm,
                  float* __restrict__ out)
{
    drr_sampler s = {0, 0, vol, 0, ni, nj, nk, 0};
    drr_trilinear_tile(&s, poses, n_poses, rows, cols, step_mm, out);
}

extern "C" __global__ void __launch_bounds__(DRR_TILE_X * DRR_TILE_Y)
drr_trilinear_f16(const unsigned short* __restrict__ vol, int ni, int nj, int nk,
                  const double* __restrict__ poses, int n_poses, int rows, int cols, double step_mm,
                  float* __restrict__ out)
{
    drr_sampler s = {0, 0, vol, 1, ni, nj, nk, 0};
    drr_trilinear_tile(&s, poses, n_poses, rows, cols, step_mm, out);
}
