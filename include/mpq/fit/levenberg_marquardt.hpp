// Levenberg–Marquardt for min ½‖f(x)‖² subject to lower ≤ x ≤ upper, in the MINPACK
// tradition: a trust region in the norm ‖D·p‖ with D from the Jacobian's column norms, a QR
// factorisation with column pivoting per Jacobian, and Moré's iteration for the LM parameter.
// Bounds: the start is projected into the box; parameters at a bound whose gradient pushes
// outward are held for the step (their Jacobian column is zeroed, which gives them a zero step
// in the damped solve), and every trial point is projected into the box, with the predicted
// reduction computed for the projected step.
#pragma once

#include <mpq/fit/detail/trust_region_qr.hpp>
#include <mpq/fit/options.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpq::fit {

/// A residual function for the solver: `evaluate(x, f, J)` fills f (m entries) at x (n
/// entries) and, when J is not null, the m×n Jacobian ∂f_i/∂x_j column-major (J[i + j·m]).
/// Returns false if the model cannot be evaluated at x (the solver then treats x as a
/// failed trial point).
template <class E>
concept residual_function = requires(E& e, std::span<const double> x, std::span<double> f, double* jac) {
    { e.evaluate(x, f, jac) } -> std::convertible_to<bool>;
};

/// The solver with its working memory. Construct once per problem size; solve() does not
/// allocate (the cost history's capacity is reserved here for options.max_iterations).
class levenberg_marquardt {
public:
    /// Throws std::invalid_argument if parameters == 0, residuals < parameters, or an option
    /// is out of range (negative tolerance, zero budgets, trust factor ≤ 0).
    levenberg_marquardt(std::size_t residuals, std::size_t parameters, const options& opt = {})
        : m_(residuals), n_(parameters), opt_(opt) {
        if (n_ == 0) throw std::invalid_argument("levenberg_marquardt: no free parameters");
        if (m_ < n_)
            throw std::invalid_argument("levenberg_marquardt: " + std::to_string(m_) + " residuals for " +
                                        std::to_string(n_) + " free parameters (need at least as many)");
        if (!(opt.function_tolerance >= 0) || !(opt.parameter_tolerance >= 0) || !(opt.gradient_tolerance >= 0))
            throw std::invalid_argument("levenberg_marquardt: tolerances must be >= 0");
        if (opt.max_iterations == 0 || opt.max_evaluations == 0)
            throw std::invalid_argument("levenberg_marquardt: max_iterations and max_evaluations must be > 0");
        if (!(opt.initial_trust_factor > 0))
            throw std::invalid_argument("levenberg_marquardt: initial_trust_factor must be > 0, got " +
                                        std::to_string(opt.initial_trust_factor));
        jacobian_.resize(m_ * n_);
        f_.resize(m_);
        f_trial_.resize(m_);
        qtf_m_.resize(m_);
        r_.resize(n_ * n_);
        for (auto* v : {&diag_, &r_diagonal_, &tau_, &column_norms_, &unfrozen_norms_, &qtf_, &step_, &x_trial_,
                        &s_diagonal_, &work1_, &work2_, &work3_, &gradient_})
            v->resize(n_);
        permutation_.resize(n_);
        frozen_.resize(n_);
        summary_.cost_history.reserve(opt.max_iterations + 2);
    }

    std::size_t residual_count() const { return m_; }
    std::size_t parameter_count() const { return n_; }
    const options& settings() const { return opt_; }

