// The fast path of the kernels: round-to-nearest-even, saturating element encoders and
// arithmetic element decoders on SIMD lanes, for the default configuration. They use the
// CPU's float arithmetic (a power-of-two multiply, the float -> int conversion that rounds to
// nearest-even) where element_encode.hpp restates the reference's exact integer algorithm, so
// they need about a third of the instructions. Each is still bit-identical to the reference:
//
// - MX elements encode x * 2^-E. The kernel forms y = x * 2^(F - E) (F: an integer element's
//   fraction bits, 0 for minifloats) by one float multiply, which is exact unless y falls
//   below 2^-126; such a y lies far below half the element's smallest step (2^-17 for FP8
//   E5M2, the finest element), so the exact and the rounded product both encode to a signed
//   zero. Groups whose 2^(F - E) is not a float (E < F - 127, tiny blocks) take the exact path.
// - Formats with float scales (NVFP4, per-tensor, per-vector) divide, as the reference does,
//   so y is the reference's own quotient and needs no argument at all.
// - Everything assumes the default floating-point environment (round to nearest, subnormals
//   neither flushed nor treated as zero); `default_float_environment()` checks it once per
//   kernel call, and the kernels keep the exact integer path when it does not hold.
#pragma once

#include <mpq/kernel/compat.hpp>
#include <mpq/kernel/element_encode.hpp>
#include <mpq/numeric/integer.hpp>
#include <mpq/numeric/minifloat.hpp>

#include <bit>
#include <cfenv>
#include <cstdint>

namespace mpq::kernel::detail {

/// True when float arithmetic rounds to nearest and keeps subnormals (no FTZ / DAZ): the
/// conditions under which the fast path equals the reference.
inline bool default_float_environment() {
    if (std::fegetround() != FE_TONEAREST) return false;
#if defined(__SSE__) || defined(_M_X64)
    constexpr unsigned flush_to_zero = 1U << 15, denormals_are_zero = 1U << 6, rounding_control = 3U << 13;
    if ((_mm_getcsr() & (flush_to_zero | denormals_are_zero | rounding_control)) != 0U) return false;
#endif
    return true;
}

/// 2^k as a float for k in [-149, 127] (callers check the range), built from its bits.
constexpr float power_of_two(int k) {
    const std::uint32_t bits = k >= -126 ? static_cast<std::uint32_t>(k + 127) << 23 : 1U << (k + 149);
    return std::bit_cast<float>(bits);
}

/// Encoder of one element type for round-to-nearest-even and saturation. `encode` takes
/// y = x * 2^input_exponent (x: the value in element units) and returns the element codes.
template <class Element>
struct nearest_even_encoder;

template <class Layout>
struct nearest_even_encoder<minifloat<Layout>> {
    using L = Layout;
    static constexpr int input_exponent = 0;
    static constexpr int dropped_bits = 23 - L::mantissa_bits;
    /// |y| below this bit pattern lies in the element's subnormal range.
    static constexpr std::int32_t min_normal_bits = (127 + L::min_exponent) << 23;

    template <class A>
    static MPQ_FORCE_INLINE int_batch<A> encode(const float_batch<A>& y) {
        const int_batch<A> bits = xsimd::bitwise_cast<int_batch<A>>(y);
        const int_batch<A> magnitude_bits = bits & int_batch<A>(0x7fffffff);
        // Element normals: round the float's mantissa to the element's width, ties to an even
        // last kept bit; a carry runs into the exponent field, which is what rounding up a
        // binade needs. Then rebias the exponent field.
        const int_batch<A> odd = (magnitude_bits >> dropped_bits) & int_batch<A>(1);
        const int_batch<A> normal =
            ((magnitude_bits + int_batch<A>((1 << (dropped_bits - 1)) - 1) + odd) >> dropped_bits) -
            int_batch<A>((127 - L::bias) << L::mantissa_bits);
        // Element subnormals: |y| in units of the smallest subnormal (an exact power-of-two
        // scaling up), rounded by the conversion; 2^mantissa_bits is the smallest normal's code.
        const float_batch<A> abs_y = xsimd::bitwise_cast<float_batch<A>>(magnitude_bits);
        const int_batch<A> subnormal =
            xsimd::nearbyint_as_int(abs_y * float_batch<A>(subnormal_scale()));
        int_batch<A> magnitude = compat::select(magnitude_bits < int_batch<A>(min_normal_bits), subnormal, normal);
        magnitude = xsimd::min(magnitude, int_batch<A>(static_cast<std::int32_t>(L::max_magnitude_code)));
        // A negative value that rounds to zero keeps its sign, as in the reference.
        const int_batch<A> sign =
            (bits >> (31 - L::exponent_bits - L::mantissa_bits)) & int_batch<A>(static_cast<std::int32_t>(L::sign_bit));
        return magnitude | sign;
    }

private:
    static constexpr float subnormal_scale() { return power_of_two(L::mantissa_bits - L::min_exponent); }
};

template <int Bits, int FractionBits, int_range Range>
struct nearest_even_encoder<scaled_int<Bits, FractionBits, Range>> {
    using element = scaled_int<Bits, FractionBits, Range>;
    static constexpr int input_exponent = FractionBits;

