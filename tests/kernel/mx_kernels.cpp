// MX formats: SIMD == scalar reference, bit for bit, for every element type, block size,
// scale mode, rounding mode, block axis and compiled arch.
#include "kernel/kernel_check.hpp"

using namespace kernel_test;

TEMPLATE_TEST_CASE("MX kernels equal the reference bit for bit", "[kernel][mx]", mpq::mx_int8_element,
                   mpq::mx_int8_full_element, mpq::mx_int4_element, mpq::mx_int4_full_element, mpq::fp8_e4m3,
                   mpq::fp8_e5m2, mpq::fp6_e3m2, mpq::fp6_e2m3, mpq::fp4_e2m1) {
    std::uint32_t seed = 1;
    for (const std::size_t block : block_sizes) {
        const mpq::mx_dynamic<TestType> format(block);
        for (const auto axis : {mpq::block_axis::rows, mpq::block_axis::columns}) {
            const auto [rows, cols] = ragged_shape(block, axis);
            const std::vector<float> x = make_input(rows, cols, seed++, static_cast<int>(block % kind_count));
            for (const auto mode : all_scale_modes) {
                for (const auto round : all_roundings) {
                    mpq::quantize_options options;
                    options.scale = mode;
                    options.round = round;
                    options.seed = 0x9e3779b97f4a7c15ULL + block;
                    check_against_reference(format, x, rows, cols, axis, options,
                                            format.name() + " axis=" + std::to_string(static_cast<int>(axis)) +
                                                " scale=" + std::string(mpq::to_string(mode)) +
                                                " round=" + std::string(mpq::to_string(round)));
                }
            }
        }
    }
}

TEST_CASE("MX kernels with a compile-time block size equal the reference", "[kernel][mx]") {
    const std::vector<float> x = make_input(9, 100, 42);
    check_against_reference(mpq::mxfp4{}, x, 9, 100, mpq::block_axis::rows, {}, "mxfp4");
    check_against_reference(mpq::mxint8{}, x, 9, 100, mpq::block_axis::columns, {}, "mxint8");
    check_against_reference(mpq::mx<mpq::fp6_e3m2, 24>{}, x, 9, 100, mpq::block_axis::rows, {}, "mxfp6_e3m2@24");
}

TEST_CASE("MX kernels: every code of every 8-bit element round-trips", "[kernel][mx]") {
    // Each representable value of the element, at several block exponents, in one tensor.
    auto run = [](auto element_tag) {
        using E = decltype(element_tag);
        std::vector<float> x;
        for (const int shift : {-130, -20, 0, 7, 100})
            for (std::size_t c = 0; c < E::code_count; ++c) {
                const float v = E::decode(static_cast<std::uint32_t>(c));
                x.push_back(std::isfinite(v) ? std::ldexp(v, shift) : 0.0f);
            }
        check_against_reference(mpq::mx_dynamic<E>(32), x, 1, x.size(), mpq::block_axis::rows, {}, "all codes");
    };
    run(mpq::fp8_e4m3{});
    run(mpq::fp8_e5m2{});
    run(mpq::mx_int8_element{});
    run(mpq::fp6_e3m2{});
    run(mpq::fp4_e2m1{});
}
