// Element encoders on SIMD lanes: the exact integer algorithm of detail::encode_minifloat and
// scaled_int::encode (include/mpq/numeric), restated on 32-bit integer lanes so that every
// lane equals the scalar reference bit for bit, subnormals, ties and saturation included.
//
// Scope: finite inputs with a block exponent E in [-127, 127] (the E8M0 range), saturating
// overflow — the only way the block formats call an element encoder (a block holding NaN or
// Inf never reaches the element encoder; per-tensor, per-vector and NVFP4 divide by a scale
// chosen from the amax, which keeps every quotient finite).
#pragma once

#include <mpq/kernel/compat.hpp>
#include <mpq/numeric/integer.hpp>
#include <mpq/numeric/minifloat.hpp>
#include <mpq/numeric/rounding.hpp>

#include <array>
#include <cstdint>
#include <limits>

namespace mpq::kernel::detail {

template <class A>
using float_batch = xsimd::batch<float, A>;
template <class A>
using int_batch = xsimd::batch<std::int32_t, A>;
template <class A>
using uint_batch = xsimd::batch<std::uint32_t, A>;

inline constexpr std::int32_t sign_flip = std::numeric_limits<std::int32_t>::min();

/// 0, 1, 2, ... for building lane indices (large enough for 512-bit batches).
alignas(64) inline constexpr std::array<std::int32_t, 16> lane_iota = {0, 1, 2,  3,  4,  5,  6,  7,
                                                                       8, 9, 10, 11, 12, 13, 14, 15};

template <class A>
int_batch<A> iota() {
    return int_batch<A>::load_aligned(lane_iota.data());
}

/// Per-lane shifts by per-lane counts in [0, 31]. xsimd 8.1 has them for AVX2 only; AVX-512
/// would fall back to one scalar shift per lane, so it gets its own overloads.
template <class A>
int_batch<A> shift_left(const int_batch<A>& v, const int_batch<A>& count, xsimd::kernel::requires_arch<compat::generic_arch>) {
    return v << count;
}
template <class A>
int_batch<A> shift_right(const int_batch<A>& v, const int_batch<A>& count, xsimd::kernel::requires_arch<compat::generic_arch>) {
    return v >> count;
}
#if XSIMD_WITH_SSE4_1
// SSE has no per-lane shifts; both are exact through powers of two built from exponent bits:
// v << c = v * 2^c (a 32-bit product, wrapping like the shift), and for the significands
// shifted right here (v < 2^24, exact in binary32) v >> c = trunc(float(v) * 2^-c).
template <class A>
int_batch<A> shift_left(const int_batch<A>& v, const int_batch<A>& count, xsimd::kernel::requires_arch<xsimd::sse4_1>) {
    const __m128i power = _mm_cvttps_epi32(_mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(count, _mm_set1_epi32(127)), 23)));
    return _mm_mullo_epi32(v, power);
}
template <class A>
int_batch<A> shift_right(const int_batch<A>& v, const int_batch<A>& count, xsimd::kernel::requires_arch<xsimd::sse4_1>) {
    const __m128 inverse = _mm_castsi128_ps(_mm_slli_epi32(_mm_sub_epi32(_mm_set1_epi32(127), count), 23));
    return _mm_cvttps_epi32(_mm_mul_ps(_mm_cvtepi32_ps(v), inverse));
}
#endif
#if XSIMD_WITH_AVX512F
template <class A>
int_batch<A> shift_left(const int_batch<A>& v, const int_batch<A>& count, xsimd::kernel::requires_arch<xsimd::avx512f>) {
    return _mm512_sllv_epi32(v, count);
}
template <class A>
int_batch<A> shift_right(const int_batch<A>& v, const int_batch<A>& count, xsimd::kernel::requires_arch<xsimd::avx512f>) {
    return _mm512_srav_epi32(v, count);
}
#endif

/// a < b for lanes holding unsigned 32-bit patterns.
template <class A>
auto unsigned_less(const int_batch<A>& a, const int_batch<A>& b) {
    const int_batch<A> flip(sign_flip);
    return (a ^ flip) < (b ^ flip);
}

template <class A>
uint_batch<A> mix_lanes(uint_batch<A> x) {
    x ^= x >> 16;
    x *= uint_batch<A>(0x7feb352dU);
    x ^= x >> 15;
    x *= uint_batch<A>(0x846ca68bU);
    x ^= x >> 16;
    return x;
}

