// The plain reference of the GEMM: W dequantized, A fake-quantized as the options say, the
// products summed in double; the kernels are tested against it.
#pragma once

#include <mpq/gemm/detail/activations.hpp>
#include <mpq/gemm/matmul.hpp>
#include <mpq/gemm/mixed_matrix.hpp>

#include <cmath>
#include <span>
#include <vector>

namespace mpq {

/// gemm's result computed in double and rounded once to float (same arguments, same
/// errors; options.threads is ignored). If `magnitude` is non-empty (M x N, leading
/// dimension ldc) it receives sum_k |a_k w_k| per output, the scale of gemm's error bound.
inline void gemm_reference(std::size_t m, std::span<const float> a, std::size_t lda, const mixed_matrix& w,
                           std::span<float> c, std::size_t ldc, const gemm_options& options = {},
                           std::span<double> magnitude = {}) {
    detail::check_gemm_arguments(m, a, lda, w, c, ldc, options);
    if (m == 0) return;
    const std::size_t n = w.rows(), k = w.cols();
    std::vector<float> wd(n * k);
    w.dequantize(wd);
    detail::packed_activations packed;
    detail::pack_activations(m, k, a.data(), lda, options.activations, packed);
    for (std::size_t i = 0; i < m; ++i) {
        const float* ar = packed.row(i);
        for (std::size_t j = 0; j < n; ++j) {
            double sum = 0.0, size = 0.0;
            for (std::size_t p = 0; p < k; ++p) {
                const double t = static_cast<double>(ar[p]) * static_cast<double>(wd[j * k + p]);
                sum += t;
                size += std::fabs(t);
            }
            if (!options.bias.empty()) sum += options.bias[j];
            float& out = c[i * ldc + j];
            out = static_cast<float>(options.accumulate ? static_cast<double>(out) + sum : sum);
            if (!magnitude.empty()) magnitude[i * ldc + j] = size;
        }
    }
}

} // namespace mpq
