// The mixed-quantization papers' experiment on a real model, in miniature: for a low-precision
// format, a mixing granularity (layer, matmul or block of Qb weights) and a target ratio Qr,
// the best plan of the random search (Eq. (1)) and of the guided search, scored by the
// degradation δ = loss_q − loss_float32 on text sampled from the float32 model; then the weak
// law in Qr (δ = C·e^(A·Qr) at the one model size) and the Qb factor of the strong law
// (δ ∝ (Qb + d)^γ_c) fitted to the measurements.
//
// Plans are emulated: every matrix is rounded once through the low format (its scale blocks
// along K) and once through BF16 (the high format); a plan only chooses, mixing block by
// mixing block, which of the two round trips each weight takes. So a plan costs a copy and a
// model evaluation. In the block-size sweep Qb is, as in the papers' block-wise runs, both
// the low format's scale block ("mxint4@Qb") and the unit a plan assigns a precision to.
#pragma once

#include "llama/eval.hpp"
#include "llama/fake_quant.hpp"
#include "llama/linear.hpp"
#include "llama/model.hpp"

#include <mpq/fit/curve_fit.hpp>
#include <mpq/mixed/format_cost.hpp>
#include <mpq/mixed/plan.hpp>
#include <mpq/mixed/search.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpq::llama::experiment {

/// A low-precision side of the experiment: a block format by registry name, with or without
/// quantized activations (the papers' MXINT4 runs quantize both).
struct low_precision_setting {
    std::string format;               ///< "mxint4", "mxfp4", "nvfp4", ...
    bool quantize_activations = false;

    /// "mxint4 W+A" or "mxfp4 W".
    std::string label() const { return format + (quantize_activations ? " W+A" : " W"); }
};

/// A run of consecutive row-major weights of one matrix that a plan puts in one format.
struct weight_run {
    std::size_t begin = 0, length = 0;
    bool low_precision = false;
};

/// The runs `plan` assigns to the matrix of `site` (layer "layers.N", matmul "wq" … as in
/// llama::describe), in order. Empty when no component covers the site. Throws
/// std::invalid_argument when the covering components do not add up to the matrix.
inline std::vector<weight_run> runs_of(const mixed::precision_plan& plan, const linear_site& site) {
    const auto [layer, matmul] = plan_names(site);
    std::vector<weight_run> runs;
    std::size_t covered = 0;
    for (std::size_t i = 0; i < plan.components.size(); ++i) {
        const auto& c = plan.components[i];
        if (c.layer != layer || (!c.matmul.empty() && c.matmul != matmul)) continue;
        // A layer-wise component covers every matmul of its layer, this one entirely.
        const std::size_t length = c.matmul.empty() ? site.rows * site.cols : c.parameters;
        runs.push_back({covered, length, plan.formats[plan.assignment[i]].low_precision});
        covered += length;
    }
    if (!runs.empty() && covered != site.rows * site.cols)
        throw std::invalid_argument("experiment: the components of " + site.name() + " cover " +
                                    std::to_string(covered) + " weights, the matrix has " +
                                    std::to_string(site.rows * site.cols));
    return runs;
}

/// Every matmul of a model (the classifier excluded) rounded once through a low format and
/// once through BF16, so that any plan over them is a selection between the two.
class round_trips {
public:
    /// Rounds the matmuls of `ck`. Throws std::invalid_argument for an unknown format name.
    round_trips(const checkpoint& ck, low_precision_setting low) : low_(std::move(low)) {
        const named_quantizer low_q = quantizer_for(low_.format);
        const named_quantizer high_q = quantizer_for("bf16");
        if (!low_q.block_format)
            throw std::invalid_argument("experiment: '" + low_.format + "' is not a block format");
        activations_ = low_q.elements;
        // Building a model once visits every site with its weights.
        const transformer visit(ck, [&](const linear_site& site, std::span<const float> w) {
            if (site.role != linear_role::classifier) {
                matrix m{std::vector<float>(w.size()), std::vector<float>(w.size()), site.rows, site.cols};
                low_q.matrix(w, m.low, site.rows, site.cols);
                high_q.matrix(w, m.high, site.rows, site.cols);
                matrices_.emplace(site.name(), std::move(m));
            }
            return make_float32_linear(site, w);
        });
    }