    template <class A>
    static MPQ_FORCE_INLINE int_batch<A> encode(const float_batch<A>& y) {
        // Clamping before the conversion equals saturating after it (rounding is monotone),
        // and keeps every lane inside the int32 range of the conversion.
        const float_batch<A> clamped = xsimd::min(xsimd::max(y, float_batch<A>(static_cast<float>(element::min_int))),
                                                  float_batch<A>(static_cast<float>(element::max_int)));
        return xsimd::nearbyint_as_int(clamped) & int_batch<A>(static_cast<std::int32_t>(element::code_mask));
    }
};

/// Arithmetic decoders of element codes on lanes, value for value equal to Element::decode
/// (NaN codes give the reference's quiet NaN with the code's sign). Integer arithmetic and an
/// exact int -> float conversion only, so they do not depend on the floating-point environment.
template <class Element>
struct lane_decoder;

template <class Layout>
struct lane_decoder<minifloat<Layout>> {
    using L = Layout;
    template <class A>
    static MPQ_FORCE_INLINE float_batch<A> decode(const int_batch<A>& code) {
        const int_batch<A> magnitude = code & int_batch<A>(static_cast<std::int32_t>(L::magnitude_mask));
        // Normals: move the fields into place and rebias the exponent.
        int_batch<A> bits = (magnitude << (23 - L::mantissa_bits)) + int_batch<A>((127 - L::bias) << 23);
        // Subnormals (and zero): mantissa * 2^(min_exponent - mantissa_bits), exact.
        const int_batch<A> subnormal = xsimd::bitwise_cast<int_batch<A>>(
            xsimd::to_float(magnitude) * float_batch<A>(power_of_two(L::min_exponent - L::mantissa_bits)));
        bits = compat::select(magnitude < int_batch<A>(1 << L::mantissa_bits), subnormal, bits);
        if constexpr (L::has_inf) {
            const int_batch<A> special = compat::select(magnitude == int_batch<A>(static_cast<std::int32_t>(L::inf_code)),
                                                        int_batch<A>(0x7f800000), int_batch<A>(0x7fc00000));
            bits = compat::select(magnitude >= int_batch<A>(static_cast<std::int32_t>(L::inf_code)), special, bits);
        } else if constexpr (L::has_nan) {
            bits = compat::select(magnitude == int_batch<A>(static_cast<std::int32_t>(L::nan_code)),
                                  int_batch<A>(0x7fc00000), bits);
        }
        const int_batch<A> sign = (code & int_batch<A>(static_cast<std::int32_t>(L::sign_bit)))
                                  << (31 - L::exponent_bits - L::mantissa_bits);
        return xsimd::bitwise_cast<float_batch<A>>(bits | sign);
    }
};

template <int Bits, int FractionBits, int_range Range>
struct lane_decoder<scaled_int<Bits, FractionBits, Range>> {
    template <class A>
    static MPQ_FORCE_INLINE float_batch<A> decode(const int_batch<A>& code) {
        // Sign-extend the low Bits bits, then q * 2^-FractionBits (both steps exact).
        const int_batch<A> q = (code << (32 - Bits)) >> (32 - Bits);
        const float_batch<A> value = xsimd::to_float(q);
        if constexpr (FractionBits == 0) return value;
        else return value * float_batch<A>(power_of_two(-FractionBits));
    }
};

} // namespace mpq::kernel::detail
