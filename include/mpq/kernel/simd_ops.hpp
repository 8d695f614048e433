// Small SIMD building blocks of the kernels: amax of a run, byte <-> lane conversions, code
// table look-ups and packed-code staging. Each has a generic version for every xsimd arch and,
// where it matters for speed, an AVX2 overload (chosen by xsimd's arch-tag overloading, so an
// AVX2 body is only instantiated in translation units compiled for AVX2).
#pragma once

#include <mpq/format/packing.hpp>
#include <mpq/kernel/compat.hpp>
#include <mpq/kernel/element_encode.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace mpq::kernel::detail {

using xsimd::kernel::requires_arch;

/// Loads n <= lanes floats (the rest of the batch is 0), from any alignment.
template <class A>
MPQ_FORCE_INLINE float_batch<A> load_partial(const float* p, std::size_t n) {
    alignas(64) std::array<float, compat::lanes<A>> t{};
    std::memcpy(t.data(), p, n * sizeof(float));
    return float_batch<A>::load_aligned(t.data());
}

template <class A>
MPQ_FORCE_INLINE void store_partial(float* p, const float_batch<A>& v, std::size_t n) {
    alignas(64) std::array<float, compat::lanes<A>> t{};
    v.store_aligned(t.data());
    std::memcpy(p, t.data(), n * sizeof(float));
}

/// Largest |x| bit pattern of a run (NaN and Inf patterns compare above every finite one).
template <class A>
MPQ_FORCE_INLINE std::uint32_t amax_bits(const float* p, std::size_t n) {
    constexpr std::size_t N = compat::lanes<A>;
    const int_batch<A> abs_mask(0x7fffffff);
    int_batch<A> m0(0), m1(0);
    std::size_t i = 0;
    for (; i + 2 * N <= n; i += 2 * N) {
        m0 = xsimd::max(m0, xsimd::bitwise_cast<int_batch<A>>(float_batch<A>::load_unaligned(p + i)) & abs_mask);
        m1 = xsimd::max(m1, xsimd::bitwise_cast<int_batch<A>>(float_batch<A>::load_unaligned(p + i + N)) & abs_mask);
    }
    for (; i + N <= n; i += N)
        m0 = xsimd::max(m0, xsimd::bitwise_cast<int_batch<A>>(float_batch<A>::load_unaligned(p + i)) & abs_mask);
    if (i < n) m1 = xsimd::max(m1, xsimd::bitwise_cast<int_batch<A>>(load_partial<A>(p + i, n - i)) & abs_mask);
    return static_cast<std::uint32_t>(compat::reduce_max(xsimd::max(m0, m1)));
}

/// amax_bits of `count` <= lanes consecutive groups of `group` elements starting at p (the
/// last one may end early, at p + length): out[k] for group k. The generic version reduces
/// each group on its own; AVX2 and AVX-512 reduce a full batch of whole-vector groups with
/// one transposing tree (three shuffles and maxima per group instead of a horizontal max).
template <class A>
MPQ_FORCE_INLINE void group_amax_bits(const float* p, std::size_t group, std::size_t count, std::size_t length,
                                       std::int32_t* out, requires_arch<compat::generic_arch>) {
    for (std::size_t k = 0; k < count; ++k)
        out[k] = static_cast<std::int32_t>(amax_bits<A>(p + k * group, std::min(group, length - k * group)));
}

/// Per-lane max of |x| bit patterns over one group of `group` (a multiple of lanes) elements.
template <class A>
MPQ_FORCE_INLINE int_batch<A> lane_amax(const float* p, std::size_t group) {
    constexpr std::size_t N = compat::lanes<A>;
    const int_batch<A> abs_mask(0x7fffffff);
    int_batch<A> m = xsimd::bitwise_cast<int_batch<A>>(float_batch<A>::load_unaligned(p)) & abs_mask;
    for (std::size_t i = N; i < group; i += N)
        m = xsimd::max(m, xsimd::bitwise_cast<int_batch<A>>(float_batch<A>::load_unaligned(p + i)) & abs_mask);
    return m;
}

