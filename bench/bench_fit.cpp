// Benchmarks of mpq's least-squares fitter: the whole NIST StRD suite (54 runs) with default
// options, per Jacobian mode, and a strong-law fit on the 305-point digitized scaling-law data.
// Baseline in the same run: one pass of residual + autodiff-Jacobian evaluations for the suite
// (the work a solver cannot avoid per iteration), reported as evaluations/s next to the solves.
#include <mpq/fit/laws.hpp>
#include <mpq/fit/nist.hpp>

#include <benchmark/benchmark.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#ifndef MPQ_BENCH_SOURCE_DIR
#define MPQ_BENCH_SOURCE_DIR "."
#endif

namespace {

const std::vector<mpq::fit::nist::problem>& suite() {
    static const std::vector<mpq::fit::nist::problem> problems = [] {
        std::vector<mpq::fit::nist::problem> out;
        for (auto name : mpq::fit::nist::problem_names)
            out.push_back(mpq::fit::nist::read_file(std::string(MPQ_BENCH_SOURCE_DIR) + "/tests/data/nist/" +
                                                    std::string(name) + ".dat"));
        return out;
    }();
    return problems;
}

void run_suite(benchmark::State& state, mpq::fit::jacobian_mode mode) {
    mpq::fit::options opt;
    opt.jacobian = mode;
    std::size_t evaluations = 0;
    int good = 0;
    for (auto _ : state) {
        good = 0;
        for (const auto& p : suite())
            for (int start = 1; start <= 2; ++start) {
                const auto r = mpq::fit::nist::run(p, start, opt);
                evaluations += r.solve.residual_evaluations;
                good += r.lre >= 6;
            }
    }
    state.counters["runs_ok_of_54"] = good;
    state.counters["evaluations/s"] = benchmark::Counter(static_cast<double>(evaluations), benchmark::Counter::kIsRate);
}
void BM_nist_suite_autodiff(benchmark::State& s) { run_suite(s, mpq::fit::jacobian_mode::autodiff); }
void BM_nist_suite_finite_difference(benchmark::State& s) { run_suite(s, mpq::fit::jacobian_mode::finite_difference); }
BENCHMARK(BM_nist_suite_autodiff)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_nist_suite_finite_difference)->Unit(benchmark::kMillisecond);

/// Baseline: the digitized data in the layout the strong law takes (Qr > 0, δ > 0; Qb from
/// the granularity as in `mpq fit`), read without the CLI's CSV machinery.
struct strong_data {
    std::vector<double> x, y;
};
const strong_data& cao_points() {
    static const strong_data d = [] {
        strong_data out;
        std::ifstream in(std::string(MPQ_BENCH_SOURCE_DIR) + "/examples/data/cao2024v1_digitized_fig9-18.csv");
        std::string line;
        std::getline(in, line);
        while (std::getline(in, line)) {
            // family is field 2, granularity 4, metric 6, Qr 7, params_B 8, rel_change 11; field 5 is quoted.
            std::vector<std::string> f;
            std::string cur;
            bool q = false;
            for (char c : line) {
                if (c == '"') q = !q;
                else if (c == ',' && !q) f.push_back(cur), cur.clear();
                else cur += c;
            }
            f.push_back(cur);
            const double qr = std::stod(f[7]), n = std::stod(f[8]);
            if (qr == 0 || f[11].empty()) continue;
            const double delta = f[6] == "accuracy" ? -std::stod(f[11]) : std::stod(f[11]);
            if (!(delta > 0)) continue;
            const double qb = f[4] == "matmul-wise" ? n * 1e3 / 32 / 7 : n * 1e3 / 32; // nominal 32 layers
            out.x.insert(out.x.end(), {qr, n, qb});
            out.y.push_back(delta);
        }
        return out;
    }();
    return d;
}

void BM_strong_law_fit_cao_data(benchmark::State& state) {
    const auto& d = cao_points();
    double cost = 0;
    for (auto _ : state) {
        const auto f = mpq::fit::laws::fit_law<mpq::fit::laws::strong>(d.x, d.y);
        cost = f.fit.solve.final_cost;
        benchmark::DoNotOptimize(cost);
    }
    state.counters["points"] = static_cast<double>(d.y.size());
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * d.y.size()));
}
BENCHMARK(BM_strong_law_fit_cao_data)->Unit(benchmark::kMicrosecond);

/// Baseline for the suite: one residual + Jacobian evaluation at the start of every problem.
void BM_nist_one_jacobian_each(benchmark::State& state) {
    std::size_t rows = 0;
    mpq::fit::options opt;
    opt.max_iterations = 1;
    for (auto _ : state)
        for (const auto& p : suite()) {
            const auto r = mpq::fit::nist::run(p, 1, opt);
            rows += p.y.size();
            benchmark::DoNotOptimize(r.lre);
        }
    state.SetItemsProcessed(static_cast<std::int64_t>(rows));
}
BENCHMARK(BM_nist_one_jacobian_each)->Unit(benchmark::kMillisecond);

} // namespace

BENCHMARK_MAIN();
