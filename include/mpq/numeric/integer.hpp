// Signed integer elements with an implied power-of-two scale: the MX integer elements
// (MXINT8, MXINT4) and the plain INT-N codes of per-tensor / per-vector formats.
#pragma once

#include <mpq/detail/float_bits.hpp>
#include <mpq/numeric/rounding.hpp>

#include <algorithm>
#include <cstdint>

namespace mpq {

/// Which codes of an N-bit two's-complement integer are produced by conversions.
enum class int_range : std::uint8_t {
    symmetric, ///< ±(2^(N-1) - 1); the most negative code -2^(N-1) is never produced (default)
    full,      ///< the whole two's-complement range, -2^(N-1) .. 2^(N-1) - 1
};

/// An N-bit two's-complement integer q whose value is q / 2^FractionBits.
///
/// Codes are stored as the low N bits of q. Decoding accepts every code, including the most
/// negative one, whatever the range. Conversions round (nearest-even by default) and saturate;
/// there is no Inf or NaN, so ±Inf saturate and NaN encodes to 0.
template <int Bits, int FractionBits, int_range Range = int_range::symmetric>
class scaled_int {
public:
    static_assert(Bits >= 2 && Bits <= 16 && FractionBits >= 0 && FractionBits < Bits + 8);
    using code_type = std::conditional_t<(Bits <= 8), std::uint8_t, std::uint16_t>;

    static constexpr int bits = Bits;
    static constexpr int fraction_bits = FractionBits;
    static constexpr int_range range = Range;
    static constexpr std::int32_t max_int = (1 << (Bits - 1)) - 1;
    static constexpr std::int32_t min_int = Range == int_range::symmetric ? -max_int : -max_int - 1;
    /// Exponent of the largest power of two below the maximum (the MX rule subtracts it).
    static constexpr int emax = Bits - 2 - FractionBits;
    /// Magnitude bits below the leading one of the maximum (used by the "even" scale rule).
    static constexpr int mantissa_bits = Bits - 2;
    static constexpr bool has_inf = false;
    static constexpr bool has_nan = false;
    static constexpr bool is_signed = true;
    static constexpr std::uint32_t code_mask = (1U << Bits) - 1U;
    static constexpr code_type max_code = static_cast<code_type>(max_int);
    static constexpr std::size_t code_count = std::size_t{1} << Bits;

    /// Sign-extended integer of a code.
    static constexpr std::int32_t to_int(std::uint32_t code) {
        const std::uint32_t c = code & code_mask;
        return (c & (1U << (Bits - 1))) != 0U ? static_cast<std::int32_t>(c) - (1 << Bits)
                                              : static_cast<std::int32_t>(c);
    }
    static constexpr float decode(std::uint32_t code) {
        const std::int32_t q = to_int(code);
        const std::uint32_t magnitude = static_cast<std::uint32_t>(q < 0 ? -q : q);
        return detail::make_float(q < 0, magnitude, -FractionBits);
    }
    /// Code of x * 2^-scale_exponent (the overflow policy is accepted for a uniform interface;
    /// integers always saturate).
    static constexpr code_type encode(float x, rounding mode = rounding::nearest_even,
                                      overflow = overflow::saturate, std::uint32_t random = 0,
                                      int scale_exponent = 0) {
        const std::uint32_t b = detail::bits_of(x);
        if (detail::is_nan_bits(b)) return 0;
        const bool negative = (b & detail::f32_sign_mask) != 0U;
        const auto limit = static_cast<std::uint64_t>(negative ? -min_int : max_int);
        std::uint64_t magnitude = limit;
        if (detail::is_finite_bits(b)) {
            const auto [significand, lsb0] = detail::unpack_magnitude(b);
            const int lsb = lsb0 - scale_exponent;
            magnitude = std::min(detail::round_shift(significand, -FractionBits - lsb, mode, random), limit);
        }
        const std::int64_t q = negative ? -static_cast<std::int64_t>(magnitude)
                                        : static_cast<std::int64_t>(magnitude);
        return static_cast<code_type>(static_cast<std::uint32_t>(q) & code_mask);
    }

    static constexpr float max_value() { return decode(max_code); }
    static constexpr float min_subnormal() { return decode(1U); }
    static constexpr float min_normal() { return decode(1U); }

    constexpr scaled_int() = default;
    explicit constexpr scaled_int(float x, rounding mode = rounding::nearest_even,
                                  std::uint32_t random = 0)
        : code_(encode(x, mode, overflow::saturate, random)) {}
    static constexpr scaled_int from_bits(code_type code) {
        scaled_int s;
        s.code_ = static_cast<code_type>(code & code_mask);
        return s;
    }
    constexpr code_type code() const { return code_; }
    constexpr float to_float() const { return decode(code_); }
    explicit constexpr operator float() const { return to_float(); }
    friend constexpr bool operator==(scaled_int a, scaled_int b) { return a.code_ == b.code_; }

private:
    code_type code_ = 0;
};

/// MXINT8 element (OCP): 8-bit two's complement with 6 fraction bits, value q/64.
/// Symmetric: ±127/64 = ±1.984375; the code 0x80 (-2.0) decodes but is not produced
/// (use mx_int8_full_element for the full OCP range).
using mx_int8_element = scaled_int<8, 6>;
using mx_int8_full_element = scaled_int<8, 6, int_range::full>;
/// MXINT4 element (microxcaling; not an OCP format): 4-bit two's complement, value q/4,
/// symmetric ±7/4 = ±1.75; the code 0x8 (-2.0) is not produced.
using mx_int4_element = scaled_int<4, 2>;
using mx_int4_full_element = scaled_int<4, 2, int_range::full>;
/// Plain symmetric INT8 / INT4 codes (value q) for per-tensor and per-vector scaling.
using int8_element = scaled_int<8, 0>;
using int4_element = scaled_int<4, 0>;

} // namespace mpq