/// counter_random{seed}(first_index + lane) for every lane, exactly as the scalar source.
template <class A>
MPQ_FORCE_INLINE int_batch<A> random_lanes(const counter_random& source, std::uint64_t first_index) {
    constexpr std::size_t n = compat::lanes<A>;
    const auto lo0 = static_cast<std::uint32_t>(first_index);
    if (lo0 > std::numeric_limits<std::uint32_t>::max() - (n - 1)) {
        // The low word wraps inside this batch: rare, so do it lane by lane.
        alignas(64) std::array<std::int32_t, n> r{};
        for (std::size_t j = 0; j < n; ++j) r[j] = static_cast<std::int32_t>(source(first_index + j));
        return int_batch<A>::load_aligned(r.data());
    }
    const auto s_lo = static_cast<std::uint32_t>(source.seed);
    const auto s_hi = static_cast<std::uint32_t>(source.seed >> 32);
    const std::uint32_t hi_term = (static_cast<std::uint32_t>(first_index >> 32) ^ s_hi) * 0x9e3779b9U;
    const auto lo = xsimd::bitwise_cast<uint_batch<A>>(iota<A>()) + uint_batch<A>(lo0);
    const uint_batch<A> x = mix_lanes<A>(mix_lanes<A>(lo ^ uint_batch<A>(s_lo)) + uint_batch<A>(hi_term));
    return xsimd::bitwise_cast<int_batch<A>>(x);
}

/// detail::round_shift for significand < 2^24 and shift in [1, 63], on lanes. The discarded
/// fraction is taken to 32 bits (exact for shift <= 32; beyond that the significand is below
/// half a step, which every mode but stochastic rounds down anyway), then each mode decides.
template <rounding Mode, class A>
MPQ_FORCE_INLINE int_batch<A> round_shift_lanes(const int_batch<A>& significand, const int_batch<A>& shift,
                               const int_batch<A>& random) {
    const int_batch<A> k31(31), k32(32);
    const int_batch<A> kept = shift_right<A>(significand, xsimd::min(shift, k31), A{});
    if constexpr (Mode == rounding::toward_zero) {
        return kept;
    } else {
        // For shift >= 32 the left shift leaves the significand itself (< 2^24 < half a step),
        // which is all the nearest modes need; only stochastic rounding needs those bits exact.
        int_batch<A> fraction = shift_left<A>(significand, xsimd::max(k32 - shift, int_batch<A>(0)), A{});
        if constexpr (Mode == rounding::stochastic) {
            const int_batch<A> right =
                shift_right<A>(significand, xsimd::min(xsimd::max(shift - k32, int_batch<A>(0)), k31), A{});
            fraction = compat::select(shift <= k32, fraction, right);
        }
        const int_batch<A> flip(sign_flip);
        if constexpr (Mode == rounding::nearest_away) {
            return kept + ((fraction >> 31) & int_batch<A>(1)); // fraction >= 2^31
        } else if constexpr (Mode == rounding::nearest_even) {
            // fraction > half, or == half with an odd kept part: (fraction | odd) > 2^31.
            const int_batch<A> test = (fraction | (kept & int_batch<A>(1))) ^ flip;
            return kept + compat::select(test > int_batch<A>(0), int_batch<A>(1), int_batch<A>(0));
        } else {
            return kept + compat::select(unsigned_less<A>(random, fraction), int_batch<A>(1), int_batch<A>(0));
        }
    }
}

/// A float's bits split as |x| = significand * 2^lsb with floor(log2 |x|), on lanes.
template <class A>
struct unpacked_lanes {
    int_batch<A> significand;
    int_batch<A> lsb;        ///< exponent of the significand's last bit
    int_batch<A> floor_log2; ///< meaningless for zero (the significand is then 0)
    int_batch<A> negative;   ///< 1 for a set sign bit, else 0
};

