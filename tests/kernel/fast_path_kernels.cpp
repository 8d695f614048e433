// The nearest-even fast path (nearest_even.hpp, batched group scales, packed stores): its
// pieces against the scalar reference on every compiled arch, and whole kernels on inputs
// built to take it and to leave it (tiny blocks, subnormal products, ties, saturation,
// NaN/Inf blocks, ragged tails, a non-default float environment).
#include "kernel/kernel_check.hpp"

#include <mpq/kernel/block_kernel.hpp>
#include <mpq/kernel/nearest_even.hpp>
#include <mpq/kernel/policy.hpp>
#include <mpq/kernel/simd_ops.hpp>

#include <array>
#include <cfenv>

#if defined(__SSE__)
#include <immintrin.h>
#endif

using namespace kernel_test;
namespace kd = mpq::kernel::detail;

namespace {

/// Float bit patterns for the encoder tests: every exponent field with mantissas that put
/// the dropped part of every element width at, around and away from the tie, both signs.
std::vector<std::uint32_t> encoder_inputs() {
    std::vector<std::uint32_t> v;
    std::mt19937 rng(5);
    for (std::uint32_t field = 0; field <= 255; ++field) {
        for (int kept = 1; kept <= 4; ++kept) {
            const std::uint32_t unit = 1U << (23 - kept); // one step of a kept-bit mantissa
            for (const std::uint32_t low : {0U, 1U, unit / 2 - 1, unit / 2, unit / 2 + 1, unit - 1}) {
                for (std::uint32_t high = 0; high < (1U << kept); ++high) {
                    const std::uint32_t m = (high * unit + low) & 0x7fffffU;
                    if (field == 255 && m != 0) continue; // NaN never reaches the encoders
                    v.push_back(field << 23 | m);
                    v.push_back(0x80000000U | field << 23 | m);
                }
            }
        }
        for (int k = 0; k < 16 && field < 255; ++k) v.push_back((field << 23) | (rng() & 0x807fffffU));
    }
    return v;
}

template <class Element, class A>
void check_encoder(A) {
    const std::vector<std::uint32_t> inputs = encoder_inputs();
    constexpr std::size_t N = mpq::kernel::compat::lanes<A>;
    constexpr int F = kd::nearest_even_encoder<Element>::input_exponent;
    for (std::size_t i = 0; i + N <= inputs.size(); i += N) {
        alignas(64) std::array<float, N> y{};
        alignas(64) std::array<std::int32_t, N> got{};
        for (std::size_t j = 0; j < N; ++j) y[j] = std::bit_cast<float>(inputs[i + j]);
        kd::nearest_even_encoder<Element>::template encode<A>(kd::float_batch<A>::load_aligned(y.data())).store_aligned(got.data());
        for (std::size_t j = 0; j < N; ++j) {
            if (!Element::is_signed && std::signbit(y[j])) continue; // scales are never negative
            // The fast encoder takes y = x * 2^F; the reference encodes y * 2^-F exactly.
            const auto want = Element::encode(y[j], mpq::rounding::nearest_even, mpq::overflow::saturate, 0, F);
            INFO("y bits " << std::hex << inputs[i + j]);
            REQUIRE(static_cast<std::uint32_t>(got[j]) == want);
        }
    }
}

template <class Element, class A>
void check_decoder(A) {
    constexpr std::size_t N = mpq::kernel::compat::lanes<A>;
    for (std::size_t c = 0; c < Element::code_count; c += N) {
        alignas(64) std::array<std::int32_t, N> codes{};
        alignas(64) std::array<float, N> got{};
        for (std::size_t j = 0; j < N; ++j) codes[j] = static_cast<std::int32_t>((c + j) % Element::code_count);
        kd::lane_decoder<Element>::template decode<A>(kd::int_batch<A>::load_aligned(codes.data())).store_aligned(got.data());
        for (std::size_t j = 0; j < N; ++j) {
            INFO("code " << codes[j]);
            REQUIRE(std::bit_cast<std::uint32_t>(got[j]) ==
                    std::bit_cast<std::uint32_t>(Element::decode(static_cast<std::uint32_t>(codes[j]))));
        }
    }
}

/// Runs f with the given rounding mode (and MXCSR bits) in force, restoring both afterwards.
template <class F>
void with_float_environment(int round, unsigned csr_bits, F&& f) {
    const int saved_round = std::fegetround();
#if defined(__SSE__)
    const unsigned saved_csr = _mm_getcsr();
    _mm_setcsr(saved_csr | csr_bits);
#else
    (void)csr_bits;
#endif
    std::fesetround(round);
    f();
    std::fesetround(saved_round);
#if defined(__SSE__)
    _mm_setcsr(saved_csr);
#endif
}

/// Rows that take the fast path, and rows that must leave it or test its edges.
std::vector<float> fast_path_input(std::size_t rows, std::size_t cols, std::uint32_t seed) {
    std::vector<float> x = make_input(rows, cols, seed);
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (std::size_t r = 0; r < rows; ++r) {
        float* row = x.data() + r * cols;
        for (std::size_t c = 0; c < cols; ++c) {
            switch (r % 6) {
            case 0: row[c] = normal(rng); break;
            // A huge amax next to small values: their products x * 2^-E are float subnormals.
            case 1: row[c] = c % 7 == 0 ? 3.0e38f : normal(rng) * 1e-3f; break;
            // Tiny blocks: 2^(F - E) is not a float for the integer elements.
            case 2: row[c] = normal(rng) * 1e-37f * (c % 3 == 0 ? 1e-3f : 1.0f); break;
            // Element midpoints at a scale of 2^3: ties of every element grid.
            case 3: row[c] = static_cast<float>(static_cast<int>(rng() % 129) - 64) * 0.0625f * 8.0f; break;
            // Saturation under the floor rule (amax just below the next power of two).
            case 4: row[c] = c % 5 == 0 ? 7.9f : normal(rng) * 3.0f; break;
            default: break; // keep make_input's kind (NaN/Inf, zeros, extremes, ...)
            }
        }
    }
    return x;
}

} // namespace

