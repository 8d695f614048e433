// The helpers of `mpq experiment` (examples/llama/experiment.hpp): plan runs, the selection
// between precomputed round trips, the block proxy, the plan cache and the two law fits.
#include "llama/experiment.hpp"

#include <mpq/mixed/format_cost.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace mpq::llama;
namespace ex = mpq::llama::experiment;
namespace mixed = mpq::mixed;

namespace {

const checkpoint& stories() {
    static const checkpoint ck = load_checkpoint(MPQ_SOURCE_DIR "/examples/data/stories260K.bin");
    return ck;
}

mixed::precision_plan alternating_block_plan(const transformer& model, std::size_t block) {
    auto plan = mixed::uniform_plan(describe(model, block), mixed::granularity::block,
                                    {mixed::plain_float_choice("bf16"), mixed::format_choice_of("mxint4", 0, true)});
    for (std::size_t i = 0; i < plan.assignment.size(); ++i) plan.assignment[i] = i % 2;
    return plan;
}

} // namespace

TEST_CASE("runs_of follows the plan's components through a matrix", "[experiment]") {
    const transformer model(stories());
    const auto plan = alternating_block_plan(model, 64);
    const linear_site wq{0, linear_role::wq, 64, 64};
    const auto runs = ex::runs_of(plan, wq);
    REQUIRE(runs.size() == 64); // 4096 weights in blocks of 64
    for (std::size_t i = 0; i < runs.size(); ++i) {
        CHECK(runs[i].begin == 64 * i);
        CHECK(runs[i].length == 64);
    }
    // Blocks are numbered across the whole model, so the parity of the first block of wq
    // decides the pattern; what matters is that it alternates.
    for (std::size_t i = 1; i < runs.size(); ++i) CHECK(runs[i].low_precision != runs[i - 1].low_precision);
    CHECK(ex::runs_of(plan, {5, linear_role::classifier, 512, 64}).empty());
    const linear_site wrong{0, linear_role::wq, 64, 65};
    CHECK_THROWS_AS(ex::runs_of(plan, wrong), std::invalid_argument);
}

TEST_CASE("round_trips selects, run by run, the low or the BF16 round trip", "[experiment]") {
    const checkpoint& ck = stories();
    const transformer model(ck);
    const ex::round_trips trips(ck, {"mxint4", false});
    const auto plan = alternating_block_plan(model, 64);
    const linear_site site{1, linear_role::w2, 64, 172};
    const auto& w = ck.layers[1].w2;
    const auto layer = trips.factory(plan)(site, w);
    const auto* emulated = dynamic_cast<const fake_quantized_linear*>(layer.get());
    REQUIRE(emulated != nullptr);
    std::vector<float> low(w.size()), high(w.size());
    quantizer_for("mxint4").matrix(w, low, site.rows, site.cols);
    quantizer_for("bf16").matrix(w, high, site.rows, site.cols);
    std::size_t low_count = 0;
    for (const auto& r : ex::runs_of(plan, site))
        for (std::size_t i = r.begin; i < r.begin + r.length; ++i) {
            const float expected = r.low_precision ? low[i] : high[i];
            REQUIRE(emulated->weights()[i] == expected);
            low_count += r.low_precision;
        }
    CHECK(low_count > 0);
    CHECK(low_count < w.size());
    // The classifier stays float32 whatever the plan.
    const auto classifier = trips.factory(plan)({5, linear_role::classifier, 512, 64}, ck.classifier_weights());
    CHECK(dynamic_cast<const float32_linear*>(classifier.get()) != nullptr);
    CHECK_THROWS_AS(ex::round_trips(ck, {"bf16", false}), std::invalid_argument);
    CHECK_THROWS_AS(ex::round_trips(ck, {"no_such_format", false}), std::invalid_argument);
}

