// One bit-layout traits template for every small floating-point type in mpq, and the value
// type built on it. Every constant (largest finite code, NaN and Inf codes, emax, bias) is
// derived from the layout; the named types in fp8.hpp, fp6.hpp, fp4.hpp and half.hpp only
// choose a layout and document it.
#pragma once

#include <mpq/detail/float_bits.hpp>
#include <mpq/numeric/rounding.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>

namespace mpq {

/// Which codes are reserved for non-finite values.
enum class special_values : std::uint8_t {
    ieee,     ///< top exponent reserved: mantissa 0 is ±Inf, anything else NaN (E5M2, FP16, BF16)
    nan_only, ///< only the all-ones magnitude is NaN; no Inf (OCP E4M3 "fn")
    none,     ///< every code is a finite number (FP6, FP4)
};

/// Bit layout of a sign / exponent / mantissa format; every other constant derives from it.
template <int ExponentBits, int MantissaBits, int Bias, special_values Specials, bool Signed = true>
struct float_layout {
    static_assert(ExponentBits >= 1 && MantissaBits >= 1 && ExponentBits + MantissaBits <= 15);
    static constexpr int exponent_bits = ExponentBits;
    static constexpr int mantissa_bits = MantissaBits;
    static constexpr int bias = Bias;
    static constexpr special_values specials = Specials;
    static constexpr bool is_signed = Signed;
    static constexpr int bits = (Signed ? 1 : 0) + ExponentBits + MantissaBits;

    static constexpr std::uint32_t sign_bit = Signed ? 1U << (ExponentBits + MantissaBits) : 0U;
    static constexpr std::uint32_t mantissa_mask = (1U << MantissaBits) - 1U;
    static constexpr std::uint32_t exponent_all_ones = (1U << ExponentBits) - 1U;
    static constexpr std::uint32_t magnitude_mask = (1U << (ExponentBits + MantissaBits)) - 1U;

    static constexpr bool has_inf = Specials == special_values::ieee;
    static constexpr bool has_nan = Specials != special_values::none;

    /// Largest exponent field that holds finite values, and its largest finite mantissa.
    static constexpr std::uint32_t max_finite_field =
        has_inf ? exponent_all_ones - 1U : exponent_all_ones;
    static constexpr std::uint32_t max_finite_mantissa =
        Specials == special_values::nan_only ? mantissa_mask - 1U : mantissa_mask;
    /// Magnitude code of the largest finite value; magnitude codes are ordered like values.
    static constexpr std::uint32_t max_magnitude_code =
        (max_finite_field << MantissaBits) | max_finite_mantissa;
    static constexpr std::uint32_t inf_code = exponent_all_ones << MantissaBits;
    /// The canonical (positive, quiet) NaN code; 0 when the format has no NaN.
    static constexpr std::uint32_t nan_code =
        Specials == special_values::ieee       ? inf_code | (1U << (MantissaBits - 1))
        : Specials == special_values::nan_only ? magnitude_mask
                                               : 0U;

