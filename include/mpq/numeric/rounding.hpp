// Rounding and overflow policies shared by every conversion in mpq, and the counter-based
// random source that makes stochastic rounding reproducible.
#pragma once

#include <cstdint>
#include <string_view>

namespace mpq {

/// How a value between two representable neighbours is resolved.
enum class rounding : std::uint8_t {
    nearest_even, ///< round to nearest, ties to the even code (IEEE default; mpq's default)
    nearest_away, ///< round to nearest, ties away from zero (microxcaling's "nearest")
    toward_zero,  ///< truncate the magnitude
    /// Round up with probability equal to the discarded fraction. The fraction F is taken to
    /// 32 bits (F = floor(fraction * 2^32)) and the magnitude rounds up iff random < F, where
    /// `random` is a caller-supplied uniform 32-bit value. Exactly reproducible.
    stochastic,
};

/// What a finite value beyond the largest finite code becomes.
enum class overflow : std::uint8_t {
    saturate, ///< clamp to ±max finite (OCP MX rule; mpq's default). ±Inf also clamps.
    /// IEEE-like: round-to-nearest and stochastic overflow to ±Inf where the format has Inf,
    /// to NaN where it has only NaN (E4M3); toward_zero gives ±max. Formats with neither
    /// code saturate.
    ieee,
};

/// Parses "rne"/"even", "away", "zero"/"trunc", "stochastic"/"sr". Returns false if unknown.
constexpr bool parse_rounding(std::string_view text, rounding& out) {
    if (text == "rne" || text == "even" || text == "nearest_even") out = rounding::nearest_even;
    else if (text == "away" || text == "nearest_away") out = rounding::nearest_away;
    else if (text == "zero" || text == "trunc" || text == "toward_zero") out = rounding::toward_zero;
    else if (text == "stochastic" || text == "sr") out = rounding::stochastic;
    else return false;
    return true;
}

constexpr std::string_view to_string(rounding r) {
    switch (r) {
    case rounding::nearest_even: return "rne";
    case rounding::nearest_away: return "away";
    case rounding::toward_zero: return "zero";
    case rounding::stochastic: return "stochastic";
    }
    return "?";
}

/// Counter-based random bits for stochastic rounding: the value for element i depends only on
/// (seed, i), so results do not depend on SIMD width, block order or thread count.
struct counter_random {
    std::uint64_t seed = 0;

    /// A 32-bit integer finaliser with good avalanche (two multiply-xorshift rounds).
    static constexpr std::uint32_t mix(std::uint32_t x) {
        x ^= x >> 16;
        x *= 0x7feb352dU;
        x ^= x >> 15;
        x *= 0x846ca68bU;
        x ^= x >> 16;
        return x;
    }

    /// Uniform 32-bit value for element `index` of a tensor.
    constexpr std::uint32_t operator()(std::uint64_t index) const {
        const auto lo = static_cast<std::uint32_t>(index);
        const auto hi = static_cast<std::uint32_t>(index >> 32);
        const auto s_lo = static_cast<std::uint32_t>(seed);
        const auto s_hi = static_cast<std::uint32_t>(seed >> 32);
        return mix(mix(lo ^ s_lo) + (hi ^ s_hi) * 0x9e3779b9U);
    }
};

} // namespace mpq
