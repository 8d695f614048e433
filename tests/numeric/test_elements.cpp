// Element types: exhaustive over every code of every type of 8 bits or fewer, and a dense sweep
// of float inputs (every value, every rounding tie and its float neighbours, a log-uniform
// sample) checked against the value-list oracle in oracle.hpp.
#include "numeric/oracle.hpp"

#include <mpq/numeric.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <limits>

using namespace mpq;
using mpq::test::oracle_mode;

namespace {

template <class E>
constexpr bool is_minifloat = requires { E::exponent_bits; };

/// Decoding from first principles (double arithmetic on the documented layout).
template <class E>
double independent_decode(std::uint32_t code) {
    if constexpr (is_minifloat<E>) {
        const int m = E::mantissa_bits, e = E::exponent_bits;
        const bool neg = E::is_signed && ((code >> (e + m)) & 1U);
        const std::uint32_t field = (code >> m) & ((1U << e) - 1U), man = code & ((1U << m) - 1U);
        double v = field == 0 ? std::ldexp(man, 1 - E::bias - m)
                              : std::ldexp((1U << m) + man, static_cast<int>(field) - E::bias - m);
        return neg ? -v : v;
    } else {
        std::int32_t q = static_cast<std::int32_t>(code & ((1U << E::bits) - 1U));
        if (q >= (1 << (E::bits - 1))) q -= 1 << E::bits;
        return std::ldexp(static_cast<double>(q), -E::fraction_bits);
    }
}

} // namespace

#define SMALL_ELEMENTS                                                                             \
    fp8_e4m3, fp8_e5m2, fp6_e3m2, fp6_e2m3, fp4_e2m1, ue4m3, mx_int8_element, mx_int4_element,     \
        mx_int8_full_element, mx_int4_full_element, int8_element, int4_element

TEMPLATE_TEST_CASE("every code decodes exactly and re-encodes to itself", "[numeric]", SMALL_ELEMENTS) {
    using E = TestType;
    for (std::uint32_t c = 0; c < E::code_count; ++c) {
        const float v = E::decode(c);
        INFO("code " << c << " value " << v);
        bool special = std::isnan(v) || std::isinf(v);
        if constexpr (is_minifloat<E>) {
            if constexpr (E::has_inf) {
                if (((c >> E::mantissa_bits) & ((1U << E::exponent_bits) - 1U)) == (1U << E::exponent_bits) - 1U)
                    CHECK(special);
            }
        }
        if (special) {
            if (std::isnan(v)) {
                CHECK(std::isnan(E::decode(E::encode(v)))); // NaN stays NaN where representable
            } else {
                CHECK(E::encode(v, rounding::nearest_even, overflow::ieee) == c);
                CHECK(E::encode(v) == (E::max_code | (c & ~static_cast<std::uint32_t>(E::max_code) &
                                                      ~((1U << (E::bits - 1)) - 1U)))); // saturates
            }
            continue;
        }
        CHECK(static_cast<double>(v) == independent_decode<E>(c));
        const std::uint32_t back = E::encode(v);
        if constexpr (!is_minifloat<E>) {
            // The most negative two's-complement code decodes, but symmetric ranges never produce it.
            if (E::range == int_range::symmetric && c == (1U << (E::bits - 1))) {
                CHECK(E::decode(back) == -E::max_value());
                continue;
            }
        }
        CHECK(back == c);
        for (auto mode : {rounding::nearest_away, rounding::toward_zero, rounding::stochastic})
            CHECK(E::encode(v, mode, overflow::saturate, 0xffffffffU) == back); // exact: no rounding
    }
}

TEMPLATE_TEST_CASE("conversions from float match the value-list oracle", "[numeric]", SMALL_ELEMENTS) {
    using E = TestType;
    const auto grid = mpq::test::non_negative_grid<E>();
    const auto negative_grid = mpq::test::non_negative_grid<E>(true);
    const auto inputs = mpq::test::probe_inputs<E>(grid);
    const std::pair<rounding, oracle_mode> modes[] = {{rounding::nearest_even, oracle_mode::even},
                                                      {rounding::nearest_away, oracle_mode::away},
                                                      {rounding::toward_zero, oracle_mode::zero}};
    std::size_t checked = 0;
    for (const auto& [mode, oracle] : modes) {
        for (float x : inputs) {
            const double magnitude = std::fabs(static_cast<double>(x));
            auto expected = mpq::test::oracle_round(std::signbit(x) ? negative_grid : grid, magnitude, oracle);
            double expected_value = std::signbit(x) ? -expected.value : expected.value;
            if (!E::is_signed && std::signbit(x)) continue; // negatives are NaN in a scale type
            const float got = E::decode(E::encode(x, mode));
            INFO("x = " << x << " mode " << to_string(mode));
            REQUIRE(static_cast<double>(got) == expected_value);
            ++checked;
        }
    }
    CHECK(checked > 60000); // the sweep really ran (three modes over every probe)
}

