// Exact integer arithmetic on IEEE binary32 values: the machinery under every mpq conversion.
// A finite float is handled as |x| = significand * 2^lsb_exponent with a 24-bit significand,
// so rounding to any coarser grid is an integer shift with an explicit rounding decision.
#pragma once

#include <mpq/numeric/rounding.hpp>

#include <bit>
#include <cstdint>

namespace mpq::detail {

inline constexpr std::uint32_t f32_sign_mask = 0x80000000U;
inline constexpr std::uint32_t f32_abs_mask = 0x7fffffffU;
inline constexpr std::uint32_t f32_inf_bits = 0x7f800000U;

constexpr std::uint32_t bits_of(float x) { return std::bit_cast<std::uint32_t>(x); }
constexpr float float_of(std::uint32_t b) { return std::bit_cast<float>(b); }

constexpr bool is_nan_bits(std::uint32_t b) { return (b & f32_abs_mask) > f32_inf_bits; }
constexpr bool is_finite_bits(std::uint32_t b) { return (b & f32_abs_mask) < f32_inf_bits; }

/// |x| = significand * 2^lsb_exponent for a finite float (significand < 2^24).
struct unpacked_float {
    std::uint32_t significand;
    int lsb_exponent;
};

constexpr unpacked_float unpack_magnitude(std::uint32_t bits) {
    const std::uint32_t field = (bits & f32_abs_mask) >> 23;
    const std::uint32_t fraction = bits & 0x7fffffU;
    if (field == 0) return {fraction, -149};
    return {fraction | 0x800000U, static_cast<int>(field) - 150};
}

/// floor(log2 |x|) of a nonzero finite float, exact (subnormals included).
constexpr int floor_log2_bits(std::uint32_t bits) {
    const std::uint32_t field = (bits & f32_abs_mask) >> 23;
    if (field != 0) return static_cast<int>(field) - 127;
    return std::bit_width(bits & 0x7fffffU) - 1 - 149;
}

/// Rounds significand * 2^-shift to an integer under `mode` (shift >= 1 is the usual case;
/// shift <= 0 scales up exactly). `random` is used by rounding::stochastic only.
/// Results are capped at 2^40, far beyond every element format's largest code.
constexpr std::uint64_t round_shift(std::uint32_t significand, int shift, rounding mode,
                                    std::uint32_t random) {
    if (shift <= 0) {
        if (significand == 0) return 0;
        if (-shift >= 16) return std::uint64_t{1} << 40;
        return std::uint64_t{significand} << -shift;
    }
    if (shift >= 56) return 0; // below 2^-32 of one step: nothing rounds up, even stochastically
    const std::uint64_t sig = significand;
    const std::uint64_t kept = sig >> shift;
    const std::uint64_t rest = sig & ((std::uint64_t{1} << shift) - 1);
    const std::uint64_t half = std::uint64_t{1} << (shift - 1);
    bool up = false;
    switch (mode) {
    case rounding::nearest_even: up = rest > half || (rest == half && (kept & 1U)); break;
    case rounding::nearest_away: up = rest >= half; break;
    case rounding::toward_zero: up = false; break;
    case rounding::stochastic: {
        const std::uint64_t fraction32 = shift <= 32 ? rest << (32 - shift) : rest >> (shift - 32);
        up = random < fraction32;
        break;
    }
    }
    return kept + (up ? 1U : 0U);
}

/// The float whose value is significand * 2^exponent, for values that are exactly
/// representable in binary32 (normal or subnormal). Used to decode codes exactly.
constexpr float make_float(bool negative, std::uint64_t significand, int exponent) {
    if (significand == 0) return float_of(negative ? f32_sign_mask : 0U);
    // Build the binary64 value first (every binary32 value is a binary64 normal), then narrow:
    // the narrowing is exact because the value is representable.
    const int top = std::bit_width(significand) - 1;
    const std::uint64_t fraction = (significand << (52 - top)) & ((std::uint64_t{1} << 52) - 1);
    const auto field = static_cast<std::uint64_t>(exponent + top + 1023);
    const std::uint64_t bits =
        (negative ? (std::uint64_t{1} << 63) : 0U) | (field << 52) | fraction;
    return static_cast<float>(std::bit_cast<double>(bits));
}

} // namespace mpq::detail
