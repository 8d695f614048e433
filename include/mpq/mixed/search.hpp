// Precision allocation under a target quantization ratio: the random search the
// mixed-quantization scaling-law papers use for their Eq. (1), and a guided search.
//
// Eq. (1): W_low, W_high = argmin L(F(W_low, W_high)) subject to
// ||W_low||_0 / (||W_low||_0 + ||W_high||_0) = Qr. Components are whole layers, matmuls or
// blocks, so the constraint holds only as closely as their sizes allow; every result reports
// the achieved Qr next to the target.
#pragma once

#include <mpq/mixed/plan.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace mpq::mixed {

/// The task loss of the model under a plan (lower is better). With threads > 1 it is called
/// concurrently and must be thread-safe.
using loss_function = std::function<double(const precision_plan&)>;

struct search_options {
    double target_qr = 0.5;    ///< in [0, 1]
    std::size_t trials = 50;   ///< random search: plans sampled and evaluated (the paper uses 50)
    std::uint64_t seed = 0;    ///< same seed, same model and options: same trials and result
    unsigned threads = 1;      ///< loss evaluations run on this many threads
};

/// One evaluated plan.
struct search_trial {
    std::vector<std::size_t> assignment; ///< format index per component (0 high, 1 low)
    double qr = 0;                       ///< achieved Qr of this plan
    double loss = 0;
};

struct search_result {
    precision_plan best;            ///< formats {high, low}; the lowest-loss trial (first on ties)
    double best_loss = 0;
    std::size_t best_trial = 0;     ///< index into trials
    double target_qr = 0;
    double achieved_qr = 0;         ///< Qr of `best`
    std::size_t loss_evaluations = 0;
    std::vector<search_trial> trials; ///< every evaluated plan, in evaluation order
};

namespace detail {

/// SplitMix64: a small, well-mixed generator whose output is the same on every platform
/// (std::shuffle and the std distributions are not).
struct splitmix64 {
    std::uint64_t state;
    std::uint64_t operator()() {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    /// Uniform in [0, n) by rejection (no modulo bias); n > 0.
    std::uint64_t below(std::uint64_t n) {
        const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
        std::uint64_t x;
        do x = (*this)();
        while (x >= limit);
        return x % n;
    }
};

inline void check_target(double qr) {
    if (!(qr >= 0.0 && qr <= 1.0))
        throw std::invalid_argument("search: target Qr " + std::to_string(qr) + " is outside [0, 1]");
}

/// Walks `order` and moves a component to low precision whenever that brings the low
/// parameter count closer to `target` (strictly), so the result is within half the smallest
/// skipped component of the target. Returns the low parameter count.
inline std::size_t fill_towards(const std::vector<component>& comps, const std::vector<std::size_t>& order,
                                double target, std::vector<std::size_t>& assignment) {
    std::size_t low = 0;
    for (std::size_t i : order) {
        const double now = std::fabs(static_cast<double>(low) - target);
        const double then = std::fabs(static_cast<double>(low + comps[i].parameters) - target);
        if (then < now) {
            assignment[i] = 1;
            low += comps[i].parameters;
        }
    }
    return low;
}

inline double qr_of(const std::vector<component>& comps, const std::vector<std::size_t>& assignment) {
    std::size_t low = 0, all = 0;
    for (std::size_t i = 0; i < comps.size(); ++i) {
        all += comps[i].parameters;
        if (assignment[i] == 1) low += comps[i].parameters;
    }
    return static_cast<double>(low) / static_cast<double>(all);
}

/// Evaluates loss(plan with each assignment) on `threads` threads; results by index, so the
/// outcome does not depend on the thread count. The first exception is rethrown.
inline std::vector<double> evaluate_all(const precision_plan& base, const std::vector<std::vector<std::size_t>>& assignments,
                                        const loss_function& loss, unsigned threads) {
    std::vector<double> losses(assignments.size());
    auto run_one = [&](std::size_t i) {
        precision_plan plan = base;
        plan.assignment = assignments[i];
        losses[i] = loss(plan);
    };
    const unsigned workers = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(assignments.size())));
    if (workers <= 1) {
        for (std::size_t i = 0; i < assignments.size(); ++i) run_one(i);
        return losses;
    }
    std::atomic<std::size_t> next{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    std::vector<std::thread> pool;
    for (unsigned w = 0; w < workers; ++w)
        pool.emplace_back([&] {
            for (std::size_t i; (i = next.fetch_add(1)) < assignments.size();) {
                try {
                    run_one(i);
                } catch (...) {
                    std::lock_guard lock(error_mutex);
                    if (!error) error = std::current_exception();
                }
            }
        });
    for (auto& t : pool) t.join();
    if (error) std::rethrow_exception(error);
    return losses;
}

inline void check_formats(const format_choice& high, const format_choice& low) {
    if (!low.low_precision) throw std::invalid_argument("search: format '" + low.name + "' is not marked low precision");
    if (high.low_precision) throw std::invalid_argument("search: format '" + high.name + "' is marked low precision");
}

inline void finish(search_result& r, const precision_plan& base) {
    r.best_trial = 0;
    while (r.best_trial + 1 < r.trials.size() && std::isnan(r.trials[r.best_trial].loss)) ++r.best_trial;
    for (std::size_t i = r.best_trial; i < r.trials.size(); ++i)
        if (r.trials[i].loss < r.trials[r.best_trial].loss) r.best_trial = i; // NaN never wins
    r.best = base;
    r.best.assignment = r.trials[r.best_trial].assignment;
    r.best_loss = r.trials[r.best_trial].loss;
    r.achieved_qr = r.trials[r.best_trial].qr;
    r.loss_evaluations = r.trials.size();
}

} // namespace detail