TEMPLATE_TEST_CASE("stochastic rounding rounds up iff random < floor(fraction * 2^32)", "[numeric]",
                   SMALL_ELEMENTS) {
    using E = TestType;
    const auto grid = mpq::test::non_negative_grid<E>();
    const auto inputs = mpq::test::probe_inputs<E>(grid, 7);
    counter_random random{42};
    std::size_t i = 0;
    for (float x : inputs) {
        if (std::signbit(x) && !E::is_signed) continue;
        const double magnitude = std::fabs(static_cast<double>(x));
        if (magnitude >= grid.back().value) continue;
        const auto down = mpq::test::oracle_round(grid, magnitude, oracle_mode::zero);
        const std::uint64_t threshold = mpq::test::oracle_stochastic_threshold(grid, magnitude);
        for (std::uint32_t r : {0U, 1U, 0x7fffffffU, 0x80000000U, 0xffffffffU, random(i++),
                                static_cast<std::uint32_t>(threshold > 0 ? threshold - 1 : 0),
                                static_cast<std::uint32_t>(std::min<std::uint64_t>(threshold, 0xffffffffU))}) {
            const double got = std::fabs(static_cast<double>(E::decode(E::encode(x, rounding::stochastic, overflow::saturate, r))));
            const bool up = got > down.value;
            INFO("x = " << x << " r = " << r << " threshold = " << threshold);
            REQUIRE(up == (r < threshold));
        }
    }
}

TEST_CASE("stochastic rounding is unbiased on average", "[numeric]") {
    const float x = 1.3f; // between FP4 values 1 and 1.5: expected value 1.3
    counter_random random{2024};
    double sum = 0;
    const int n = 200000;
    for (int i = 0; i < n; ++i) sum += fp4_e2m1::decode(fp4_e2m1::encode(x, rounding::stochastic, overflow::saturate, random(static_cast<std::uint64_t>(i))));
    CHECK(sum / n == Approx(1.3).epsilon(0.002));
}

TEST_CASE("overflow policies", "[numeric]") {
    const float inf = std::numeric_limits<float>::infinity();
    // Saturation (default): finite overflow and Inf clamp to ±max.
    CHECK(fp8_e4m3::encode(1000.0f) == 0x7E);
    CHECK(fp8_e4m3::encode(-inf) == 0xFE);
    CHECK(fp8_e5m2::encode(1e6f) == 0x7B);
    CHECK(fp6_e3m2::encode(inf) == 0x1F);
    // IEEE-like: Inf where the format has it, NaN for E4M3, ±max toward zero.
    CHECK(fp8_e5m2::encode(1e6f, rounding::nearest_even, overflow::ieee) == 0x7C);
    CHECK(fp8_e5m2::encode(-inf, rounding::nearest_even, overflow::ieee) == 0xFC);
    CHECK(fp8_e5m2::encode(1e6f, rounding::toward_zero, overflow::ieee) == 0x7B);
    CHECK(fp8_e4m3::encode(1000.0f, rounding::nearest_even, overflow::ieee) == 0x7F);
    CHECK(fp8_e4m3::encode(464.0f, rounding::nearest_even, overflow::ieee) == 0x7E); // tie 448/480 -> even 448
    CHECK(fp8_e4m3::encode(465.0f, rounding::nearest_even, overflow::ieee) == 0x7F);
    CHECK(fp6_e2m3::encode(100.0f, rounding::nearest_even, overflow::ieee) == 0x1F); // no Inf/NaN: saturates
    CHECK(fp16::encode(65520.0f, rounding::nearest_even, overflow::ieee) == 0x7C00);
    CHECK(fp16::encode(65519.0f, rounding::nearest_even, overflow::ieee) == 0x7BFF);
    // NaN: NaN code where one exists, else +0; unsigned scales turn negatives into NaN.
    const float nan = std::numeric_limits<float>::quiet_NaN();
    CHECK(fp8_e4m3::encode(nan) == 0x7F);
    CHECK(std::isnan(fp8_e5m2::decode(fp8_e5m2::encode(nan))));
    CHECK(fp4_e2m1::encode(nan) == 0);
    CHECK(mx_int8_element::encode(nan) == 0);
    CHECK(ue4m3::encode(-1.0f) == 0x7F);
    CHECK(ue4m3::encode(-0.0f) == 0x00);
}

TEST_CASE("FORMATS worked examples, element level", "[numeric]") {
    // E4M3: the tie between the largest subnormal and the smallest normal rounds up.
    CHECK(fp8_e4m3::encode(0.0146484375f) == 0x08);
    CHECK(fp8_e4m3::encode(300.0f) == 0x79);
    CHECK(fp8_e4m3::encode(-17.0f) == 0xD8);
    CHECK(fp8_e4m3::encode(-17.0f, rounding::nearest_away) == 0xD9);
    CHECK(fp8_e4m3::encode(0.1f) == 0x1D);
    // MXINT8 example 4: 127.5/64 -> 128 -> saturates to 127; -127.75/64 -> -127 (symmetric) or -128.
    CHECK(mx_int8_element::encode(1.9921875f) == 0x7F);
    CHECK(mx_int8_element::encode(-1.99609375f) == 0x81);
    CHECK(mx_int8_full_element::encode(-1.99609375f) == 0x80);
    CHECK(mx_int8_full_element::decode(0x80) == -2.0f);
    // MXINT4 example 6.
    CHECK(mx_int4_element::encode(0.125f) == 0x0);
    CHECK(mx_int4_element::encode(0.125f, rounding::nearest_away) == 0x1);
    CHECK(mx_int4_element::encode(-1.8f) == 0x9);
}

