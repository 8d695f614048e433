// Error analytics against values computed by hand.
#include <mpq/mixed/metrics.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

using namespace mpq;
using namespace mpq::mixed;

TEST_CASE("MXFP4 metrics of a 2 x 4 tensor, by hand", "[mixed][metrics]") {
    // Row 0: amax 7 -> E = floor(log2 7) - emax(e2m1) = 2 - 2 = 0; 1, 2, 3 exact; 7 saturates
    // to 6. Row 1: amax 5 -> E = 0; 0.125 -> 0 and 0.25 -> 0 (a tie, to the even code 0)
    // flush; 4 exact; -5 is a tie between 4 and 6 -> -4 (even code), not clipped.
    const std::vector<float> x = {1, 2, 3, 7, 0.125f, 0.25f, 4, -5};
    const auto a = analyze(mx_dynamic<fp4_e2m1>(4), x, 2, 4);
    const auto& e = a.errors;
    CHECK(e.count == 8);
    const double noise = 1.0 + 0.125 * 0.125 + 0.25 * 0.25 + 1.0; // 2.078125
    const double signal = 1 + 4 + 9 + 49 + 0.125 * 0.125 + 0.25 * 0.25 + 16 + 25;
    CHECK(e.mse == Approx(noise / 8).epsilon(1e-14));
    CHECK(e.mean_square == Approx(signal / 8).epsilon(1e-14));
    CHECK(e.rmse == Approx(std::sqrt(noise / 8)).epsilon(1e-14));
    CHECK(e.sqnr_db == Approx(10 * std::log10(signal / noise)).epsilon(1e-14));
    CHECK(e.max_abs_error == 1.0);
    CHECK(e.max_rel_error == 1.0); // the flushed elements
    CHECK(e.clipped == 1);
    CHECK(e.clipped_share == 0.125);
    CHECK(e.flushed == 2);
    CHECK(e.flushed_share == 0.25);
    REQUIRE(a.scales.groups == 2);
    CHECK(a.scales.exponent_counts == std::map<int, std::size_t>{{0, 2}});
    CHECK(a.bits_per_element == 4.0 + 8.0 / 4.0);
}

TEST_CASE("scale-exponent histogram and non-finite inputs", "[mixed][metrics]") {
    // Blocks of 2: amax 7 -> E 0; amax 0.75 -> floor(log2 0.75) - 2 = -3; amax 96 -> 6 - 2 = 4;
    // an all-zero block -> the E8M0 code 0, 2^-127; a block with Inf -> NaN scale.
    const std::vector<float> x = {7, 1, 0.75f, -0.5f, 96, 1, 0, 0, std::numeric_limits<float>::infinity(), 1};
    const auto a = analyze(mx_dynamic<fp4_e2m1>(2), x, 1, 10);
    CHECK(a.scales.groups == 5);
    CHECK(a.scales.nan_scales == 1);
    CHECK(a.scales.exponent_counts == std::map<int, std::size_t>{{-127, 1}, {-3, 1}, {0, 1}, {4, 1}});
    CHECK(a.errors.nonfinite_inputs == 1);
    CHECK(a.errors.nan_outputs == 1);
    CHECK(a.errors.count == 8);
    // 7 -> 6 (clipped); 1, 0.75 (= 6 x 2^-3), -0.5, 96 (= 6 x 2^4) exact; 1 in the 2^4 block
    // -> 0 (flushed, below half of 0.5 x 16 = 8).
    CHECK(a.errors.clipped == 1);
    CHECK(a.errors.flushed == 1);
    CHECK(a.errors.max_abs_error == 1.0);
}

TEST_CASE("per-tensor INT8 metrics and exact formats", "[mixed][metrics]") {
    // One scale s = amax / 127 = 1: 127 exact, -63.5 ties to -64, 0.25 flushes.
    const std::vector<float> x = {127, -63.5f, 0.25f, 10};
    const auto a = analyze(per_tensor<int8_element>{}, x, 1, 4);
    REQUIRE(int8_element::max_value() == 127.0f);
    CHECK(a.errors.mse == Approx((0.25 + 0.0625) / 4));
    CHECK(a.errors.flushed == 1);
    CHECK(a.errors.clipped == 0);
    CHECK(a.scales.groups == 1);
    CHECK(a.scales.exponent_counts == std::map<int, std::size_t>{{0, 1}});
    // Values every format holds exactly: zero error, SQNR +Inf.
    const std::vector<float> exact = {1, -2, 0.5f, 4};
    const auto b = analyze(make_format("mxfp8_e4m3", 32), exact, 1, 4);
    CHECK(b.errors.mse == 0.0);
    CHECK(std::isinf(b.errors.sqnr_db));
    CHECK(b.errors.max_rel_error == 0.0);
    CHECK_THROWS_AS(analyze(per_tensor<int8_element>{}, x, 2, 4), std::invalid_argument);
}

TEST_CASE("compare() on given values", "[mixed][metrics]") {
    const std::vector<float> x = {1, -2, 0, 4}, q = {1.5f, -2, 0, 0};
    const auto e = compare(x, q);
    CHECK(e.mse == Approx((0.25 + 16) / 4));
    CHECK(e.max_abs_error == 4.0);
    CHECK(e.max_rel_error == 1.0);
    CHECK(e.flushed == 1);
    CHECK(e.sqnr_db == Approx(10 * std::log10(21.0 / 16.25)));
    CHECK_THROWS_AS(compare(x, std::vector<float>{1}), std::invalid_argument);
}
