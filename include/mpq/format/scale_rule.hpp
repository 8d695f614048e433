// How an MX block chooses its shared power-of-two scale (the E8M0 byte) from its amax.
#pragma once

#include <mpq/detail/float_bits.hpp>
#include <mpq/numeric/e8m0.hpp>

#include <algorithm>
#include <cstdint>
#include <string_view>

namespace mpq {

/// Shared-exponent rules, named as users know them. E is the unbiased block exponent (scale
/// 2^E), emax the element's largest power-of-two exponent; every result is clamped to the
/// E8M0 range [-127, 127].
enum class scale_mode : std::uint8_t {
    /// OCP MX rule (default): E = floor(log2 amax) - emax, from the float's bits. The block
    /// maximum may saturate (FP4 with amax = 7 stores 6).
    floor,
    /// E = ceil(log2 amax) - emax: the block maximum never clips, at up to one binade of range.
    ceil,
    /// Round amax half-up to the element's mantissa width, then floor: clips only values that
    /// round past the element maximum anyway.
    even,
    /// Blackwell / cuBLAS rule: d = amax * fp32(1 / max_value) in fp32, E = ceil(log2 d).
    rceil,
};

constexpr bool parse_scale_mode(std::string_view text, scale_mode& out) {
    if (text == "floor") out = scale_mode::floor;
    else if (text == "ceil") out = scale_mode::ceil;
    else if (text == "even") out = scale_mode::even;
    else if (text == "rceil") out = scale_mode::rceil;
    else return false;
    return true;
}

constexpr std::string_view to_string(scale_mode m) {
    switch (m) {
    case scale_mode::floor: return "floor";
    case scale_mode::ceil: return "ceil";
    case scale_mode::even: return "even";
    case scale_mode::rceil: return "rceil";
    }
    return "?";
}

/// E8M0 byte of the shared scale of a block whose largest magnitude is `amax` (amax >= 0).
/// Non-finite amax gives 0xFF (NaN); amax = 0 gives 0x00 (2^-127, any scale would do).
template <class Element>
constexpr std::uint8_t mx_scale_code(float amax, scale_mode mode) {
    using namespace detail;
    std::uint32_t bits = bits_of(amax) & f32_abs_mask;
    if (bits >= f32_inf_bits) return e8m0::nan_code;
    if (bits == 0U) return 0;
    int exponent = 0;
    switch (mode) {
    case scale_mode::floor: exponent = floor_log2_bits(bits) - Element::emax; break;
    case scale_mode::ceil: {
        const bool power_of_two = (bits >> 23) != 0U ? (bits & 0x7fffffU) == 0U
                                                     : (bits & (bits - 1U)) == 0U;
        exponent = floor_log2_bits(bits) + (power_of_two ? 0 : 1) - Element::emax;
        break;
    }
    case scale_mode::even: {
        const std::uint32_t rounded = (bits + (1U << (22 - Element::mantissa_bits))) & 0xff800000U;
        // A subnormal amax that rounds to zero keeps its own (tiny) exponent; both clamp.
        exponent = (rounded == 0U ? floor_log2_bits(bits) : static_cast<int>(rounded >> 23) - 127) -
                   Element::emax;
        break;
    }
    case scale_mode::rceil: {
        const float inverse_max = 1.0f / Element::max_value();
        const std::uint32_t d = bits_of(amax * inverse_max) & f32_abs_mask;
        int code = 0;
        if ((d >> 23) != 0U) code = static_cast<int>(d >> 23) + ((d & 0x7fffffU) != 0U ? 1 : 0);
        else code = (d & 0x7fffffU) > 0x400000U ? 1 : 0;
        return static_cast<std::uint8_t>(std::min(code, 254));
    }
    }
    return e8m0::from_exponent(exponent).code();
}

} // namespace mpq
