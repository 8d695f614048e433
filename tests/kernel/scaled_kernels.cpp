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
