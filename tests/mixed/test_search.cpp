// The random search of Eq. (1) and the guided search: reproducibility, Qr constraint, and an
// honest comparison at an equal number of loss evaluations.
#include <mpq/mixed.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>

using namespace mpq::mixed;

namespace {

const format_choice bf16{"bf16", 16.0, false};
const format_choice mxint4{"mxint4", 4.25, true};

/// A model of `layers` layers with the matmul shapes of a small Llama layer (params per
/// matmul differ, so the Qr constraint is not trivial).
model_desc llama_like(std::size_t layers, std::size_t block = 0) {
    model_desc m;
    for (std::size_t l = 0; l < layers; ++l) {
        layer_desc layer{"layers." + std::to_string(l), {}};
        for (auto [name, n] : {std::pair{"wq", 4096}, {"wk", 2048}, {"wv", 2048}, {"wo", 4096},
                               {"w1", 11008}, {"w2", 11008}, {"w3", 11008}})
            layer.matmuls.push_back(make_matmul(name, static_cast<std::size_t>(n), block));
        m.layers.push_back(layer);
    }
    return m;
}

/// A deterministic pseudo-sensitivity for component i: spread over two orders of magnitude.
double weight_of(std::size_t i) {
    std::uint64_t z = i * 0x9E3779B97F4A7C15ULL + 12345;
    z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ULL;
    return std::exp(4.0 * static_cast<double>(z % 1000) / 1000.0);
}

/// Additive loss with pairwise interaction between neighbours: low-precision neighbours
/// compound (an effect sensitivities alone cannot see).
double synthetic_loss(const precision_plan& p) {
    double loss = 1.0;
    for (std::size_t i = 0; i < p.components.size(); ++i) {
        if (p.assignment[i] != 1) continue;
        loss += 1e-6 * weight_of(i) * static_cast<double>(p.components[i].parameters);
        if (i + 1 < p.components.size() && p.assignment[i + 1] == 1) loss += 0.01;
    }
    return loss;
}

} // namespace

TEST_CASE("random search: Qr constraint, best of all trials, 50 trials by default", "[mixed][search]") {
    const auto model = llama_like(4);
    search_options o;
    o.target_qr = 0.6;
    o.seed = 7;
    const auto r = random_search(model, granularity::matmul, bf16, mxint4, synthetic_loss, o);
    REQUIRE(r.trials.size() == 50);
    CHECK(r.loss_evaluations == 50);
    CHECK(r.target_qr == 0.6);
    const double largest_share = 11008.0 / static_cast<double>(model.parameters());
    for (const auto& t : r.trials) {
        CHECK(std::fabs(t.qr - 0.6) <= largest_share / 2 + 1e-12);
        precision_plan p = r.best;
        p.assignment = t.assignment;
        CHECK(synthetic_loss(p) == t.loss);
        CHECK(summarize(p).qr == t.qr);
        CHECK(t.loss >= r.best_loss);
    }
    CHECK(r.trials[r.best_trial].loss == r.best_loss);
    CHECK(summarize(r.best).qr == r.achieved_qr);
    CHECK(r.best.formats[1].name == "mxint4");
    // All 50 plans are distinct (the model has far more than 50).
    std::set<std::vector<std::size_t>> distinct;
    for (const auto& t : r.trials) distinct.insert(t.assignment);
    CHECK(distinct.size() == 50);
}

TEST_CASE("random search is reproducible from its seed, whatever the thread count", "[mixed][search]") {
    const auto model = llama_like(3, 1024);
    search_options o;
    o.target_qr = 0.3;
    o.trials = 20;
    o.seed = 42;
    const auto a = random_search(model, granularity::block, bf16, mxint4, synthetic_loss, o);
    o.threads = 2;
    const auto b = random_search(model, granularity::block, bf16, mxint4, synthetic_loss, o);
    REQUIRE(a.trials.size() == b.trials.size());
    for (std::size_t i = 0; i < a.trials.size(); ++i) {
        CHECK(a.trials[i].assignment == b.trials[i].assignment);
        CHECK(a.trials[i].loss == b.trials[i].loss);
    }
    CHECK(a.best_trial == b.best_trial);
    o.seed = 43;
    const auto c = random_search(model, granularity::block, bf16, mxint4, synthetic_loss, o);
    CHECK(c.trials[0].assignment != a.trials[0].assignment);
}

