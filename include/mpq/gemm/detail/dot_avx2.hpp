// AVX2 + FMA (+ F16C) dot-product kernels of the small-M path: one weight row against MR
// activation rows, a 32-element unit at a time. Codes are decoded in registers; nothing is
// written back. Float path: w (the integer or element value of each code) times a,
// accumulated per unit, then times the unit's scale into the running sum. Integer path (W
// integer-coded and A in MXINT8/MXINT4): exact int32 sums per 4 elements (maddubs/madd), one
// multiply by the product of the two scales, one fused add per unit.
#pragma once

#include <mpq/detail/force_inline.hpp>
#include <mpq/detail/x86_intrinsics.hpp>
#include <mpq/gemm/detail/scales.hpp>

#include <array>
#include <cstdint>

namespace mpq::detail::avx2 {

/// N float vectors (std::array drops the vector type's alignment attribute).
template <int N>
struct vectors {
    __m256 v[N];
    MPQ_FORCE_INLINE __m256& operator[](std::size_t i) { return v[i]; }
    MPQ_FORCE_INLINE const __m256& operator[](std::size_t i) const { return v[i]; }
};

/// Bytes ahead of the current weight unit to prefetch: weights are read once, in address
/// order, and the hardware prefetcher alone leaves a single-row stream latency-bound.
inline constexpr std::size_t prefetch_distance = 4096;

/// 16-entry byte table mapping a 4-bit code to its integer value (replicated in both lanes).
template <weight_format F>
MPQ_FORCE_INLINE __m256i nibble_table() {
    if constexpr (F == weight_format::mxint4 || F == weight_format::int4_vector) {
        return _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1, //
                                0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1);
    } else { // E2M1 as 2v: 0 0.5 1 1.5 2 3 4 6 -> 0 1 2 3 4 6 8 12
        return _mm256_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12, //
                                0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
    }
}

/// The 32 codes of a unit of an integer-coded format as int8, in element order.
template <weight_format F>
MPQ_FORCE_INLINE __m256i unit_int8(const std::uint8_t* codes) {
    if constexpr (info(F).code_bits == 4) {
        const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes));
        const __m128i mask = _mm_set1_epi8(0x0F);
        const __m128i lo = _mm_and_si128(raw, mask);
        const __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
        return _mm256_shuffle_epi8(nibble_table<F>(), _mm256_set_m128i(hi, lo));
    } else {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes));
    }
}

MPQ_FORCE_INLINE vectors<4> int8_to_float(__m256i v) {
    const __m128i lo = _mm256_castsi256_si128(v);
    const __m128i hi = _mm256_extracti128_si256(v, 1);
    return {_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)),
            _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))),
            _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)),
            _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)))};
}

/// Eight FP8 codes to float via binary16: E5M2 is the top byte of a binary16; E4M3 shifted
/// into a binary16 reads as its value times 2^-8 (subnormals included), fixed by an exact
/// multiply. (The E4M3 NaN code is never stored: MX blocks with NaN keep zero codes.)
template <weight_format F>
MPQ_FORCE_INLINE __m256 fp8x8_to_float(const std::uint8_t* p) {
    const __m128i x = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    if constexpr (F == weight_format::mxfp8_e5m2) {
        return _mm256_cvtph_ps(_mm_slli_epi16(x, 8));
    } else {
        const __m128i sign = _mm_slli_epi16(_mm_and_si128(x, _mm_set1_epi16(0x80)), 8);
        const __m128i magnitude = _mm_slli_epi16(_mm_and_si128(x, _mm_set1_epi16(0x7F)), 7);
        return _mm256_mul_ps(_mm256_cvtph_ps(_mm_or_si128(sign, magnitude)), _mm256_set1_ps(256.0f));
    }
}

/// The 32 pre-scale values of a unit (see kernel_code_value) as four vectors of 8.
template <weight_format F>
MPQ_FORCE_INLINE vectors<4> unit_values(const std::uint8_t* codes) {
    constexpr weight_format_info i = info(F);
    if constexpr (i.integer_codes) {
        return int8_to_float(unit_int8<F>(codes));
    } else if constexpr (i.code_bits == 8) {
        return {fp8x8_to_float<F>(codes), fp8x8_to_float<F>(codes + 8), fp8x8_to_float<F>(codes + 16),
                fp8x8_to_float<F>(codes + 24)};
    } else if constexpr (F == weight_format::bf16) {
        vectors<4> w;
        for (int j = 0; j < 4; ++j) {
            const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + 16 * j));
            w[j] = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
        }
        return w;
    } else if constexpr (F == weight_format::fp16) {
        vectors<4> w;
        for (int j = 0; j < 4; ++j)
            w[j] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + 16 * j)));
        return w;
    } else {
        const auto* f = reinterpret_cast<const float*>(codes);
        return {_mm256_loadu_ps(f), _mm256_loadu_ps(f + 8), _mm256_loadu_ps(f + 16), _mm256_loadu_ps(f + 24)};
    }
}

MPQ_FORCE_INLINE float hsum(__m256 v) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

