// The two functions that visit every block format (see fake_quant.hpp): one copy of the
// quantize kernels for the whole example program, its tests and benchmarks.
#include "llama/fake_quant.hpp"

namespace mpq::llama {

matrix_fake_quantizer weight_quantizer(const mpq::any_format& format, const mpq::quantize_options& options) {
    return [format, options](std::span<const float> in, std::span<float> out, std::size_t, std::size_t cols) {
        mpq::visit_format(format, [&](const auto& f) { mpq::fake_quantize(f, in, out, options, cols); });
    };
}

row_fake_quantizer activation_quantizer(const mpq::any_format& format, const mpq::quantize_options& options) {
    return [format, options](std::span<const float> in, std::span<float> out) {
        mpq::visit_format(format, [&](const auto& f) { mpq::fake_quantize(f, in, out, options); });
    };
}

} // namespace mpq::llama
