// E8M0, the MX shared block scale: a bare biased exponent.
#pragma once

#include <mpq/detail/float_bits.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>

namespace mpq {

/// E8M0: 8 exponent bits, no sign, no mantissa, bias 127. Byte b in 0..254 is 2^(b-127), so
/// the range is 2^-127 (0x00, a binary32 subnormal) .. 2^127 (0xFE); 0xFF is NaN. There is no
/// zero and no Inf.
class e8m0 {
public:
    static constexpr int bias = 127;
    static constexpr int min_exponent = -127;
    static constexpr int max_exponent = 127;
    static constexpr std::uint8_t nan_code = 0xFF;

    constexpr e8m0() = default;
    /// The scale 2^exponent, with the exponent clamped to [-127, 127].
    static constexpr e8m0 from_exponent(int exponent) {
        return from_bits(static_cast<std::uint8_t>(std::clamp(exponent, min_exponent, max_exponent) + bias));
    }
    static constexpr e8m0 nan() { return from_bits(nan_code); }
    static constexpr e8m0 from_bits(std::uint8_t code) {
        e8m0 s;
        s.code_ = code;
        return s;
    }

    constexpr std::uint8_t code() const { return code_; }
    constexpr bool is_nan() const { return code_ == nan_code; }
    /// Unbiased exponent (meaningless for NaN).
    constexpr int exponent() const { return static_cast<int>(code_) - bias; }
    constexpr float to_float() const { return decode(code_); }

    /// 2^(code-127) exactly; 0x00 gives the subnormal 2^-127, 0xFF gives NaN.
    static constexpr float decode(std::uint8_t code) {
        if (code == nan_code) return std::numeric_limits<float>::quiet_NaN();
        if (code == 0) return detail::float_of(0x00400000U);
        return detail::float_of(static_cast<std::uint32_t>(code) << 23);
    }
    friend constexpr bool operator==(e8m0 a, e8m0 b) { return a.code_ == b.code_; }

private:
    std::uint8_t code_ = bias;
};

} // namespace mpq