    const low_precision_setting& setting() const { return low_; }

    /// A factory running `plan` (formats {high, low} as the searches make them): each run of
    /// weights takes the low or the BF16 round trip; a matrix whose runs are all low also
    /// quantizes its inputs when the setting says so (a matrix that mixes keeps float32
    /// inputs). Uncovered sites and the classifier stay float32. Errors as runs_of, raised
    /// when the model is built.
    linear_factory factory(const mixed::precision_plan& plan) const {
        return [this, plan](const linear_site& site, std::span<const float> w) -> std::unique_ptr<linear_layer> {
            const auto runs = runs_of(plan, site);
            const auto found = matrices_.find(site.name());
            if (runs.empty() || found == matrices_.end()) return make_float32_linear(site, w);
            const matrix& m = found->second;
            auto selected = std::make_shared<std::vector<float>>(m.high);
            bool all_low = true;
            for (const auto& r : runs) {
                all_low = all_low && r.low_precision;
                if (r.low_precision)
                    std::copy_n(m.low.begin() + static_cast<std::ptrdiff_t>(r.begin), r.length,
                                selected->begin() + static_cast<std::ptrdiff_t>(r.begin));
            }
            fake_quant_choice choice;
            choice.weights = [selected](std::span<const float>, std::span<float> out, std::size_t, std::size_t) {
                std::copy(selected->begin(), selected->end(), out.begin());
            };
            if (all_low && low_.quantize_activations) choice.activations = activations_;
            return std::make_unique<fake_quantized_linear>(w, site.rows, site.cols, std::move(choice));
        };
    }

    /// Σ (low − high)² over the weights of each component of `model_components` (a proxy of
    /// how much a component suffers in the low format). Throws std::invalid_argument for a
    /// component naming no matrix or running past its end.
    std::vector<double> squared_error(const std::vector<mixed::component>& model_components) const {
        std::vector<double> out;
        std::map<std::string, std::size_t> offset; // next weight of each matrix, for block components
        for (const auto& c : model_components) {
            double sum = 0;
            for (const auto& [name, m] : matrices_) {
                const std::string layer = c.layer + ".";
                if (!name.starts_with(layer)) continue;
                if (!c.matmul.empty() && name != layer + c.matmul) continue;
                std::size_t begin = 0, length = m.low.size();
                if (c.block != mixed::component::whole) {
                    begin = offset[name];
                    length = c.parameters;
                    offset[name] += length;
                }
                if (begin + length > m.low.size())
                    throw std::invalid_argument("experiment: component " + c.name() + " runs past " + name);
                for (std::size_t i = begin; i < begin + length; ++i) {
                    const double e = static_cast<double>(m.low[i]) - m.high[i];
                    sum += e * e;
                }
            }
            out.push_back(sum);
        }
        return out;
    }

private:
    struct matrix {
        std::vector<float> low, high;
        std::size_t rows = 0, cols = 0;
    };
    low_precision_setting low_;
    row_fake_quantizer activations_;
    std::map<std::string, matrix> matrices_;
};

/// Scores plans with an evaluator, remembering every plan it has scored (searches revisit
/// plans: the guided search's sensitivity probes are the same at every target Qr).
class plan_scorer {
public:
    /// Both must outlive the scorer.
    plan_scorer(const checkpoint& ck, const evaluator& eval) : ck_(&ck), eval_(&eval) {}

    /// The evaluation of `plan` under `trips`.
    evaluation_result score(const round_trips& trips, const mixed::precision_plan& plan) {
        const std::string key = key_of(trips, plan);
        {
            std::lock_guard lock(mutex_);
            if (auto it = cache_.find(key); it != cache_.end()) return it->second;
        }
        const transformer model(*ck_, trips.factory(plan));
        const evaluation_result r = eval_->evaluate(model);
        std::lock_guard lock(mutex_);
        ++evaluations_;
        cache_.emplace(key, r);
        return r;
    }

