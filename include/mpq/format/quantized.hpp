// Packed storage of a quantized 2-D tensor: element codes packed into bytes (packing.hpp),
// per-group scales in their own array, and for two-level formats one float tensor scale.
// quantized_tensor owns its memory; quantized_view / quantized_const_view wrap caller memory.
#pragma once

#include <mpq/format/geometry.hpp>
#include <mpq/format/packing.hpp>
#include <mpq/format/scale_rule.hpp>
#include <mpq/numeric/rounding.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace mpq {

struct quantize_options {
    scale_mode scale = scale_mode::floor;   ///< shared-exponent rule (MX formats only)
    rounding round = rounding::nearest_even; ///< element rounding
    /// Seed of the counter-based random source for rounding::stochastic: element (r, c) of a
    /// rows x cols tensor uses counter_random{seed}(r * cols + c).
    std::uint64_t seed = 0;
    /// Formats with a tensor-level scale (NVFP4): derive that scale from this amax instead of
    /// measuring the input. This is static (calibrated) quantization: the input is read once
    /// instead of twice, and values above the amax saturate. Must be finite and >= 0; formats
    /// without a tensor scale reject it.
    std::optional<float> tensor_amax;
};

namespace detail {

/// Throws std::invalid_argument if `options` do not suit Format: a tensor_amax given to a
/// format without a tensor scale, or one that is negative, NaN or infinite.
template <class Format>
void check_quantize_options(const quantize_options& options) {
    if (!options.tensor_amax) return;
    if constexpr (!Format::has_tensor_scale) {
        throw_invalid("mpq: tensor_amax applies only to formats with a tensor scale (nvfp4)");
    } else {
        const float amax = *options.tensor_amax;
        if (!(amax >= 0.0f) || amax > std::numeric_limits<float>::max())
            throw_invalid("mpq: tensor_amax must be finite and >= 0, got " + std::to_string(amax));
    }
}

} // namespace detail

/// Bytes of packed codes and number of scales of a rows x cols tensor in format F.
template <class Format>
struct storage_size {
    std::size_t row_bytes;
    std::size_t code_bytes;
    std::size_t scale_count;
};

template <class Format>
constexpr storage_size<Format> storage_for(const Format& format, std::size_t rows, std::size_t cols,
                                           block_axis axis = block_axis::rows) {
    using packing = code_packing<Format::element::bits>;
    const std::size_t row_bytes = packing::row_bytes(cols);
    return {row_bytes, row_bytes * rows, format.scale_count(rows, cols, axis)};
}

/// Exact storage of a rows x cols tensor in bits per element: codes (with row padding),
/// scales and any tensor scale, divided by the element count.
template <class Format>
constexpr double storage_bits_per_element(const Format& format, std::size_t rows, std::size_t cols,
                                          block_axis axis = block_axis::rows) {
    const auto s = storage_for(format, rows, cols, axis);
    const double bits = 8.0 * static_cast<double>(s.code_bytes) +
                        8.0 * sizeof(typename Format::scale_type) * static_cast<double>(s.scale_count) +
                        (Format::has_tensor_scale ? 32.0 : 0.0);
    return bits / static_cast<double>(rows * cols);
}

template <class Format, bool Mutable>
struct basic_quantized_view {
    using byte_type = std::conditional_t<Mutable, std::uint8_t, const std::uint8_t>;
    using scale_value = std::conditional_t<Mutable, typename Format::scale_type,
                                           const typename Format::scale_type>;
    using float_type = std::conditional_t<Mutable, float, const float>;
    using packing = code_packing<Format::element::bits>;

    Format format{};
    std::size_t rows = 0;
    std::size_t cols = 0;
    block_axis axis = block_axis::rows;
    std::span<byte_type> codes;      ///< rows * row_bytes() packed bytes
    std::span<scale_value> scales;   ///< format.scale_count(rows, cols, axis) scales
    float_type* tensor_scale = nullptr; ///< the per-tensor decode multiplier (two-level formats)

