// The few places where xsimd 8.1 (Debian 12) differs from later xsimd releases, hidden behind
// one spelling. Everything else in mpq/kernel uses the plain xsimd API.
#pragma once

#include <mpq/detail/force_inline.hpp>
// xsimd includes the intrinsic headers itself: mpq's wrapper reads them first (see there).
#include <mpq/detail/x86_intrinsics.hpp>

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace mpq::kernel::compat {

/// The architecture every other one derives from (`xsimd::common` in later releases).
using generic_arch = xsimd::generic;

/// Lanes of a float / int32 batch of architecture A.
template <class A>
inline constexpr std::size_t lanes = xsimd::batch<float, A>::size;

/// True when the build has at least one SIMD architecture xsimd can use (otherwise mpq falls
/// back to the scalar reference).
inline constexpr bool has_simd = !std::is_same_v<xsimd::default_arch, xsimd::unavailable>;

/// Sum of the lanes (`xsimd::hadd` here, `xsimd::reduce_add` later).
template <class T, class A>
T reduce_add(const xsimd::batch<T, A>& x) {
    return xsimd::hadd(x);
}

/// xsimd::select on int32 lanes. xsimd 8.1's AVX-512BW select picks the blend by lane size in
/// a plain `switch`, so it also compiles the 8- and 16-bit blends for int32 batches; GCC rejects
/// those without optimisation (-O0 builds, where it defines the blend intrinsics as macros
/// that cast their operands). On AVX-512 the 32-bit blend is called directly.
template <class A>
MPQ_FORCE_INLINE xsimd::batch<std::int32_t, A> select(const xsimd::batch_bool<std::int32_t, A>& cond,
                                                       const xsimd::batch<std::int32_t, A>& if_true,
                                                       const xsimd::batch<std::int32_t, A>& if_false) {
#if XSIMD_WITH_AVX512F
    if constexpr (std::is_base_of_v<xsimd::avx512f, A>) {
        return _mm512_mask_blend_epi32(cond, if_false, if_true);
    } else
#endif
    {
        return xsimd::select(cond, if_true, if_false);
    }
}

/// Largest lane (no reduce_max in 8.1): halves the batch with max until one lane is left.
template <class T, class A>
MPQ_FORCE_INLINE T reduce_max(const xsimd::batch<T, A>& x) {
    constexpr std::size_t n = xsimd::batch<T, A>::size;
    alignas(64) std::array<T, n> v{};
    x.store_aligned(v.data());
    for (std::size_t half = n / 2; half >= 1; half /= 2)
        for (std::size_t j = 0; j < half; ++j) v[j] = std::max(v[j], v[j + half]);
    return v[0];
}
#if XSIMD_WITH_AVX512F
template <>
MPQ_FORCE_INLINE std::int32_t reduce_max(const xsimd::batch<std::int32_t, xsimd::avx512bw>& x) {
    return _mm512_reduce_max_epi32(x);
}
#endif
#if XSIMD_WITH_AVX2
template <>
MPQ_FORCE_INLINE std::int32_t reduce_max(const xsimd::batch<std::int32_t, xsimd::fma3<xsimd::avx2>>& x) {
    __m128i m = _mm_max_epi32(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
    m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0x4E));
    m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0xB1));
    return _mm_cvtsi128_si32(m);
}
#endif

/// The instruction sets the running CPU offers that mpq's dispatch can use. xsimd 8.1 returns
/// a struct of bit fields; later releases return an object with member functions.
struct cpu_features {
    bool sse4_2 = false;
    bool avx2 = false;     ///< AVX2 with FMA3 (xsimd's fma3<avx2>)
    bool avx512bw = false; ///< AVX-512 F, CD, DQ and BW
};

inline cpu_features detect_cpu() {
    const auto a = xsimd::available_architectures();
    cpu_features f;
    f.sse4_2 = a.sse4_2 != 0U;
    f.avx2 = a.avx2 != 0U && a.fma3_avx2 != 0U;
    f.avx512bw = a.avx512f != 0U && a.avx512cd != 0U && a.avx512dq != 0U && a.avx512bw != 0U;
    return f;
}

} // namespace mpq::kernel::compat
