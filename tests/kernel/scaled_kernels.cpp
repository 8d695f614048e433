// NVFP4, per-tensor and per-vector formats: SIMD == scalar reference, bit for bit.
#include "kernel/kernel_check.hpp"

using namespace kernel_test;

TEST_CASE("NVFP4 kernels equal the reference bit for bit", "[kernel][nvfp4]") {
    std::uint32_t seed = 100;
    for (const auto axis : {mpq::block_axis::rows, mpq::block_axis::columns}) {
        for (const int first_kind : {0, 3, 5, 6, 7}) {
            const auto [rows, cols] = ragged_shape(16, axis);
            const std::vector<float> x = make_input(rows, cols, seed++, first_kind);
            for (const auto round : all_roundings) {
                mpq::quantize_options options;
                options.round = round;
                options.seed = seed;
                check_against_reference(mpq::nvfp4{}, x, rows, cols, axis, options,
                                        "nvfp4 kind=" + std::to_string(first_kind) + " round=" +
                                            std::string(mpq::to_string(round)));
            }
        }
    }
    // Tensor-wide cases: only tiny values (the decode multiplier underflows), only zeros.
    std::vector<float> tiny(64);
    for (std::size_t i = 0; i < tiny.size(); ++i) tiny[i] = static_cast<float>(i) * 1e-44f;
    check_against_reference(mpq::nvfp4{}, tiny, 2, 32, mpq::block_axis::rows, {}, "nvfp4 tiny");
    const std::vector<float> zeros(48, -0.0f);
    check_against_reference(mpq::nvfp4{}, zeros, 3, 16, mpq::block_axis::rows, {}, "nvfp4 zeros");
}

TEST_CASE("NVFP4 with a calibrated tensor amax: kernels equal the reference, one scale, saturation",
          "[kernel][nvfp4]") {
    const auto [rows, cols] = ragged_shape(16, mpq::block_axis::rows);
    const std::vector<float> every_kind = make_input(rows, cols, 300, 0);
    std::vector<float> x(rows * cols);
    std::mt19937 rng(301);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& v : x) v = normal(rng);
    const std::vector<float>* inputs[] = {&every_kind, &x};
    for (const std::vector<float>* input : inputs) {
        const float measured = mpq::finite_amax(std::span<const float>(*input));
        REQUIRE(measured > 0.0f);
        const float above = measured < 1e37f ? measured * 3.0f : std::numeric_limits<float>::max();
        // Below the data's amax (blocks and elements saturate), at it, above it, and the extremes.
        for (const float amax : {measured * 0.1f, measured, above, 0.0f, 1e-38f, std::numeric_limits<float>::max()}) {
            for (const auto axis : {mpq::block_axis::rows, mpq::block_axis::columns}) {
                for (const auto round : {mpq::rounding::nearest_even, mpq::rounding::stochastic}) {
                    mpq::quantize_options options;
                    options.round = round;
                    options.seed = 5;
                    options.tensor_amax = amax;
                    check_against_reference(mpq::nvfp4{}, *input, rows, cols, axis, options,
                                            "nvfp4 tensor_amax=" + std::to_string(amax));
                }
            }
            mpq::quantize_options options;
            options.tensor_amax = amax;
            mpq::quantized_tensor<mpq::nvfp4> q(mpq::nvfp4{}, rows, cols);
            mpq::kernel::quantize(std::span<const float>(*input), q.view(), options);
            CHECK(q.tensor_scale() == mpq::nvfp4::tensor_scale_for(amax));
        }
    }
    const float measured = mpq::finite_amax(std::span<const float>(x));

    // The measured amax given back reproduces the default (measuring) quantization exactly.
    mpq::quantized_tensor<mpq::nvfp4> measuring(mpq::nvfp4{}, rows, cols), given(mpq::nvfp4{}, rows, cols);
    mpq::kernel::quantize(std::span<const float>(x), measuring.view());
    mpq::quantize_options options;
    options.tensor_amax = measured;
    mpq::kernel::quantize(std::span<const float>(x), given.view(), options);
    CHECK(same_bits(measuring.codes(), given.codes()));
    CHECK(same_bits(measuring.scales(), given.scales()));

    // An amax far below the data saturates every block scale at the largest UE4M3 (448) and
    // every element of the largest block at +-6 instead of producing garbage.
    options.tensor_amax = measured * 1e-3f;
    mpq::kernel::quantize(std::span<const float>(x), given.view(), options);
    std::vector<float> decoded(x.size());
    mpq::kernel::dequantize(given, std::span<float>(decoded));
    const float ceiling = 6.0f * (448.0f * given.tensor_scale()); // the decode's own product order
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (!std::isfinite(x[i])) continue;
        INFO("element " << i << " x=" << x[i]);
        REQUIRE(std::abs(decoded[i]) <= ceiling);
        if (std::abs(x[i]) >= ceiling) REQUIRE(decoded[i] == std::copysign(ceiling, x[i]));
    }
}

