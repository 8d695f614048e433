// A consumer that instantiates every format's quantize kernels and the GEMM's kernels. The
// consumer_debug_avx512 test builds it without optimisation (a Debug build) for AVX-512,
// where GCC compiles some intrinsics differently than with optimisation, and runs it where
// the CPU has those instructions: each format's SIMD quantizer must give its scalar
// reference bit for bit, fake quantization must be idempotent, and the mixed-precision
// GEMM must stay within its documented bound of the double-precision reference. This file
// holds the formats' checks and main; every_format_gemm.cpp the GEMM's.
#include "every_format.hpp"

#include <mpq/mpq.hpp>

#include <cstdio>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace every_format {

void check_formats() {
    constexpr std::size_t rows = 3, cols = 100;
    const std::vector<float> input = sample_input(rows * cols);
    for (std::string_view name : mpq::format_names) {
        mpq::visit_format(mpq::make_format(name), [&](const auto& format) {
            using format_type = std::decay_t<decltype(format)>;
            const auto simd = mpq::quantize(format, input, rows, cols);
            mpq::quantized_tensor<format_type> scalar(format, rows, cols, mpq::block_axis::rows);
            quantize_ref(format, input, scalar.view());
            std::vector<float> from_simd(input.size()), from_scalar(input.size());
            mpq::dequantize(simd, from_simd);
            mpq::dequantize(scalar, from_scalar);
            if (!same_bits(from_simd, from_scalar))
                fail(std::string(name) + ": SIMD quantize differs from the scalar reference");
            std::vector<float> once(input.size()), twice(input.size());
            mpq::fake_quantize(format, input, once, {}, cols);
            mpq::fake_quantize(format, once, twice, {}, cols);
            if (!same_bits(once, from_scalar))
                fail(std::string(name) + ": fake_quantize differs from dequantize(quantize)");
            if (!same_bits(once, twice)) fail(std::string(name) + ": fake_quantize is not idempotent");
        });
    }
}

} // namespace every_format

int main() {
#if defined(MPQ_CONSUMER_SKIP_WITHOUT_AVX512)
    // Built for AVX-512 (VNNI, BF16): on a CPU without them the build was the test.
    if (!__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("avx512vnni") ||
        !__builtin_cpu_supports("avx512bf16")) {
        std::puts("mpq every_format: built; not run (this CPU lacks AVX-512 BW/VNNI/BF16)");
        return 77;
    }
#endif
    every_format::check_formats();
    every_format::check_gemm();
    if (every_format::failures != 0) return 1;
    std::printf("mpq every_format: %zu formats and the GEMM ok\n", mpq::format_names.size());
    return 0;
}
