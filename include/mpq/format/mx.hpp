// OCP Microscaling (MX) block formats at any block size: MXINT8, MXINT4, MXFP8 (E4M3, E5M2),
// MXFP6 (E3M2, E2M3), MXFP4. A block of k values shares one E8M0 scale 2^E; element i stores
// P_i with value 2^E * P_i.
//
// Semantics (the tests pin each):
// - E from the block amax by the scale_mode rule (OCP floor by default), clamped to [-127, 127].
// - Elements: v_i / 2^E rounded by quantize_options::round (nearest-even by default) and
//   saturated to ±max of the element. The division is applied to the exponent, so it is exact.
// - A block holding any NaN or ±Inf gets scale 0xFF and element codes 0: every element of that
//   block (only that block) decodes to NaN.
// - An all-zero block gets scale 0x00 and zero codes (a -0 input keeps its sign where the
//   element has one).
// - float32 subnormal inputs are ordinary values: they survive when the block scale is small
//   enough, and otherwise round (to zero under round-to-nearest).
// - Blocks restart at every row (column for block_axis::columns); the last block of a row is
//   shorter when the row length is not a multiple of k, and its amax covers only its elements.
// - Dequantization is exact: 2^E * P_i is computed in float32 without rounding.
#pragma once

#include <mpq/format/quantized.hpp>
#include <mpq/format/scale_rule.hpp>
#include <mpq/numeric/e8m0.hpp>
#include <mpq/numeric/fp4.hpp>
#include <mpq/numeric/fp6.hpp>
#include <mpq/numeric/fp8.hpp>
#include <mpq/numeric/integer.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <string_view>

namespace mpq {

/// Block size chosen at run time (for block-size sweeps): mx<Element, dynamic_block_size>.
inline constexpr std::size_t dynamic_block_size = 0;

/// Short name of an MX element ("fp4_e2m1", "int8", ...), as in the MX format names.
template <class Element>
inline constexpr std::string_view mx_element_name = "?";
template <> inline constexpr std::string_view mx_element_name<mx_int8_element> = "int8";
template <> inline constexpr std::string_view mx_element_name<mx_int8_full_element> = "int8_full";
template <> inline constexpr std::string_view mx_element_name<mx_int4_element> = "int4";
template <> inline constexpr std::string_view mx_element_name<mx_int4_full_element> = "int4_full";
template <> inline constexpr std::string_view mx_element_name<fp8_e4m3> = "fp8_e4m3";
template <> inline constexpr std::string_view mx_element_name<fp8_e5m2> = "fp8_e5m2";
template <> inline constexpr std::string_view mx_element_name<fp6_e3m2> = "fp6_e3m2";
template <> inline constexpr std::string_view mx_element_name<fp6_e2m3> = "fp6_e2m3";
template <> inline constexpr std::string_view mx_element_name<fp4_e2m1> = "fp4_e2m1";

/// An MX format: Element codes in blocks of BlockSize sharing one E8M0 scale. BlockSize may
/// be any positive size (OCP uses 32); mx<Element, dynamic_block_size> takes it at run time.
template <class Element, std::size_t BlockSize = 32>
class mx {
public:
    using element = Element;
    using scale_type = std::uint8_t; ///< E8M0 byte
    static constexpr bool has_tensor_scale = false;
    static constexpr std::size_t static_block_size = BlockSize;

    constexpr mx()
        requires(BlockSize != dynamic_block_size)
    = default;
    /// Run-time block size; throws std::invalid_argument for 0.
    explicit constexpr mx(std::size_t block_size)
        requires(BlockSize == dynamic_block_size)
        : block_size_(block_size) {
        if (block_size == 0) detail::throw_invalid("mpq: MX block size must be positive, got 0");
    }

