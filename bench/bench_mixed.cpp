// Random search (the papers' Eq. (1)) against guided search at the same number of loss
// evaluations, on a real model: stories260K with every matmul's weights fake-quantized per
// plan (MXINT4 low, float32 high), scored by the KL divergence of its next-token
// distributions from the float32 model's on sequences the float32 model sampled.
// Each benchmark runs one whole search (Iterations(1)); the numbers that matter are the
// counters: best_kl (lower is better), achieved_qr, evaluations. A uniform plan at the same
// Qr (the first layers low) is the baseline measured in the same run. Also: analyze()
// throughput next to a memcpy baseline.
#include "llama/checkpoint.hpp"
#include "llama/eval.hpp"
#include "llama/fake_quant.hpp"
#include "llama/model.hpp"

#include <mpq/io.hpp>
#include <mpq/mixed.hpp>

#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>

namespace {

struct experiment {
    mpq::llama::checkpoint ck = mpq::llama::load_checkpoint(std::string(MPQ_SOURCE_DIR) + "/examples/data/stories260K.bin");
    mpq::llama::transformer reference{ck};
    mpq::llama::evaluator eval{reference, [] {
                                   mpq::llama::evaluation_options o;
                                   o.sequences = 16;
                                   o.length = 64;
                                   o.threads = 1;
                                   return o;
                               }()};
    mpq::mixed::model_desc model = mpq::llama::describe(reference);
    mpq::mixed::format_choice high{"f32", 32.0, false};
    mpq::mixed::format_choice low = mpq::mixed::format_choice_of("mxint4", 32, true);

    double loss(const mpq::mixed::precision_plan& plan) const {
        const mpq::llama::transformer quantized(ck, mpq::llama::plan_factory(plan));
        return eval.evaluate(quantized).kl_divergence;
    }
};

const experiment& shared() {
    static const experiment e;
    return e;
}

void report(benchmark::State& state, const mpq::mixed::search_result& r) {
    state.counters["best_kl"] = r.best_loss;
    state.counters["achieved_qr"] = r.achieved_qr;
    state.counters["evaluations"] = static_cast<double>(r.loss_evaluations);
}

void BM_random_search(benchmark::State& state) {
    const auto& e = shared();
    mpq::mixed::search_options o;
    o.target_qr = static_cast<double>(state.range(0)) / 100.0;
    o.trials = 50;
    o.seed = 1;
    mpq::mixed::search_result r;
    for (auto _ : state)
        r = mpq::mixed::random_search(e.model, mpq::mixed::granularity::matmul, e.high, e.low,
                                      [&](const auto& p) { return e.loss(p); }, o);
    report(state, r);
}

void BM_guided_search(benchmark::State& state) {
    const auto& e = shared();
    mpq::mixed::guided_options o;
    o.target_qr = static_cast<double>(state.range(0)) / 100.0;
    o.budget = 50;
    mpq::mixed::guided_result g;
    for (auto _ : state)
        g = mpq::mixed::guided_search(e.model, mpq::mixed::granularity::matmul, e.high, e.low,
                                      [&](const auto& p) { return e.loss(p); }, o);
    report(state, g.search);
}

/// Baseline: the first components in model order go low until the target is reached.
void BM_in_order_plan(benchmark::State& state) {
    const auto& e = shared();
    const double target = static_cast<double>(state.range(0)) / 100.0 * static_cast<double>(e.model.parameters());
    auto plan = mpq::mixed::uniform_plan(e.model, mpq::mixed::granularity::matmul, {e.high, e.low}, 0);
    double low = 0;
    for (std::size_t i = 0; i < plan.components.size(); ++i) {
        const double p = static_cast<double>(plan.components[i].parameters);
        if (std::abs(low + p - target) < std::abs(low - target)) plan.assignment[i] = 1, low += p;
    }
    double kl = 0;
    for (auto _ : state) kl = e.loss(plan);
    state.counters["best_kl"] = kl;
    state.counters["achieved_qr"] = mpq::mixed::summarize(plan).qr;
    state.counters["evaluations"] = 1;
}

BENCHMARK(BM_in_order_plan)->Arg(50)->Arg(90)->Iterations(1)->Unit(benchmark::kSecond);
BENCHMARK(BM_random_search)->Arg(50)->Arg(90)->Iterations(1)->Unit(benchmark::kSecond);
BENCHMARK(BM_guided_search)->Arg(50)->Arg(90)->Iterations(1)->Unit(benchmark::kSecond);

/// analyze() (quantize + dequantize + every metric) on all stories260K matrices, MXFP4 at 32,
/// in bytes of float32 input per second; BM_memcpy_baseline copies the same bytes.
const mpq::io::tensor_set& matrices() {
    static const mpq::io::tensor_set set = [] {
        auto all = mpq::io::read_llama2c_file(std::string(MPQ_SOURCE_DIR) + "/examples/data/stories260K.bin").tensors;
        std::erase_if(all.tensors, [](const auto& t) { return t.shape.size() != 2; });
        return all;
    }();
    return set;
}

void BM_analyze_mxfp4(benchmark::State& state) {
    const auto& set = matrices();
    const mpq::mxfp4 format;
    double sqnr = 0;
    for (auto _ : state)
        for (const auto& t : set.tensors) {
            const auto a = mpq::mixed::analyze(format, t.values, t.shape[0], t.shape[1]);
            sqnr = a.errors.sqnr_db;
            benchmark::DoNotOptimize(sqnr);
        }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * set.parameter_count() * 4));
}

void BM_memcpy_baseline(benchmark::State& state) {
    const auto& set = matrices();
    std::vector<std::vector<float>> out;
    for (const auto& t : set.tensors) out.emplace_back(t.values.size());
    for (auto _ : state) {
        for (std::size_t i = 0; i < set.tensors.size(); ++i)
            std::memcpy(out[i].data(), set.tensors[i].values.data(), 4 * out[i].size());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * set.parameter_count() * 4));
}

BENCHMARK(BM_analyze_mxfp4);
BENCHMARK(BM_memcpy_baseline);

} // namespace

BENCHMARK_MAIN();