TEST_CASE("E8M0 decodes every code exactly", "[numeric]") {
    for (int c = 0; c < 255; ++c) {
        const auto s = e8m0::from_bits(static_cast<std::uint8_t>(c));
        CHECK(static_cast<double>(s.to_float()) == std::ldexp(1.0, c - 127));
        CHECK(s.exponent() == c - 127);
    }
    CHECK(std::isnan(e8m0::decode(0xFF)));
    CHECK(std::bit_cast<std::uint32_t>(e8m0::decode(0x00)) == 0x00400000U);
    CHECK(e8m0::from_exponent(-500).code() == 0x00);
    CHECK(e8m0::from_exponent(500).code() == 0xFE);
}

TEST_CASE("UE4M3 has only non-negative codes and tops out at 448", "[numeric]") {
    CHECK(ue4m3::bits == 7);
    CHECK(ue4m3::max_value() == 448.0f);
    CHECK(ue4m3::encode(268.8f) == 0x78); // 256
    CHECK(ue4m3::encode(1e9f) == 0x7E);
    CHECK(std::isnan(ue4m3::decode(0x7F)));
}

TEMPLATE_TEST_CASE("16-bit formats: every code round-trips", "[numeric]", fp16, bf16) {
    using E = TestType;
    for (std::uint32_t c = 0; c < 65536; ++c) {
        const float v = E::decode(c);
        if (std::isnan(v)) continue;
        REQUIRE(E::encode(v, rounding::nearest_even, overflow::ieee) == c);
        if (!std::isinf(v)) REQUIRE(static_cast<double>(v) == independent_decode<E>(c));
    }
}

TEST_CASE("FP16 conversion equals the compiler's IEEE binary16 conversion", "[numeric]") {
    // _Float16 casts round to nearest-even and overflow to Inf: overflow::ieee.
    std::uint32_t state = 12345;
    for (int i = 0; i < 400000; ++i) {
        state = state * 1664525U + 1013904223U;
        const float x = std::bit_cast<float>(state);
        if (std::isnan(x)) continue;
        const auto h = static_cast<_Float16>(x);
        const auto expected = std::bit_cast<std::uint16_t>(h);
        INFO("x = " << x);
        REQUIRE(fp16::encode(x, rounding::nearest_even, overflow::ieee) == expected);
    }
}

TEST_CASE("BF16 conversion equals rounding the top half of the float", "[numeric]") {
    std::uint32_t state = 777;
    for (int i = 0; i < 400000; ++i) {
        state = state * 1664525U + 1013904223U;
        const float x = std::bit_cast<float>(state);
        if (std::isnan(x)) continue;
        // Classic RNE to bf16 on the bits (valid for finite x; overflow carries into Inf).
        const std::uint32_t rounded = state + 0x7FFFU + ((state >> 16) & 1U);
        const auto expected = static_cast<std::uint16_t>(rounded >> 16);
        INFO("x = " << x);
        REQUIRE(bf16::encode(x, rounding::nearest_even, overflow::ieee) == expected);
    }
}

TEST_CASE("element constants", "[numeric]") {
    STATIC_REQUIRE(fp8_e4m3::max_value() == 448.0f);
    STATIC_REQUIRE(fp8_e5m2::max_value() == 57344.0f);
    STATIC_REQUIRE(fp6_e3m2::max_value() == 28.0f);
    STATIC_REQUIRE(fp6_e2m3::max_value() == 7.5f);
    STATIC_REQUIRE(fp4_e2m1::max_value() == 6.0f);
    STATIC_REQUIRE(fp16::max_value() == 65504.0f);
    STATIC_REQUIRE(mx_int8_element::max_value() == 1.984375f);
    STATIC_REQUIRE(mx_int4_element::max_value() == 1.75f);
    STATIC_REQUIRE(fp8_e4m3::emax == 8);
    STATIC_REQUIRE(fp8_e5m2::emax == 15);
    STATIC_REQUIRE(fp6_e3m2::emax == 4);
    STATIC_REQUIRE(fp6_e2m3::emax == 2);
    STATIC_REQUIRE(fp4_e2m1::emax == 2);
    STATIC_REQUIRE(mx_int8_element::emax == 0);
    STATIC_REQUIRE(fp8_e4m3::min_subnormal() == 0.001953125f);
    STATIC_REQUIRE(fp8_e5m2::min_normal() == 0.00006103515625f);
    STATIC_REQUIRE(fp6_e3m2::min_subnormal() == 0.0625f);
    STATIC_REQUIRE(bf16::min_subnormal() == 0x1p-133f);
}
