// What each block format does per scale group, stated once for every kernel: how the group's
// scale follows from its amax (by calling the reference's own scalar rules, so the SIMD and
// scalar paths cannot drift apart), what the element encoder receives, and the decode
// multiplier. Kernels see formats in a normal form: an MX format always carries its block
// size at run time, so one instantiation serves every block size.
#pragma once

#include <mpq/format/mx.hpp>
#include <mpq/format/nvfp4.hpp>
#include <mpq/format/scaled.hpp>
#include <mpq/kernel/compat.hpp>
#include <mpq/kernel/element_encode.hpp>
#include <mpq/kernel/nearest_even.hpp>

#include <array>
#include <bit>
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

/// group_params of up to `Lanes` groups as arrays, one entry per group, as the batched
/// scale rules produce them: the fast element loop reads its per-group values from here.
template <std::size_t Lanes>
struct group_lanes {
    /// Fast path: elements encode x * step (MX) or x / step (formats that divide).
    alignas(64) std::array<float, Lanes> step{};
    alignas(64) std::array<float, Lanes> multiplier{};   ///< decode multiplier
    alignas(64) std::array<std::int32_t, Lanes> exponent{}; ///< E (MX), else 0
    alignas(64) std::array<std::int32_t, Lanes> keep{};     ///< -1: encode; 0: store code 0
    alignas(64) std::array<std::int32_t, Lanes> fast{};     ///< -1: the fast path applies
};

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
        } else if (o.scale == scale_mode::floor) {
            // The OCP rule of mx_scale_code, from the bits: floor(log2 amax) - emax, clamped to
            // the E8M0 range (a subnormal or zero amax gives code 0; every emax is >= 0).
            static_assert(Element::emax >= 0);
            const int code = static_cast<int>(amax_bits >> 23) - Element::emax;
            scale = static_cast<scale_type>(code < 0 ? 0 : (code > 254 ? 254 : code));
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

    /// group() for `count` <= lanes groups at once, as arrays; the floor rule (the default)
    /// on lanes, every other rule group by group.
    template <class A>
    static void lanes(const std::int32_t* amax_bits, std::size_t count, scale_type* scales,
                      group_lanes<compat::lanes<A>>& out, const quantize_options& o, float tensor_scale) {
        if (o.scale != scale_mode::floor) {
            for (std::size_t k = 0; k < count; ++k) {
                const group_params p = group(static_cast<std::uint32_t>(amax_bits[k]), scales[k], o, tensor_scale);
                out.step[k] = p.fast_multiplier;
                out.multiplier[k] = p.multiplier;
                out.exponent[k] = p.exponent;
                out.keep[k] = p.zero ? 0 : -1;
                out.fast[k] = p.fast ? -1 : 0;
            }
            return;
        }
        using ints = int_batch<A>;
        constexpr int input_exponent = nearest_even_encoder<Element>::input_exponent;
        const ints amax = ints::load_unaligned(amax_bits);
        const auto finite = amax < ints(static_cast<std::int32_t>(mpq::detail::f32_inf_bits));
        const ints floor_code = xsimd::min(xsimd::max((amax >> 23) - ints(Element::emax), ints(0)), ints(254));
        const ints code = compat::select(finite, floor_code, ints(e8m0::nan_code));
        // e8m0::decode: 2^(code - 127); code 0 is the subnormal 2^-127, code 255 NaN.
        const ints multiplier = compat::select(
            finite, compat::select(code == ints(0), ints(0x00400000), code << 23),
            ints(static_cast<std::int32_t>(std::bit_cast<std::uint32_t>(e8m0::decode(e8m0::nan_code)))));
        // 2^(F - E) = 2^(F + 127 - code): a normal float down to code = F + 1, 2^-127 at F + 254.
        const ints fast_exponent = ints(input_exponent + 127) - code;
        const ints fast_multiplier = compat::select(fast_exponent >= ints(-126), (fast_exponent + ints(127)) << 23,
                                                    ints(0x00400000));
        alignas(64) std::array<std::int32_t, compat::lanes<A>> codes{};
        code.store_aligned(codes.data());
        xsimd::bitwise_cast<float_batch<A>>(fast_multiplier).store_aligned(out.step.data());
        xsimd::bitwise_cast<float_batch<A>>(multiplier).store_aligned(out.multiplier.data());
        (code - ints(e8m0::bias)).store_aligned(out.exponent.data());
        compat::select(finite, ints(-1), ints(0)).store_aligned(out.keep.data());
        compat::select(code >= ints(input_exponent), ints(-1), ints(0)).store_aligned(out.fast.data());
        for (std::size_t k = 0; k < count; ++k) scales[k] = static_cast<scale_type>(codes[k]);
    }

    /// One group's parameters from group_lanes (the inverse of what lanes() stores).
    template <std::size_t Lanes>
    static group_params params(const group_lanes<Lanes>& l, std::size_t k) {
        group_params p;
        p.exponent = l.exponent[k];
        p.multiplier = l.multiplier[k];
        p.zero = l.keep[k] == 0;
        p.fast = l.fast[k] != 0;
        p.fast_multiplier = l.step[k];
        return p;
    }
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

    /// group() for `count` <= lanes blocks at once, as arrays, on lanes: the same divisions,
    /// the UE4M3 encode by the nearest-even lane encoder (the reference's encode rounds to
    /// nearest-even and saturates), the decode by the lane decoder. Needs the default
    /// floating-point environment (see default_float_environment).
    template <class A>
    static void lanes(const std::int32_t* amax_bits, std::size_t count, scale_type* scales,
                      group_lanes<compat::lanes<A>>& out, const quantize_options&, float tensor_scale) {
        using ints = int_batch<A>;
        using floats = float_batch<A>;
        const ints amax = ints::load_unaligned(amax_bits);
        const auto finite = amax < ints(static_cast<std::int32_t>(mpq::detail::f32_inf_bits));
        const floats ts(tensor_scale);
        const floats quotient = (xsimd::bitwise_cast<floats>(amax) / floats(6.0f)) / ts;
        ints code = nearest_even_encoder<ue4m3>::encode<A>(quotient);
        code = compat::select(code == ints(0), ints(1), code);
        code = compat::select(amax == ints(0), ints(0), code);
        code = compat::select(finite, code, ints(static_cast<std::int32_t>(ue4m3_layout::nan_code)));
        const floats multiplier = lane_decoder<ue4m3>::decode<A>(code) * ts;
        // Stored as zeros: NaN/Inf blocks, all-zero blocks, and blocks whose multiplier underflows.
        const auto keep = finite && code != ints(0) && xsimd::bool_cast(multiplier != floats(0.0f));
        alignas(64) std::array<std::int32_t, compat::lanes<A>> codes{};
        code.store_aligned(codes.data());
        multiplier.store_aligned(out.step.data());
        multiplier.store_aligned(out.multiplier.data());
        ints(0).store_aligned(out.exponent.data());
        compat::select(keep, ints(-1), ints(0)).store_aligned(out.keep.data());
        ints(-1).store_aligned(out.fast.data());
        for (std::size_t k = 0; k < count; ++k) scales[k] = static_cast<scale_type>(codes[k]);
    }

    /// One block's parameters from group_lanes (the inverse of what lanes() stores).
    template <std::size_t Lanes>
    static group_params params(const group_lanes<Lanes>& l, std::size_t k) {
        group_params p;
        p.multiplier = l.multiplier[k];
        p.divisor = l.step[k];
        p.zero = l.keep[k] == 0;
        p.fast_multiplier = power_of_two(nearest_even_encoder<element>::input_exponent);
        return p;
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