TEMPLATE_TEST_CASE("Nearest-even lane encoders equal the reference encode", "[kernel][fast]", mpq::fp8_e4m3,
                   mpq::fp8_e5m2, mpq::fp6_e3m2, mpq::fp6_e2m3, mpq::fp4_e2m1, mpq::ue4m3, mpq::mx_int8_element,
                   mpq::mx_int8_full_element, mpq::mx_int4_element, mpq::int8_element, mpq::int4_element) {
    for_each_arch([](auto arch, const char* name) {
        INFO("arch " << name);
        check_encoder<TestType>(arch);
    });
}

TEMPLATE_TEST_CASE("Lane decoders equal the reference decode for every code", "[kernel][fast]", mpq::fp8_e4m3,
                   mpq::fp8_e5m2, mpq::fp6_e3m2, mpq::fp6_e2m3, mpq::fp4_e2m1, mpq::ue4m3, mpq::mx_int8_element,
                   mpq::mx_int4_element, mpq::int8_element, mpq::int4_element) {
    for_each_arch([](auto arch, const char* name) {
        INFO("arch " << name);
        check_decoder<TestType>(arch);
    });
}

TEST_CASE("Batched group amax equals one amax per group", "[kernel][fast]") {
    for_each_arch([](auto arch, const char* name) {
        using A = decltype(arch);
        constexpr std::size_t N = mpq::kernel::compat::lanes<A>;
        INFO("arch " << name);
        for (const auto& [group, kind] : {std::pair{std::size_t{1}, 0}, std::pair{N, 5}, std::pair{2 * N, 8},
                                         std::pair{4 * N, 0}, std::pair{N + 3, 5}}) {
            const std::vector<float> x = make_input(1, group * N, static_cast<std::uint32_t>(group), kind);
            for (std::size_t count = 1; count <= N; ++count) {
                for (const std::size_t length : {count * group, count * group - 1}) {
                    if (length == 0 || length <= (count - 1) * group) continue;
                    std::array<std::int32_t, 16> got{};
                    kd::group_amax_bits<A>(x.data(), group, count, length, got.data(), A{});
                    for (std::size_t k = 0; k < count; ++k) {
                        const std::size_t n = std::min(group, length - k * group);
                        INFO("group " << group << " count " << count << " length " << length << " k " << k);
                        REQUIRE(static_cast<std::uint32_t>(got[k]) == kd::amax_bits<A>(x.data() + k * group, n));
                    }
                }
            }
        }
    });
}