TEST_CASE("A tensor amax is refused where it does not apply or is not a magnitude", "[kernel][nvfp4]") {
    const std::vector<float> x(64, 1.0f);
    mpq::quantize_options options;
    for (const float bad : {-1.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
        options.tensor_amax = bad;
        mpq::quantized_tensor<mpq::nvfp4> q(mpq::nvfp4{}, 4, 16);
        CHECK_THROWS_AS(mpq::kernel::quantize(std::span<const float>(x), q.view(), options), std::invalid_argument);
        CHECK_THROWS_AS(mpq::quantize_ref(mpq::nvfp4{}, std::span<const float>(x), q.view(), options),
                        std::invalid_argument);
        std::vector<float> y(x.size());
        CHECK_THROWS_AS(mpq::kernel::fake_quantize(mpq::nvfp4{}, std::span<const float>(x), std::span<float>(y), options, 16),
                        std::invalid_argument);
    }
    options.tensor_amax = 1.0f;
    mpq::quantized_tensor<mpq::mxfp4> mx(mpq::mxfp4{}, 2, 32);
    CHECK_THROWS_AS(mpq::kernel::quantize(std::span<const float>(x), mx.view(), options), std::invalid_argument);
    CHECK_THROWS_AS(mpq::quantize_ref(mpq::mxfp4{}, std::span<const float>(x), mx.view(), options),
                    std::invalid_argument);
    mpq::quantized_tensor<mpq::int8_tensor> pt(mpq::int8_tensor{}, 2, 32);
    CHECK_THROWS_AS(mpq::kernel::quantize(std::span<const float>(x), pt.view(), options), std::invalid_argument);
    CHECK_THROWS_AS(mpq::quantize_ref(mpq::int8_tensor{}, std::span<const float>(x), pt.view(), options),
                    std::invalid_argument);
}

TEMPLATE_TEST_CASE("Per-tensor and per-vector kernels equal the reference bit for bit", "[kernel][scaled]",
                   mpq::int8_element, mpq::int4_element, mpq::fp4_e2m1, mpq::fp8_e4m3) {
    std::uint32_t seed = 200;
    for (const auto axis : {mpq::block_axis::rows, mpq::block_axis::columns}) {
        for (const auto round : all_roundings) {
            mpq::quantize_options options;
            options.round = round;
            options.seed = 77;
            for (const int first_kind : {0, 1, 3, 4, 6}) { // per-tensor: a NaN row would blank everything
                const std::vector<float> x = make_input(9, 37, seed++, first_kind);
                check_against_reference(mpq::per_tensor<TestType>{}, x, 9, 37, axis, options, "per_tensor");
            }
            const std::vector<float> with_nan = make_input(9, 37, seed++, 5);
            check_against_reference(mpq::per_tensor<TestType>{}, with_nan, 9, 37, axis, options, "per_tensor NaN");
            for (const std::size_t length : {0, 1, 2, 16, 24, 32, 64, 128, 256, 512}) {
                const auto [rows, cols] = ragged_shape(length == 0 ? 40 : length, axis);
                const std::vector<float> x = make_input(rows, cols, seed++);
                check_against_reference(mpq::per_vector<TestType>(length), x, rows, cols, axis, options,
                                        "per_vector@" + std::to_string(length) + " round=" +
                                            std::string(mpq::to_string(round)));
            }
        }
    }
}
