// The golden vectors of tests/data/vectors (copied from the project's shared reference data; an
// independent exact reference of the MX semantics, both rounding rules, block size 32) must
// pass bit for bit: dequantized outputs (NaN == NaN, +0 == -0) and E8M0 scale bytes (except the
// unpinned byte of all-zero blocks).
#include <mpq/format.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

const std::string vectors_dir = std::string(MPQ_TEST_DATA_DIR) + "/vectors/";

std::vector<char> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<float> read_floats(const std::string& path) {
    const auto bytes = read_bytes(path);
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), v.size() * 4);
    return v;
}

template <class Element>
void check_run(const nlohmann::json& run) {
    const auto shape = run["shape"].get<std::vector<std::size_t>>();
    const std::size_t cols = shape.back();
    const std::size_t rows = shape.size() == 2 ? shape[0] : 1;
    const auto input = read_floats(vectors_dir + run["input"].get<std::string>());
    const auto expected = read_floats(vectors_dir + run["output"].get<std::string>());
    const auto expected_scales = read_bytes(vectors_dir + run["scale"].get<std::string>());
    REQUIRE(input.size() == rows * cols);

    mpq::quantize_options options;
    options.round = run["round"] == "rne" ? mpq::rounding::nearest_even : mpq::rounding::nearest_away;
    const mpq::mx_dynamic<Element> format(run["block_size"].get<std::size_t>());
    const auto q = mpq::quantize(format, std::span<const float>(input), rows, cols, mpq::block_axis::rows, options);
    std::vector<float> output(input.size());
    mpq::dequantize(q, std::span<float>(output));

    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < output.size(); ++i) {
        const bool same = (std::isnan(output[i]) && std::isnan(expected[i])) || output[i] == expected[i];
        if (!same && mismatches++ < 5)
            UNSCOPED_INFO("element " << i << ": input " << input[i] << " got " << output[i] << " expected " << expected[i]);
    }
    REQUIRE(q.scales().size() == expected_scales.size());
    const std::size_t per_row = q.scales().size() / rows;
    for (std::size_t s = 0; s < q.scales().size(); ++s) {
        const std::size_t r = s / per_row, b = s % per_row;
        bool all_zero = true;
        for (std::size_t c = b * 32; c < std::min(cols, (b + 1) * 32); ++c) all_zero = all_zero && input[r * cols + c] == 0.0f;
        if (all_zero) continue;
        if (q.scales()[s] != static_cast<std::uint8_t>(expected_scales[s]) && mismatches++ < 5)
            UNSCOPED_INFO("scale " << s << ": got " << int(q.scales()[s]) << " expected " << int(static_cast<std::uint8_t>(expected_scales[s])));
    }
    CHECK(mismatches == 0);
}

} // namespace

TEST_CASE("golden vectors pass bit for bit", "[format][golden]") {
    std::ifstream index_file(vectors_dir + "index.json");
    REQUIRE(index_file.good());
    const auto index = nlohmann::json::parse(index_file);
    std::size_t runs = 0;
    for (const auto& run : index["runs"]) {
        const std::string format = run["format"];
        DYNAMIC_SECTION(run["producer"].get<std::string>() << " " << format << " " << run["case"].get<std::string>()) {
            if (format == "int8") check_run<mpq::mx_int8_element>(run);
            else if (format == "int4") check_run<mpq::mx_int4_element>(run);
            else if (format == "fp8_e4m3") check_run<mpq::fp8_e4m3>(run);
            else if (format == "fp8_e5m2") check_run<mpq::fp8_e5m2>(run);
            else if (format == "fp6_e3m2") check_run<mpq::fp6_e3m2>(run);
            else if (format == "fp6_e2m3") check_run<mpq::fp6_e2m3>(run);
            else if (format == "fp4_e2m1") check_run<mpq::fp4_e2m1>(run);
            else FAIL("unknown format " << format);
        }
        ++runs;
    }
    CHECK(runs == 154);
}
