/* siddon.cu — CUDA entry points of the exact Siddon DRR renderer.
 *
 * One thread per ray: a block is a 16 x 8 tile of detector pixels (neighbouring
 * rays walk neighbouring voxels, which the caches reward), blockIdx.z is the
 * pose, so one launch renders many poses.  The per-pose constants are the
 * float64 table of drr.backends.poses.pose_table (N x 24 doubles), computed
 * once per pose on the host and read here through the read-only cache; every
 * per-ray step is drr_pixel() in siddon_ray.h, the very code that
 * tests/test_kernel_host.py builds with the host C compiler and checks against
 * the float64 reference and the Numba backend.
 *
 * Launch: block (DRR_TILE_X, DRR_TILE_Y, 1), grid (ceil(cols / DRR_TILE_X),
 * ceil(rows / DRR_TILE_Y), n_poses) with n_poses <= 65535 (drr/backends/cuda.py).
 * Compile with fused multiply-add contraction off (-fmad=false) to get, bit for
 * bit, the arithmetic of the host build.
 *
 * Arguments (all kernels):
 *   vol      voxels, C order (nk, nj, ni): float32, or binary16 bits (_f16)
 *   ni nj nk grid size
 *   poses    (n_poses, 8, 3) float64
 *   rows, cols  detector size
 *   out      (n_poses, rows, cols) float32: line integrals (_f32, _f16) or
 *            the number of voxel segments of each ray (_count, benchmarks)
 */
#include "siddon_ray.h"

#define DRR_TILE_X 16
#define DRR_TILE_Y 8
/* Blocks per SM that ptxas must leave room for: 10 x 128 threads caps the march at
 * 48 registers (it would take 80, 6 blocks; ~150 bytes spill to L1 instead).
 * H200, benchmarks/RESULTS.md "Tuning": 8 blocks (64 registers) were 6-14 % faster
 * than no bound on batched launches, 10 another 2-14 %; 12 and 16 spill more and
 * lose on 512^3 (up to 2x).  The images are bit-identical for any value. */
#define DRR_SIDDON_MIN_BLOCKS 10

static __device__ __forceinline__ void drr_render_tile(const void* vol, int half, int count,
                                                       int ni, int nj, int nk,
                                                       const double* __restrict__ poses, int n_poses,
                                                       int rows, int cols, float* __restrict__ out)
{
    int c = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    int r = (int)(blockIdx.y * blockDim.y + threadIdx.y);
    int n = (int)blockIdx.z;
    if (c >= cols || r >= rows || n >= n_poses) return;
    out[((long long)n * rows + r) * cols + c] =
        drr_pixel(vol, half, count, ni, nj, nk, poses + (long long)n * DRR_POSE_STRIDE, r, c);
}

extern "C" __global__ void __launch_bounds__(DRR_TILE_X * DRR_TILE_Y, DRR_SIDDON_MIN_BLOCKS)
drr_siddon_f32(const float* __restrict__ vol, int ni, int nj, int nk,
               const double* __restrict__ poses, int n_poses, int rows, int cols,
               float* __restrict__ out)
{
    drr_render_tile(vol, 0, 0, ni, nj, nk, poses, n_poses, rows, cols, out);
}

extern "C" __global__ void __launch_bounds__(DRR_TILE_X * DRR_TILE_Y, DRR_SIDDON_MIN_BLOCKS)
drr_siddon_f16(const unsigned short* __restrict__ vol, int ni, int nj, int nk,
               const double* __restrict__ poses, int n_poses, int rows, int cols,
               float* __restrict__ out)
{
    drr_render_tile(vol, 1, 0, ni, nj, nk, poses, n_poses, rows, cols, out);
}

extern "C" __global__ void __launch_bounds__(DRR_TILE_X * DRR_TILE_Y, DRR_SIDDON_MIN_BLOCKS)
drr_siddon_count(const float* __restrict__ vol, int ni, int nj, int nk,
                 const double* __restrict__ poses, int n_poses, int rows, int cols,
                 float* __restrict__ out)
{
    drr_render_tile(vol, 0, 1, ni, nj, nk, poses, n_poses, rows, cols, out);
}
