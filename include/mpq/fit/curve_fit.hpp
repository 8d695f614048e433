// Fitting a model y ≈ f(x; p) to observations: the model is written once as a template over
// the number type, and the Jacobian comes from dual numbers (default), central differences or
// the model's own derivative. Weights (σ), fixed parameters, box bounds, robust loss and a
// seeded multi-start are options; the result carries the solver summary and fail-closed
// statistics.
//
//   struct exponential {
//       static constexpr std::size_t parameter_count = 2;
//       template <class T> T operator()(std::span<const double> x, std::span<const T, 2> p) const {
//           return p[0] * exp(-p[1] * x[0]);
//       }
//   };
//   auto r = mpq::fit::fit_curve(exponential{}, {.x = xs, .y = ys}, {1.0, 0.1});
#pragma once

#include <mpq/fit/dual.hpp>
#include <mpq/fit/levenberg_marquardt.hpp>
#include <mpq/fit/options.hpp>
#include <mpq/fit/statistics.hpp>

#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpq::fit {

/// A model with a compile-time parameter count, callable on doubles and on dual numbers.
/// x is one observation's inputs (input_count entries).
template <class M>
concept curve_model = requires(const M& m, std::span<const double> x,
                                std::span<const double, M::parameter_count> p,
                                std::span<const dual<M::parameter_count>, M::parameter_count> pd) {
    { M::parameter_count } -> std::convertible_to<std::size_t>;
    { m(x, p) } -> std::convertible_to<double>;
    { m(x, pd) } -> std::same_as<dual<M::parameter_count>>;
};

/// A model that also provides ∂f/∂p itself (for jacobian_mode::analytic).
template <class M>
concept analytic_curve_model = curve_model<M> &&
    requires(const M& m, std::span<const double> x, std::span<const double, M::parameter_count> p,
             std::span<double, M::parameter_count> g) { m.gradient(x, p, g); };

/// Observations: x holds input_count values per observation (row-major), y one value each,
/// sigma (optional) the standard deviation of each y; residuals are (y − f)/σ.
struct observations {
    std::span<const double> x;
    std::span<const double> y;
    std::span<const double> sigma = {};
    std::size_t input_count = 1;
};

/// Per-parameter constraints; empty vectors mean none. Fixed parameters keep their start value.
struct constraints {
    std::vector<double> lower = {};
    std::vector<double> upper = {};
    std::vector<char> fixed = {};
};

template <std::size_t P>
struct curve_fit_result {
    std::array<double, P> parameters{};
    summary solve;                ///< report of the best start
    statistics stats;
    std::size_t starts = 1;       ///< starts tried (1 + options.multi_starts)
    std::size_t starts_converged = 0;
    bool success() const { return solve.success(); }
};

namespace detail {

inline double robust_rho(loss_kind kind, double s, double c) {
    const double c2 = c * c;
    switch (kind) {
    case loss_kind::squared: return s;
    case loss_kind::huber: return s <= c2 ? s : 2 * c * std::sqrt(s) - c2;
    case loss_kind::cauchy: return c2 * std::log1p(s / c2);
    }
    return s;
}
inline double robust_rho_prime(loss_kind kind, double s, double c) {
    const double c2 = c * c;
    switch (kind) {
    case loss_kind::squared: return 1;
    case loss_kind::huber: return s <= c2 ? 1 : c / std::sqrt(s);
    case loss_kind::cauchy: return 1 / (1 + s / c2);
    }
    return 1;
}

/// The residual function the solver sees: free parameters in, (robustified) weighted
/// residuals and their Jacobian out. Evaluation never allocates.
template <curve_model M>
class curve_problem {
public:
    static constexpr std::size_t P = M::parameter_count;

    curve_problem(const M& model, observations data, std::array<double, P> base, std::span<const std::size_t> free,
                  jacobian_mode mode, loss_kind loss, double loss_scale)
        : model_(model), data_(data), base_(base), free_(free), mode_(mode), loss_(loss), c_(loss_scale) {}

