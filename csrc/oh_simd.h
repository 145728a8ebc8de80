/* Per-function SIMD dispatch for the core's hot loops.
 *
 * The library is built for the baseline of its target (SSE2 on x86-64) so
 * that it runs everywhere. OH_SIMD_CLONES asks the compiler for an extra AVX2
 * build of a function, chosen once by the dynamic loader (GNU ifunc) on
 * machines that have AVX2: twice the vector width for loops written to
 * vectorise, with no run-time test in the loop and no hand-written
 * intrinsics. Elsewhere it expands to nothing. */
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

#endif