/// Runs step(u, acc) over the units; for one or two activation rows, even and odd units go
/// to separate accumulators so consecutive units do not wait on each other's FMA latency.
template <int MR, class Step>
MPQ_FORCE_INLINE void over_units(std::size_t units, vectors<MR>& acc_out, Step&& step) {
    // Fresh accumulators, added to acc_out at the end: the running sum of a row crosses a
    // segment boundary through memory, and this keeps that round trip off the FMA chain.
    vectors<MR> acc;
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m) acc[m] = _mm256_setzero_ps();
    if constexpr (MR <= 2) {
        vectors<MR> odd;
#pragma GCC unroll 16
        for (int m = 0; m < MR; ++m) odd[m] = _mm256_setzero_ps();
        std::size_t u = 0;
        for (; u + 1 < units; u += 2) {
            step(u, acc);
            step(u + 1, odd);
        }
        if (u < units) step(u, acc);
#pragma GCC unroll 16
        for (int m = 0; m < MR; ++m) acc[m] = _mm256_add_ps(acc[m], odd[m]);
    } else {
        for (std::size_t u = 0; u < units; ++u) step(u, acc);
    }
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m) acc_out[m] = _mm256_add_ps(acc_out[m], acc[m]);
}

/// acc[m] += W segment . A[m] over the segment's units (float path). a[m] points at the
/// segment's first column of activation row m.
template <weight_format F, int MR>
MPQ_FORCE_INLINE void segment_float(const weight_segment& s, const decode_context& ctx,
                                   const std::array<const float*, MR>& a, vectors<MR>& acc_out) {
    constexpr std::size_t unit_bytes = gemm_unit * info(F).code_bits / 8;
    const std::size_t units = (s.length + gemm_unit - 1) / gemm_unit;
    over_units<MR>(units, acc_out, [&](std::size_t u, vectors<MR>& acc) MPQ_FORCE_INLINE_LAMBDA {
        const vectors<4> w = unit_values<F>(s.codes + u * unit_bytes);
        _mm_prefetch(reinterpret_cast<const char*>(s.codes + u * unit_bytes + prefetch_distance), _MM_HINT_T0);
        float lo, hi;
        unit_scales<F>(s, u, ctx, lo, hi);
        const std::size_t k = u * gemm_unit;
        if constexpr (info(F).group == 16) {
            const __m256 slo = _mm256_set1_ps(lo), shi = _mm256_set1_ps(hi);
#pragma GCC unroll 8
            for (int m = 0; m < MR; ++m) {
                const __m256 tlo = _mm256_fmadd_ps(w[1], _mm256_loadu_ps(a[m] + k + 8),
                                                   _mm256_mul_ps(w[0], _mm256_loadu_ps(a[m] + k)));
                const __m256 thi = _mm256_fmadd_ps(w[3], _mm256_loadu_ps(a[m] + k + 24),
                                                   _mm256_mul_ps(w[2], _mm256_loadu_ps(a[m] + k + 16)));
                acc[m] = _mm256_fmadd_ps(thi, shi, _mm256_fmadd_ps(tlo, slo, acc[m]));
            }
        } else {
            const __m256 scale = _mm256_set1_ps(lo);
#pragma GCC unroll 8
            for (int m = 0; m < MR; ++m) {
                __m256 t = _mm256_mul_ps(w[0], _mm256_loadu_ps(a[m] + k));
                t = _mm256_fmadd_ps(w[1], _mm256_loadu_ps(a[m] + k + 8), t);
                t = _mm256_fmadd_ps(w[2], _mm256_loadu_ps(a[m] + k + 16), t);
                t = _mm256_fmadd_ps(w[3], _mm256_loadu_ps(a[m] + k + 24), t);
                acc[m] = _mm256_fmadd_ps(t, scale, acc[m]);
            }
        }
    });
}

/// acc[m] += W segment . A[m] (integer path). q[m] / sa[m] point at the segment's first
/// int8 code / first unit scale of activation row m.
template <weight_format F, int MR>
MPQ_FORCE_INLINE void segment_int(const weight_segment& s, const decode_context& ctx,
                                 const std::array<const std::int8_t*, MR>& q,
                                 const std::array<const float*, MR>& sa, vectors<MR>& acc_out) {
    constexpr std::size_t unit_bytes = gemm_unit * info(F).code_bits / 8;
    const std::size_t units = (s.length + gemm_unit - 1) / gemm_unit;
    const __m256i ones = _mm256_set1_epi16(1);
    over_units<MR>(units, acc_out, [&](std::size_t u, vectors<MR>& acc) MPQ_FORCE_INLINE_LAMBDA {
        const __m256i w = unit_int8<F>(s.codes + u * unit_bytes);
        const __m256i wabs = _mm256_sign_epi8(w, w);
        float lo, hi;
        unit_scales<F>(s, u, ctx, lo, hi);
        // int32 lane j holds elements 4j..4j+3: lanes 0-3 are elements 0..15, 4-7 are 16..31.
        const __m256 sw = _mm256_set_m128(_mm_set1_ps(hi), _mm_set1_ps(lo));
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) {
            const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q[m] + u * gemm_unit));
            const __m256i dot16 = _mm256_maddubs_epi16(wabs, _mm256_sign_epi8(a, w));
            const __m256 dot = _mm256_cvtepi32_ps(_mm256_madd_epi16(dot16, ones));
            acc[m] = _mm256_fmadd_ps(dot, _mm256_mul_ps(sw, _mm256_broadcast_ss(sa[m] + u)), acc[m]);
        }
    });
}