#if XSIMD_WITH_AVX2
template <class A>
MPQ_FORCE_INLINE void group_amax_bits(const float* p, std::size_t group, std::size_t count, std::size_t length,
                                       std::int32_t* out, requires_arch<xsimd::avx2>) {
    constexpr std::size_t N = 8;
    if (count < 2 || group % N != 0 || length < count * group) {
        group_amax_bits<A>(p, group, count, length, out, compat::generic_arch{});
        return;
    }
    __m256i m[N];
    for (std::size_t k = 0; k < N; ++k) m[k] = k < count ? static_cast<__m256i>(lane_amax<A>(p + k * group, group)) : _mm256_setzero_si256();
    // Pairs of groups, then quadruples, share a register; 128-bit halves are merged last.
    __m256i pair[4];
    for (std::size_t k = 0; k < 4; ++k)
        pair[k] = _mm256_max_epi32(_mm256_unpacklo_epi32(m[2 * k], m[2 * k + 1]), _mm256_unpackhi_epi32(m[2 * k], m[2 * k + 1]));
    __m256i quad[2];
    for (std::size_t k = 0; k < 2; ++k)
        quad[k] = _mm256_max_epi32(_mm256_unpacklo_epi64(pair[2 * k], pair[2 * k + 1]),
                                   _mm256_unpackhi_epi64(pair[2 * k], pair[2 * k + 1]));
    const __m256i all = _mm256_max_epi32(_mm256_permute2x128_si256(quad[0], quad[1], 0x20),
                                         _mm256_permute2x128_si256(quad[0], quad[1], 0x31));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), all);
}
#endif

#if XSIMD_WITH_AVX512F
template <class A>
MPQ_FORCE_INLINE void group_amax_bits(const float* p, std::size_t group, std::size_t count, std::size_t length,
                                       std::int32_t* out, requires_arch<xsimd::avx512f>) {
    constexpr std::size_t N = 16;
    if (count < 2 || group % N != 0 || length < count * group) {
        group_amax_bits<A>(p, group, count, length, out, compat::generic_arch{});
        return;
    }
    __m512i m[N];
    for (std::size_t k = 0; k < N; ++k) m[k] = k < count ? static_cast<__m512i>(lane_amax<A>(p + k * group, group)) : _mm512_setzero_si512();
    // After the two unpack levels, register k holds groups 4k..4k+3 in positions 0..3 of each
    // 128-bit chunk (each chunk the max over its own lanes); the 128-bit shuffles then merge
    // the four chunks so that lane k ends up holding group k.
    __m512i pair[8];
    for (std::size_t k = 0; k < 8; ++k)
        pair[k] = _mm512_max_epi32(_mm512_unpacklo_epi32(m[2 * k], m[2 * k + 1]), _mm512_unpackhi_epi32(m[2 * k], m[2 * k + 1]));
    __m512i quad[4];
    for (std::size_t k = 0; k < 4; ++k)
        quad[k] = _mm512_max_epi32(_mm512_unpacklo_epi64(pair[2 * k], pair[2 * k + 1]),
                                   _mm512_unpackhi_epi64(pair[2 * k], pair[2 * k + 1]));
    constexpr int even_chunks = 0 | (2 << 2) | (0 << 4) | (2 << 6), odd_chunks = 1 | (3 << 2) | (1 << 4) | (3 << 6);
    __m512i half[2];
    for (std::size_t k = 0; k < 2; ++k)
        half[k] = _mm512_max_epi32(_mm512_shuffle_i32x4(quad[2 * k], quad[2 * k + 1], even_chunks),
                                   _mm512_shuffle_i32x4(quad[2 * k], quad[2 * k + 1], odd_chunks));
    const __m512i all = _mm512_max_epi32(_mm512_shuffle_i32x4(half[0], half[1], even_chunks),
                                         _mm512_shuffle_i32x4(half[0], half[1], odd_chunks));
    _mm512_storeu_si512(out, all);
}
#endif

/// Largest finite |x| bit pattern of a run (NaN and Inf ignored).
template <class A>
std::uint32_t finite_amax_bits(const float* p, std::size_t n) {
    constexpr std::size_t N = compat::lanes<A>;
    // |x| bits + 2^23 as signed integers: finite values stay positive while Inf and NaN wrap
    // negative, so a plain signed max skips them without a compare.
    const int_batch<A> abs_mask(0x7fffffff), offset(0x00800000);
    int_batch<A> m0(offset), m1(offset);
    auto lift = [&](const float_batch<A>& v) MPQ_FORCE_INLINE_LAMBDA {
        return (xsimd::bitwise_cast<int_batch<A>>(v) & abs_mask) + offset;
    };
    std::size_t i = 0;
    for (; i + 2 * N <= n; i += 2 * N) {
        m0 = xsimd::max(m0, lift(float_batch<A>::load_unaligned(p + i)));
        m1 = xsimd::max(m1, lift(float_batch<A>::load_unaligned(p + i + N)));
    }
    for (; i + N <= n; i += N) m0 = xsimd::max(m0, lift(float_batch<A>::load_unaligned(p + i)));
    if (i < n) m1 = xsimd::max(m1, lift(load_partial<A>(p + i, n - i)));
    return static_cast<std::uint32_t>(compat::reduce_max(xsimd::max(m0, m1)) - 0x00800000);
}

