// Emulated quantization of the model's linear layers through mpq's block formats and
// precision plans: every weight (and optionally every input activation) of a layer goes
// through mpq::fake_quantize, blocks running along K (the input dimension) and restarting at
// every row, before a float32 product. This gives the experiment its numbers before the
// mixed-precision GEMM lands, and stays the reference the GEMM is checked against.
#pragma once

#include "llama/linear.hpp"
#include "llama/model.hpp"

#include <mpq/format.hpp>
#include <mpq/mixed/plan.hpp>
#include <mpq/numeric/half.hpp>

#include <charconv>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mpq::llama {

/// W through `format`: a rows × cols matrix, blocks along each row.
///
/// This and activation_quantizer are compiled once, in fake_quant.cpp (library mpq_llama):
/// visiting every format instantiates every quantize kernel, which is by far the costliest
/// code of the examples to compile (minutes per copy under the sanitizers).
matrix_fake_quantizer weight_quantizer(const mpq::any_format& format, const mpq::quantize_options& options = {});

/// One activation row (one token's input vector) through `format`.
row_fake_quantizer activation_quantizer(const mpq::any_format& format, const mpq::quantize_options& options = {});

/// Round-to-nearest-even into a plain float type (bf16, fp16), element by element.
template <class Element>
inline row_fake_quantizer element_rounding() {
    return [](std::span<const float> in, std::span<float> out) {
        for (std::size_t i = 0; i < in.size(); ++i) out[i] = Element::decode(Element::encode(in[i]));
    };
}

/// How a plan's format name is emulated.
struct named_quantizer {
    row_fake_quantizer elements;   ///< one run of values (an activation row); empty for f32
    matrix_fake_quantizer matrix;  ///< a rows × cols run of weights; empty for f32
    std::optional<mpq::any_format> block_format; ///< the block format, if it is one
};

/// The emulation of a plan format name: "f32" (unchanged), "bf16", "fp16" (element rounding),
/// or a block format by registry name with an optional "@block" suffix ("mxint4",
/// "mxfp4@16", "int8_vector@128"). Throws std::invalid_argument for anything else.
inline named_quantizer quantizer_for(std::string_view name, const mpq::quantize_options& options = {}) {
    if (name == "f32" || name == "fp32" || name == "float32") return {};
    if (name == "bf16") return {element_rounding<mpq::bf16>(), row_by_row(element_rounding<mpq::bf16>()), std::nullopt};
    if (name == "fp16") return {element_rounding<mpq::fp16>(), row_by_row(element_rounding<mpq::fp16>()), std::nullopt};
    std::size_t block = 0;
    std::string_view base = name;
    if (const auto at = name.find('@'); at != std::string_view::npos) {
        base = name.substr(0, at);
        const auto digits = name.substr(at + 1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), block);
        if (ec != std::errc{} || end != digits.data() + digits.size() || block == 0)
            throw std::invalid_argument("format '" + std::string(name) + "' has a bad block size");
    }
    const mpq::any_format format = mpq::make_format(base, block);
    return {activation_quantizer(format, options), weight_quantizer(format, options), format};
}

/// Every linear layer in `weights` format, inputs in `activations` format (either may be
/// empty: float32). The classifier is left in float32 unless `include_classifier`.
inline linear_factory uniform_factory(std::optional<mpq::any_format> weights,
                                      std::optional<mpq::any_format> activations,
                                      bool include_classifier = false,
                                      const mpq::quantize_options& options = {}) {
    return fake_quantized_factory([=](const linear_site& site) {
        if (site.role == linear_role::classifier && !include_classifier) return fake_quant_choice{};
        return fake_quant_choice{weights ? weight_quantizer(*weights, options) : matrix_fake_quantizer{},
                                 activations ? activation_quantizer(*activations, options)
                                             : row_fake_quantizer{}};
    });
}

/// The layer and matmul names of a site in precision plans: "layers.N" / "wq" etc., and
/// "classifier" / "classifier".
inline std::pair<std::string, std::string> plan_names(const linear_site& site) {
    if (site.role == linear_role::classifier) return {"classifier", "classifier"};
    return {"layers." + std::to_string(site.layer), role_name(site.role)};
}