/// Integer path for 4-bit weights, two units per step: one 32-byte load holds units u and
/// u + 1; its low nibbles are [u: 0..15 | u+1: 0..15] and its high nibbles [u: 16..31 |
/// u+1: 16..31], matched by the pair-ordered activation codes, so no lane shuffle is needed.
/// int32 lanes 0-3 belong to unit u and 4-7 to unit u + 1, hence 8-lane scale vectors.
/// `first_unit` is the segment's first unit counted over the whole row (pairs start at even
/// units; an odd first or a last single unit takes segment_int's one-unit step).
template <weight_format F, int MR>
MPQ_FORCE_INLINE void segment_int_pairs(const weight_segment& s, const decode_context& ctx, std::size_t first_unit,
                                       const std::array<const std::int8_t*, MR>& q,
                                       const std::array<const float*, MR>& sa,
                                       const std::array<const std::int8_t*, MR>& qp,
                                       const std::array<const float*, MR>& sp, vectors<MR>& acc_out) {
    // qp[m]: pair-ordered codes of row m from the segment's first column; sp[m]: the row's
    // pair scale vectors from column 0.
    static_assert(info(F).code_bits == 4);
    const std::size_t units = (s.length + gemm_unit - 1) / gemm_unit;
    std::size_t u = 0;
    auto single = [&](std::size_t unit) MPQ_FORCE_INLINE_LAMBDA {
        weight_segment one = s;
        one.codes = s.codes + unit * 16;
        one.scales = s.scales == nullptr ? nullptr : s.scales + unit * (info(F).group == 16 ? 2 : 1) * scale_bytes(F);
        one.length = gemm_unit;
        std::array<const std::int8_t*, MR> q1;
        std::array<const float*, MR> s1;
#pragma GCC unroll 16
        for (int m = 0; m < MR; ++m) {
            q1[m] = q[m] + unit * gemm_unit;
            s1[m] = sa[m] + unit;
        }
        segment_int<F, MR>(one, ctx, q1, s1, acc_out);
    };
    if (first_unit % 2 == 1 && units > 0) single(u++);
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i mask = _mm256_set1_epi8(0x0F);
    const __m256i table = nibble_table<F>();
    vectors<MR> acc;
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m) acc[m] = _mm256_setzero_ps();
    for (; u + 1 < units; u += 2) {
        const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.codes + u * 16));
        _mm_prefetch(reinterpret_cast<const char*>(s.codes + u * 16 + prefetch_distance), _MM_HINT_T0);
        const __m256i wlo = _mm256_shuffle_epi8(table, _mm256_and_si256(raw, mask));
        const __m256i whi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(raw, 4), mask));
        const __m256i alo_w = _mm256_sign_epi8(wlo, wlo), ahi_w = _mm256_sign_epi8(whi, whi);
        float lo0, hi0, lo1, hi1;
        unit_scales<F>(s, u, ctx, lo0, hi0);
        unit_scales<F>(s, u + 1, ctx, lo1, hi1);
        const __m256 swlo = _mm256_set_m128(_mm_set1_ps(lo1), _mm_set1_ps(lo0));
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) {
            const std::int8_t* a = qp[m] + u * gemm_unit;
            const __m256i a_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
            const __m256i a_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 32));
            const __m256i d_lo = _mm256_maddubs_epi16(alo_w, _mm256_sign_epi8(a_lo, wlo));
            const __m256i d_hi = _mm256_maddubs_epi16(ahi_w, _mm256_sign_epi8(a_hi, whi));
            const __m256 scale_a = _mm256_loadu_ps(sp[m] + (first_unit + u) / 2 * 8);
            if constexpr (info(F).group == 16) { // the two halves of a unit have their own scales
                const __m256 swhi = _mm256_set_m128(_mm_set1_ps(hi1), _mm_set1_ps(hi0));
                acc[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(d_lo, ones)),
                                         _mm256_mul_ps(swlo, scale_a), acc[m]);
                acc[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(d_hi, ones)),
                                         _mm256_mul_ps(swhi, scale_a), acc[m]);
            } else { // |w| <= 12, |a| <= 127: the int16 sums cannot overflow
                const __m256i d = _mm256_add_epi16(d_lo, d_hi);
                acc[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(d, ones)),
                                         _mm256_mul_ps(swlo, scale_a), acc[m]);
            }
        }
    }
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m) acc_out[m] = _mm256_add_ps(acc_out[m], acc[m]);
    if (u < units) single(u);
}

} // namespace mpq::detail::avx2
