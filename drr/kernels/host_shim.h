/* host_shim.h — the few CUDA built-ins that siddon_ray.h needs, for a plain C
 * (or C++) host compiler.  Included by siddon_ray.h only when neither nvcc nor
 * NVRTC is compiling, so that the per-ray traversal can be built into a shared
 * library and tested on a machine without a GPU (tests/test_kernel_host.py).
 *
 * Nothing here changes the arithmetic: a read-only-cache load (__ldg) is a
 * plain load, and the IEEE binary16 -> binary32 conversion (exact in both
 * directions of representability) is done in software, bit for bit what the
 * GPU's cvt.f32.f16 instruction returns.
 */
#ifndef DRR_HOST_SHIM_H
#define DRR_HOST_SHIM_H

#include <math.h>   /* floor, sqrt, frexp, ldexp, round */
#include <string.h> /* memcpy */

/* __ldg(p): load through the read-only data cache -> a plain load on the host. */
#define drr_shim_ldg(p) (*(p))

/* Exact conversion of IEEE 754 binary16 bits to float (normals, subnormals,
 * zeros, infinities; NaNs stay NaN). */
static inline float drr_shim_half_to_float(unsigned short h)
{
    unsigned int sign = (unsigned int)(h & 0x8000u) << 16;
    unsigned int exp = (h >> 10) & 0x1fu;
    unsigned int man = h & 0x3ffu;
    unsigned int bits;
    float f;
    if (exp == 0x1fu) {                       /* inf / NaN */
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {                    /* normal: rebias 15 -> 127 */
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {                    /* signed zero */
        bits = sign;
    } else {                                  /* subnormal: man * 2^-24, exact in float */
        f = (float)man * 5.9604644775390625e-8f;
        memcpy(&bits, &f, sizeof bits);
        bits |= sign;
    }
    memcpy(&f, &bits, sizeof f);
    return f;
}

#endif /* DRR_HOST_SHIM_H */