TEST_CASE("random search edge cases", "[mixed][search]") {
    const auto model = llama_like(5);
    search_options o;
    o.trials = 12;
    o.target_qr = 0.0;
    auto r = random_search(model, granularity::layer, bf16, mxint4, synthetic_loss, o);
    CHECK(r.achieved_qr == 0.0);
    o.target_qr = 1.0;
    r = random_search(model, granularity::layer, bf16, mxint4, synthetic_loss, o);
    CHECK(r.achieved_qr == 1.0);
    // Five equal layers at Qr 0.4: exactly two layers low, and only C(5,2) = 10 distinct plans,
    // which the first 10 trials cover.
    o.target_qr = 0.4;
    r = random_search(model, granularity::layer, bf16, mxint4, synthetic_loss, o);
    std::set<std::vector<std::size_t>> first10;
    for (std::size_t i = 0; i < 10; ++i) {
        CHECK(r.trials[i].qr == Approx(0.4));
        first10.insert(r.trials[i].assignment);
    }
    CHECK(first10.size() == 10);
    CHECK_THROWS_WITH(random_search(model, granularity::layer, bf16, mxint4, synthetic_loss, {1.5}),
                      Catch::Contains("1.5"));
    o.trials = 0;
    CHECK_THROWS_AS(random_search(model, granularity::layer, bf16, mxint4, synthetic_loss, o), std::invalid_argument);
    o.trials = 4;
    CHECK_THROWS_WITH(random_search(model, granularity::layer, mxint4, mxint4, synthetic_loss, o),
                      Catch::Contains("marked low"));
    o.threads = 2;
    CHECK_THROWS_WITH(random_search(model, granularity::layer, bf16, mxint4,
                                    [](const precision_plan&) -> double { throw std::runtime_error("loss failed"); }, o),
                      Catch::Contains("loss failed"));
}

TEST_CASE("guided search finds the optimum of an additive loss", "[mixed][search]") {
    // Equal components and an additive loss: the optimum keeps the k most sensitive high.
    model_desc model;
    for (int l = 0; l < 10; ++l) model.layers.push_back({"l" + std::to_string(l), {make_matmul("m", 100)}});
    const std::vector<double> s = {5, 1, 9, 3, 7, 2, 8, 4, 6, 0.5};
    auto additive = [&](const precision_plan& p) {
        double loss = 0;
        for (std::size_t i = 0; i < p.assignment.size(); ++i) loss += p.assignment[i] == 1 ? s[i] : 0.0;
        return loss;
    };
    guided_options o;
    o.target_qr = 0.4;
    o.budget = 20;
    const auto g = guided_search(model, granularity::layer, bf16, mxint4, additive, o);
    CHECK(g.baseline_loss == 0.0);
    CHECK(g.sensitivity == s);
    CHECK(g.search.best_loss == 0.5 + 1 + 2 + 3);
    CHECK(g.search.achieved_qr == Approx(0.4));
    CHECK(g.search.loss_evaluations <= 20);
    // With proxies it needs no sensitivity evaluations.
    const auto p = guided_search(model, granularity::layer, bf16, mxint4, additive, {0.4, 1, 1}, s);
    CHECK(p.search.best_loss == 6.5);
    CHECK(p.search.loss_evaluations == 1);
    CHECK(std::isnan(p.baseline_loss));
    CHECK_THROWS_WITH(guided_search(model, granularity::layer, bf16, mxint4, additive, {0.4, 5, 1}),
                      Catch::Contains("budget 5"));
    CHECK_THROWS_WITH(guided_search(model, granularity::layer, bf16, mxint4, additive, o, {1.0}),
                      Catch::Contains("1 proxy sensitivities for 10"));
}

TEST_CASE("guided vs random search at the same number of loss evaluations", "[mixed][search]") {
    // 4 layers x 7 matmuls = 28 components; a budget of 50 evaluations for both searches.
    const auto model = llama_like(4);
    std::atomic<std::size_t> calls{0};
    auto counted = [&](const precision_plan& p) {
        ++calls;
        return synthetic_loss(p);
    };
    for (double qr : {0.3, 0.6, 0.9}) {
        calls = 0;
        search_options ro;
        ro.target_qr = qr;
        ro.seed = 1;
        const auto random = random_search(model, granularity::matmul, bf16, mxint4, counted, ro);
        const std::size_t random_calls = calls;
        calls = 0;
        guided_options go;
        go.target_qr = qr;
        go.budget = 50;
        const auto guided = guided_search(model, granularity::matmul, bf16, mxint4, counted, go);
        INFO("Qr " << qr << ": random best " << random.best_loss << " (Qr " << random.achieved_qr << "), guided best "
                   << guided.search.best_loss << " (Qr " << guided.search.achieved_qr << ")");
        CHECK(random_calls == 50);
        CHECK(calls <= 50);
        CHECK(calls == guided.search.loss_evaluations);
        // Equal footing on the constraint: both within half the largest component.
        CHECK(std::fabs(guided.search.achieved_qr - qr) <= 11008.0 / 2 / static_cast<double>(model.parameters()));
        CHECK(guided.search.best_loss <= random.best_loss);
    }
}