    /// The loss the searches minimise: mean cross-entropy.
    mixed::loss_function loss(const round_trips& trips) {
        return [this, &trips](const mixed::precision_plan& p) { return score(trips, p).cross_entropy; };
    }

    /// Model evaluations actually run (cache hits not counted).
    std::size_t evaluations() const { return evaluations_; }

private:
    static std::string key_of(const round_trips& trips, const mixed::precision_plan& plan) {
        std::string key = trips.setting().label() + "|" + std::string(mixed::to_string(plan.level)) + "|" +
                          std::to_string(plan.components.size()) + "|" +
                          (plan.components.empty() ? std::string("0") : std::to_string(plan.components[0].parameters)) +
                          "|";
        for (std::size_t i = 0; i < plan.assignment.size(); ++i)
            key += plan.formats[plan.assignment[i]].low_precision ? '1' : '0';
        return key;
    }

    const checkpoint* ck_;
    const evaluator* eval_;
    std::mutex mutex_;
    std::map<std::string, evaluation_result> cache_;
    std::size_t evaluations_ = 0;
};

/// Guided-search proxy sensitivities for block components: each matmul's measured
/// sensitivity (loss with that matmul alone low minus the all-high loss) shared among its
/// blocks in proportion to their squared rounding error. `matmul_sensitivity` and
/// `matmul_error` are per matmul component (matmul granularity, model order); `block_error`
/// per block component of the same model. Throws std::invalid_argument when the sizes
/// disagree or a block names no matmul.
inline std::vector<double> block_proxy(const std::vector<mixed::component>& matmuls,
                                       std::span<const double> matmul_sensitivity,
                                       std::span<const double> matmul_error,
                                       const std::vector<mixed::component>& blocks,
                                       std::span<const double> block_error) {
    if (matmul_sensitivity.size() != matmuls.size() || matmul_error.size() != matmuls.size() ||
        block_error.size() != blocks.size())
        throw std::invalid_argument("block_proxy: " + std::to_string(matmuls.size()) + " matmuls with " +
                                    std::to_string(matmul_sensitivity.size()) + " sensitivities and " +
                                    std::to_string(matmul_error.size()) + " errors; " +
                                    std::to_string(blocks.size()) + " blocks with " +
                                    std::to_string(block_error.size()) + " errors");
    std::vector<double> out(blocks.size());
    for (std::size_t b = 0; b < blocks.size(); ++b) {
        std::size_t m = 0;
        while (m < matmuls.size() && (matmuls[m].layer != blocks[b].layer || matmuls[m].matmul != blocks[b].matmul)) ++m;
        if (m == matmuls.size())
            throw std::invalid_argument("block_proxy: block " + blocks[b].name() + " belongs to no matmul");
        out[b] = matmul_error[m] > 0 ? matmul_sensitivity[m] * block_error[b] / matmul_error[m] : 0.0;
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// Fits.

/// log δ = log C + A·Qr: the weak law at one model size (N^(−γ_N) folds into C).
struct weak_in_qr {
    static constexpr std::size_t parameter_count = 2;
    template <class T> T operator()(std::span<const double> x, std::span<const T, 2> p) const {
        using std::log;
        using mpq::fit::log;
        return log(p[0]) + p[1] * x[0];
    }
};

/// log δ = log C + γ_c·log(Qb + d): the strong law's block-size factor at one size and Qr.
struct block_factor {
    static constexpr std::size_t parameter_count = 3;
    template <class T> T operator()(std::span<const double> x, std::span<const T, 3> p) const {
        using std::log;
        using mpq::fit::log;
        return log(p[0]) + p[2] * log(x[0] + p[1]);
    }
};

/// log δ = log A + k·log Qb: the papers' power law in the block size at one Qr (δ = A·Qb^k).
struct power_in_qb {
    static constexpr std::size_t parameter_count = 2;
    template <class T> T operator()(std::span<const double> x, std::span<const T, 2> p) const {
        using std::log;
        using mpq::fit::log;
        return log(p[0]) + p[1] * std::log(x[0]);
    }
};

/// A fitted law: parameter names and values, R² on log δ (what is fitted) and on δ.
struct law_result {
    std::vector<std::string> names;
    std::vector<double> values;
    std::vector<char> at_bound;
    double r_squared_log = std::nan("");
    double r_squared = std::nan("");
    std::size_t points = 0;
    bool converged = false;
    std::string note; ///< why the fit is missing or weak
};

namespace detail {

/// Least squares of y on (1, x): {intercept, slope}.
inline std::array<double, 2> line_through(std::span<const double> x, std::span<const double> y) {
    const auto n = static_cast<double>(x.size());
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        sx += x[i];
        sy += y[i];
        sxx += x[i] * x[i];
        sxy += x[i] * y[i];
    }
    const double den = n * sxx - sx * sx;
    const double slope = den != 0 ? (n * sxy - sx * sy) / den : 0.0;
    return {(sy - slope * sx) / n, slope};
}

template <class Model, std::size_t P>
law_result finish_fit(const Model& model, std::span<const double> x, std::span<const double> delta,
                      std::array<double, P> start, const fit::constraints& box,
                      std::vector<std::string> names) {
    std::vector<double> log_delta(delta.size());
    for (std::size_t i = 0; i < delta.size(); ++i) log_delta[i] = std::log(delta[i]);
    for (std::size_t j = 0; j < P; ++j) start[j] = std::clamp(start[j], box.lower[j], box.upper[j]);
    const auto fit = fit::fit_curve(model, {.x = x, .y = log_delta, .input_count = 1}, start, box,
                                    {.multi_starts = 8});
    law_result r;
    r.names = std::move(names);
    r.values.assign(fit.parameters.begin(), fit.parameters.end());
    r.at_bound = fit.stats.at_bound;
    r.points = delta.size();
    r.converged = fit.success();
    r.r_squared_log = fit.stats.r_squared;
    double mean = 0, rss = 0, tss = 0;
    for (double d : delta) mean += d / static_cast<double>(delta.size());
    for (std::size_t i = 0; i < delta.size(); ++i) {
        const double predicted =
            std::exp(model(x.subspan(i, 1), std::span<const double, P>(fit.parameters)));
        rss += (delta[i] - predicted) * (delta[i] - predicted);
        tss += (delta[i] - mean) * (delta[i] - mean);
    }
    r.r_squared = tss > 0 ? 1 - rss / tss : std::nan("");
    if (!r.converged) r.note = "the solver did not converge";
    return r;
}

/// The points with δ > 0 (log δ is fitted), and how many were left out.
inline std::size_t positive_only(std::span<const double> x, std::span<const double> delta,
                                 std::vector<double>& kept_x, std::vector<double>& kept_delta) {
    if (x.size() != delta.size())
        throw std::invalid_argument("experiment fit: " + std::to_string(x.size()) + " inputs for " +
                                    std::to_string(delta.size()) + " degradations");
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (!std::isfinite(x[i]) || !std::isfinite(delta[i]))
            throw std::invalid_argument("experiment fit: point " + std::to_string(i) + " is not finite");
        if (delta[i] > 0) {
            kept_x.push_back(x[i]);
            kept_delta.push_back(delta[i]);
        }
    }
    return x.size() - kept_x.size();
}

/// Throws std::invalid_argument unless every block size is positive.
inline void require_positive_blocks(std::span<const double> qb) {
    for (double b : qb)
        if (!(b > 0)) throw std::invalid_argument("experiment fit: block size " + std::to_string(b) + " is not positive");
}

/// {intercept, slope} of log y on log x: the starting point of the block-size fits.
inline std::array<double, 2> log_log_line(std::span<const double> x, std::span<const double> y) {
    std::vector<double> log_x(x.size()), log_y(y.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
        log_x[i] = std::log(x[i]);
        log_y[i] = std::log(y[i]);
    }
    return line_through(log_x, log_y);
}

} // namespace detail