// ---- lanes of codes <-> bytes ------------------------------------------------------------

/// Stores the low byte of every lane to dst[0 .. lanes).
template <class A>
MPQ_FORCE_INLINE void store_code_bytes(const int_batch<A>& codes, std::uint8_t* dst, requires_arch<compat::generic_arch>) {
    alignas(64) std::array<std::int32_t, compat::lanes<A>> t{};
    codes.store_aligned(t.data());
    for (std::size_t j = 0; j < t.size(); ++j) dst[j] = static_cast<std::uint8_t>(t[j]);
}

/// Zero-extends bytes src[0 .. lanes) into lanes.
template <class A>
MPQ_FORCE_INLINE int_batch<A> load_code_bytes(const std::uint8_t* src, requires_arch<compat::generic_arch>) {
    alignas(64) std::array<std::int32_t, compat::lanes<A>> t{};
    for (std::size_t j = 0; j < t.size(); ++j) t[j] = src[j];
    return int_batch<A>::load_aligned(t.data());
}

/// table[code] for every lane; TableSize is a power of two and codes are below it.
template <std::size_t TableSize, class A>
MPQ_FORCE_INLINE float_batch<A> lookup(const float* table, const int_batch<A>& codes, requires_arch<compat::generic_arch>) {
    alignas(64) std::array<std::int32_t, compat::lanes<A>> c{};
    alignas(64) std::array<float, compat::lanes<A>> v{};
    codes.store_aligned(c.data());
    for (std::size_t j = 0; j < c.size(); ++j) v[j] = table[static_cast<std::size_t>(c[j]) & (TableSize - 1)];
    return float_batch<A>::load_aligned(v.data());
}

#if XSIMD_WITH_AVX2
template <class A>
MPQ_FORCE_INLINE void store_code_bytes(const int_batch<A>& codes, std::uint8_t* dst, requires_arch<xsimd::avx2>) {
    const __m256i words = _mm256_packus_epi32(codes, codes);  // per 128-bit half: c0..c3 c0..c3
    const __m256i bytes = _mm256_packus_epi16(words, words);
    const auto lo = static_cast<std::uint32_t>(_mm_cvtsi128_si32(_mm256_castsi256_si128(bytes)));
    const auto hi = static_cast<std::uint32_t>(_mm_cvtsi128_si32(_mm256_extracti128_si256(bytes, 1)));
    const std::uint64_t both = lo | (std::uint64_t{hi} << 32);
    std::memcpy(dst, &both, sizeof both);
}

template <class A>
MPQ_FORCE_INLINE int_batch<A> load_code_bytes(const std::uint8_t* src, requires_arch<xsimd::avx2>) {
    std::uint64_t eight = 0;
    std::memcpy(&eight, src, sizeof eight);
    return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(eight)));
}

template <std::size_t TableSize, class A>
MPQ_FORCE_INLINE float_batch<A> lookup(const float* table, const int_batch<A>& codes, requires_arch<xsimd::avx2>) {
    if constexpr (TableSize <= 8) {
        return _mm256_permutevar8x32_ps(_mm256_loadu_ps(table), codes);
    } else if constexpr (TableSize == 16) {
        const __m256 low = _mm256_permutevar8x32_ps(_mm256_loadu_ps(table), codes);
        const __m256 high = _mm256_permutevar8x32_ps(_mm256_loadu_ps(table + 8), codes);
        // Bit 3 of the code moved to the sign bit picks the upper half of the table.
        return _mm256_blendv_ps(low, high, _mm256_castsi256_ps(_mm256_slli_epi32(codes, 28)));
    } else {
        return _mm256_i32gather_ps(table, codes, 4);
    }
}
#endif

#if XSIMD_WITH_AVX512F
template <class A>
MPQ_FORCE_INLINE void store_code_bytes(const int_batch<A>& codes, std::uint8_t* dst, requires_arch<xsimd::avx512f>) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm512_cvtepi32_epi8(codes));
}