    /// Unbiased exponent of the smallest normal and of the largest power of two (emax).
    static constexpr int min_exponent = 1 - Bias;
    static constexpr int max_exponent = static_cast<int>(max_finite_field) - Bias;
};

namespace detail {

template <class Layout>
constexpr float decode_minifloat(std::uint32_t code) {
    using L = Layout;
    const bool negative = (code & L::sign_bit) != 0U;
    const std::uint32_t magnitude = code & L::magnitude_mask;
    const std::uint32_t field = magnitude >> L::mantissa_bits;
    const std::uint32_t mantissa = magnitude & L::mantissa_mask;
    if constexpr (L::has_inf) {
        if (field == L::exponent_all_ones) {
            if (mantissa == 0U) {
                return negative ? -std::numeric_limits<float>::infinity()
                                : std::numeric_limits<float>::infinity();
            }
            return negative ? -std::numeric_limits<float>::quiet_NaN()
                            : std::numeric_limits<float>::quiet_NaN();
        }
    } else if constexpr (L::has_nan) {
        if (magnitude == L::nan_code) {
            return negative ? -std::numeric_limits<float>::quiet_NaN()
                            : std::numeric_limits<float>::quiet_NaN();
        }
    }
    if (field == 0U) return make_float(negative, mantissa, L::min_exponent - L::mantissa_bits);
    return make_float(negative, mantissa | (1U << L::mantissa_bits),
                      static_cast<int>(field) - L::bias - L::mantissa_bits);
}

/// Encodes x * 2^-scale_exponent. The scale is applied to the exponent, never by a float
/// multiply, so it is exact for every scale (MX blocks use it with the shared exponent).
template <class Layout>
constexpr std::uint32_t encode_minifloat(float x, int scale_exponent, rounding mode,
                                         overflow on_overflow, std::uint32_t random) {
    using L = Layout;
    const std::uint32_t b = bits_of(x);
    const bool negative = (b & f32_sign_mask) != 0U;
    const std::uint32_t sign = negative ? L::sign_bit : 0U;
    if (is_nan_bits(b)) return L::has_nan ? (L::nan_code | sign) : 0U;
    if constexpr (!L::is_signed) {
        // An unsigned format (a scale) cannot hold a negative value: NaN where it can say so.
        if (negative && (b & f32_abs_mask) != 0U) return L::has_nan ? L::nan_code : 0U;
    }
    const bool ieee_overflow = on_overflow == overflow::ieee && L::has_nan;
    if ((b & f32_abs_mask) == f32_inf_bits) {
        if (!ieee_overflow) return L::max_magnitude_code | sign;
        return (L::has_inf ? L::inf_code : L::nan_code) | sign;
    }
    const auto [significand, lsb0] = unpack_magnitude(b);
    if (significand == 0U) return sign;
    const int lsb = lsb0 - scale_exponent;
    const int exponent = std::max(floor_log2_bits(b) - scale_exponent, L::min_exponent);
    int quantum = exponent - L::mantissa_bits;
    std::uint64_t rounded = round_shift(significand, quantum - lsb, mode, random);
    if (rounded == 0U) return sign;
    if ((rounded >> (L::mantissa_bits + 1)) != 0U) { // carried into the next binade
        rounded >>= 1;
        ++quantum;
    }
    std::uint64_t magnitude = rounded; // subnormal: exponent field 0
    if (rounded >= (std::uint64_t{1} << L::mantissa_bits)) {
        const auto field = static_cast<std::uint64_t>(quantum + L::mantissa_bits + L::bias);
        magnitude = (field << L::mantissa_bits) | (rounded & L::mantissa_mask);
    }
    if (magnitude > L::max_magnitude_code) {
        if (!ieee_overflow || mode == rounding::toward_zero) return L::max_magnitude_code | sign;
        return (L::has_inf ? L::inf_code : L::nan_code) | sign;
    }
    return static_cast<std::uint32_t>(magnitude) | sign;
}

} // namespace detail

/// A small floating-point number stored as its raw code. Conversions from float round to
/// nearest-even and saturate unless told otherwise; conversions to float are exact.
template <class Layout>
class minifloat {
public:
    using layout = Layout;
    using code_type = std::conditional_t<(Layout::bits <= 8), std::uint8_t, std::uint16_t>;

    static constexpr int bits = Layout::bits;
    static constexpr int exponent_bits = Layout::exponent_bits;
    static constexpr int mantissa_bits = Layout::mantissa_bits;
    static constexpr int bias = Layout::bias;
    static constexpr bool has_inf = Layout::has_inf;
    static constexpr bool has_nan = Layout::has_nan;
    static constexpr bool is_signed = Layout::is_signed;
    /// Exponent of the largest power of two the format holds (the MX rule subtracts it).
    static constexpr int emax = Layout::max_exponent;
    static constexpr code_type max_code = static_cast<code_type>(Layout::max_magnitude_code);
    static constexpr std::size_t code_count = std::size_t{1} << bits;

    /// Value of a code, exactly.
    static constexpr float decode(std::uint32_t code) {
        if constexpr (bits <= 8) {
            return table_[code & (code_count - 1U)];
        } else {
            return detail::decode_minifloat<Layout>(code);
        }
    }
    /// Code of x * 2^-scale_exponent. Saturating by default; see mpq::overflow.
    static constexpr code_type encode(float x, rounding mode = rounding::nearest_even,
                                      overflow on_overflow = overflow::saturate,
                                      std::uint32_t random = 0, int scale_exponent = 0) {
        return static_cast<code_type>(
            detail::encode_minifloat<Layout>(x, scale_exponent, mode, on_overflow, random));
    }

    static constexpr float max_value() { return decode(Layout::max_magnitude_code); }
    static constexpr float min_normal() { return decode(1U << mantissa_bits); }
    static constexpr float min_subnormal() { return decode(1U); }

    constexpr minifloat() = default;
    explicit constexpr minifloat(float x, rounding mode = rounding::nearest_even,
                                 overflow on_overflow = overflow::saturate, std::uint32_t random = 0)
        : code_(encode(x, mode, on_overflow, random)) {}
    static constexpr minifloat from_bits(code_type code) {
        minifloat m;
        m.code_ = code;
        return m;
    }
    constexpr code_type code() const { return code_; }
    constexpr float to_float() const { return decode(code_); }
    explicit constexpr operator float() const { return to_float(); }
    friend constexpr bool operator==(minifloat a, minifloat b) { return a.code_ == b.code_; }

private:
    static constexpr auto make_table() {
        std::array<float, (bits <= 8 ? code_count : 1)> t{};
        for (std::size_t c = 0; c < t.size(); ++c)
            t[c] = detail::decode_minifloat<Layout>(static_cast<std::uint32_t>(c));
        return t;
    }
    static constexpr auto table_ = make_table();

    code_type code_ = 0;
};

} // namespace mpq
