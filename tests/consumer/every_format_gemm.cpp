// The every_format consumer's GEMM half (see every_format.cpp): the mixed-precision GEMM on a
// block-wise MXINT4 / BF16 map, with float and MXINT8 activations, within its documented
// bound of the double-precision reference.
#include "every_format.hpp"

#include <mpq/mpq.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace every_format {

void check_gemm() {
    constexpr std::size_t m = 5, n = 24, k = 288;
    const std::vector<float> w = sample_input(n * k), a = sample_input(m * k + 7);
    const std::vector<float> a_rows(a.begin() + 7, a.end());
    const auto map = mpq::precision_map::random_blockwise(n, k, 8, 96, mpq::weight_format::mxint4,
                                                          mpq::weight_format::bf16, 0.5, 3);
    const mpq::mixed_matrix wm = mpq::mixed_matrix::quantize(w, map);
    for (auto activations : {mpq::activation_format::f32, mpq::activation_format::mxint8}) {
        mpq::gemm_options options;
        options.activations = activations;
        std::vector<float> c(m * n), ref(m * n);
        std::vector<double> magnitude(m * n);
        mpq::gemm(m, a_rows, k, wm, c, n, options);
        mpq::gemm_reference(m, a_rows, k, wm, ref, n, options, magnitude);
        for (std::size_t i = 0; i < m * n; ++i) {
            const double bound = (k + 16.0) * std::ldexp(1.0, -24) * magnitude[i];
            if (!(std::fabs(static_cast<double>(c[i]) - ref[i]) <= bound)) {
                fail("gemm output " + std::to_string(i) + " outside its bound of the reference");
                break;
            }
        }
    }
}

} // namespace every_format
