// Quantization error analytics: how far a format's fake-quantized tensor lies from the
// original, and how the block scales are spread.
//
// Definitions, for input x_i and fake-quantized q_i = dequantize(quantize(x))_i. Only finite
// inputs are measured; an element whose q_i is NaN (an MX block that held Inf or NaN) is
// counted in nan_outputs and left out of the sums. N is the number of measured elements.
//   MSE        = (1/N) Σ (q_i - x_i)^2                      (accumulated in double)
//   RMSE       = sqrt(MSE)
//   SQNR (dB)  = 10 log10( Σ x_i^2 / Σ (q_i - x_i)^2 )       +Inf when the error is zero
//                                                            (also for an all-zero input)
//   max abs    = max |q_i - x_i|
//   max rel    = max |q_i - x_i| / |x_i| over x_i != 0       (0 when every x_i is zero)
//   clipped    = share of elements saturated: the element code has the element type's largest
//                magnitude and |x_i| > |q_i| — exactly the elements beyond the largest value
//                their block (or vector, or tensor) scale can represent
//   flushed    = share of elements with x_i != 0 and q_i == 0 (underflow to zero)
// Scale exponents: for each scale group, floor(log2(s)) of the value the group's scale
// multiplies elements by — 2^E for MX (exactly E), ue4m3 scale x tensor scale for NVFP4, the
// float scale of per-tensor and per-vector formats; zero scales and NaN scales are counted apart.
#pragma once

#include <mpq/format/operations.hpp>
#include <mpq/format/registry.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <span>
#include <vector>

namespace mpq::mixed {

struct error_stats {
    std::size_t count = 0;            ///< measured elements (finite inputs with non-NaN output)
    std::size_t nonfinite_inputs = 0; ///< inputs that were Inf or NaN (not measured)
    std::size_t nan_outputs = 0;      ///< finite inputs that decoded to NaN (not measured)
    double mean_square = 0; ///< (1/N) Σ x_i^2, the signal power (for pooling tensors' SQNR)
    double mse = 0, rmse = 0, sqnr_db = 0, max_abs_error = 0, max_rel_error = 0;
    std::size_t clipped = 0, flushed = 0;
    double clipped_share = 0, flushed_share = 0; ///< clipped / count, flushed / count
};

struct scale_histogram {
    std::map<int, std::size_t> exponent_counts; ///< floor(log2 scale) -> number of groups
    std::size_t groups = 0;
    std::size_t zero_scales = 0;
    std::size_t nan_scales = 0;
};

struct error_analysis {
    error_stats errors;
    scale_histogram scales;
    double bits_per_element = 0; ///< exact storage of this tensor (storage_bits_per_element)
};

namespace detail {

/// Accumulates the value-only metrics; `clipped_at(i)` says whether element i saturated.
template <class ClippedAt>
error_stats measure(std::span<const float> x, std::span<const float> q, ClippedAt clipped_at) {
    if (x.size() != q.size())
        throw std::invalid_argument("error metrics: " + std::to_string(x.size()) + " inputs but " +
                                    std::to_string(q.size()) + " quantized values");
    error_stats s;
    double signal = 0, noise = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (!std::isfinite(x[i])) {
            ++s.nonfinite_inputs;
            continue;
        }
        if (std::isnan(q[i])) {
            ++s.nan_outputs;
            continue;
        }
        ++s.count;
        const double xi = x[i], err = static_cast<double>(q[i]) - xi;
        signal += xi * xi;
        noise += err * err;
        s.max_abs_error = std::max(s.max_abs_error, std::fabs(err));
        if (xi != 0.0) {
            s.max_rel_error = std::max(s.max_rel_error, std::fabs(err) / std::fabs(xi));
            if (q[i] == 0.0f) ++s.flushed;
        }
        if (clipped_at(i)) ++s.clipped;
    }
    if (s.count) {
        s.mse = noise / static_cast<double>(s.count);
        s.mean_square = signal / static_cast<double>(s.count);
        s.rmse = std::sqrt(s.mse);
        s.clipped_share = static_cast<double>(s.clipped) / static_cast<double>(s.count);
        s.flushed_share = static_cast<double>(s.flushed) / static_cast<double>(s.count);
    }
    s.sqnr_db = noise == 0.0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(signal / noise);
    return s;
}

template <class Element, std::size_t B>
float scale_value(const mx<Element, B>&, std::uint8_t scale, float) {
    return e8m0::decode(scale);
}
inline float scale_value(const nvfp4&, std::uint8_t scale, float tensor_scale) {
    return ue4m3::decode(scale) * tensor_scale;
}
template <class Element>
float scale_value(const per_tensor<Element>&, float scale, float) {
    return scale;
}
template <class Element>
float scale_value(const per_vector<Element>&, float scale, float) {
    return scale;
}

} // namespace detail

/// The metrics of `q` against `x` without saturation information (clipped stays 0): for
/// fake-quantized values from any source. Throws std::invalid_argument on a size mismatch.
inline error_stats compare(std::span<const float> x, std::span<const float> q) {
    return detail::measure(x, q, [](std::size_t) { return false; });
}

/// Quantizes the row-major rows x cols tensor `x` in `format` (blocks along `axis`) and
/// returns every metric of the file comment, the scale-exponent histogram and the exact bits
/// per element. Throws std::invalid_argument if x.size() != rows * cols.
template <class Format>
error_analysis analyze(const Format& format, std::span<const float> x, std::size_t rows, std::size_t cols,
                       block_axis axis = block_axis::rows, const quantize_options& options = {}) {
    const auto quantized = quantize(format, x, rows, cols, axis, options);
    std::vector<float> q(x.size());
    dequantize(quantized, q);
    using element = typename Format::element;
    const float element_max = element::max_value();
    error_analysis a;
    a.errors = detail::measure(x, q, [&](std::size_t i) {
        const float code_value = element::decode(quantized.code(i / cols, i % cols));
        return std::fabs(code_value) >= element_max && std::fabs(x[i]) > std::fabs(q[i]);
    });
    for (const auto& scale : quantized.scales()) {
        const float s = detail::scale_value(format, scale, quantized.tensor_scale());
        ++a.scales.groups;
        if (std::isnan(s)) ++a.scales.nan_scales;
        else if (s == 0.0f) ++a.scales.zero_scales;
        else ++a.scales.exponent_counts[std::ilogb(s)];
    }
    a.bits_per_element = rows != 0 && cols != 0 ? storage_bits_per_element(format, rows, cols, axis) : 0.0;
    return a;
}

/// analyze() for a format chosen at run time.
inline error_analysis analyze(const any_format& format, std::span<const float> x, std::size_t rows,
                              std::size_t cols, block_axis axis = block_axis::rows,
                              const quantize_options& options = {}) {
    return visit_format(format, [&](const auto& f) { return analyze(f, x, rows, cols, axis, options); });
}

} // namespace mpq::mixed