    /// Minimises ½‖f(x)‖² from x (updated in place to the best point found) within
    /// [lower, upper] (empty spans: unbounded; ±infinity allowed per entry). Throws
    /// std::invalid_argument on size mismatch or lower > upper. The returned reference stays
    /// valid until the next solve.
    template <residual_function E>
    const summary& solve(E& fn, std::span<double> x, std::span<const double> lower = {},
                         std::span<const double> upper = {}) {
        check_sizes(x, lower, upper);
        constexpr double eps = std::numeric_limits<double>::epsilon();
        const double ftol = std::max(opt_.function_tolerance, eps);
        const double xtol = std::max(opt_.parameter_tolerance, eps);
        const double gtol = std::max(opt_.gradient_tolerance, 0.0);
        summary& out = summary_;
        out.cost_history.clear();
        out.iterations = 0;
        out.residual_evaluations = 0;
        out.gradient_max_norm = 0;
        out.lm_parameter = 0;
        auto lo = [&](std::size_t j) { return lower.empty() ? -HUGE_VAL : lower[j]; };
        auto hi = [&](std::size_t j) { return upper.empty() ? HUGE_VAL : upper[j]; };
        for (std::size_t j = 0; j < n_; ++j) x[j] = std::clamp(x[j], lo(j), hi(j));

        auto finite = [](std::span<const double> v) {
            return std::all_of(v.begin(), v.end(), [](double t) { return std::isfinite(t); });
        };
        bool ok = fn.evaluate(std::span<const double>(x.data(), n_), std::span<double>(f_), nullptr) && finite(f_);
        ++out.residual_evaluations;
        if (!ok) return finish(status::invalid_start, 0, 0, 0);
        double f_norm = detail::norm2(f_.data(), m_);
        out.initial_cost = 0.5 * f_norm * f_norm;
        out.cost_history.push_back(out.initial_cost);

        double lambda = 0, radius = 0, x_norm = 0;
        bool first = true;
        while (true) {
            if (out.iterations >= opt_.max_iterations) return finish(status::max_iterations, f_norm, radius, lambda);
            ok = fn.evaluate(std::span<const double>(x.data(), n_), std::span<double>(f_), jacobian_.data()) &&
                 finite(f_) && finite(jacobian_);
            ++out.residual_evaluations;
            ++out.iterations;
            if (!ok) return finish(first ? status::invalid_start : status::evaluation_failure, f_norm, radius, lambda);
            f_norm = detail::norm2(f_.data(), m_);
            if (f_norm == 0) return finish(status::zero_residual, f_norm, radius, lambda);

            factorize(x, lo, hi);

            if (first && out.iterations == 1) {
                for (std::size_t j = 0; j < n_; ++j) diag_[j] = unfrozen_norms_[j] == 0 ? 1.0 : unfrozen_norms_[j];
                x_norm = scaled_norm(x);
                radius = x_norm == 0 ? opt_.initial_trust_factor : opt_.initial_trust_factor * x_norm;
            }

            // Scaled gradient: the largest cosine between f and a (free) Jacobian column.
            double g_norm = 0;
            for (std::size_t j = 0; j < n_; ++j) {
                const std::size_t l = permutation_[j];
                if (column_norms_[l] == 0) continue;
                double sum = 0;
                for (std::size_t i = 0; i <= j; ++i) sum += r_[i + j * n_] * (qtf_[i] / f_norm);
                g_norm = std::max(g_norm, std::abs(sum / column_norms_[l]));
            }
            if (g_norm <= gtol) return converged(fn, x, lo, hi, status::converged_gradient, f_norm, radius, lambda);
            for (std::size_t j = 0; j < n_; ++j) diag_[j] = std::max(diag_[j], unfrozen_norms_[j]);

            while (true) { // inner loop: shrink the trust region until a step is accepted
                detail::lm_parameter(r_.data(), n_, permutation_.data(), diag_.data(), qtf_.data(), radius, lambda,
                                     step_.data(), s_diagonal_.data(), work1_.data(), work2_.data());
                bool clipped = false;
                for (std::size_t j = 0; j < n_; ++j) {
                    const double target = x[j] - step_[j];
                    x_trial_[j] = frozen_[j] ? x[j] : std::clamp(target, lo(j), hi(j));
                    if (x_trial_[j] != target) clipped = true;
                    step_[j] = x_trial_[j] - x[j];
                }
                for (std::size_t j = 0; j < n_; ++j) work1_[j] = diag_[j] * step_[j];
                const double p_norm = detail::norm2(work1_.data(), n_);
                if (first) radius = std::min(radius, p_norm);

                const bool trial_ok = fn.evaluate(std::span<const double>(x_trial_), std::span<double>(f_trial_),
                                                  nullptr) && finite(f_trial_);
                ++out.residual_evaluations;
                const double f_norm_trial = trial_ok ? detail::norm2(f_trial_.data(), m_) : HUGE_VAL;
                double actual = -1;
                if (0.1 * f_norm_trial < f_norm) actual = 1 - (f_norm_trial / f_norm) * (f_norm_trial / f_norm);

                // Predicted relative reduction of the linear model for the step taken.
                for (std::size_t i = 0; i < n_; ++i) work3_[i] = 0;
                for (std::size_t j = 0; j < n_; ++j) {
                    const double t = step_[permutation_[j]];
                    for (std::size_t i = 0; i <= j; ++i) work3_[i] += r_[i + j * n_] * t;
                }
                double predicted, directional;
                if (!clipped) {
                    const double t1 = detail::norm2(work3_.data(), n_) / f_norm;
                    const double t2 = std::sqrt(lambda) * p_norm / f_norm;
                    predicted = t1 * t1 + t2 * t2 / 0.5;
                    directional = -(t1 * t1 + t2 * t2);
                } else {
                    double dot = 0, sq = 0;
                    for (std::size_t i = 0; i < n_; ++i) {
                        dot += (qtf_[i] / f_norm) * (work3_[i] / f_norm);
                        sq += (work3_[i] / f_norm) * (work3_[i] / f_norm);
                    }
                    predicted = -(2 * dot + sq);
                    directional = dot;
                }
                const double ratio = predicted > 0 ? actual / predicted : 0;

                // Trust-region update (Moré 1978).
                if (ratio <= 0.25) {
                    double t = actual >= 0 ? 0.5 : 0.5 * directional / (directional + 0.5 * actual);
                    if (0.1 * f_norm_trial >= f_norm || t < 0.1 || !std::isfinite(t)) t = 0.1;
                    // A step clipped at a bound need not be a descent direction; then the
                    // formula can give t >= 1 and the radius would never shrink.
                    t = std::min(t, 0.5);
                    radius = t * std::min(radius, p_norm / 0.1);
                    lambda /= t;
                } else if (lambda == 0 || ratio >= 0.75) {
                    radius = p_norm / 0.5;
                    lambda *= 0.5;
                }
                if (ratio >= 1e-4) { // accept
                    std::copy_n(x_trial_.begin(), n_, x.begin());
                    f_.swap(f_trial_);
                    f_norm = f_norm_trial;
                    x_norm = scaled_norm(x);
                    out.cost_history.push_back(0.5 * f_norm * f_norm);
                    first = false;
                }

                const bool small_cost = std::abs(actual) <= ftol && predicted <= ftol && 0.5 * ratio <= 1;
                const bool small_step = radius <= xtol * x_norm;
                if (!trial_ok && small_step) return finish(status::evaluation_failure, f_norm, radius, lambda);
                if (small_cost && small_step) return converged(fn, x, lo, hi, status::converged_both, f_norm, radius, lambda);
                if (small_cost) return converged(fn, x, lo, hi, status::converged_function, f_norm, radius, lambda);
                if (small_step || radius == 0)
                    return converged(fn, x, lo, hi, status::converged_parameters, f_norm, radius, lambda);
                if (out.residual_evaluations >= opt_.max_evaluations)
                    return finish(status::max_evaluations, f_norm, radius, lambda);
                if (g_norm <= eps) return finish(status::converged_gradient, f_norm, radius, lambda);
                if (ratio >= 1e-4) break;
            }
        }
    }