TEMPLATE_TEST_CASE("Batched MX group parameters equal the scalar rule", "[kernel][fast]", mpq::fp4_e2m1,
                   mpq::fp8_e4m3, mpq::fp8_e5m2, mpq::mx_int8_element, mpq::mx_int4_element) {
    using P = kd::policy<mpq::mx_dynamic<TestType>>;
    // Every exponent field of the amax, with several mantissas, zero, subnormals, Inf and NaN.
    std::vector<std::int32_t> amax;
    for (std::uint32_t field = 0; field <= 255; ++field)
        for (const std::uint32_t m : {0U, 1U, 0x400000U, 0x7fffffU}) amax.push_back(static_cast<std::int32_t>(field << 23 | m));
    for_each_arch([&](auto arch, const char* name) {
        using A = decltype(arch);
        constexpr std::size_t N = mpq::kernel::compat::lanes<A>;
        INFO("arch " << name);
        for (const auto mode : all_scale_modes) {
            mpq::quantize_options o;
            o.scale = mode;
            for (std::size_t i = 0; i + N <= amax.size(); i += N) {
                std::array<std::uint8_t, 16> scales{};
                kd::group_lanes<N> lanes;
                P::template lanes<A>(amax.data() + i, N, scales.data(), lanes, o, 1.0f);
                for (std::size_t k = 0; k < N; ++k) {
                    const kd::group_params got_k = P::params(lanes, k);
                    std::uint8_t scale = 0;
                    const kd::group_params want = P::group(static_cast<std::uint32_t>(amax[i + k]), scale, o, 1.0f);
                    INFO("amax bits " << std::hex << amax[i + k] << " mode " << mpq::to_string(mode));
                    REQUIRE(scales[k] == scale);
                    REQUIRE(scales[k] == (amax[i + k] >= 0x7f800000
                                              ? mpq::e8m0::nan_code
                                              : mpq::mx_scale_code<TestType>(std::bit_cast<float>(amax[i + k]), mode)));
                    REQUIRE(got_k.exponent == want.exponent);
                    REQUIRE(got_k.zero == want.zero);
                    REQUIRE(std::bit_cast<std::uint32_t>(got_k.multiplier) == std::bit_cast<std::uint32_t>(want.multiplier));
                    REQUIRE(got_k.fast == want.fast);
                    if (want.fast && !want.zero)
                        REQUIRE(std::bit_cast<std::uint32_t>(got_k.fast_multiplier) ==
                                std::bit_cast<std::uint32_t>(want.fast_multiplier));
                }
            }
        }
    });
}

TEMPLATE_TEST_CASE("Fast-path kernels equal the reference on inputs built for its edges", "[kernel][fast]",
                   mpq::mx_int8_element, mpq::mx_int4_element, mpq::fp8_e4m3, mpq::fp8_e5m2, mpq::fp6_e3m2,
                   mpq::fp4_e2m1) {
    std::uint32_t seed = 300;
    for (const std::size_t block : {16, 8, 32, 64, 24, 7}) { // 16 and 8: one AVX-512 / AVX2 vector
        for (const auto axis : {mpq::block_axis::rows, mpq::block_axis::columns}) {
            // 40 blocks per row: more than a batch of 16 groups, plus a ragged tail.
            const std::size_t rows = 12, cols = 40 * block + 5;
            const std::vector<float> x = fast_path_input(rows, cols, seed++);
            check_against_reference(mpq::mx_dynamic<TestType>(block), x, rows, cols, axis, {},
                                    "block=" + std::to_string(block) + " axis=" + std::to_string(static_cast<int>(axis)));
        }
    }
    const std::vector<float> x = fast_path_input(12, 37 * 16, seed);
    check_against_reference(mpq::nvfp4{}, x, 12, 37 * 16, mpq::block_axis::rows, {}, "nvfp4");
    mpq::quantize_options calibrated;
    calibrated.tensor_amax = 0.5f * mpq::finite_amax(std::span<const float>(x));
    check_against_reference(mpq::nvfp4{}, x, 12, 37 * 16, mpq::block_axis::rows, calibrated, "nvfp4 calibrated");
}

TEST_CASE("Kernels equal the reference under a non-default float environment", "[kernel][fast]") {
    const std::vector<float> x = fast_path_input(12, 40 * 32 + 5, 77);
    const std::size_t rows = 12, cols = 40 * 32 + 5;
    auto run_all = [&](const char* what) {
        check_against_reference(mpq::mxfp4{}, x, rows, cols, mpq::block_axis::rows, {}, std::string("mxfp4 ") + what);
        check_against_reference(mpq::mxint8{}, x, rows, cols, mpq::block_axis::rows, {}, std::string("mxint8 ") + what);
        check_against_reference(mpq::mxfp8_e4m3{}, x, rows, cols, mpq::block_axis::rows, {}, std::string("mxfp8 ") + what);
        check_against_reference(mpq::nvfp4{}, x, rows, cols, mpq::block_axis::rows, {}, std::string("nvfp4 ") + what);
        check_against_reference(mpq::int8_vector(32), x, rows, cols, mpq::block_axis::rows, {},
                                std::string("int8_vector ") + what);
    };
    REQUIRE(kd::default_float_environment());
    with_float_environment(FE_UPWARD, 0U, [&] {
        REQUIRE_FALSE(kd::default_float_environment());
        run_all("round upward");
    });
    with_float_environment(FE_TOWARDZERO, 0U, [&] { run_all("round toward zero"); });
#if defined(__SSE__)
    // Denormals-are-zero: the fast path's exact power-of-two scaling would change subnormal inputs.
    with_float_environment(FE_TONEAREST, 1U << 6, [&] {
        REQUIRE_FALSE(kd::default_float_environment());
        check_against_reference(mpq::mxfp4{}, x, rows, cols, mpq::block_axis::rows, {}, "mxfp4 DAZ");
        check_against_reference(mpq::mxint8{}, x, rows, cols, mpq::block_axis::rows, {}, "mxint8 DAZ");
    });
#endif
    REQUIRE(kd::default_float_environment());
}