/// Random search for Eq. (1). Each trial draws a uniformly random order of the components of
/// `model` at `level` and moves components to `low` along it while that brings the low share
/// closer to the target (see the file comment), giving a random plan whose Qr is as close to
/// the target as that order allows; plans repeating an earlier trial are redrawn (up to 64
/// times, then kept, since small models may have few distinct plans). All plans are drawn first
/// from one SplitMix64 stream seeded with `options.seed`, then evaluated, possibly in parallel,
/// so the result depends only on the seed. Throws std::invalid_argument for a target outside
/// [0, 1], zero trials, `low` not marked low precision or `high` marked so, or a bad model.
inline search_result random_search(const model_desc& model, granularity level, const format_choice& high,
                                   const format_choice& low, const loss_function& loss,
                                   const search_options& options = {}) {
    detail::check_target(options.target_qr);
    detail::check_formats(high, low);
    if (options.trials == 0) throw std::invalid_argument("random_search: trials must be positive, got 0");
    const precision_plan base = uniform_plan(model, level, {high, low}, 0);
    const auto& comps = base.components;
    const double target = options.target_qr * static_cast<double>(model.parameters());

    detail::splitmix64 rng{options.seed};
    std::vector<std::vector<std::size_t>> assignments;
    std::set<std::vector<std::size_t>> seen;
    std::vector<std::size_t> order(comps.size());
    for (std::size_t t = 0; t < options.trials; ++t) {
        std::vector<std::size_t> a;
        for (int attempt = 0; attempt < 64; ++attempt) {
            std::iota(order.begin(), order.end(), std::size_t{0});
            for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
            a.assign(comps.size(), 0);
            detail::fill_towards(comps, order, target, a);
            if (!seen.contains(a)) break;
        }
        seen.insert(a);
        assignments.push_back(std::move(a));
    }
    const auto losses = detail::evaluate_all(base, assignments, loss, options.threads);
    search_result r;
    r.target_qr = options.target_qr;
    for (std::size_t t = 0; t < assignments.size(); ++t)
        r.trials.push_back({assignments[t], detail::qr_of(comps, assignments[t]), losses[t]});
    detail::finish(r, base);
    return r;
}

struct guided_options {
    double target_qr = 0.5;
    /// Loss evaluations allowed in all (the same currency as random_search's trials). With
    /// measured sensitivities it must be at least components + 2.
    std::size_t budget = 50;
    unsigned threads = 1;
};

struct guided_result {
    search_result search;              ///< trials are every evaluation after the sensitivities
    std::vector<double> sensitivity;   ///< per component: loss increase when it alone is low
    double baseline_loss = 0;          ///< all high precision (NaN when proxies were given)
};