/// Fits δ = C·e^(A·Qr) by least squares on log δ over the points with δ > 0 (C > 0, A ≥ 0),
/// from the log-linear regression. Fewer than 3 positive points give no fit (note says so).
/// Throws std::invalid_argument for sizes that differ or values that are not finite.
inline law_result fit_weak_in_qr(std::span<const double> qr, std::span<const double> delta) {
    std::vector<double> x, y;
    const std::size_t dropped = detail::positive_only(qr, delta, x, y);
    law_result r;
    r.names = {"C", "A"};
    if (x.size() < 3) {
        r.points = x.size();
        r.note = "fewer than 3 points with delta > 0";
        return r;
    }
    std::vector<double> log_y(y.size());
    for (std::size_t i = 0; i < y.size(); ++i) log_y[i] = std::log(y[i]);
    const auto line = detail::line_through(x, log_y);
    r = detail::finish_fit(weak_in_qr{}, x, y, std::array<double, 2>{std::exp(line[0]), std::max(line[1], 1e-3)},
                           {.lower = {1e-300, 0}, .upper = {1e300, 200}}, {"C", "A"});
    if (dropped) r.note += (r.note.empty() ? "" : "; ") + std::to_string(dropped) + " point(s) with delta <= 0 left out";
    return r;
}

