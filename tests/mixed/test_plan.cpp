// Model descriptions, Qr and bit accounting, and the plan file format.
#include <mpq/mixed.hpp>

#include <catch2/catch.hpp>

#include <sstream>

using namespace mpq::mixed;

namespace {

model_desc two_layer_model() {
    // layer a: q (100 params in blocks of 40: 40, 40, 20), k (60); layer b: q (100), up (240).
    return {{{"a", {make_matmul("q", 100, 40), make_matmul("k", 60)}},
             {"b", {make_matmul("q", 100), make_matmul("up", 240, 100)}}}};
}

const format_choice bf16{"bf16", 16.0, false};
const format_choice mxint4{"mxint4", 4.25, true};

} // namespace

TEST_CASE("model components at each granularity", "[mixed][model]") {
    const auto m = two_layer_model();
    CHECK(m.parameters() == 500);
    const auto layers = components(m, granularity::layer);
    REQUIRE(layers.size() == 2);
    CHECK(layers[0].name() == "a");
    CHECK(layers[0].parameters == 160);
    CHECK(layers[1].parameters == 340);
    const auto matmuls = components(m, granularity::matmul);
    REQUIRE(matmuls.size() == 4);
    CHECK(matmuls[3].name() == "b/up");
    const auto blocks = components(m, granularity::block);
    REQUIRE(blocks.size() == 3 + 1 + 1 + 3);
    CHECK(blocks[2].name() == "a/q#2");
    CHECK(blocks[2].parameters == 20);
    CHECK(blocks[7].parameters == 40);

    CHECK_THROWS_WITH(components(model_desc{{{"a b", {make_matmul("q", 1)}}}}, granularity::layer),
                      Catch::Contains("'a b'"));
    CHECK_THROWS_WITH(components(model_desc{{{"a", {make_matmul("q", 1), make_matmul("q", 2)}}}}, granularity::layer),
                      Catch::Contains("duplicate matmul 'q'"));
    CHECK_THROWS_AS(make_matmul("q", 0), std::invalid_argument);
    CHECK_THROWS_WITH(parse_granularity("row"), Catch::Contains("'row'"));
}

TEST_CASE("grouping named matmuls into layers", "[mixed][model]") {
    const auto m = group_into_layers({{"tok_embeddings", 10}, {"layers.0.attention.wq", 4},
                                      {"layers.0.feed_forward.w1", 6}, {"layers.1.attention.wq", 4},
                                      {"blk.7.ffn_up.weight", 3}});
    REQUIRE(m.layers.size() == 4);
    CHECK(m.layers[0].name == "tok_embeddings");
    CHECK(m.layers[1].name == "layers.0");
    CHECK(m.layers[1].matmuls.size() == 2);
    CHECK(m.layers[1].matmuls[1].name == "feed_forward.w1");
    CHECK(m.layers[3].name == "blk.7");
    CHECK(m.layers[3].matmuls[0].name == "ffn_up.weight");
}

TEST_CASE("Qr, bits per weight and bytes of a mix", "[mixed][plan]") {
    const auto m = two_layer_model();
    auto plan = uniform_plan(m, granularity::matmul, {bf16, mxint4}, 0);
    auto s = summarize(plan);
    CHECK(s.qr == 0.0);
    CHECK(s.bits_per_weight == 16.0);
    CHECK(s.bytes == 1000.0);
    plan.assignment = {1, 0, 0, 1}; // a/q and b/up low: 340 of 500
    s = summarize(plan);
    CHECK(s.low_parameters == 340);
    CHECK(s.qr == Approx(0.68).epsilon(1e-15));
    // 340 x 4.25 + 160 x 16 = 1445 + 2560 = 4005 bits.
    CHECK(s.bits == 4005.0);
    CHECK(s.bits_per_weight == Approx(4005.0 / 500.0));
    CHECK(s.bytes == Approx(4005.0 / 8.0));
    CHECK(s.parameters_per_format == std::vector<std::size_t>{160, 340});
    CHECK(quantization_ratio(340, 160) == Approx(0.68));
    CHECK_THROWS_AS(quantization_ratio(0, 0), std::invalid_argument);

    // Three formats: a mix of two low-precision formats counts both as low.
    const format_choice mxfp8{"mxfp8_e4m3", 8.25, true};
    auto three = uniform_plan(m, granularity::layer, {bf16, mxint4, mxfp8}, 0);
    three.assignment = {2, 1};
    s = summarize(three);
    CHECK(s.qr == 1.0);
    CHECK(s.bits == 160 * 8.25 + 340 * 4.25);

    plan.assignment[0] = 7;
    CHECK_THROWS_WITH(summarize(plan), Catch::Contains("format index 7"));
}