template <class A>
MPQ_FORCE_INLINE unpacked_lanes<A> unpack_lanes(const int_batch<A>& bits) {
    const int_batch<A> magnitude = bits & int_batch<A>(0x7fffffff);
    const int_batch<A> field = magnitude >> 23;
    const int_batch<A> fraction = magnitude & int_batch<A>(0x7fffff);
    const auto normal = field > int_batch<A>(0);
    unpacked_lanes<A> u;
    u.significand = compat::select(normal, fraction | int_batch<A>(0x800000), fraction);
    u.lsb = xsimd::max(field, int_batch<A>(1)) - int_batch<A>(150);
    // A subnormal's leading bit, read off the exact int -> float conversion of its fraction.
    const int_batch<A> converted = xsimd::bitwise_cast<int_batch<A>>(xsimd::to_float(fraction));
    u.floor_log2 = compat::select(normal, field - int_batch<A>(127), (converted >> 23) - int_batch<A>(276));
    u.negative = (bits >> 31) & int_batch<A>(1);
    return u;
}

/// Lane encoder of one element type: code(x * 2^-E) for finite x, saturating.
template <class Element>
struct lane_encoder;

template <class Layout>
struct lane_encoder<minifloat<Layout>> {
    static_assert(Layout::is_signed, "block elements are signed");
    template <rounding Mode, class A>
    static MPQ_FORCE_INLINE int_batch<A> encode(const int_batch<A>& bits, const int_batch<A>& scale_exponent,
                               const int_batch<A>& random) {
        using L = Layout;
        const unpacked_lanes<A> u = unpack_lanes<A>(bits);
        const int_batch<A> exponent = xsimd::max(u.floor_log2 - scale_exponent, int_batch<A>(L::min_exponent));
        int_batch<A> quantum = exponent - int_batch<A>(L::mantissa_bits);
        // shift >= 6 for every layout, input and E >= -127 (see the header comment of mx.hpp's
        // encoder); the cap at 63 keeps the lane arithmetic in range and changes nothing.
        const int_batch<A> shift = xsimd::min(quantum - u.lsb + scale_exponent, int_batch<A>(63));
        int_batch<A> rounded = round_shift_lanes<Mode, A>(u.significand, shift, random);
        const auto carried = (rounded >> (L::mantissa_bits + 1)) > int_batch<A>(0);
        rounded = compat::select(carried, rounded >> 1, rounded);
        quantum = compat::select(carried, quantum + int_batch<A>(1), quantum);
        const int_batch<A> field = quantum + int_batch<A>(L::mantissa_bits + L::bias);
        const int_batch<A> normal_code = (field << L::mantissa_bits) |
                                         (rounded & int_batch<A>(static_cast<std::int32_t>(L::mantissa_mask)));
        int_batch<A> magnitude = compat::select(rounded < int_batch<A>(1 << L::mantissa_bits), rounded, normal_code);
        magnitude = xsimd::min(magnitude, int_batch<A>(static_cast<std::int32_t>(L::max_magnitude_code)));
        return magnitude | (u.negative << (L::exponent_bits + L::mantissa_bits));
    }
};

template <int Bits, int FractionBits, int_range Range>
struct lane_encoder<scaled_int<Bits, FractionBits, Range>> {
    using element = scaled_int<Bits, FractionBits, Range>;
    template <rounding Mode, class A>
    static MPQ_FORCE_INLINE int_batch<A> encode(const int_batch<A>& bits, const int_batch<A>& scale_exponent,
                               const int_batch<A>& random) {
        const unpacked_lanes<A> u = unpack_lanes<A>(bits);
        const int_batch<A> shift = int_batch<A>(-FractionBits) - u.lsb + scale_exponent;
        // shift <= 0 only for a normal input (significand >= 2^23) far beyond the limit.
        const int_batch<A> rounded =
            round_shift_lanes<Mode, A>(u.significand, xsimd::min(xsimd::max(shift, int_batch<A>(1)), int_batch<A>(63)), random);
        // Sign handling by arithmetic on the 0/1 sign lane (negation as (m ^ -1) + 1).
        const int_batch<A> negative_mask = int_batch<A>(0) - u.negative;
        const int_batch<A> limit =
            int_batch<A>(element::max_int) + (u.negative * int_batch<A>(-element::min_int - element::max_int));
        const int_batch<A> magnitude = compat::select(shift <= int_batch<A>(0), limit, xsimd::min(rounded, limit));
        const int_batch<A> q = (magnitude ^ negative_mask) - negative_mask;
        return q & int_batch<A>(static_cast<std::int32_t>(element::code_mask));
    }
};

} // namespace mpq::kernel::detail
