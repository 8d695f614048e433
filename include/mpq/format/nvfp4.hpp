// NVFP4: FP4 E2M1 elements in blocks of 16, each block with an unsigned E4M3 scale, and one
// float32 scale for the whole tensor (two-level scaling).
//
// Convention: both scales are decode multipliers. value = e2m1 * (ue4m3(s_block) * s_tensor),
// with the product in parentheses computed first in float32.
// Recipe (mpq's, written down so a SIMD path can match it bit for bit):
//   s_tensor = amax_tensor / 2688  (2688 = 6 * 448; amax over the finite values; 1 if that is 0;
//              quantize_options::tensor_amax replaces the measured amax: calibrated scaling)
//   s_block  = ue4m3(RNE, saturating)((amax_block / 6) / s_tensor); a nonzero block whose
//              scale would round to 0 gets the smallest scale 2^-9 instead
//   element  = e2m1(RNE by default, saturating)(x / (ue4m3(s_block) * s_tensor))
// Blocks with NaN or ±Inf get the NaN scale 0x7F and zero codes (they decode to NaN); all-zero
// blocks get scale 0 and zero codes; a block whose decode multiplier underflows to 0 in float32
// (a tensor of ~1e-38 values) stores zeros.
// Element codes and block scales agree with TransformerEngine, torchao and ModelOpt on the
// worked example; their float recipes differ from each other by one ulp in places.
#pragma once

#include <mpq/format/quantized.hpp>
#include <mpq/numeric/fp4.hpp>
#include <mpq/numeric/fp8.hpp>

#include <algorithm>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace mpq {

class nvfp4 {
public:
    using element = fp4_e2m1;
    using scale_type = std::uint8_t; ///< ue4m3 code
    static constexpr bool has_tensor_scale = true;
    static constexpr std::size_t static_block_size = 16;
    /// e2m1 max (6) times ue4m3 max (448): the tensor amax maps to the largest block scale.
    static constexpr float tensor_scale_divisor = 2688.0f;

    static constexpr std::size_t block_size() { return 16; }
    /// Nominal storage: 4 bits plus an 8-bit scale per 16 (the tensor scale is not counted).
    static constexpr double bits_per_element() { return 4.0 + 8.0 / 16.0; }
    constexpr block_geometry geometry(std::size_t rows, std::size_t cols, block_axis axis) const {
        return {rows, cols, axis, 16};
    }
    constexpr std::size_t scale_count(std::size_t rows, std::size_t cols, block_axis axis) const {
        return geometry(rows, cols, axis).group_count();
    }
    std::string name() const { return "nvfp4"; }

    /// The tensor scale for a tensor whose largest finite magnitude is amax.
    static float tensor_scale_for(float amax) {
        if (!(amax > 0.0f)) return 1.0f;
        const float s = amax / tensor_scale_divisor;
        return s > 0.0f ? s : std::numeric_limits<float>::denorm_min();
    }
    /// The ue4m3 block-scale code for a block amax (finite, >= 0) under tensor scale s_tensor.
    static std::uint8_t block_scale_code(float amax_block, float tensor_scale) {
        if (amax_block == 0.0f) return 0;
        const auto code = ue4m3::encode((amax_block / 6.0f) / tensor_scale);
        return code == 0 ? std::uint8_t{1} : code;
    }
};

/// Largest finite magnitude of a span (0 for none), compared as integers.
inline float finite_amax(std::span<const float> values) {
    std::uint32_t amax = 0;
    for (float v : values) {
        const std::uint32_t m = detail::bits_of(v) & detail::f32_abs_mask;
        if (m < detail::f32_inf_bits) amax = std::max(amax, m);
    }
    return detail::float_of(amax);
}

/// Scalar reference quantizer: `input` is a row-major rows x cols tensor.
inline void quantize_ref(const nvfp4&, std::span<const float> input, quantized_view<nvfp4> out,
                         const quantize_options& options = {}) {
    out.validate();
    detail::require_size("quantize input", input.size(), out.size());
    detail::check_quantize_options<nvfp4>(options);
    const float tensor_scale = nvfp4::tensor_scale_for(options.tensor_amax ? *options.tensor_amax : finite_amax(input));
    *out.tensor_scale = tensor_scale;
    const block_geometry g = out.geometry();
    const counter_random random{options.seed};
    for (std::size_t lane = 0; lane < g.lanes(); ++lane) {
        for (std::size_t b = 0; b < g.groups_per_lane(); ++b) {
            const std::size_t n = g.group_length(b);
            auto index = [&](std::size_t k) { return g.row_of(lane, b, k) * g.cols + g.col_of(lane, b, k); };
            const auto [amax, finite] = detail::measure_group(n, [&](std::size_t k) { return input[index(k)]; });
            const std::uint8_t scale =
                finite ? nvfp4::block_scale_code(amax, tensor_scale)
                       : static_cast<std::uint8_t>(ue4m3_layout::nan_code);
            out.scales[g.scale_index(lane, b)] = scale;
            const float multiplier = ue4m3::decode(scale) * tensor_scale;
            const bool store_zero = !finite || scale == 0 || multiplier == 0.0f;
            for (std::size_t k = 0; k < n; ++k) {
                const std::size_t i = index(k);
                std::uint32_t code = 0;
                if (!store_zero) {
                    const std::uint32_t r = options.round == rounding::stochastic ? random(i) : 0U;
                    code = fp4_e2m1::encode(input[i] / multiplier, options.round, overflow::saturate, r);
                }
                out.set_code(i / g.cols, i % g.cols, code);
            }
        }
    }
}

/// Scalar reference dequantizer.
inline void dequantize_ref(quantized_const_view<nvfp4> in, std::span<float> output) {
    in.validate();
    detail::require_size("dequantize output", output.size(), in.size());
    const float tensor_scale = *in.tensor_scale;
    const block_geometry g = in.geometry();
    for (std::size_t lane = 0; lane < g.lanes(); ++lane) {
        for (std::size_t b = 0; b < g.groups_per_lane(); ++b) {
            const float multiplier = ue4m3::decode(in.scales[g.scale_index(lane, b)]) * tensor_scale;
            for (std::size_t k = 0; k < g.group_length(b); ++k) {
                const std::size_t r = g.row_of(lane, b, k), c = g.col_of(lane, b, k);
                output[r * g.cols + c] = fp4_e2m1::decode(in.code(r, c)) * multiplier;
            }
        }
    }
}

} // namespace mpq