template <class A>
MPQ_FORCE_INLINE int_batch<A> load_code_bytes(const std::uint8_t* src, requires_arch<xsimd::avx512f>) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
}

template <std::size_t TableSize, class A>
MPQ_FORCE_INLINE float_batch<A> lookup(const float* table, const int_batch<A>& codes, requires_arch<xsimd::avx512f>) {
    static_assert(TableSize >= 16, "element tables have at least 16 codes");
    if constexpr (TableSize == 16) {
        return _mm512_permutexvar_ps(codes, _mm512_loadu_ps(table));
    } else if constexpr (TableSize == 32) {
        return _mm512_permutex2var_ps(_mm512_loadu_ps(table), codes, _mm512_loadu_ps(table + 16));
    } else {
        return _mm512_i32gather_ps(codes, table, 4);
    }
}
#endif

// ---- packed rows ------------------------------------------------------------------------

/// Packs n one-byte codes into a row starting at element `first` (a multiple of 4), writing
/// whole bytes: the padding bits of a row's last byte become zero.
template <int Bits>
void pack_codes(const std::uint8_t* codes, std::size_t n, std::uint8_t* row, std::size_t first) {
    if constexpr (Bits == 8) {
        std::memcpy(row + first, codes, n);
    } else if constexpr (Bits == 4) {
        std::uint8_t* out = row + first / 2;
        const std::size_t pairs = n / 2;
        for (std::size_t j = 0; j < pairs; ++j)
            out[j] = static_cast<std::uint8_t>((codes[2 * j] & 0xFU) | ((codes[2 * j + 1] & 0xFU) << 4));
        if (n % 2 != 0) out[pairs] = static_cast<std::uint8_t>(codes[n - 1] & 0xFU);
    } else {
        std::uint8_t* out = row + first / 4 * 3;
        const std::size_t quads = n / 4;
        for (std::size_t j = 0; j < quads; ++j) {
            const std::uint32_t word = (codes[4 * j] & 0x3FU) | ((codes[4 * j + 1] & 0x3FU) << 6) |
                                       ((codes[4 * j + 2] & 0x3FU) << 12) | ((codes[4 * j + 3] & 0x3FU) << 18);
            out[3 * j] = static_cast<std::uint8_t>(word);
            out[3 * j + 1] = static_cast<std::uint8_t>(word >> 8);
            out[3 * j + 2] = static_cast<std::uint8_t>(word >> 16);
        }
        if (n % 4 != 0) {
            std::uint32_t word = 0;
            for (std::size_t k = 0; k < n % 4; ++k) word |= (codes[4 * quads + k] & 0x3FU) << (6 * k);
            out[3 * quads] = static_cast<std::uint8_t>(word);
            out[3 * quads + 1] = static_cast<std::uint8_t>(word >> 8);
            out[3 * quads + 2] = static_cast<std::uint8_t>(word >> 16);
        }
    }
}

/// Unpacks n codes of a row starting at element `first` (a multiple of 4) into bytes.
template <int Bits>
void unpack_codes(const std::uint8_t* row, std::size_t first, std::size_t n, std::uint8_t* codes) {
    if constexpr (Bits == 8) {
        std::memcpy(codes, row + first, n);
    } else if constexpr (Bits == 4) {
        const std::uint8_t* in = row + first / 2;
        const std::size_t pairs = n / 2;
        for (std::size_t j = 0; j < pairs; ++j) {
            codes[2 * j] = static_cast<std::uint8_t>(in[j] & 0xFU);
            codes[2 * j + 1] = static_cast<std::uint8_t>(in[j] >> 4);
        }
        if (n % 2 != 0) codes[n - 1] = static_cast<std::uint8_t>(in[pairs] & 0xFU);
    } else {
        const std::uint8_t* in = row + first / 4 * 3;
        for (std::size_t i = 0; i < n; ++i) codes[i] = static_cast<std::uint8_t>(code_packing<6>::get(in, i));
    }
}

// ---- whole vectors of codes straight into a packed row ---------------------------------

/// Packs the lanes of `codes` (each below 2^Bits; Bits is 4, 6 or 8) into dst, lanes * Bits / 8
/// bytes laid out as pack_codes lays them: lane 2j in the low nibble of byte j for 4-bit
/// codes; for 6-bit codes, lanes 4j..4j+3 in the 24 bits of bytes 3j..3j+2, lowest first.
template <int Bits, class A>
MPQ_FORCE_INLINE void store_packed(const int_batch<A>& codes, std::uint8_t* dst, requires_arch<compat::generic_arch>) {
    static_assert(compat::lanes<A> % 4 == 0, "whole 6-bit groups of four codes per vector");
    alignas(64) std::array<std::uint8_t, compat::lanes<A> + 64> bytes{};
    store_code_bytes<A>(codes, bytes.data(), A{});
    pack_codes<Bits>(bytes.data(), compat::lanes<A>, dst, 0);
}