    /// The last solve's report.
    const summary& last_summary() const { return summary_; }

private:
    /// Gradient Jᵀf, bound holding, pivoted QR of the Jacobian, Qᵀf and R (into r_).
    template <class Lo, class Hi>
    void factorize(std::span<const double> x, const Lo& lo, const Hi& hi) {
        summary& out = summary_;
        // Gradient Jᵀf; hold parameters at a bound that the gradient pushes outward.
        out.gradient_max_norm = 0;
        for (std::size_t j = 0; j < n_; ++j) {
            const double* col = jacobian_.data() + j * m_;
            double g = 0;
            for (std::size_t i = 0; i < m_; ++i) g += col[i] * f_[i];
            gradient_[j] = g;
            unfrozen_norms_[j] = detail::norm2(col, m_);
            frozen_[j] = (x[j] <= lo(j) && g > 0) || (x[j] >= hi(j) && g < 0);
            if (frozen_[j]) std::fill(jacobian_.begin() + static_cast<std::ptrdiff_t>(j * m_),
                              jacobian_.begin() + static_cast<std::ptrdiff_t>((j + 1) * m_), 0.0);
            else out.gradient_max_norm = std::max(out.gradient_max_norm, std::abs(g));
        }

        detail::pivoted_qr(jacobian_.data(), m_, n_, permutation_.data(), r_diagonal_.data(), tau_.data(),
                       column_norms_.data(), work1_.data());
        std::copy(f_.begin(), f_.end(), qtf_m_.begin());
        detail::apply_qt(jacobian_.data(), m_, n_, tau_.data(), qtf_m_.data());
        std::copy_n(qtf_m_.begin(), n_, qtf_.begin());
        for (std::size_t j = 0; j < n_; ++j) {
            for (std::size_t i = 0; i < n_; ++i)
                r_[i + j * n_] = i < j ? jacobian_[i + j * m_] : i == j ? r_diagonal_[j] : 0.0;
        }

    }

