// The model's linear layers on mpq's mixed-precision GEMM agree with the emulation through
// fake quantization (same formats, different order of accumulation).
#include "llama/eval.hpp"
#include "llama/gemm_linear.hpp"

#include <mpq/mixed/format_cost.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <span>
#include <vector>

using namespace mpq::llama;
namespace mixed = mpq::mixed;

namespace {

const checkpoint& stories() {
    static const checkpoint ck = load_checkpoint(MPQ_SOURCE_DIR "/examples/data/stories260K.bin");
    return ck;
}

/// Largest |a − b| over the logits of the first 24 greedy tokens.
double logit_distance(const transformer& a, const transformer& b) {
    const std::vector<int> tokens{1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315,
                                  421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419};
    inference_state sa(a.cfg(), 32), sb(b.cfg(), 32);
    const auto la = forward(a, sa, tokens);
    const std::vector<float> first(la.begin(), la.end());
    const auto lb = forward(b, sb, tokens);
    double worst = 0;
    for (std::size_t i = 0; i < first.size(); ++i) worst = std::max(worst, double(std::abs(first[i] - lb[i])));
    return worst;
}

} // namespace

TEST_CASE("GEMM layers match fake quantization for uniform formats", "[llama][gemm]") {
    const transformer reference(stories());
    const transformer gemm_f32(stories(), gemm_uniform_factory(mpq::weight_format::fp32));
    CHECK(logit_distance(reference, gemm_f32) < 1e-4);

    for (const char* name : {"mxint4", "mxfp4", "nvfp4", "mxint8"}) {
        INFO(name);
        const auto f = *gemm_format_of(name);
        const transformer on_gemm(stories(), gemm_uniform_factory(f));
        const transformer emulated(stories(), uniform_factory(mpq::make_format(name), std::nullopt));
        CHECK(logit_distance(on_gemm, emulated) < 1e-3);
        CHECK(logit_distance(on_gemm, reference) > 1e-3); // the quantization is really there
        const auto& wq = dynamic_cast<const gemm_linear&>(*on_gemm.layers()[0].wq);
        CHECK(wq.matrix().map().qr() == 1.0);
    }
    // MXINT4 weights and activations: the GEMM's integer path against the emulation.
    const transformer wa(stories(), gemm_uniform_factory(mpq::weight_format::mxint4, mpq::activation_format::mxint4));
    const transformer wa_emulated(stories(), uniform_factory(mpq::make_format("mxint4"), mpq::make_format("mxint4")));
    CHECK(logit_distance(wa, wa_emulated) < 1e-3);
}

TEST_CASE("precision plans run on the GEMM as precision maps", "[llama][gemm]") {
    const transformer reference(stories());
    const std::vector<mixed::format_choice> formats{mixed::plain_float_choice("bf16"),
                                                    mixed::format_choice_of("mxint4", 32, true)};
    // Blocks of 8 rows of 64 weights (w2's rows hold 172: 8 × 172).
    std::vector<std::pair<std::string, std::size_t>> names;
    const auto desc = describe(reference, 8 * 64);
    auto plan = mixed::uniform_plan(desc, mixed::granularity::matmul, formats, 1);
    // Matmul-wise: every other matmul low.
    for (std::size_t i = 0; i < plan.assignment.size(); ++i) plan.assignment[i] = i % 2;
    const transformer on_gemm(stories(), gemm_plan_factory(plan));
    const transformer emulated(stories(), plan_factory(plan));
    CHECK(logit_distance(on_gemm, emulated) < 1e-3);
    const auto& wq = dynamic_cast<const gemm_linear&>(*on_gemm.layers()[0].wq);
    const auto& wk = dynamic_cast<const gemm_linear&>(*on_gemm.layers()[0].wk);
    CHECK(wq.matrix().map().formats().front() == mpq::weight_format::bf16);
    CHECK(wk.matrix().map().formats().front() == mpq::weight_format::mxint4);

    // Block-wise on the row blocks of w1..w3 and the attention matrices (w2 rows are 172 long,
    // so its blocks of 512 weights are not whole rows: the GEMM path refuses them).
    auto blocks = mixed::uniform_plan(desc, mixed::granularity::block, formats, 0);
    for (std::size_t i = 0; i < blocks.assignment.size(); i += 3) blocks.assignment[i] = 1;
    CHECK_THROWS_AS(transformer(stories(), gemm_plan_factory(blocks)), std::invalid_argument);
    // With w2 in whole-row blocks of 8 × 172 the plan maps to tiles of 8 rows.
    mixed::model_desc rows = desc;
    for (auto& layer : rows.layers)
        for (auto& m : layer.matmuls)
            if (m.name == "w2") m = mixed::make_matmul("w2", 64 * 172, 8 * 172);
    auto row_plan = mixed::uniform_plan(rows, mixed::granularity::block, formats, 0);
    for (std::size_t i = 0; i < row_plan.assignment.size(); i += 3) row_plan.assignment[i] = 1;
    const transformer block_gemm(stories(), gemm_plan_factory(row_plan));
    const transformer block_emulated(stories(), plan_factory(row_plan));
    CHECK(logit_distance(block_gemm, block_emulated) < 1e-3);
    const auto& w1 = dynamic_cast<const gemm_linear&>(*block_gemm.layers()[0].w1);
    CHECK(w1.matrix().map().tile_rows() == 8);
    CHECK(w1.matrix().map().qr() > 0.2);
    CHECK(w1.matrix().map().qr() < 0.5);

    // A format the GEMM cannot store.
    auto odd = plan;
    odd.formats[1] = mixed::format_choice_of("mxint4", 16, true);
    CHECK_THROWS_AS(transformer(stories(), gemm_plan_factory(odd)), std::invalid_argument);
    CHECK(gemm_format_of("f32") == mpq::weight_format::fp32);
    CHECK_FALSE(gemm_format_of("mxint4@16").has_value());
}

TEST_CASE("A GEMM linear layer gives each row the same bits for any batch size", "[llama][gemm]") {
    // 130 rows is past the GEMM's packed-panel threshold (128 rows with float activations).
    const std::size_t n = 48, k = 96, m = 130;
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> w(n * k), x(m * k);
    for (float& v : w) v = normal(rng);
    for (float& v : x) v = normal(rng);
    for (const auto format : {mpq::weight_format::mxint4, mpq::weight_format::bf16}) {
        const mpq::llama::gemm_linear layer(w, mpq::precision_map::uniform(n, k, format));
        std::vector<float> all(m * n), one(n);
        layer.forward(x, all, m);
        for (std::size_t t = 0; t < m; ++t) {
            layer.forward(std::span<const float>(x).subspan(t * k, k), one, 1);
            INFO("row " << t);
            REQUIRE(std::memcmp(one.data(), all.data() + t * n, n * sizeof(float)) == 0);
        }
    }
}