TEST_CASE("bit accounting wired to the format API", "[mixed][plan]") {
    CHECK(format_choice_of("mxint4", 32, true).bits_per_element == 4.25);
    CHECK(format_choice_of("mxfp4", 16, true).bits_per_element == 4.5);
    CHECK(format_choice_of("mxfp4", 16, true).name == "mxfp4@16");
    CHECK(format_choice_of("mxint8", 0, false).bits_per_element == 8.25);
    CHECK(format_choice_of("nvfp4", 0, true).bits_per_element == 4.5);
    CHECK(format_choice_of("int8_vector", 64, true).bits_per_element == 8.5);
    CHECK(plain_float_choice("bf16").bits_per_element == 16.0);
    CHECK_THROWS_AS(format_choice_of("mxint3", 32, true), std::invalid_argument);
    CHECK_THROWS_AS(plain_float_choice("fp12"), std::invalid_argument);
}

TEST_CASE("plan files round-trip and reject damage", "[mixed][plan]") {
    const auto m = two_layer_model();
    auto plan = uniform_plan(m, granularity::block, {bf16, mxint4, {"mxfp4@16", 4.5, true}}, 0);
    for (std::size_t i = 0; i < plan.assignment.size(); ++i) plan.assignment[i] = i % 3;
    const std::string text = plan_to_string(plan);
    const auto back = plan_from_string(text);
    CHECK(back.level == granularity::block);
    REQUIRE(back.formats.size() == 3);
    CHECK(back.formats[2].name == "mxfp4@16");
    CHECK(back.formats[2].bits_per_element == 4.5);
    CHECK(back.formats[1].low_precision);
    CHECK(back.assignment == plan.assignment);
    REQUIRE(back.components.size() == plan.components.size());
    for (std::size_t i = 0; i < plan.components.size(); ++i) {
        CHECK(back.components[i].name() == plan.components[i].name());
        CHECK(back.components[i].parameters == plan.components[i].parameters);
    }
    CHECK(plan_to_string(back) == text);
    CHECK(back.format_for("a", "q", 1).name == "mxint4");
    CHECK_THROWS_WITH(back.format_for("a", "q"), Catch::Contains("split into blocks"));
    CHECK_THROWS_WITH(back.format_for("c", "q", 0), Catch::Contains("no component"));
    const auto layerwise = plan_from_string(plan_to_string(uniform_plan(m, granularity::layer, {bf16, mxint4}, 1)));
    CHECK(layerwise.format_for("b", "up").name == "mxint4");

    // Comments and blank lines are fine.
    CHECK(plan_from_string("# a plan\n\n" + text).assignment == plan.assignment);
    // Every truncation at a line boundary is rejected (the 'end' record is missing).
    std::size_t pos = 0;
    while ((pos = text.find('\n', pos)) != std::string::npos && pos + 1 < text.size()) {
        ++pos;
        INFO("truncated after " << pos << " characters");
        CHECK_THROWS_AS(plan_from_string(text.substr(0, pos)), std::invalid_argument);
    }
    auto replaced = [&](const std::string& from, const std::string& to) {
        std::string t = text;
        t.replace(t.find(from), from.size(), to);
        return t;
    };
    CHECK_THROWS_WITH(plan_from_string(replaced("mpq-plan 1", "mpq-plan 2")), Catch::Contains("version 2"));
    CHECK_THROWS_WITH(plan_from_string(replaced("granularity block", "granularity row")), Catch::Contains("'row'"));
    CHECK_THROWS_WITH(plan_from_string(replaced("format 1 mxint4 4.25 low", "format 1 mxint4 -4 low")),
                      Catch::Contains("'-4'"));
    CHECK_THROWS_WITH(plan_from_string(replaced("format 1 mxint4 4.25 low", "format 2 mxint4 4.25 low")),
                      Catch::Contains("out of order"));
    CHECK_THROWS_WITH(plan_from_string(replaced("component a q 0 40 0", "component a q 0 40 9")),
                      Catch::Contains("names no format"));
    CHECK_THROWS_WITH(plan_from_string(replaced("component a q 0 40 0", "component a q 0 x40 0")),
                      Catch::Contains("'x40'"));
    CHECK_THROWS_WITH(plan_from_string(replaced("component a q 0 40 0", "component a q 0 0 0")),
                      Catch::Contains("0 parameters"));
    CHECK_THROWS_WITH(plan_from_string(replaced("component a q 0 40 0", "compnent a q 0 40 0")),
                      Catch::Contains("'compnent'"));
    CHECK_THROWS_WITH(plan_from_string(text + "component a q 0 40 0\n"), Catch::Contains("after 'end'"));
    CHECK_THROWS_WITH(plan_from_string(""), Catch::Contains("empty"));
}