    /// After convergence: plain Gauss–Newton steps while they shrink geometrically and do not
    /// raise the cost beyond rounding. Cost comparisons cannot resolve the minimum better than
    /// about √ε, but the Gauss–Newton step (from the QR factors) can; this recovers the digits.
    template <class E, class Lo, class Hi>
    void polish(E& fn, std::span<double> x, const Lo& lo, const Hi& hi, double& f_norm) {
        double previous_step = HUGE_VAL;
        for (int round = 0; round < 8 && summary_.residual_evaluations + 2 <= opt_.max_evaluations; ++round) {
            bool ok = fn.evaluate(std::span<const double>(x.data(), n_), std::span<double>(f_), jacobian_.data());
            ++summary_.residual_evaluations;
            if (!ok) return;
            factorize(x, lo, hi);
            double lambda = 0;
            detail::lm_parameter(r_.data(), n_, permutation_.data(), diag_.data(), qtf_.data(), HUGE_VAL, lambda,
                                 step_.data(), s_diagonal_.data(), work1_.data(), work2_.data());
            for (std::size_t j = 0; j < n_; ++j) {
                x_trial_[j] = frozen_[j] ? x[j] : std::clamp(x[j] - step_[j], lo(j), hi(j));
                work1_[j] = diag_[j] * (x_trial_[j] - x[j]);
            }
            const double step = detail::norm2(work1_.data(), n_), x_norm = scaled_norm(x);
            if (!(step <= 1e-6 * x_norm) || !(step <= 0.5 * previous_step) || step == 0) return;
            ok = fn.evaluate(std::span<const double>(x_trial_), std::span<double>(f_trial_), nullptr);
            ++summary_.residual_evaluations;
            const double trial = ok ? detail::norm2(f_trial_.data(), m_) : HUGE_VAL;
            if (!(trial <= f_norm * (1 + 1e-12))) return;
            std::copy_n(x_trial_.begin(), n_, x.begin());
            f_norm = trial;
            previous_step = step;
        }
    }

    void check_sizes(std::span<const double> x, std::span<const double> lower, std::span<const double> upper) const {
        if (x.size() != n_)
            throw std::invalid_argument("levenberg_marquardt: start has " + std::to_string(x.size()) +
                                        " entries, expected " + std::to_string(n_));
        if ((!lower.empty() && lower.size() != n_) || (!upper.empty() && upper.size() != n_))
            throw std::invalid_argument("levenberg_marquardt: bounds must have " + std::to_string(n_) + " entries");
        for (std::size_t j = 0; j < n_ && !lower.empty() && !upper.empty(); ++j)
            if (!(lower[j] <= upper[j]))
                throw std::invalid_argument("levenberg_marquardt: lower bound " + std::to_string(lower[j]) +
                                            " of parameter " + std::to_string(j) + " exceeds upper bound " +
                                            std::to_string(upper[j]));
    }
    double scaled_norm(std::span<const double> x) {
        for (std::size_t j = 0; j < n_; ++j) work2_[j] = diag_[j] * x[j];
        return detail::norm2(work2_.data(), n_);
    }
    template <class E, class Lo, class Hi>
    const summary& converged(E& fn, std::span<double> x, const Lo& lo, const Hi& hi, status s, double f_norm,
                             double radius, double lambda) {
        polish(fn, x, lo, hi, f_norm);
        summary_.cost_history.push_back(0.5 * f_norm * f_norm);
        return finish(s, f_norm, radius, lambda);
    }
    const summary& finish(status s, double f_norm, double radius, double lambda) {
        summary_.stop = s;
        summary_.final_cost = summary_.cost_history.empty() ? HUGE_VAL : 0.5 * f_norm * f_norm;
        if (!summary_.cost_history.empty() && s != status::invalid_start)
            summary_.final_cost = summary_.cost_history.back();
        summary_.trust_radius = radius;
        summary_.lm_parameter = lambda;
        return summary_;
    }

    std::size_t m_, n_;
    options opt_;
    std::vector<double> jacobian_, f_, f_trial_, qtf_m_, r_;
    std::vector<double> diag_, r_diagonal_, tau_, column_norms_, unfrozen_norms_, qtf_, step_, x_trial_, s_diagonal_,
        work1_, work2_, work3_, gradient_;
    std::vector<std::size_t> permutation_;
    std::vector<char> frozen_;
    summary summary_;
};

} // namespace mpq::fit