TEST_CASE("squared_error of blocks adds up to that of their matmul", "[experiment]") {
    const checkpoint& ck = stories();
    const transformer model(ck);
    const ex::round_trips trips(ck, {"nvfp4", false});
    const auto matmuls = mixed::components(describe(model, 0), mixed::granularity::matmul);
    const auto blocks = mixed::components(describe(model, 100), mixed::granularity::block);
    const auto per_matmul = trips.squared_error(matmuls);
    const auto per_block = trips.squared_error(blocks);
    const auto proxy = ex::block_proxy(matmuls, per_matmul, per_matmul, blocks, per_block);
    // With each matmul's "sensitivity" set to its own error, a block's proxy is its error.
    for (std::size_t b = 0; b < blocks.size(); ++b) REQUIRE(proxy[b] == Approx(per_block[b]).margin(1e-18));
    double matmul_total = 0, block_total = 0;
    for (double e : per_matmul) matmul_total += e;
    for (double e : per_block) block_total += e;
    CHECK(matmul_total > 0);
    CHECK(block_total == Approx(matmul_total).epsilon(1e-9));
}

TEST_CASE("block_proxy shares a matmul's sensitivity by error", "[experiment]") {
    const std::vector<mixed::component> matmuls = {{"l0", "a", mixed::component::whole, 4},
                                                   {"l0", "b", mixed::component::whole, 4}};
    const std::vector<mixed::component> blocks = {{"l0", "a", 0, 2}, {"l0", "a", 1, 2}, {"l0", "b", 0, 2},
                                                  {"l0", "b", 1, 2}};
    const std::vector<double> sensitivity = {0.3, -0.1}, matmul_error = {4, 0}, block_error = {1, 3, 0, 0};
    const auto p = ex::block_proxy(matmuls, sensitivity, matmul_error, blocks, block_error);
    REQUIRE(p.size() == 4);
    CHECK(p[0] == Approx(0.075));
    CHECK(p[1] == Approx(0.225));
    CHECK(p[2] == 0.0); // no error in the matmul: nothing to share
    CHECK(p[3] == 0.0);
    const std::vector<double> one = {0.1};
    CHECK_THROWS_AS(ex::block_proxy(matmuls, one, matmul_error, blocks, block_error), std::invalid_argument);
    const std::vector<mixed::component> stray = {{"l1", "a", 0, 2}};
    CHECK_THROWS_AS(ex::block_proxy(matmuls, sensitivity, matmul_error, stray, one), std::invalid_argument);
}

TEST_CASE("plan_scorer evaluates each plan once", "[experiment]") {
    const checkpoint& ck = stories();
    const transformer reference(ck);
    evaluation_options o;
    o.sequences = 2;
    o.length = 12;
    o.threads = 2;
    const evaluator eval(reference, o);
    const ex::round_trips trips(ck, {"mxint4", true});
    ex::plan_scorer scorer(ck, eval);
    const auto desc = describe(reference, 0);
    const auto formats = std::vector{mixed::plain_float_choice("bf16"), mixed::format_choice_of("mxint4", 0, true)};
    const auto high = mixed::uniform_plan(desc, mixed::granularity::matmul, formats, 0);
    const auto low = mixed::uniform_plan(desc, mixed::granularity::matmul, formats, 1);
    const auto a = scorer.score(trips, high);
    const auto b = scorer.score(trips, high);
    CHECK(scorer.evaluations() == 1);
    CHECK(a.cross_entropy == b.cross_entropy);
    CHECK(std::fabs(a.delta) < 0.02); // BF16 weights barely move the loss
    const auto q = scorer.score(trips, low);
    CHECK(scorer.evaluations() == 2);
    CHECK(q.delta > a.delta);
    CHECK(q.kl_divergence > 0);
    CHECK(scorer.loss(trips)(low) == q.cross_entropy);
    CHECK(scorer.evaluations() == 2);
}

