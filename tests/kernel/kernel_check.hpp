// Shared by the kernel tests: input tensors with every kind of hard value, and a checker that
// runs the scalar reference once and each compiled, CPU-supported SIMD arch against it.
#pragma once

#include <mpq/format.hpp>
#include <mpq/kernel.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace kernel_test {

/// Calls f(arch, name) for every SIMD arch this test program was compiled for and the CPU has.
template <class F>
void for_each_arch(F&& f) {
    [[maybe_unused]] const auto cpu = mpq::kernel::compat::detect_cpu();
#if XSIMD_WITH_SSE4_2
    if (cpu.sse4_2) f(xsimd::sse4_2{}, "sse4_2");
#endif
#if XSIMD_WITH_FMA3_AVX2
    if (cpu.avx2) f(xsimd::fma3<xsimd::avx2>{}, "fma3<avx2>");
#endif
#if XSIMD_WITH_AVX512BW
    if (cpu.avx512bw) f(xsimd::avx512bw{}, "avx512bw");
#endif
}

/// The kinds of rows make_input mixes; a tensor cycles through them row by row.
enum class kind { normal, heavy_tailed, outliers, ties, subnormal, non_finite, zeros, extremes, random_bits };
inline constexpr int kind_count = 9;

inline float value_of(kind k, std::mt19937& rng, std::size_t i) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_int_distribution<int> small(-64, 64);
    switch (k) {
    case kind::normal: return normal(rng);
    case kind::heavy_tailed: return normal(rng) / (std::abs(normal(rng)) + 1e-3f);
    case kind::outliers: return i % 29 == 3 ? 3.0e4f * normal(rng) : normal(rng);
    case kind::ties: // multiples of 1/8 and 3/16: midpoints of every element grid at some scale
        return static_cast<float>(small(rng)) * (i % 2 ? 0.125f : 0.1875f);
    case kind::subnormal: {
        const std::uint32_t bits = std::uniform_int_distribution<std::uint32_t>(1, 0x00ffffffU)(rng);
        return std::bit_cast<float>(bits | (i % 3 == 0 ? 0x80000000U : 0U));
    }
    case kind::non_finite:
        if (i % 37 == 5) return std::numeric_limits<float>::quiet_NaN();
        if (i % 53 == 7) return -std::numeric_limits<float>::infinity();
        if (i % 71 == 9) return std::numeric_limits<float>::infinity();
        return normal(rng);
    case kind::zeros: return i % 5 == 1 ? -0.0f : 0.0f;
    case kind::extremes: {
        const float huge = std::numeric_limits<float>::max();
        return i % 4 == 0 ? huge * normal(rng) / 4 : (i % 4 == 1 ? 1e-38f * normal(rng) : normal(rng) * 1e30f);
    }
    case kind::random_bits: return std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
    }
    return 0.0f;
}

/// rows x cols values; row r is of kind (r + first_kind) % kind_count.
inline std::vector<float> make_input(std::size_t rows, std::size_t cols, std::uint32_t seed, int first_kind = 0) {
    std::mt19937 rng(seed);
    std::vector<float> x(rows * cols);
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c)
            x[r * cols + c] = value_of(static_cast<kind>((static_cast<int>(r) + first_kind) % kind_count), rng, c);
    return x;
}

/// Byte-wise equality (distinguishes -0 from 0 and NaN payloads).
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

template <class T>
std::size_t first_difference(const std::vector<T>& a, const std::vector<T>& b) {
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return i;
    return std::min(a.size(), b.size());
}

/// Quantize, dequantize and fake-quantize with every arch; each must equal the reference.
template <class Format>
void check_against_reference(const Format& format, const std::vector<float>& x, std::size_t rows,
                             std::size_t cols, mpq::block_axis axis, const mpq::quantize_options& options,
                             const std::string& label) {
    mpq::quantized_tensor<Format> ref(format, rows, cols, axis);
    mpq::quantize_ref(format, std::span<const float>(x), ref.view(), options);
    std::vector<float> decoded(x.size());
    mpq::dequantize_ref(std::as_const(ref).view(), std::span<float>(decoded));

    for_each_arch([&](auto arch, const char* arch_name) {
        using A = decltype(arch);
        INFO(label << " arch=" << arch_name);
        mpq::quantized_tensor<Format> got(format, rows, cols, axis);
        mpq::kernel::quantize<A>(std::span<const float>(x), got.view(), options);
        INFO("first code byte difference " << first_difference(got.codes(), ref.codes()));
        REQUIRE(same_bits(got.codes(), ref.codes()));
        INFO("first scale difference " << first_difference(got.scales(), ref.scales()));
        REQUIRE(same_bits(got.scales(), ref.scales()));
        REQUIRE(std::bit_cast<std::uint32_t>(got.tensor_scale()) == std::bit_cast<std::uint32_t>(ref.tensor_scale()));

        std::vector<float> out(x.size(), 123.0f);
        mpq::kernel::dequantize<A>(std::as_const(ref).view(), std::span<float>(out));
        INFO("first dequantized difference " << first_difference(out, decoded));
        REQUIRE(same_bits(out, decoded));

        std::vector<float> fake(x.size(), 123.0f);
        mpq::kernel::fake_quantize<A>(format, std::span<const float>(x), std::span<float>(fake), options, cols, axis);
        INFO("first fake-quantized difference " << first_difference(fake, decoded));
        REQUIRE(same_bits(fake, decoded));
    });
}

inline constexpr mpq::rounding all_roundings[] = {mpq::rounding::nearest_even, mpq::rounding::nearest_away,
                                                  mpq::rounding::toward_zero, mpq::rounding::stochastic};
inline constexpr mpq::scale_mode all_scale_modes[] = {mpq::scale_mode::floor, mpq::scale_mode::ceil,
                                                      mpq::scale_mode::even, mpq::scale_mode::rceil};
inline constexpr std::size_t block_sizes[] = {1, 2, 16, 24, 32, 64, 128, 256, 512};

/// A shape with ragged tails: rows-axis blocks get two and a half blocks per row plus one
/// element; columns-axis blocks get the same down the columns, with a column count that is
/// not a multiple of any vector width.
inline std::pair<std::size_t, std::size_t> ragged_shape(std::size_t block, mpq::block_axis axis) {
    const std::size_t along = 2 * block + block / 2 + 1;
    return axis == mpq::block_axis::rows ? std::pair{std::size_t{kind_count}, along} : std::pair{along, std::size_t{19}};
}

} // namespace kernel_test
