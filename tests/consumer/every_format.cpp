// A consumer that instantiates every format's quantize kernels and the GEMM's kernels. The
// consumer_debug_avx512 test builds it without optimisation (a Debug build) for AVX-512,
// where GCC compiles some intrinsics differently than with optimisation, and runs it where
// the CPU has those instructions: each format's SIMD quantizer must give its scalar
// reference bit for bit, fake quantization must be idempotent, and the mixed-precision
// GEMM must stay within its documented bound of the double-precision reference.
#include <mpq/mpq.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace {

int failures = 0;

void fail(const std::string& what) {
    std::printf("FAIL: %s\n", what.c_str());
    ++failures;
}

bool same_bits(const std::vector<float>& x, const std::vector<float>& y) {
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

/// Values of both signs over several binades, with zeros and a ragged row length.
std::vector<float> sample_input(std::size_t n) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        const float mantissa = static_cast<float>(static_cast<int>(i % 37) - 18) + 0.375f;
        v[i] = i % 29 == 0 ? 0.0f : std::ldexp(mantissa, static_cast<int>(i % 13) - 6);
    }
    return v;
}

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

} // namespace

int main() {
#if defined(MPQ_CONSUMER_SKIP_WITHOUT_AVX512)
    // Built for AVX-512 (VNNI, BF16): on a CPU without them the build was the test.
    if (!__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("avx512vnni") ||
        !__builtin_cpu_supports("avx512bf16")) {
        std::puts("mpq every_format: built; not run (this CPU lacks AVX-512 BW/VNNI/BF16)");
        return 77;
    }
#endif
    check_formats();
    check_gemm();
    if (failures != 0) return 1;
    std::printf("mpq every_format: %zu formats and the GEMM ok\n", mpq::format_names.size());
    return 0;
}
