// Symmetric absmax scaling with float32 scales: one scale per tensor, or one per vector (a
// row, a column, or VS-Quant-style runs of V elements along the blocked axis).
//
// Convention: the scale is a decode multiplier, scale = amax / qmax in float32 (qmax = 127 for
// INT8, 7 for INT4, 6 for FP4 E2M1); code = element(x / scale) rounded (nearest-even by default)
// and saturated; value = decode(code) * scale.
// - amax = 0 gives scale 1 (every code is 0); an amax so small that amax / qmax underflows
//   gives the smallest subnormal scale.
// - A group holding NaN or ±Inf gets a NaN scale and zero codes: the whole group decodes to NaN
//   (for per_tensor, the whole tensor).
// - INT codes are symmetric (±qmax); the most negative two's-complement code is never produced.
#pragma once

#include <mpq/format/quantized.hpp>
#include <mpq/numeric/fp4.hpp>
#include <mpq/numeric/fp8.hpp>
#include <mpq/numeric/integer.hpp>

#include <algorithm>
#include <limits>
#include <span>
#include <string>
#include <string_view>

namespace mpq {

template <class Element>
inline constexpr std::string_view scaled_element_name = "?";
template <> inline constexpr std::string_view scaled_element_name<int8_element> = "int8";
template <> inline constexpr std::string_view scaled_element_name<int4_element> = "int4";
template <> inline constexpr std::string_view scaled_element_name<fp4_e2m1> = "fp4_e2m1";
template <> inline constexpr std::string_view scaled_element_name<fp8_e4m3> = "fp8_e4m3";

namespace detail {

/// Decode multiplier for a group with largest finite magnitude amax.
template <class Element>
inline float absmax_scale(float amax) {
    if (amax == 0.0f) return 1.0f;
    const float s = amax / Element::max_value();
    return s > 0.0f ? s : std::numeric_limits<float>::denorm_min();
}

} // namespace detail

/// One float32 scale for the whole tensor.
template <class Element>
class per_tensor {
public:
    using element = Element;
    using scale_type = float;
    static constexpr bool has_tensor_scale = false;

    static constexpr double bits_per_element() { return Element::bits; }
    constexpr block_geometry geometry(std::size_t rows, std::size_t cols, block_axis axis) const {
        // The whole tensor is one group; the geometry only serves element addressing.
        return {rows, cols, axis, std::max<std::size_t>(1, axis == block_axis::rows ? cols : rows)};
    }
    constexpr std::size_t scale_count(std::size_t, std::size_t, block_axis) const { return 1; }
    std::string name() const { return std::string(scaled_element_name<Element>) + "_tensor"; }
};

/// One float32 scale per vector: a whole row (block_axis::rows) or column (block_axis::columns)
/// when vector_length is 0, else runs of vector_length elements along that axis.
template <class Element>
class per_vector {
public:
    using element = Element;
    using scale_type = float;
    static constexpr bool has_tensor_scale = false;

    constexpr per_vector() = default;
    explicit constexpr per_vector(std::size_t vector_length) : vector_length_(vector_length) {}