    std::size_t size() const { return data_.y.size(); }
    std::array<double, P> full(std::span<const double> x_free) const {
        std::array<double, P> p = base_;
        for (std::size_t k = 0; k < free_.size(); ++k) p[free_[k]] = x_free[k];
        return p;
    }
    /// Un-robustified weighted residuals when `robust` is false (for the statistics).
    bool evaluate(std::span<const double> x_free, std::span<double> f, double* jac, bool robust = true) const {
        const std::array<double, P> p = full(x_free);
        const std::size_t m = size(), k_free = free_.size(), nx = data_.input_count;
        for (std::size_t i = 0; i < m; ++i) {
            const std::span<const double> xi = data_.x.subspan(i * nx, nx);
            const double inv_sigma = data_.sigma.empty() ? 1.0 : 1 / data_.sigma[i];
            double value;
            std::array<double, P> grad{};
            if (jac == nullptr) {
                value = model_(xi, std::span<const double, P>(p));
            } else if (mode_ == jacobian_mode::autodiff) {
                std::array<dual<P>, P> pd;
                for (std::size_t j = 0; j < P; ++j) pd[j] = dual<P>::variable(p[j], j);
                const dual<P> out = model_(xi, std::span<const dual<P>, P>(pd));
                value = out.value;
                grad = out.d;
            } else if (mode_ == jacobian_mode::analytic) {
                if constexpr (analytic_curve_model<M>) {
                    value = model_(xi, std::span<const double, P>(p));
                    model_.gradient(xi, std::span<const double, P>(p), std::span<double, P>(grad));
                } else {
                    throw std::invalid_argument("fit_curve: jacobian_mode::analytic needs a model with gradient()");
                }
            } else { // central differences
                value = model_(xi, std::span<const double, P>(p));
                std::array<double, P> q = p;
                for (auto j : free_) {
                    const double h = 6.0554544523933395e-6 * std::max(std::abs(p[j]), 1.0); // cbrt(eps)
                    q[j] = p[j] + h;
                    const double up = model_(xi, std::span<const double, P>(q));
                    q[j] = p[j] - h;
                    const double down = model_(xi, std::span<const double, P>(q));
                    q[j] = p[j];
                    grad[j] = (up - down) / (2 * h);
                }
            }
            double r = (data_.y[i] - value) * inv_sigma;
            double row_scale = -inv_sigma;
            if (robust && loss_ != loss_kind::squared) {
                const double s = r * r, rho = robust_rho(loss_, s, c_);
                const double rr = std::copysign(std::sqrt(rho), r);
                // d r̃/d r = ρ'(s)·|r|/√ρ(s), → 1 as r → 0.
                row_scale *= rho > 0 ? robust_rho_prime(loss_, s, c_) * std::abs(r) / std::sqrt(rho) : 1.0;
                r = rr;
            }
            f[i] = r;
            if (jac != nullptr)
                for (std::size_t c = 0; c < k_free; ++c) jac[i + c * m] = row_scale * grad[free_[c]];
        }
        return true;
    }

private:
    const M& model_;
    observations data_;
    std::array<double, P> base_;
    std::span<const std::size_t> free_;
    jacobian_mode mode_;
    loss_kind loss_;
    double c_;
};

/// splitmix64: a tiny, well-mixed generator for reproducible multi-start draws.
struct splitmix64 {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

} // namespace detail

/// Fits `model` to `data` from `start`. Throws std::invalid_argument for: x/y/σ size
/// mismatch, a σ ≤ 0 or non-finite, non-finite data, constraint vectors of the wrong size,
/// a start outside [lower, upper] bounds that are inverted, loss_scale ≤ 0, or fewer
/// observations than free parameters. Convergence failure is not an exception: check
/// result.success() and result.solve.stop.
template <curve_model M>
curve_fit_result<M::parameter_count> fit_curve(const M& model, const observations& data,
                                               std::array<double, M::parameter_count> start,
                                               const constraints& limits = {}, const options& opt = {}) {
    constexpr std::size_t P = M::parameter_count;
    const std::size_t m = data.y.size();
    if (data.input_count == 0 || data.x.size() != m * data.input_count)
        throw std::invalid_argument("fit_curve: " + std::to_string(data.x.size()) + " x values for " +
                                    std::to_string(m) + " observations of " + std::to_string(data.input_count) +
                                    " inputs");
    if (!data.sigma.empty() && data.sigma.size() != m)
        throw std::invalid_argument("fit_curve: " + std::to_string(data.sigma.size()) + " sigma values for " +
                                    std::to_string(m) + " observations");
    for (std::size_t i = 0; i < m; ++i) {
        if (!std::isfinite(data.y[i])) throw std::invalid_argument("fit_curve: y[" + std::to_string(i) + "] is not finite");
        if (!data.sigma.empty() && !(data.sigma[i] > 0 && std::isfinite(data.sigma[i])))
            throw std::invalid_argument("fit_curve: sigma[" + std::to_string(i) + "] = " +
                                        std::to_string(data.sigma[i]) + " must be positive and finite");
    }
    for (double v : data.x)
        if (!std::isfinite(v)) throw std::invalid_argument("fit_curve: an x value is not finite");
    auto check_len = [&](std::size_t n, const char* what) {
        if (n != 0 && n != P)
            throw std::invalid_argument(std::string("fit_curve: ") + what + " has " + std::to_string(n) +
                                        " entries for " + std::to_string(P) + " parameters");
    };
    check_len(limits.lower.size(), "lower");
    check_len(limits.upper.size(), "upper");
    check_len(limits.fixed.size(), "fixed");
    if (!(opt.loss_scale > 0)) throw std::invalid_argument("fit_curve: loss_scale must be > 0");
    if (!(opt.confidence_level > 0 && opt.confidence_level < 1))
        throw std::invalid_argument("fit_curve: confidence_level " + std::to_string(opt.confidence_level) +
                                    " not in (0, 1)");

    std::vector<std::size_t> free;
    for (std::size_t j = 0; j < P; ++j)
        if (limits.fixed.empty() || !limits.fixed[j]) free.push_back(j);
    if (m < free.size())
        throw std::invalid_argument("fit_curve: " + std::to_string(m) + " observations for " +
                                    std::to_string(free.size()) + " free parameters");
    const std::size_t k = free.size();
    std::vector<double> lo(k, -HUGE_VAL), hi(k, HUGE_VAL);
    for (std::size_t c = 0; c < k; ++c) {
        if (!limits.lower.empty()) lo[c] = limits.lower[free[c]];
        if (!limits.upper.empty()) hi[c] = limits.upper[free[c]];
        if (!(lo[c] <= hi[c]))
            throw std::invalid_argument("fit_curve: parameter " + std::to_string(free[c]) + " has lower bound " +
                                        std::to_string(lo[c]) + " above upper bound " + std::to_string(hi[c]));
    }

    curve_fit_result<P> result;
    result.parameters = start;
    if (k == 0) throw std::invalid_argument("fit_curve: every parameter is fixed");
    detail::curve_problem<M> problem(model, data, start, free, opt.jacobian, opt.loss, opt.loss_scale);
    levenberg_marquardt solver(m, k, opt);

    // The given start first, then the seeded draws; keep the best converged run (any run if
    // none converged, so the caller sees the failure).
    detail::splitmix64 rng{opt.seed};
    std::vector<double> x(k), best_x(k);
    bool have_best = false;
    result.starts = 1 + opt.multi_starts;
    for (std::size_t s = 0; s < result.starts; ++s) {
        for (std::size_t c = 0; c < k; ++c) {
            const double v = start[free[c]];
            if (s == 0) {
                x[c] = v;
            } else if (std::isfinite(lo[c]) && std::isfinite(hi[c])) {
                const double u = rng.uniform();
                x[c] = (lo[c] > 0 && hi[c] > 10 * lo[c]) ? lo[c] * std::pow(hi[c] / lo[c], u)
                                                           : lo[c] + u * (hi[c] - lo[c]);
            } else {
                const double spread = std::max(std::abs(v), 1.0);
                x[c] = std::clamp(v + spread * (2 * rng.uniform() - 1), lo[c], hi[c]);
            }
        }
        const summary& sm = solver.solve(problem, std::span<double>(x), lo, hi);
        if (sm.success()) ++result.starts_converged;
        const bool better = !have_best || (sm.success() && !result.solve.success()) ||
                            (sm.success() == result.solve.success() && sm.final_cost < result.solve.final_cost);
        if (better) {
            have_best = true;
            result.solve = sm;
            best_x = x;
        }
    }
    for (std::size_t c = 0; c < k; ++c) result.parameters[free[c]] = best_x[c];

    // Statistics at the best point, from the plain (non-robust) weighted residuals.
    statistics& st = result.stats;
    st.observations = m;
    st.free_parameters = k;
    st.degrees_of_freedom = m - k;
    std::vector<double> r(m), jac(m * k);
    problem.evaluate(best_x, r, nullptr, false);
    double sw = 0, swy = 0;
    for (std::size_t i = 0; i < m; ++i) {
        st.rss += r[i] * r[i];
        const double w = data.sigma.empty() ? 1.0 : 1 / (data.sigma[i] * data.sigma[i]);
        sw += w;
        swy += w * data.y[i];
    }
    double tss = 0;
    for (std::size_t i = 0; i < m; ++i) {
        const double w = data.sigma.empty() ? 1.0 : 1 / (data.sigma[i] * data.sigma[i]);
        tss += w * (data.y[i] - swy / sw) * (data.y[i] - swy / sw);
    }
    const double n = static_cast<double>(m), p = static_cast<double>(k);
    st.rmse = std::sqrt(st.rss / n);
    st.r_squared = tss > 0 ? 1 - st.rss / tss : std::numeric_limits<double>::quiet_NaN();
    st.adjusted_r_squared = m > k + 0 && m > 1 && m != k ? 1 - (1 - st.r_squared) * (n - 1) / (n - p)
                                                          : std::numeric_limits<double>::quiet_NaN();
    const double log_term = st.rss > 0 ? n * std::log(st.rss / n) : -HUGE_VAL;
    st.aic = log_term + 2 * p;
    st.bic = log_term + p * std::log(n);
    st.residual_variance = m > k ? st.rss / (n - p) : std::numeric_limits<double>::quiet_NaN();
    st.at_bound.assign(P, 0);
    std::string bound_names;
    for (std::size_t c = 0; c < k; ++c) {
        if (best_x[c] <= lo[c] || best_x[c] >= hi[c]) {
            st.at_bound[free[c]] = 1;
            bound_names += (bound_names.empty() ? "" : ", ") + std::to_string(free[c]);
        }
    }
    if (!result.solve.success()) st.covariance_note = "fit did not converge";
    else if (!bound_names.empty()) st.covariance_note = "parameter(s) " + bound_names + " at a bound";
    else if (opt.loss != loss_kind::squared) st.covariance_note = "robust loss: least-squares covariance does not apply";
    else if (m == k) st.covariance_note = "no residual degrees of freedom";
    detail::curve_problem<M> plain(model, data, result.parameters, free, jacobian_mode::autodiff, loss_kind::squared, 1);
    plain.evaluate(best_x, r, jac.data(), false);
    detail::covariance_from_jacobian(st, jac, m, free, result.parameters, opt.rank_tolerance, opt.confidence_level);
    return result;
}

} // namespace mpq::fit