/// The model as mixed-precision allocation sees it: layers "layers.0" … with matmuls wq, wk,
/// wv, wo, w1, w2, w3 (and a layer "classifier" if `include_classifier`), each split into
/// blocks of `block_parameters` weights in row-major order (0: one block per matmul). Blocks
/// that are whole rows (a multiple of the row length) are what plan_factory emulates best.
inline mpq::mixed::model_desc describe(const transformer& model, std::size_t block_parameters = 0,
                                       bool include_classifier = false) {
    std::vector<std::pair<std::string, std::size_t>> matmuls;
    for (const linear_site& s : model.sites()) {
        if (s.role == linear_role::classifier && !include_classifier) continue;
        const auto [layer, matmul] = plan_names(s);
        matmuls.emplace_back(layer + "." + matmul, s.rows * s.cols);
    }
    auto desc = mpq::mixed::group_into_layers(matmuls, block_parameters);
    return desc;
}

struct plan_emulation_options {
    /// Also quantize the inputs of a matmul whose weights are all in one low-precision block
    /// format, with that format (the papers' MXINT4 "weights and activations"). A matmul
    /// whose blocks mix formats keeps float32 inputs.
    bool quantize_activations = false;
    mpq::quantize_options quantize;
};

/// A factory that emulates `plan`: each weight run a component covers (a whole layer, a
/// matmul, or a block of consecutive row-major weights) goes through that component's
/// format. A block that is whole rows is quantized row by row with blocks along K; a block
/// that is not starts its format's blocks at its own first weight. Sites no component covers
/// stay float32. Throws std::invalid_argument (from the factory, when the model is built) if
/// the components covering a site do not add up to its size, or a format name is unknown.
inline linear_factory plan_factory(const mpq::mixed::precision_plan& plan,
                                   const plan_emulation_options& options = {}) {
    plan.validate();
    std::vector<named_quantizer> quantizers;
    for (const auto& f : plan.formats) quantizers.push_back(quantizer_for(f.name, options.quantize));
    return fake_quantized_factory([plan, quantizers, options](const linear_site& site) {
        const auto [layer, matmul] = plan_names(site);
        struct run {
            std::size_t begin, length, format;
        };
        std::vector<run> runs;
        std::size_t covered = 0;
        for (std::size_t i = 0; i < plan.components.size(); ++i) {
            const auto& c = plan.components[i];
            if (c.layer != layer || (!c.matmul.empty() && c.matmul != matmul)) continue;
            // A layer-wise component covers every matmul of its layer: this one entirely.
            const std::size_t length = c.matmul.empty() ? site.rows * site.cols : c.parameters;
            runs.push_back({covered, length, plan.assignment[i]});
            covered += length;
        }
        if (runs.empty()) return fake_quant_choice{};
        if (covered != site.rows * site.cols)
            throw std::invalid_argument("plan: the components of " + site.name() + " cover " +
                                        std::to_string(covered) + " weights, the matrix has " +
                                        std::to_string(site.rows * site.cols));
        fake_quant_choice choice;
        choice.weights = [runs, quantizers](std::span<const float> in, std::span<float> out,
                                            std::size_t, std::size_t cols) {
            for (const run& r : runs) {
                const auto& q = quantizers[r.format];
                if (!q.elements) continue; // f32: already copied
                const auto src = in.subspan(r.begin, r.length);
                const auto dst = out.subspan(r.begin, r.length);
                if (r.begin % cols == 0 && r.length % cols == 0)
                    q.matrix(src, dst, r.length / cols, cols);
                else
                    q.elements(src, dst);
            }
        };
        const std::size_t first = runs.front().format;
        bool uniform = true;
        for (const run& r : runs) uniform = uniform && r.format == first;
        if (options.quantize_activations && uniform && plan.formats[first].low_precision &&
            quantizers[first].block_format)
            choice.activations = quantizers[first].elements;
        return choice;
    });
}

} // namespace mpq::llama