    constexpr std::size_t vector_length() const { return vector_length_; }
    /// Nominal bits: element bits plus 32 / vector_length (a whole-row vector's scale overhead
    /// depends on the row length; storage_bits_per_element gives the exact figure).
    constexpr double bits_per_element() const {
        return Element::bits + (vector_length_ ? 32.0 / static_cast<double>(vector_length_) : 0.0);
    }
    constexpr block_geometry geometry(std::size_t rows, std::size_t cols, block_axis axis) const {
        const std::size_t axis_length = axis == block_axis::rows ? cols : rows;
        return {rows, cols, axis, std::max<std::size_t>(1, vector_length_ ? vector_length_ : axis_length)};
    }
    constexpr std::size_t scale_count(std::size_t rows, std::size_t cols, block_axis axis) const {
        return geometry(rows, cols, axis).group_count();
    }
    std::string name() const {
        std::string n = std::string(scaled_element_name<Element>) + "_vector";
        if (vector_length_) n += "@" + std::to_string(vector_length_);
        return n;
    }

private:
    std::size_t vector_length_ = 0;
};

using int8_tensor = per_tensor<int8_element>;
using int4_tensor = per_tensor<int4_element>;
using fp4_e2m1_tensor = per_tensor<fp4_e2m1>;
using int8_vector = per_vector<int8_element>;
using int4_vector = per_vector<int4_element>;
using fp4_e2m1_vector = per_vector<fp4_e2m1>;

namespace detail {

/// Encodes `count` elements through index_of(k) with one absmax scale; returns the scale.
template <class Element, class IndexOf, class Store>
float quantize_absmax_group(std::span<const float> input, std::size_t count, IndexOf index_of,
                            Store store, const quantize_options& options) {
    const auto [amax, finite] = measure_group(count, [&](std::size_t k) { return input[index_of(k)]; });
    if (!finite) {
        for (std::size_t k = 0; k < count; ++k) store(index_of(k), 0U);
        return std::numeric_limits<float>::quiet_NaN();
    }
    const float scale = absmax_scale<Element>(amax);
    const counter_random random{options.seed};
    for (std::size_t k = 0; k < count; ++k) {
        const std::size_t i = index_of(k);
        const std::uint32_t r = options.round == rounding::stochastic ? random(i) : 0U;
        store(i, Element::encode(input[i] / scale, options.round, overflow::saturate, r));
    }
    return scale;
}

} // namespace detail

/// Scalar reference quantizers: `input` is a row-major rows x cols tensor.
template <class Element>
void quantize_ref(const per_tensor<Element>&, std::span<const float> input,
                  quantized_view<per_tensor<Element>> out, const quantize_options& options = {}) {
    out.validate();
    detail::require_size("quantize input", input.size(), out.size());
    detail::check_quantize_options<per_tensor<Element>>(options);
    const std::size_t cols = std::max<std::size_t>(out.cols, 1);
    out.scales[0] = detail::quantize_absmax_group<Element>(
        input, input.size(), [](std::size_t k) { return k; },
        [&](std::size_t i, std::uint32_t code) { out.set_code(i / cols, i % cols, code); }, options);
}

template <class Element>
void quantize_ref(const per_vector<Element>&, std::span<const float> input,
                  quantized_view<per_vector<Element>> out, const quantize_options& options = {}) {
    out.validate();
    detail::require_size("quantize input", input.size(), out.size());
    detail::check_quantize_options<per_vector<Element>>(options);
    const block_geometry g = out.geometry();
    for (std::size_t lane = 0; lane < g.lanes(); ++lane) {
        for (std::size_t b = 0; b < g.groups_per_lane(); ++b) {
            out.scales[g.scale_index(lane, b)] = detail::quantize_absmax_group<Element>(
                input, g.group_length(b),
                [&](std::size_t k) { return g.row_of(lane, b, k) * g.cols + g.col_of(lane, b, k); },
                [&](std::size_t i, std::uint32_t code) { out.set_code(i / g.cols, i % g.cols, code); },
                options);
        }
    }
}

/// Scalar reference dequantizers.
template <class Element>
void dequantize_ref(quantized_const_view<per_tensor<Element>> in, std::span<float> output) {
    in.validate();
    detail::require_size("dequantize output", output.size(), in.size());
    const float scale = in.scales[0];
    for (std::size_t r = 0; r < in.rows; ++r)
        for (std::size_t c = 0; c < in.cols; ++c)
            output[r * in.cols + c] = Element::decode(in.code(r, c)) * scale;
}

template <class Element>
void dequantize_ref(quantized_const_view<per_vector<Element>> in, std::span<float> output) {
    in.validate();
    detail::require_size("dequantize output", output.size(), in.size());
    const block_geometry g = in.geometry();
    for (std::size_t lane = 0; lane < g.lanes(); ++lane) {
        for (std::size_t b = 0; b < g.groups_per_lane(); ++b) {
            const float scale = in.scales[g.scale_index(lane, b)];
            for (std::size_t k = 0; k < g.group_length(b); ++k) {
                const std::size_t r = g.row_of(lane, b, k), c = g.col_of(lane, b, k);
                output[r * g.cols + c] = Element::decode(in.code(r, c)) * scale;
            }
        }
    }
}

} // namespace mpq