/// Fits δ = C·(Qb + d)^γ_c by least squares on log δ over the points with δ > 0 (C > 0,
/// −0.999·min Qb < d ≤ 1000·max Qb, 0 ≤ γ_c ≤ 1 as in the strong law). Fewer than 4 positive
/// points give no fit. Throws std::invalid_argument for sizes that differ, values that are
/// not finite, or Qb ≤ 0.
inline law_result fit_block_factor(std::span<const double> qb, std::span<const double> delta) {
    detail::require_positive_blocks(qb);
    std::vector<double> x, y;
    const std::size_t dropped = detail::positive_only(qb, delta, x, y);
    law_result r;
    r.names = {"C", "d", "gamma_c"};
    if (x.size() < 4) {
        r.points = x.size();
        r.note = "fewer than 4 points with delta > 0";
        return r;
    }
    const auto line = detail::log_log_line(x, y);
    const double qb_min = *std::min_element(x.begin(), x.end()), qb_max = *std::max_element(x.begin(), x.end());
    r = detail::finish_fit(block_factor{}, x, y,
                           std::array<double, 3>{std::exp(line[0]), 0.0, std::clamp(line[1], 0.05, 0.95)},
                           {.lower = {1e-300, -0.999 * qb_min, 0}, .upper = {1e300, 1e3 * qb_max, 1}},
                           {"C", "d", "gamma_c"});
    if (dropped) r.note += (r.note.empty() ? "" : "; ") + std::to_string(dropped) + " point(s) with delta <= 0 left out";
    return r;
}

/// Fits δ = A·Qb^k (the papers' form for the block size at one Qr) by least squares on
/// log δ over the points with δ > 0 (A > 0, −10 ≤ k ≤ 10), from the log-log regression.
/// Fewer than 3 positive points give no fit. Throws std::invalid_argument for sizes that
/// differ, values that are not finite, or Qb ≤ 0.
inline law_result fit_power_in_qb(std::span<const double> qb, std::span<const double> delta) {
    detail::require_positive_blocks(qb);
    std::vector<double> x, y;
    const std::size_t dropped = detail::positive_only(qb, delta, x, y);
    law_result r;
    r.names = {"A", "k"};
    if (x.size() < 3) {
        r.points = x.size();
        r.note = "fewer than 3 points with delta > 0";
        return r;
    }
    const auto line = detail::log_log_line(x, y);
    r = detail::finish_fit(power_in_qb{}, x, y, std::array<double, 2>{std::exp(line[0]), line[1]},
                           {.lower = {1e-300, -10}, .upper = {1e300, 10}}, {"A", "k"});
    if (dropped) r.note += (r.note.empty() ? "" : "; ") + std::to_string(dropped) + " point(s) with delta <= 0 left out";
    return r;
}

/// Largest Qr with C·e^(A·Qr) ≤ budget, clamped to [0, 1]; NaN without a usable fit.
inline double max_ratio(const law_result& weak, double budget) {
    if (weak.values.size() != 2 || !(weak.values[1] > 0) || !(weak.values[0] > 0)) return std::nan("");
    return std::clamp(std::log(budget / weak.values[0]) / weak.values[1], 0.0, 1.0);
}

} // namespace mpq::llama::experiment
