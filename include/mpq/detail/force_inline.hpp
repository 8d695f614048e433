// Forced inlining of the kernels' per-vector helpers, in optimised builds only.
//
// Optimised, the helpers of the quantize and GEMM kernels must melt into their loops: left as
// calls, GCC spills every vector register around them, and its own heuristics do leave some
// out. Unoptimised (-O0: Debug and sanitizer builds), no code is fast anyway, and forcing the
// inlining there only makes GCC build enormous functions: the sanitizer build of
// tests/kernel/mx_kernels.cpp took 151 s with it and 44 s without. GCC defines __OPTIMIZE__
// at -O1 and above, -Os and -Og.
#pragma once

#if defined(__GNUC__) && defined(__OPTIMIZE__)
#define MPQ_FORCE_INLINE inline __attribute__((always_inline))
/// The same for a lambda, written after its parameter list.
#define MPQ_FORCE_INLINE_LAMBDA __attribute__((always_inline))
#else
#define MPQ_FORCE_INLINE inline
#define MPQ_FORCE_INLINE_LAMBDA
#endif
