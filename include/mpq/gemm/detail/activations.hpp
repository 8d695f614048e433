// Activation side of the GEMM: A copied into a zero-padded row-major buffer (rows padded to a
// multiple of 32, so kernels read whole units), optionally fake-quantized per row along K,
// and for the integer-dot path also kept as int8 codes with one float scale per 32.
#pragma once

#include <mpq/detail/x86_intrinsics.hpp>
#include <mpq/format/mx.hpp>
#include <mpq/gemm/weight_format.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <vector>

namespace mpq {

/// How the GEMM treats the activations A.
enum class activation_format : std::uint8_t {
    f32,        ///< used as given (float32)
    mxint8,     ///< quantized per row to MXINT8 (blocks of 32 along K), integer dot where W is integer
    mxint4,     ///< quantized per row to MXINT4 (blocks of 32), integer dot where W is integer
    mxfp8_e4m3, ///< quantized per row to MXFP8 E4M3 (blocks of 32), float path
};

constexpr std::string_view to_string(activation_format a) {
    switch (a) {
    case activation_format::f32: return "f32";
    case activation_format::mxint8: return "mxint8";
    case activation_format::mxint4: return "mxint4";
    case activation_format::mxfp8_e4m3: return "mxfp8_e4m3";
    }
    return "?";
}

namespace detail {

/// std::allocator on 64-byte boundaries: the kernels read activations 64 bytes at a time, and
/// malloc's 16-byte alignment made every such load straddle two cache lines in some runs and
/// not in others (a 1.6x swing of the small-M float path with the same code).
template <class T>
struct cache_line_allocator {
    using value_type = T;
    static constexpr std::align_val_t alignment{64};
    cache_line_allocator() = default;
    template <class U>
    cache_line_allocator(const cache_line_allocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), alignment)); }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, alignment); }
    template <class U>
    bool operator==(const cache_line_allocator<U>&) const noexcept { return true; }
};

template <class T>
using cache_line_vector = std::vector<T, cache_line_allocator<T>>;

/// Padded activations: `values` M x ld floats; for integer formats also `codes` (M x ld int8)
/// and `scales` (M x ld/32 floats: 2^E times the code multiplier, 1/64 or 1/4).
struct packed_activations {
    std::size_t rows = 0;
    std::size_t ld = 0; ///< padded row length (multiple of 32)
    bool integer = false;
    cache_line_vector<float> values; ///< rows start on 64-byte boundaries (ld is a multiple of 32)
    cache_line_vector<std::int8_t> codes;
    cache_line_vector<float> scales;
    /// The codes again, each pair of units (2p, 2p + 1) reordered as [2p: 0..15, 2p+1: 0..15,
    /// 2p: 16..31, 2p+1: 16..31] to match one 32-byte load of two 4-bit weight units split
    /// into low and high nibbles; and per pair the 8-lane scale vector [s_2p x4, s_2p+1 x4].
    cache_line_vector<std::int8_t> pair_codes;
    cache_line_vector<float> pair_scales;
    /// The codes once more, each quad of units 4q..4q+3 reordered as [4q: 0..15, 4q+1: 0..15,
    /// 4q+2: 0..15, 4q+3: 0..15, then the same units' 16..31]: one 64-byte load of four 4-bit
    /// MX weight units splits into the low nibbles (elements 0..15 of each unit) and the high
    /// nibbles (16..31), and these two halves meet them byte for byte.
    cache_line_vector<std::int8_t> quad_codes;
    /// Float activations (integer: none) once more in the order of a 64-byte load of four
    /// 4-bit MX weight units read as 16 int32 lanes: lane i of the load holds bytes 4i..4i+3,
    /// of unit i / 4, so shifting it right by 4v leaves in its low bits the code of element
    /// 4 (i % 4) + v / 2 + 16 (v % 2) of that unit. Each quad of units 4q..4q+3 is stored as
    /// those 8 vectors of 16 floats (v = 0..7), so vpermps on each shift meets them lane for lane.
    cache_line_vector<float> quad_values;
    /// The codes in element order as BF16 bit patterns (exact: |code| <= 127), for the pair
    /// dot product of BF16 weight runs (see mixed_matrix::bf16_pair_exponent_limit); filled
    /// only when pack_activations is asked to.
    bool has_bf16_codes = false;
    cache_line_vector<std::uint16_t> bf16_codes;

    const float* row(std::size_t m) const { return values.data() + m * ld; }
    const std::int8_t* pair_code_row(std::size_t m) const { return pair_codes.data() + m * ld; }
    const float* pair_scale_row(std::size_t m) const { return pair_scales.data() + m * (ld / 64) * 8; }
    const std::int8_t* quad_code_row(std::size_t m) const { return quad_codes.data() + m * ld; }
    const float* quad_value_row(std::size_t m) const { return quad_values.data() + m * ld; }
    const std::int8_t* code_row(std::size_t m) const { return codes.data() + m * ld; }
    const float* scale_row(std::size_t m) const { return scales.data() + m * (ld / gemm_unit); }
    const std::uint16_t* bf16_code_row(std::size_t m) const { return bf16_codes.data() + m * ld; }
};

