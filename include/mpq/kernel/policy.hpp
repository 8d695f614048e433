// What each block format does per scale group, stated once for every kernel: how the group's
// scale follows from its amax (by calling the reference's own scalar rules, so the SIMD and
// scalar paths cannot drift apart), what the element encoder receives, and the decode
// multiplier. Kernels see formats in a normal form: an MX format always carries its block
// size at run time, so one instantiation serves every block size.
#pragma once

#include <mpq/format/mx.hpp>
#include <mpq/format/nvfp4.hpp>
#include <mpq/format/scaled.hpp>
#include <mpq/kernel/element_encode.hpp>
#include <mpq/kernel/nearest_even.hpp>

#include <array>
#include <cstdint>
#include <limits>

namespace mpq::kernel::detail {

/// Everything the element loop needs about one scale group.
struct group_params {
    std::int32_t exponent = 0; ///< E: elements encode x * 2^-E (MX), else 0
    float divisor = 1.0f;      ///< elements encode x / divisor (formats with float scales)
    float multiplier = 1.0f;   ///< decode multiplier: value = decode(code) * multiplier
    bool zero = false;         ///< store code 0 for every element (NaN/Inf blocks, NVFP4 underflow)
    /// Fast path (nearest_even.hpp): elements encode x * fast_multiplier (after the division
    /// by `divisor`, for formats that divide); false when that multiplier is not a float.
    bool fast = true;
    float fast_multiplier = 1.0f;
};

/// Value of every code of an element type, for table look-ups.
template <class Element>
inline constexpr auto decode_table = [] {
    std::array<float, Element::code_count> t{};
    for (std::size_t c = 0; c < t.size(); ++c) t[c] = Element::decode(static_cast<std::uint32_t>(c));
    return t;
}();

template <class Format>
struct policy;

template <class Element>
struct policy<mx<Element, dynamic_block_size>> {
    using element = Element;
    using scale_type = std::uint8_t;
    static constexpr bool divides = false;
    static constexpr bool tensor_wide = false;

    static group_params group(std::uint32_t amax_bits, scale_type& scale, const quantize_options& o, float) {
        group_params p;
        if (amax_bits >= mpq::detail::f32_inf_bits) {
            scale = e8m0::nan_code;
            p.zero = true;
        } else {
            scale = mx_scale_code<Element>(mpq::detail::float_of(amax_bits), o.scale);
        }
        p.exponent = static_cast<std::int32_t>(scale) - e8m0::bias;
        p.multiplier = e8m0::decode(scale);
        // x * 2^(F - E) in one multiply; 2^(F - E) >= 2^-127 is always a float, so only the
        // upper end needs a check.
        const int fast_exponent = nearest_even_encoder<Element>::input_exponent - p.exponent;
        p.fast = fast_exponent <= 127;
        if (p.fast) p.fast_multiplier = power_of_two(fast_exponent);
        return p;
    }
    static float multiplier(scale_type scale, float) { return e8m0::decode(scale); }
};

template <>
struct policy<nvfp4> {
    using element = fp4_e2m1;
    using scale_type = std::uint8_t;
    static constexpr bool divides = true;
    static constexpr bool tensor_wide = false;

    static group_params group(std::uint32_t amax_bits, scale_type& scale, const quantize_options&,
                              float tensor_scale) {
        const bool finite = amax_bits < mpq::detail::f32_inf_bits;
        scale = finite ? nvfp4::block_scale_code(mpq::detail::float_of(amax_bits), tensor_scale)
                       : static_cast<std::uint8_t>(ue4m3_layout::nan_code);
        group_params p;
        p.multiplier = ue4m3::decode(scale) * tensor_scale;
        p.divisor = p.multiplier;
        p.zero = !finite || scale == 0 || p.multiplier == 0.0f;
        p.fast_multiplier = power_of_two(nearest_even_encoder<element>::input_exponent);
        return p;
    }
    static float multiplier(scale_type scale, float tensor_scale) {
        return ue4m3::decode(scale) * tensor_scale;
    }
};

template <class Element>
struct absmax_policy {
    using element = Element;
    using scale_type = float;
    static constexpr bool divides = true;

    static group_params group(std::uint32_t amax_bits, scale_type& scale, const quantize_options&, float) {
        group_params p;
        if (amax_bits >= mpq::detail::f32_inf_bits) {
            scale = std::numeric_limits<float>::quiet_NaN();
            p.zero = true;
        } else {
            scale = mpq::detail::absmax_scale<Element>(mpq::detail::float_of(amax_bits));
        }
        p.divisor = scale;
        p.multiplier = scale;
        p.fast_multiplier = power_of_two(nearest_even_encoder<Element>::input_exponent);
        return p;
    }
    static float multiplier(scale_type scale, float) { return scale; }
};

template <class Element>
struct policy<per_vector<Element>> : absmax_policy<Element> {
    static constexpr bool tensor_wide = false;
};
template <class Element>
struct policy<per_tensor<Element>> : absmax_policy<Element> {
    static constexpr bool tensor_wide = true; ///< one group: the whole tensor
};

/// The normal form of a format (MX with a run-time block size) and of its views.
template <class Format>
struct normal_form {
    using type = Format;
    static constexpr const Format& format(const Format& f) { return f; }
};
template <class Element, std::size_t B>
struct normal_form<mx<Element, B>> {
    using type = mx<Element, dynamic_block_size>;
    static type format(const mx<Element, B>& f) { return type(f.block_size()); }
};
template <class Format>
using normal_form_t = typename normal_form<Format>::type;

template <class Format, bool Mutable>
basic_quantized_view<normal_form_t<Format>, Mutable> normalize(const basic_quantized_view<Format, Mutable>& v) {
    return {normal_form<Format>::format(v.format), v.rows, v.cols, v.axis, v.codes, v.scales, v.tensor_scale};
}

} // namespace mpq::kernel::detail
