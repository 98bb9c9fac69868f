/* ray_common.h — what every per-ray kernel header shares: the host/device
 * qualifiers, the working precision, voxel and pose-table loads, Kahan
 * summation, and the ray of one detector pixel.  Included by siddon_ray.h
 * (exact Siddon) and trilinear_ray.h (interpolating renderer); compiled by
 * NVRTC / nvcc for the GPU and by the host C compiler for the tests
 * (host_api.c, with host_shim.h standing in for CUDA's built-ins).
 *
 * Precision: DRR_REAL is the type of each ray's march (float on the GPU;
 * define it as double before including for a float64 build that the tests
 * compare with the Numba backend).  Pose tables and the per-ray set-up are
 * always float64.
 */
#ifndef DRR_RAY_COMMON_H
#define DRR_RAY_COMMON_H

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#  define DRR_HD static __host__ __device__ __forceinline__
#else
#  define DRR_HD static inline
#endif

#if !defined(__CUDA_ARCH__)
#  include "host_shim.h"
#endif

#ifndef DRR_REAL
#  define DRR_REAL float
#endif
typedef DRR_REAL drr_real;

/* A pose is 8 rows of 3 float64 (drr.backends.poses.POSE_ROWS):
 * src_g, pix00_g, col_g, row_g, src_w, pix00_w, col_w, row_w. */
#define DRR_POSE_STRIDE 24

/* ------------------------------------------------------------------ loads */

/* Voxel idx of a C-ordered (nk, nj, ni) volume: float32, or IEEE binary16 bits
 * (half != 0), widened exactly to float. */
DRR_HD float drr_load_voxel(const void* vol, long long idx, int half)
{
#ifdef __CUDA_ARCH__
    if (half) {
        unsigned short h = __ldg((const unsigned short*)vol + idx);
        float f;
        asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
        return f;
    }
    return __ldg((const float*)vol + idx);
#else
    if (half)
        return drr_shim_half_to_float(drr_shim_ldg((const unsigned short*)vol + idx));
    return drr_shim_ldg((const float*)vol + idx);
#endif
}

DRR_HD double drr_load_f64(const double* p)
{
#ifdef __CUDA_ARCH__
    return __ldg(p);
#else
    return drr_shim_ldg(p);
#endif
}

/* ------------------------------------------------------------ arithmetic */

/* Kahan-compensated acc += v. */
DRR_HD void drr_kahan_add(drr_real* acc, drr_real* comp, drr_real v)
{
    drr_real y = v - *comp;
    drr_real s = *acc + y;
    *comp = (s - *acc) - y;
    *acc = s;
}

/* ------------------------------------------------------------- pixel ray */

/* The ray of pixel (r, c) of one pose (`pose`: its 24 float64, DRR_POSE_STRIDE):
 * a = source and b = pixel centre in grid coordinates, and the ray's length in
 * mm.  cpu.py: pixel_ray (same operations, same order). */
DRR_HD void drr_pose_ray(const double* pose, int r, int c, double a[3], double b[3], double* length)
{
    double dc = (double)c, dr = (double)r, w[3];
    int e;
    for (e = 0; e < 3; ++e) {
        a[e] = drr_load_f64(pose + e);
        b[e] = drr_load_f64(pose + 3 + e) + dc * drr_load_f64(pose + 6 + e)
               + dr * drr_load_f64(pose + 9 + e);
        w[e] = drr_load_f64(pose + 15 + e) + dc * drr_load_f64(pose + 18 + e)
               + dr * drr_load_f64(pose + 21 + e) - drr_load_f64(pose + 12 + e);
    }
    *length = sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]);
}

#endif /* DRR_RAY_COMMON_H */