    constexpr std::size_t block_size() const { return block_size_; }
    /// Nominal storage: element bits plus the 8-bit scale shared by a block (MXINT4 at 32: 4.25).
    constexpr double bits_per_element() const {
        return Element::bits + 8.0 / static_cast<double>(block_size_);
    }
    constexpr block_geometry geometry(std::size_t rows, std::size_t cols, block_axis axis) const {
        return {rows, cols, axis, block_size_};
    }
    constexpr std::size_t scale_count(std::size_t rows, std::size_t cols, block_axis axis) const {
        return geometry(rows, cols, axis).group_count();
    }
    /// "mxfp4", "mxint8", "mxfp8_e4m3", ... with "@k" appended when k differs from 32.
    std::string name() const {
        const std::string_view e = mx_element_name<Element>;
        std::string n = "mx" + std::string(e.starts_with("fp4") ? std::string_view("fp4") : e);
        if (block_size_ != 32) n += "@" + std::to_string(block_size_);
        return n;
    }

private:
    std::size_t block_size_ = BlockSize;
};

using mxint8 = mx<mx_int8_element>;
using mxint4 = mx<mx_int4_element>;
using mxfp8_e4m3 = mx<fp8_e4m3>;
using mxfp8_e5m2 = mx<fp8_e5m2>;
using mxfp6_e3m2 = mx<fp6_e3m2>;
using mxfp6_e2m3 = mx<fp6_e2m3>;
using mxfp4 = mx<fp4_e2m1>;

template <class Element>
using mx_dynamic = mx<Element, dynamic_block_size>;

template <class T>
inline constexpr bool is_mx_format_v = false;
template <class E, std::size_t B>
inline constexpr bool is_mx_format_v<mx<E, B>> = true;

/// Element codes and E8M0 byte of one MX block, given its values; the plain scalar rule.
/// `index_of(k)` gives the tensor-wide index of value k (for the stochastic random source).
template <class Element, class IndexOf>
constexpr std::uint8_t mx_quantize_block_ref(std::span<const float> values,
                                             std::span<std::uint32_t> codes,
                                             const quantize_options& options, IndexOf index_of) {
    const auto [amax, finite] = detail::measure_group(values.size(), [&](std::size_t k) { return values[k]; });
    if (!finite) {
        for (auto& c : codes) c = 0;
        return e8m0::nan_code;
    }
    const std::uint8_t scale = mx_scale_code<Element>(amax, options.scale);
    const int exponent = static_cast<int>(scale) - e8m0::bias;
    const counter_random random{options.seed};
    for (std::size_t k = 0; k < values.size(); ++k) {
        const std::uint32_t r =
            options.round == rounding::stochastic ? random(index_of(k)) : 0U;
        codes[k] = Element::encode(values[k], options.round, overflow::saturate, r, exponent);
    }
    return scale;
}

/// Value of an MX element code under scale byte `scale` (exact; NaN for scale 0xFF).
template <class Element>
constexpr float mx_decode(std::uint32_t code, std::uint8_t scale) {
    return Element::decode(code) * e8m0::decode(scale);
}

/// Scalar reference quantizer: `input` is a row-major rows x cols tensor.
template <class Element, std::size_t B>
void quantize_ref(const mx<Element, B>&, std::span<const float> input,
                  quantized_view<mx<Element, B>> out, const quantize_options& options = {}) {
    out.validate();
    detail::require_size("quantize input", input.size(), out.size());
    detail::check_quantize_options<mx<Element, B>>(options);
    const block_geometry g = out.geometry();
    std::vector<float> values(g.group);
    std::vector<std::uint32_t> codes(g.group);
    for (std::size_t lane = 0; lane < g.lanes(); ++lane) {
        for (std::size_t b = 0; b < g.groups_per_lane(); ++b) {
            const std::size_t n = g.group_length(b);
            for (std::size_t k = 0; k < n; ++k)
                values[k] = input[g.row_of(lane, b, k) * g.cols + g.col_of(lane, b, k)];
            out.scales[g.scale_index(lane, b)] = mx_quantize_block_ref<Element>(
                std::span<const float>(values.data(), n), std::span<std::uint32_t>(codes.data(), n),
                options, [&](std::size_t k) { return g.row_of(lane, b, k) * g.cols + g.col_of(lane, b, k); });
            for (std::size_t k = 0; k < n; ++k)
                out.set_code(g.row_of(lane, b, k), g.col_of(lane, b, k), codes[k]);
        }
    }
}

/// Scalar reference dequantizer into a row-major rows x cols float tensor.
template <class Element, std::size_t B>
void dequantize_ref(quantized_const_view<mx<Element, B>> in, std::span<float> output) {
    in.validate();
    detail::require_size("dequantize output", output.size(), in.size());
    const block_geometry g = in.geometry();
    for (std::size_t lane = 0; lane < g.lanes(); ++lane) {
        for (std::size_t b = 0; b < g.groups_per_lane(); ++b) {
            const std::uint8_t scale = in.scales[g.scale_index(lane, b)];
            for (std::size_t k = 0; k < g.group_length(b); ++k) {
                const std::size_t r = g.row_of(lane, b, k), c = g.col_of(lane, b, k);
                output[r * g.cols + c] = mx_decode<Element>(in.code(r, c), scale);
            }
        }
    }
}

} // namespace mpq