#if XSIMD_WITH_AVX2
template <int Bits, class A>
MPQ_FORCE_INLINE void store_packed(const int_batch<A>& codes, std::uint8_t* dst, requires_arch<xsimd::avx2>) {
    if constexpr (Bits == 8) {
        store_code_bytes<A>(codes, dst, A{});
    } else if constexpr (Bits == 6) {
        // Each group of four lanes becomes one 24-bit word (shift into place, then OR the
        // lanes pairwise inside the 128-bit half), then the two words' low 3 bytes go out.
        __m256i words = _mm256_sllv_epi32(codes, _mm256_setr_epi32(0, 6, 12, 18, 0, 6, 12, 18));
        words = _mm256_or_si256(words, _mm256_srli_epi64(words, 32));
        words = _mm256_or_si256(words, _mm256_bsrli_epi128(words, 8));
        const __m128i both = _mm_unpacklo_epi32(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
        const auto six = static_cast<std::uint64_t>(_mm_cvtsi128_si64(
            _mm_shuffle_epi8(both, _mm_setr_epi8(0, 1, 2, 4, 5, 6, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1))));
        std::memcpy(dst, &six, 6);
    } else {
        // Lane pairs share a 64-bit lane: bring the odd lane's code next to the even one's.
        const __m256i pairs = _mm256_or_si256(codes, _mm256_srli_epi64(codes, 28));
        const __m256i gathered = _mm256_shuffle_epi8(
            pairs, _mm256_setr_epi8(0, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 8, -1, -1, -1, -1,
                                    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
        const auto lo = static_cast<std::uint32_t>(_mm256_extract_epi16(gathered, 0));
        const auto hi = static_cast<std::uint32_t>(_mm256_extract_epi16(gathered, 8));
        const std::uint32_t four = (lo & 0xFFFFU) | (hi << 16);
        std::memcpy(dst, &four, sizeof four);
    }
}
#endif

#if XSIMD_WITH_AVX512F
template <int Bits, class A>
MPQ_FORCE_INLINE void store_packed(const int_batch<A>& codes, std::uint8_t* dst, requires_arch<xsimd::avx512f>) {
    if constexpr (Bits == 8) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm512_cvtepi32_epi8(codes));
    } else if constexpr (Bits == 6) {
        // As on AVX2: four 24-bit words (32-bit lanes 0, 4, 8, 12), then their low 3 bytes;
        // 12 bytes written as 8 + 4, never past the 16 codes' bytes.
        const __m512i shifts = _mm512_setr_epi32(0, 6, 12, 18, 0, 6, 12, 18, 0, 6, 12, 18, 0, 6, 12, 18);
        __m512i words = _mm512_sllv_epi32(codes, shifts);
        words = _mm512_or_si512(words, _mm512_srli_epi64(words, 32));
        words = _mm512_or_si512(words, _mm512_bsrli_epi128(words, 8));
        const __m128i four = _mm512_castsi512_si128(
            _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), words));
        const __m128i bytes =
            _mm_shuffle_epi8(four, _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), bytes);
        const auto last = static_cast<std::uint32_t>(_mm_extract_epi32(bytes, 2));
        std::memcpy(dst + 8, &last, sizeof last);
    } else {
        const __m512i pairs = _mm512_or_si512(codes, _mm512_srli_epi64(codes, 28));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), _mm512_cvtepi64_epi8(pairs));
    }
}
#endif

/// Whether load_code_lanes has a vector version for arch A (otherwise kernels stage codes).
template <class A>
inline constexpr bool has_code_lane_loads = std::is_base_of_v<xsimd::avx2, A> || std::is_base_of_v<xsimd::avx512f, A>;

/// The codes of elements [e, e + lanes) of a packed row (e a multiple of 4), one per lane,
/// reading only those codes' bytes.
template <int Bits, class A>
MPQ_FORCE_INLINE int_batch<A> load_code_lanes(const std::uint8_t* row, std::size_t e, requires_arch<compat::generic_arch>) {
    alignas(64) std::array<std::int32_t, compat::lanes<A>> t{};
    for (std::size_t j = 0; j < t.size(); ++j) t[j] = static_cast<std::int32_t>(code_packing<Bits>::get(row, e + j));
    return int_batch<A>::load_aligned(t.data());
}

