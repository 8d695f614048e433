// The knobs, the outcome and the report of mpq's Levenberg–Marquardt solver.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace mpq::fit {

/// How the Jacobian of the residuals is obtained.
enum class jacobian_mode : std::uint8_t {
    autodiff,          ///< forward-mode dual numbers: exact to rounding (the default)
    finite_difference, ///< central differences, step h_j = cbrt(eps)·max(|x_j|, 1)
    analytic,          ///< the model's own `jacobian` member (see curve_fit.hpp)
};

/// Robust loss ρ applied to each squared (weighted) residual s = r²: the solver minimises
/// ½ Σ ρ(r_i²). `scale` c sets where residuals start counting as outliers.
enum class loss_kind : std::uint8_t {
    squared, ///< ρ(s) = s: ordinary least squares
    huber,   ///< ρ(s) = s for s ≤ c², 2c·√s − c² beyond: linear growth for outliers
    cauchy,  ///< ρ(s) = c²·log(1 + s/c²): outliers' influence falls off
};

struct options {
    /// Stop when both the actual and the predicted relative reduction of the cost in a step
    /// are at most this (MINPACK's ftol). Values below machine epsilon act as epsilon.
    double function_tolerance = 1e-15;
    /// Stop when the trust-region radius falls below this times the scaled norm of the
    /// parameters (MINPACK's xtol): the parameters cannot move by more than that fraction.
    double parameter_tolerance = 1e-15;
    /// Stop when the largest cosine between the residual vector and a Jacobian column is at
    /// most this (MINPACK's gtol): the residual is orthogonal to every parameter direction.
    double gradient_tolerance = 1e-15;
    std::size_t max_iterations = 2000;  ///< accepted or rejected outer iterations
    std::size_t max_evaluations = 8000; ///< residual evaluations
    /// Initial trust-region radius: this times the scaled norm of the start (or itself when
    /// that norm is zero). MINPACK's `factor`, whose recommended default is 100.
    double initial_trust_factor = 100;
    jacobian_mode jacobian = jacobian_mode::autodiff;
    loss_kind loss = loss_kind::squared;
    double loss_scale = 1; ///< c in the robust loss; must be > 0
    /// Relative size below which a diagonal entry of the column-scaled, pivoted R counts as
    /// zero when the statistics decide the rank of the Jacobian.
    double rank_tolerance = 1e-10;
    /// Multi-start: number of extra starts drawn uniformly (log-uniformly for positive
    /// bounds spanning more than a decade) inside the box; parameters without two finite
    /// bounds are perturbed around the given start. 0 = only the given start.
    std::size_t multi_starts = 0;
    std::uint64_t seed = 0x5eed; ///< seeds the multi-start draws (reproducible)
    double confidence_level = 0.95; ///< for the parameters' confidence intervals
};

/// Why the solver stopped. Success values say which convergence test held; the others say
/// why the result must not be trusted.
enum class status : std::uint8_t {
    converged_function,   ///< actual and predicted relative cost reduction ≤ function_tolerance
    converged_parameters, ///< trust radius ≤ parameter_tolerance·‖D·x‖: x cannot change further
    converged_both,       ///< both of the above in the same step
    converged_gradient,   ///< max cosine(residual, Jacobian column) ≤ gradient_tolerance
    zero_residual,        ///< the residual vector is exactly zero: a perfect fit
    max_iterations,       ///< failure: iteration budget spent before any convergence test held
    max_evaluations,      ///< failure: evaluation budget spent
    invalid_start,        ///< failure: residuals or Jacobian not finite at the starting point
    evaluation_failure,   ///< failure: residuals not finite anywhere near the current point
};

constexpr bool succeeded(status s) {
    return s == status::converged_function || s == status::converged_parameters ||
           s == status::converged_both || s == status::converged_gradient || s == status::zero_residual;
}

constexpr std::string_view to_string(status s) {
    switch (s) {
    case status::converged_function: return "converged (cost)";
    case status::converged_parameters: return "converged (step)";
    case status::converged_both: return "converged (cost+step)";
    case status::converged_gradient: return "converged (gradient)";
    case status::zero_residual: return "converged (zero residual)";
    case status::max_iterations: return "FAILED: iteration limit";
    case status::max_evaluations: return "FAILED: evaluation limit";
    case status::invalid_start: return "FAILED: model not finite at start";
    case status::evaluation_failure: return "FAILED: model not finite near solution";
    }
    return "?";
}

/// What one solve did. Costs are ½·Σ ρ(r_i²) (½·RSS for the squared loss).
struct summary {
    status stop = status::invalid_start;
    std::size_t iterations = 0;           ///< outer iterations (Jacobian evaluations)
    std::size_t residual_evaluations = 0; ///< residual-vector evaluations, Jacobian ones included
    double initial_cost = 0;
    double final_cost = 0;
    /// Largest |∂cost/∂x_j| at the end over parameters not held at a bound.
    double gradient_max_norm = 0;
    double trust_radius = 0;               ///< final trust-region radius (scaled units)
    double lm_parameter = 0;               ///< final Levenberg–Marquardt parameter
    std::vector<double> cost_history;      ///< cost after every accepted step, starting point first
    bool success() const { return succeeded(stop); }
};

} // namespace mpq::fit
