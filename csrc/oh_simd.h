/* Per-function SIMD dispatch for the core's hot loops.
 *
 * The library is built for the baseline of its target (SSE2 on x86-64) so
 * that it runs everywhere. Two tools, for two situations:
 *
 * OH_SIMD_CLONES — the same loop, just wider. The compiler builds the
 * function twice, for the baseline and for AVX2, and the dynamic loader
 * picks one (GNU ifunc): twice the vector width for loops written to
 * vectorise, with no run-time test and no intrinsics.
 *
 * OH_TARGET_AVX2 + OH_CPU_HAS_AVX2() — when the best AVX2 algorithm is a
 * different one (e.g. byte-shuffle table lookups, which SSE2 can only
 * emulate slowly): write the AVX2 kernel as its own function marked
 * OH_TARGET_AVX2, and choose between it and the baseline kernel with
 * OH_CPU_HAS_AVX2(), a load and a bit test. OH_HAVE_AVX2_KERNELS says whether
 * this compiler can build such kernels at all.
 *
 * Elsewhere (other compilers or architectures) the macros fall back to the
 * baseline code. */
#ifndef OFFHOOK_OH_SIMD_H
#define OFFHOOK_OH_SIMD_H

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define OH_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif

#ifndef OH_SIMD_CLONES
#define OH_SIMD_CLONES
#endif

/* GCC's vector extensions with __builtin_shuffle (variable byte shuffles). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 9
#define OH_HAVE_AVX2_KERNELS 1
#define OH_TARGET_AVX2 __attribute__((target("avx2")))
#define OH_CPU_HAS_AVX2() __builtin_cpu_supports("avx2")
#else
#define OH_HAVE_AVX2_KERNELS 0
#endif

#endif