/// Guided search. (1) Sensitivity: the loss with every component high, then with each single
/// component low (components + 1 evaluations) — or, if `proxy_sensitivity` is non-empty, those
/// numbers instead (e.g. a quantization-error proxy; no evaluations). (2) Greedy allocation:
/// components in order of sensitivity per parameter (least first; ties by model order) move to
/// low precision as in random_search's fill rule. (3) Refinement with the evaluations left:
/// swaps of one low and one high component that keep the achieved Qr at least as close to the
/// target, tried in order of predicted (additive) loss change, accepted when the measured loss
/// falls. Deterministic. Throws std::invalid_argument for a bad target, a proxy of the wrong
/// size, or a budget smaller than the evaluations steps (1) and (2) need.
inline guided_result guided_search(const model_desc& model, granularity level, const format_choice& high,
                                   const format_choice& low, const loss_function& loss,
                                   const guided_options& options = {},
                                   const std::vector<double>& proxy_sensitivity = {}) {
    detail::check_target(options.target_qr);
    detail::check_formats(high, low);
    const precision_plan base = uniform_plan(model, level, {high, low}, 0);
    const auto& comps = base.components;
    const std::size_t n = comps.size();
    const bool measured = proxy_sensitivity.empty();
    if (!measured && proxy_sensitivity.size() != n)
        throw std::invalid_argument("guided_search: " + std::to_string(proxy_sensitivity.size()) +
                                    " proxy sensitivities for " + std::to_string(n) + " components");
    const std::size_t needed = measured ? n + 2 : 1;
    if (options.budget < needed)
        throw std::invalid_argument("guided_search: budget " + std::to_string(options.budget) +
                                    " is below the " + std::to_string(needed) + " evaluations it needs");
    guided_result g;
    std::size_t used = 0;
    if (measured) {
        std::vector<std::vector<std::size_t>> probes(n + 1, std::vector<std::size_t>(n, 0));
        for (std::size_t i = 0; i < n; ++i) probes[i + 1][i] = 1;
        const auto losses = detail::evaluate_all(base, probes, loss, options.threads);
        g.baseline_loss = losses[0];
        g.sensitivity.resize(n);
        for (std::size_t i = 0; i < n; ++i) g.sensitivity[i] = losses[i + 1] - losses[0];
        used = n + 1;
    } else {
        g.baseline_loss = std::nan("");
        g.sensitivity = proxy_sensitivity;
    }
    const double target = options.target_qr * static_cast<double>(model.parameters());
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    auto per_parameter = [&](std::size_t i) { return g.sensitivity[i] / static_cast<double>(comps[i].parameters); };
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return per_parameter(a) < per_parameter(b); });
    std::vector<std::size_t> current(n, 0);
    std::size_t low_count = detail::fill_towards(comps, order, target, current);

    auto& r = g.search;
    r.target_qr = options.target_qr;
    auto evaluate = [&](const std::vector<std::size_t>& a) {
        precision_plan p = base;
        p.assignment = a;
        const double l = loss(p);
        r.trials.push_back({a, detail::qr_of(comps, a), l});
        ++used;
        return l;
    };
    double current_loss = evaluate(current);
    // Refinement: candidate swaps sorted by predicted change; restart the list after a success.
    bool improved = true;
    while (improved && used < options.budget) {
        improved = false;
        const double deviation = std::fabs(static_cast<double>(low_count) - target);
        struct swap_candidate { double predicted; std::size_t out, in; };
        std::vector<swap_candidate> candidates;
        for (std::size_t i = 0; i < n; ++i) {
            if (current[i] != 1) continue;
            for (std::size_t j = 0; j < n; ++j) {
                if (current[j] != 0) continue;
                const double new_low = static_cast<double>(low_count) - static_cast<double>(comps[i].parameters) +
                                       static_cast<double>(comps[j].parameters);
                if (std::fabs(new_low - target) > deviation) continue;
                candidates.push_back({g.sensitivity[j] - g.sensitivity[i], i, j});
            }
        }
        std::stable_sort(candidates.begin(), candidates.end(),
                         [](const auto& a, const auto& b) { return a.predicted < b.predicted; });
        for (const auto& c : candidates) {
            if (used >= options.budget) break;
            auto trial = current;
            trial[c.out] = 0;
            trial[c.in] = 1;
            const double l = evaluate(trial);
            if (l < current_loss) {
                current = trial;
                current_loss = l;
                low_count = low_count - comps[c.out].parameters + comps[c.in].parameters;
                improved = true;
                break;
            }
        }
    }
    detail::finish(r, base);
    r.loss_evaluations = used;
    return g;
}

} // namespace mpq::mixed
