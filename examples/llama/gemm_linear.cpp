// gemm_linear's members that instantiate the GEMM (see gemm_linear.hpp).
#include "llama/gemm_linear.hpp"

#include <algorithm>

namespace mpq::llama {

gemm_linear::gemm_linear(std::span<const float> weights, const mpq::precision_map& map,
                         mpq::activation_format activations, const mpq::quantize_options& options)
    : matrix_(mpq::mixed_matrix::quantize(weights, map, options)) {
    options_.activations = activations;
}

void gemm_linear::forward(std::span<const float> x, std::span<float> y, std::size_t m) const {
    check_shapes(x, y, m);
    // In chunks below mpq::detail::panel_min_rows: the register-decoding path computes each
    // row of the product independently of M, which linear_layer promises (a prompt of 128+
    // tokens would otherwise take the packed-panel path, whose sums run in another order).
    const std::size_t chunk = std::clamp<std::size_t>(mpq::detail::panel_min_rows - 1, 1, 64);
    const std::size_t k = cols(), n = rows();
    for (std::size_t t = 0; t < m; t += chunk) {
        const std::size_t count = std::min(chunk, m - t);
        mpq::matmul(matrix_, x.subspan(t * k, count * k), y.subspan(t * n, count * n), count, options_);
    }
}

} // namespace mpq::llama