#if XSIMD_WITH_AVX2
template <int Bits, class A>
MPQ_FORCE_INLINE int_batch<A> load_code_lanes(const std::uint8_t* row, std::size_t e, requires_arch<xsimd::avx2>) {
    if constexpr (Bits == 8) {
        return load_code_bytes<A>(row + e, A{});
    } else if constexpr (Bits == 4) {
        std::uint32_t four = 0;
        std::memcpy(&four, row + e / 2, sizeof four);
        const __m256i bytes = _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(static_cast<int>(four)));
        // Each 64-bit lane holds one byte: low nibble to the even lane, high to the odd one.
        return _mm256_or_si256(_mm256_and_si256(bytes, _mm256_set1_epi64x(0xF)),
                               _mm256_slli_epi64(_mm256_srli_epi64(bytes, 4), 32));
    } else {
        std::uint64_t six = 0;
        std::memcpy(&six, row + e / 4 * 3, 6);
        // Three bytes per group of four codes into one 32-bit lane, copied to four lanes and
        // shifted so that lane k keeps code k.
        const __m128i groups = _mm_shuffle_epi8(_mm_cvtsi64_si128(static_cast<long long>(six)),
                                                _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, -1, -1, -1, -1, -1, -1, -1, -1));
        const __m256i spread = _mm256_permutevar8x32_epi32(_mm256_castsi128_si256(groups), _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
        return _mm256_and_si256(_mm256_srlv_epi32(spread, _mm256_setr_epi32(0, 6, 12, 18, 0, 6, 12, 18)), _mm256_set1_epi32(0x3F));
    }
}
#endif

#if XSIMD_WITH_AVX512F
template <int Bits, class A>
MPQ_FORCE_INLINE int_batch<A> load_code_lanes(const std::uint8_t* row, std::size_t e, requires_arch<xsimd::avx512f>) {
    if constexpr (Bits == 8) {
        return load_code_bytes<A>(row + e, A{});
    } else if constexpr (Bits == 4) {
        const __m512i bytes = _mm512_cvtepu8_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + e / 2)));
        return _mm512_or_si512(_mm512_and_si512(bytes, _mm512_set1_epi64(0xF)),
                               _mm512_slli_epi64(_mm512_srli_epi64(bytes, 4), 32));
    } else {
        const std::uint8_t* p = row + e / 4 * 3;
        std::int32_t tail = 0;
        std::memcpy(&tail, p + 8, sizeof tail);
        const __m128i twelve = _mm_insert_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), tail, 2);
        const __m128i groups =
            _mm_shuffle_epi8(twelve, _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1));
        const __m512i spread = _mm512_permutexvar_epi32(
            _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3), _mm512_castsi128_si512(groups));
        const __m512i shifts = _mm512_setr_epi32(0, 6, 12, 18, 0, 6, 12, 18, 0, 6, 12, 18, 0, 6, 12, 18);
        return _mm512_and_si512(_mm512_srlv_epi32(spread, shifts), _mm512_set1_epi32(0x3F));
    }
}
#endif

/// Collects the codes of one row, in order, and packs them window by window.
template <int Bits, class A>
class code_stager {
public:
    static constexpr std::size_t window = 1024; // elements; a multiple of 4

    code_stager(std::uint8_t* row, std::size_t first) : row_(row), start_(first) {}

    /// Appends the low bytes of the first n lanes.
    MPQ_FORCE_INLINE void put(const int_batch<A>& codes, std::size_t n) {
        store_code_bytes<A>(codes, buffer_.data() + filled_, A{});
        filled_ += n;
        if (filled_ >= window) flush_window();
    }
    void flush_window() {
        pack_codes<Bits>(buffer_.data(), window, row_, start_);
        std::memmove(buffer_.data(), buffer_.data() + window, filled_ - window);
        filled_ -= window;
        start_ += window;
    }
    void finish() {
        if (filled_ != 0) pack_codes<Bits>(buffer_.data(), filled_, row_, start_);
        filled_ = 0;
    }

private:
    std::uint8_t* row_;
    std::size_t start_;
    std::size_t filled_ = 0;
    alignas(64) std::array<std::uint8_t, window + 64> buffer_; // filled before read; not zeroed per row
};

} // namespace mpq::kernel::detail
