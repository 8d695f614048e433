// Linear layers on mpq's mixed-precision GEMM: the weights are stored packed in the formats
// of a precision map (one format per tile of rows × K-block), and every product runs through
// mpq::matmul, with the activations optionally quantized on the fly (MXINT4 / MXINT8 rows).
#pragma once

#include "llama/fake_quant.hpp"
#include "llama/linear.hpp"

#include <mpq/gemm.hpp>
#include <mpq/mixed/plan.hpp>

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mpq::llama {

/// y = W x through mpq::matmul on a packed mixed_matrix.
class gemm_linear final : public linear_layer {
public:
    /// Quantizes the row-major weights (map.rows() × map.cols()) as `map` says. Throws
    /// std::invalid_argument if the sizes disagree.
    ///
    /// This and forward are compiled once, in gemm_linear.cpp (library mpq_llama): they
    /// instantiate the GEMM's kernels for every format, close to a minute of compilation per
    /// copy, which the program's commands and the tests would otherwise each pay.
    gemm_linear(std::span<const float> weights, const mpq::precision_map& map,
                mpq::activation_format activations = mpq::activation_format::f32,
                const mpq::quantize_options& options = {});
    std::size_t rows() const override { return matrix_.rows(); }
    std::size_t cols() const override { return matrix_.cols(); }
    void forward(std::span<const float> x, std::span<float> y, std::size_t m) const override;
    const mpq::mixed_matrix& matrix() const { return matrix_; }
    mpq::activation_format activations() const { return options_.activations; }

private:
    mpq::mixed_matrix matrix_;
    mpq::gemm_options options_; ///< one thread: the evaluation parallelizes over sequences
};

/// The GEMM's storage format for a plan format name ("mxint4", "nvfp4", "bf16", "f32", ...),
/// or nothing if the GEMM cannot store it (e.g. MX blocks other than 32: "mxint4@16").
inline std::optional<mpq::weight_format> gemm_format_of(std::string_view name) {
    if (name == "f32" || name == "fp32" || name == "float32") return mpq::weight_format::fp32;
    for (mpq::weight_format f : mpq::all_weight_formats)
        if (mpq::to_string(f) == name) return f;
    return std::nullopt;
}

/// The activation format the GEMM pairs with a weight format when activations are
/// quantized too: MXINT4 with MXINT4, MXINT8 with MXINT8, float32 otherwise.
inline mpq::activation_format matching_activations(mpq::weight_format w) {
    if (w == mpq::weight_format::mxint4) return mpq::activation_format::mxint4;
    if (w == mpq::weight_format::mxint8) return mpq::activation_format::mxint8;
    return mpq::activation_format::f32;
}

/// Every linear layer on the GEMM in `weights` format with `activations` (the classifier
/// stays a float32_linear unless `include_classifier`).
inline linear_factory gemm_uniform_factory(mpq::weight_format weights,
                                           mpq::activation_format activations = mpq::activation_format::f32,
                                           bool include_classifier = false) {
    return [=](const linear_site& site, std::span<const float> w) -> std::unique_ptr<linear_layer> {
        if (site.role == linear_role::classifier && !include_classifier) return make_float32_linear(site, w);
        return std::make_unique<gemm_linear>(w, mpq::precision_map::uniform(site.rows, site.cols, weights),
                                             activations);
    };
}

/// The precision map of one site under `plan`, or nothing if no component covers it.
/// Layer- and matmul-wise components give a uniform map; block-wise components must be runs
/// of whole rows, all of the same row count except the last (tile_rows = that count, one
/// K-block per row). Throws std::invalid_argument for a format the GEMM cannot store,
/// components that do not cover the matrix, or blocks that are not whole rows.
inline std::optional<mpq::precision_map> plan_precision_map(const mpq::mixed::precision_plan& plan,
                                                            const linear_site& site) {
    const auto [layer, matmul] = plan_names(site);
    std::vector<std::size_t> lengths, formats;
    for (std::size_t i = 0; i < plan.components.size(); ++i) {
        const auto& c = plan.components[i];
        if (c.layer != layer || (!c.matmul.empty() && c.matmul != matmul)) continue;
        lengths.push_back(c.matmul.empty() ? site.rows * site.cols : c.parameters);
        formats.push_back(plan.assignment[i]);
    }
    if (lengths.empty()) return std::nullopt;
    auto format = [&](std::size_t index) {
        const auto f = gemm_format_of(plan.formats[index].name);
        if (!f)
            throw std::invalid_argument("plan: the GEMM cannot store format '" + plan.formats[index].name +
                                        "' (MX formats need blocks of 32)");
        return *f;
    };
    std::size_t total = 0;
    for (std::size_t l : lengths) total += l;
    if (total != site.rows * site.cols)
        throw std::invalid_argument("plan: the components of " + site.name() + " cover " + std::to_string(total) +
                                    " weights, the matrix has " + std::to_string(site.rows * site.cols));
    if (lengths.size() == 1) return mpq::precision_map::uniform(site.rows, site.cols, format(formats[0]));
    const std::size_t first = lengths.front();
    if (first % site.cols != 0)
        throw std::invalid_argument("plan: blocks of " + std::to_string(first) + " weights are not whole rows of " +
                                    site.name() + " (rows of " + std::to_string(site.cols) + ")");
    for (std::size_t i = 0; i + 1 < lengths.size(); ++i)
        if (lengths[i] != first)
            throw std::invalid_argument("plan: the blocks of " + site.name() + " differ in size");
    const std::size_t block_k = (site.cols + 31) / 32 * 32;
    mpq::precision_map map(site.rows, site.cols, first / site.cols, block_k, format(formats[0]));
    if (map.row_groups() != lengths.size())
        throw std::invalid_argument("plan: " + std::to_string(lengths.size()) + " blocks for " +
                                    std::to_string(map.row_groups()) + " row groups of " + site.name());
    for (std::size_t g = 0; g < lengths.size(); ++g) map.set(g, 0, format(formats[g]));
    return map;
}

/// A factory running `plan` on the GEMM: sites the plan covers get their precision map;
/// with options.quantize_activations, a matmul whose tiles are all MXINT4 (or all MXINT8)
/// also quantizes its inputs to that format; sites the plan does not cover stay float32_linear.
/// Errors as plan_precision_map, raised when the model is built.
inline linear_factory gemm_plan_factory(const mpq::mixed::precision_plan& plan,
                                        const plan_emulation_options& options = {}) {
    plan.validate();
    return [plan, options](const linear_site& site, std::span<const float> w) -> std::unique_ptr<linear_layer> {
        const auto map = plan_precision_map(plan, site);
        if (!map) return make_float32_linear(site, w);
        auto activations = mpq::activation_format::f32;
        if (options.quantize_activations && map->is_uniform())
            activations = matching_activations(map->formats().front());
        return std::make_unique<gemm_linear>(w, *map, activations, options.quantize);
    };
}

} // namespace mpq::llama