TEST_CASE("fit_weak_in_qr recovers C and A", "[experiment][fit]") {
    const double c = 0.02, a = 3.5;
    std::vector<double> qr = {0.25, 0.5, 0.75, 0.9, 0.95, 1.0}, delta;
    for (double q : qr) delta.push_back(c * std::exp(a * q));
    qr.push_back(0.1);
    delta.push_back(-0.001); // a point below the float32 loss: left out, and said so
    const auto r = ex::fit_weak_in_qr(qr, delta);
    REQUIRE(r.converged);
    CHECK(r.points == 6);
    CHECK(r.values[0] == Approx(c).epsilon(1e-6));
    CHECK(r.values[1] == Approx(a).epsilon(1e-6));
    CHECK(r.r_squared_log == Approx(1.0).margin(1e-9));
    CHECK(r.note.find("1 point(s)") != std::string::npos);
    CHECK(ex::max_ratio(r, c * std::exp(a * 0.6)) == Approx(0.6).epsilon(1e-6));
    CHECK(ex::max_ratio(r, 1e-9) == 0.0); // clamped
    CHECK(ex::max_ratio(r, 1e9) == 1.0);
    const auto none = ex::fit_weak_in_qr(std::vector<double>{0.5, 1.0}, std::vector<double>{0.1, 0.2});
    CHECK(none.values.empty());
    CHECK(std::isnan(ex::max_ratio(none, 0.1)));
    CHECK_THROWS_AS(ex::fit_weak_in_qr(std::vector<double>{0.5}, std::vector<double>{0.1, 0.2}), std::invalid_argument);
    CHECK_THROWS_AS(ex::fit_weak_in_qr(std::vector<double>{0.5, 0.6, std::nan("")}, std::vector<double>{0.1, 0.2, 0.3}),
                    std::invalid_argument);
}

TEST_CASE("fit_block_factor recovers C, d and gamma_c", "[experiment][fit]") {
    const double c = 0.01, d = 8, gamma = 0.4;
    const std::vector<double> qb = {16, 32, 64, 128, 256, 512};
    std::vector<double> delta;
    for (double b : qb) delta.push_back(c * std::pow(b + d, gamma));
    const auto r = ex::fit_block_factor(qb, delta);
    REQUIRE(r.converged);
    CHECK(r.values[0] == Approx(c).epsilon(1e-4));
    CHECK(r.values[1] == Approx(d).epsilon(1e-4));
    CHECK(r.values[2] == Approx(gamma).epsilon(1e-4));
    CHECK(r.r_squared == Approx(1.0).margin(1e-9));
    CHECK(ex::fit_block_factor(std::vector<double>{16, 32, 64}, std::vector<double>{0.1, 0.2, 0.3}).values.empty());
    CHECK_THROWS_AS(ex::fit_block_factor(std::vector<double>{0, 32, 64, 128}, std::vector<double>{0.1, 0.2, 0.3, 0.4}),
                    std::invalid_argument);
}

TEST_CASE("fit_power_in_qb recovers the papers' A and k, with noise-free and noisy points", "[experiment][fit]") {
    const std::vector<double> qb = {16, 32, 64, 128, 256};
    const double a = 0.53, k = 0.32; // the papers' 7B fit at Qr 0.5
    std::vector<double> exact, noisy;
    for (std::size_t i = 0; i < qb.size(); ++i) {
        exact.push_back(a * std::pow(qb[i], k));
        noisy.push_back(exact.back() * (i % 2 ? 1.03 : 0.97));
    }
    const auto r = ex::fit_power_in_qb(qb, exact);
    REQUIRE(r.converged);
    CHECK(r.values[0] == Approx(a).epsilon(1e-6));
    CHECK(r.values[1] == Approx(k).epsilon(1e-6));
    CHECK(r.r_squared_log == Approx(1.0).margin(1e-9));
    const auto n = ex::fit_power_in_qb(qb, noisy);
    REQUIRE(n.converged);
    CHECK(n.values[1] == Approx(k).margin(0.03));
    CHECK(n.r_squared_log < 1.0);
    // A falling δ (larger blocks better) is a fit too: k may be negative.
    const auto falling = ex::fit_power_in_qb(qb, std::vector<double>{0.4, 0.2, 0.1, 0.05, 0.025});
    CHECK(falling.values[1] == Approx(-1.0).epsilon(1e-6));
    const auto few = ex::fit_power_in_qb(qb, std::vector<double>{0.1, 0.2, 0, -1, 0});
    CHECK(few.values.empty());
    CHECK_THROWS_AS(ex::fit_power_in_qb(std::vector<double>{-16, 32, 64}, std::vector<double>{0.1, 0.2, 0.3}),
                    std::invalid_argument);
}
