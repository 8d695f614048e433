// The optional {fmt} formatters.
#include <mpq/fmt.hpp>

#include <catch2/catch.hpp>

TEST_CASE("elements format as values or raw codes", "[numeric][fmt]") {
    CHECK(fmt::format("{}", mpq::fp8_e4m3(300.0f)) == "288");
    CHECK(fmt::format("{:x}", mpq::fp8_e4m3(300.0f)) == "0x79");
    CHECK(fmt::format("{}", mpq::fp4_e2m1(-5.0f)) == "-4");
    CHECK(fmt::format("{:x}", mpq::mx_int4_element(-1.8f)) == "0x09");
    CHECK(fmt::format("{}", mpq::e8m0::from_exponent(-2)) == "0.25");
    CHECK(fmt::format("{:x}", mpq::bf16(1.0f)) == "0x3f80");
}