/// Empties a per-thread activation buffer at scope exit if a call grew it past 64 MiB of
/// float values, so one large product does not pin its memory for the thread's lifetime.
struct trim_after_call {
    packed_activations& buffer;
    explicit trim_after_call(packed_activations& b) : buffer(b) {}
    trim_after_call(const trim_after_call&) = delete;
    trim_after_call& operator=(const trim_after_call&) = delete;
    ~trim_after_call() {
        if (buffer.values.capacity() * sizeof(float) > (std::size_t{64} << 20)) buffer = packed_activations{};
    }
};

/// MXINT8 / MXINT4 quantization of one block of n <= 32 values, the same codes as
/// mx_quantize_block_ref with scale_mode::floor and nearest-even: the division by 2^E is a
/// multiplication by a power of two (exact), and nearbyint rounds to nearest-even.
template <class Element>
inline void quantize_int_block(const float* x, std::size_t n, std::int8_t* codes, float& scale,
                               float* values) {
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
    // Two masked 16-lane halves: the same operations as the scalar loop below (a decode step
    // quantizes every layer input, so this runs dozens of times per token).
    const __mmask16 mask_lo = n >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1U << n) - 1U);
    const __mmask16 mask_hi = n <= 16 ? __mmask16(0) : n >= 32 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1U << (n - 16)) - 1U);
    const __m512 x_lo = _mm512_maskz_loadu_ps(mask_lo, x), x_hi = _mm512_maskz_loadu_ps(mask_hi, x + 16);
    const __m512i abs_mask = _mm512_set1_epi32(static_cast<int>(f32_abs_mask));
    const std::uint32_t amax_bits = _mm512_reduce_max_epu32(
        _mm512_max_epu32(_mm512_and_si512(_mm512_castps_si512(x_lo), abs_mask),
                         _mm512_and_si512(_mm512_castps_si512(x_hi), abs_mask)));
#else
    std::uint32_t amax_bits = 0;
    for (std::size_t i = 0; i < n; ++i) amax_bits = std::max(amax_bits, bits_of(x[i]) & f32_abs_mask);
#endif
    const std::uint8_t e = mx_scale_code<Element>(float_of(amax_bits), scale_mode::floor);
    if (amax_bits >= f32_inf_bits) { // NaN or Inf: the whole block decodes to NaN
        for (std::size_t i = 0; i < n; ++i) codes[i] = 0;
        scale = e8m0::decode(e8m0::nan_code);
        for (std::size_t i = 0; i < n; ++i) values[i] = scale;
        return;
    }
    const int exponent = static_cast<int>(e) - e8m0::bias;
    // value = q / 2^F * 2^E, so q = x * 2^(F - E); computed as two exact power-of-two steps
    // since 2^(F - E) alone may not be representable.
    const float up = static_cast<float>(1U << Element::fraction_bits);
    // 2^-exponent, built from its bits in the normal range (ldexp is a library call).
    const float down = -exponent >= -126 ? float_of(static_cast<std::uint32_t>(127 - exponent) << 23)
                                         : std::ldexp(1.0f, -exponent);
    const float limit = static_cast<float>(Element::max_int);
    const float code_scale = e8m0::decode(e) / up;
    scale = code_scale;
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
    auto half = [&](__m512 v, __mmask16 mask, std::size_t offset) {
        __m512 q = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_mul_ps(v, _mm512_set1_ps(down)), _mm512_set1_ps(up)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        q = _mm512_min_ps(_mm512_max_ps(q, _mm512_set1_ps(-limit)), _mm512_set1_ps(limit));
        const __m512i qi = _mm512_cvtps_epi32(q);
        _mm512_mask_cvtepi32_storeu_epi8(codes + offset, mask, qi);
        _mm512_mask_storeu_ps(values + offset, mask, _mm512_mul_ps(_mm512_cvtepi32_ps(qi), _mm512_set1_ps(code_scale)));
    };
    half(x_lo, mask_lo, 0);
    if (mask_hi != 0) half(x_hi, mask_hi, 16);
    return;
#endif
    for (std::size_t i = 0; i < n; ++i) {
        const float q = std::clamp(std::nearbyint((x[i] * down) * up), -limit, limit);
        codes[i] = static_cast<std::int8_t>(q);
        values[i] = static_cast<float>(codes[i]) * code_scale; // exact: |q| < 2^7
    }
}

