// Portable dot-product kernels (xsimd::generic): the same unit-by-unit structure as the
// AVX2 kernels in plain C++, for machines without AVX2 + FMA + F16C and as a second
// implementation the tests hold to the same error bound.
#pragma once

#include <mpq/gemm/detail/scales.hpp>

#include <array>
#include <cstdint>

namespace mpq::detail::portable {

template <weight_format F, int MR>
inline void segment_float(const weight_segment& s, const decode_context& ctx,
                          const std::array<const float*, MR>& a, std::array<float, MR>& acc) {
    const std::size_t units = (s.length + gemm_unit - 1) / gemm_unit;
    for (std::size_t u = 0; u < units; ++u) {
        std::array<float, gemm_unit> w;
        for (std::size_t i = 0; i < gemm_unit; ++i)
            w[i] = kernel_code_value<F>(segment_code(F, s.codes, u * gemm_unit + i));
        float lo, hi;
        unit_scales<F>(s, u, ctx, lo, hi);
        const std::size_t k = u * gemm_unit;
        for (int m = 0; m < MR; ++m) {
            float tlo = 0.0f, thi = 0.0f;
            for (std::size_t i = 0; i < 16; ++i) tlo += w[i] * a[m][k + i];
            for (std::size_t i = 16; i < 32; ++i) thi += w[i] * a[m][k + i];
            acc[m] += tlo * lo + thi * hi;
        }
    }
}

template <weight_format F, int MR>
inline void segment_int(const weight_segment& s, const decode_context& ctx,
                        const std::array<const std::int8_t*, MR>& q, const std::array<const float*, MR>& sa,
                        std::array<float, MR>& acc) {
    const std::size_t units = (s.length + gemm_unit - 1) / gemm_unit;
    for (std::size_t u = 0; u < units; ++u) {
        std::array<std::int32_t, gemm_unit> w;
        for (std::size_t i = 0; i < gemm_unit; ++i)
            w[i] = static_cast<std::int32_t>(kernel_code_value<F>(segment_code(F, s.codes, u * gemm_unit + i)));
        float lo, hi;
        unit_scales<F>(s, u, ctx, lo, hi);
        for (int m = 0; m < MR; ++m) {
            std::int32_t ilo = 0, ihi = 0; // exact: |sum| <= 32 * 128 * 127
            for (std::size_t i = 0; i < 16; ++i) ilo += w[i] * q[m][u * gemm_unit + i];
            for (std::size_t i = 16; i < 32; ++i) ihi += w[i] * q[m][u * gemm_unit + i];
            acc[m] += static_cast<float>(ilo) * (lo * sa[m][u]) + static_cast<float>(ihi) * (hi * sa[m][u]);
        }
    }
}

} // namespace mpq::detail::portable