    constexpr std::size_t row_bytes() const { return packing::row_bytes(cols); }
    constexpr std::size_t size() const { return rows * cols; }
    constexpr block_geometry geometry() const { return format.geometry(rows, cols, axis); }
    /// Code of element (r, c).
    constexpr std::uint32_t code(std::size_t r, std::size_t c) const {
        return packing::get(codes.data() + r * row_bytes(), c);
    }
    constexpr void set_code(std::size_t r, std::size_t c, std::uint32_t value) const
        requires Mutable
    {
        packing::set(codes.data() + r * row_bytes(), c, value);
    }

    /// Throws std::invalid_argument unless the spans match the shape.
    void validate() const {
        const auto s = storage_for(format, rows, cols, axis);
        detail::require_size("quantized code buffer (bytes)", codes.size(), s.code_bytes);
        detail::require_size("quantized scale buffer", scales.size(), s.scale_count);
        if (Format::has_tensor_scale && tensor_scale == nullptr)
            detail::throw_invalid("mpq: " + format.name() + " view needs a tensor scale");
    }

    operator basic_quantized_view<Format, false>() const
        requires Mutable
    {
        return {format, rows, cols, axis, codes, scales, tensor_scale};
    }
};

template <class Format>
using quantized_view = basic_quantized_view<Format, true>;

namespace detail {

/// Largest magnitude of a scale group (compared as integers: exact and NaN-safe) and whether
/// every value is finite; `value_of(k)` yields value k of `count`.
struct group_extent {
    float amax;
    bool finite;
};

template <class ValueOf>
constexpr group_extent measure_group(std::size_t count, ValueOf value_of) {
    std::uint32_t amax_bits = 0;
    bool finite = true;
    for (std::size_t k = 0; k < count; ++k) {
        const std::uint32_t magnitude = bits_of(value_of(k)) & f32_abs_mask;
        finite = finite && magnitude < f32_inf_bits;
        amax_bits = std::max(amax_bits, magnitude);
    }
    return {float_of(amax_bits), finite};
}

} // namespace detail
template <class Format>
using quantized_const_view = basic_quantized_view<Format, false>;

/// An owning quantized tensor.
template <class Format>
class quantized_tensor {
public:
    using format_type = Format;
    using scale_type = typename Format::scale_type;

    quantized_tensor() = default;
    /// Zero-filled storage for a rows x cols tensor (a 1-D tensor is one row).
    explicit quantized_tensor(Format format, std::size_t rows, std::size_t cols,
                              block_axis axis = block_axis::rows)
        : format_(format), rows_(rows), cols_(cols), axis_(axis) {
        const auto s = storage_for(format_, rows, cols, axis);
        codes_.assign(s.code_bytes, 0);
        scales_.assign(s.scale_count, scale_type{});
    }

    const Format& format() const { return format_; }
    std::size_t rows() const { return rows_; }
    std::size_t cols() const { return cols_; }
    std::size_t size() const { return rows_ * cols_; }
    block_axis axis() const { return axis_; }
    std::vector<std::uint8_t>& codes() { return codes_; }
    const std::vector<std::uint8_t>& codes() const { return codes_; }
    std::vector<scale_type>& scales() { return scales_; }
    const std::vector<scale_type>& scales() const { return scales_; }
    float tensor_scale() const { return tensor_scale_; }
    std::uint32_t code(std::size_t r, std::size_t c) const { return view().code(r, c); }

    quantized_view<Format> view() {
        return {format_, rows_, cols_, axis_, codes_, scales_, &tensor_scale_};
    }
    quantized_const_view<Format> view() const {
        return {format_, rows_, cols_, axis_, codes_, scales_, &tensor_scale_};
    }
    operator quantized_view<Format>() { return view(); }
    operator quantized_const_view<Format>() const { return view(); }

private:
    Format format_{};
    std::size_t rows_ = 0;
    std::size_t cols_ = 0;
    block_axis axis_ = block_axis::rows;
    std::vector<std::uint8_t> codes_;
    std::vector<scale_type> scales_;
    float tensor_scale_ = 1.0f;
};

} // namespace mpq