/// Packs (and quantizes) the M x K activations with leading dimension lda.
/// `pairs`: also build pair_codes / pair_scales and quad_codes (the SIMD kernels of 4-bit
/// weights read them; integer formats only); `bf16`: also bf16_codes (integer formats only);
/// `float_quads`: also quad_values (float formats only).
inline void pack_activations(std::size_t m_rows, std::size_t k, const float* a, std::size_t lda,
                             activation_format format, packed_activations& out, bool pairs = true,
                             bool bf16 = false, bool float_quads = false) {
    out.rows = m_rows;
    out.ld = std::max<std::size_t>(round_up(k, 2 * gemm_unit), 2 * gemm_unit); // whole unit pairs
    out.integer = format == activation_format::mxint8 || format == activation_format::mxint4;
    out.values.assign(m_rows * out.ld, 0.0f);
    if (out.integer) {
        out.codes.assign(m_rows * out.ld, 0);
        out.scales.assign(m_rows * (out.ld / gemm_unit), 1.0f);
    }
    if (out.integer && pairs) {
        out.pair_codes.assign(m_rows * out.ld, 0);
        out.pair_scales.assign(m_rows * (out.ld / 64) * 8, 1.0f);
        out.quad_codes.assign(m_rows * out.ld, 0);
    }
    const bool quads = !out.integer && float_quads;
    if (quads) out.quad_values.assign(m_rows * out.ld, 0.0f);
    out.has_bf16_codes = out.integer && bf16;
    if (out.has_bf16_codes) out.bf16_codes.assign(m_rows * out.ld, 0);
    for (std::size_t m = 0; m < m_rows; ++m) {
        const float* src = a + m * lda;
        float* dst = out.values.data() + m * out.ld;
        if (format == activation_format::f32) {
            std::copy(src, src + k, dst);
        } else {
            for (std::size_t k0 = 0; k0 < k; k0 += gemm_unit) {
                const std::size_t n = std::min(gemm_unit, k - k0);
                if (format == activation_format::mxfp8_e4m3) {
                    std::array<std::uint32_t, gemm_unit> codes{};
                    const std::uint8_t e = mx_quantize_block_ref<fp8_e4m3>(
                        std::span<const float>(src + k0, n), std::span<std::uint32_t>(codes.data(), n),
                        quantize_options{}, [](std::size_t i) { return i; });
                    for (std::size_t i = 0; i < n; ++i) dst[k0 + i] = mx_decode<fp8_e4m3>(codes[i], e);
                    continue;
                }
                std::int8_t* codes = out.codes.data() + m * out.ld + k0;
                float& scale = out.scales[m * (out.ld / gemm_unit) + k0 / gemm_unit];
                if (format == activation_format::mxint8) quantize_int_block<mx_int8_element>(src + k0, n, codes, scale, dst + k0);
                else quantize_int_block<mx_int4_element>(src + k0, n, codes, scale, dst + k0);
            }
        }
        if (out.has_bf16_codes) {
            const std::int8_t* c = out.codes.data() + m * out.ld;
            std::uint16_t* d = out.bf16_codes.data() + m * out.ld;
            for (std::size_t i = 0; i < k; ++i) d[i] = static_cast<std::uint16_t>(bits_of(static_cast<float>(c[i])) >> 16);
        }
        if (quads) {
            for (std::size_t q = 0; q < out.ld / 128; ++q) { // whole quads only: kernels read no others
                const float* v = dst + 128 * q;
                float* d = out.quad_values.data() + m * out.ld + 128 * q;
                for (std::size_t shift = 0; shift < 8; ++shift)
                    for (std::size_t lane = 0; lane < 16; ++lane)
                        d[16 * shift + lane] = v[32 * (lane / 4) + 4 * (lane % 4) + shift / 2 + 16 * (shift % 2)];
            }
        }
        if (!out.integer || !pairs) continue;
        for (std::size_t p = 0; p < out.ld / 64; ++p) {
            const std::int8_t* c = out.codes.data() + m * out.ld + 64 * p;
            std::int8_t* d = out.pair_codes.data() + m * out.ld + 64 * p;
            std::copy(c, c + 16, d);
            std::copy(c + 32, c + 48, d + 16);
            std::copy(c + 16, c + 32, d + 32);
            std::copy(c + 48, c + 64, d + 48);
            const float* sc = out.scales.data() + m * (out.ld / gemm_unit) + 2 * p;
            float* sv = out.pair_scales.data() + (m * (out.ld / 64) + p) * 8;
            std::fill(sv, sv + 4, sc[0]);
            std::fill(sv + 4, sv + 8, sc[1]);
        }
        for (std::size_t q = 0; q < out.ld / 128; ++q) { // whole quads only: kernels read no others
            const std::int8_t* c = out.codes.data() + m * out.ld + 128 * q;
            std::int8_t* d = out.quad_codes.data() + m * out.ld + 128 * q;
            for (std::size_t u = 0; u < 4; ++u) {
                std::copy(c + 32 * u, c + 32 * u + 16, d + 16 * u);
                std::copy(c + 32 * u + 16, c + 32 * u + 32, d + 64 + 16 * u);
            }
        }
    }
}

} // namespace detail

} // namespace mpq
