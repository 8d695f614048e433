// Student's t quantiles for confidence intervals: the regularised incomplete beta function by
// its continued fraction (modified Lentz), inverted by bisection refined with Newton steps.
#pragma once

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace mpq::fit::detail {

/// I_x(a, b) for a, b > 0 and 0 ≤ x ≤ 1.
inline double incomplete_beta(double a, double b, double x) {
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    // Use the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) where the fraction converges faster.
    if (x > (a + 1) / (a + b + 2)) return 1 - incomplete_beta(b, a, 1 - x);
    const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) +
                             b * std::log1p(-x);
    constexpr double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    if (std::abs(d) < tiny) d = tiny;
    d = 1 / d;
    double h = d;
    for (int k = 1; k <= 400; ++k) {
        const double kk = k;
        // Even step.
        double num = kk * (b - kk) * x / ((a + 2 * kk - 1) * (a + 2 * kk));
        d = 1 + num * d;
        if (std::abs(d) < tiny) d = tiny;
        c = 1 + num / c;
        if (std::abs(c) < tiny) c = tiny;
        d = 1 / d;
        h *= d * c;
        // Odd step.
        num = -(a + kk) * (a + b + kk) * x / ((a + 2 * kk) * (a + 2 * kk + 1));
        d = 1 + num * d;
        if (std::abs(d) < tiny) d = tiny;
        c = 1 + num / c;
        if (std::abs(c) < tiny) c = tiny;
        d = 1 / d;
        const double delta = d * c;
        h *= delta;
        if (std::abs(delta - 1) < 1e-15) break;
    }
    return std::exp(log_front) * h / a;
}

/// P(T ≤ t) for Student's t with `dof` > 0 degrees of freedom.
inline double student_t_cdf(double t, double dof) {
    const double x = dof / (dof + t * t);
    const double tail = 0.5 * incomplete_beta(0.5 * dof, 0.5, x);
    return t >= 0 ? 1 - tail : tail;
}

/// The t with P(T ≤ t) = p, for 0 < p < 1 and dof > 0. Throws std::invalid_argument otherwise.
inline double student_t_quantile(double p, double dof) {
    if (!(p > 0 && p < 1)) throw std::invalid_argument("student_t_quantile: probability " + std::to_string(p) + " not in (0, 1)");
    if (!(dof > 0)) throw std::invalid_argument("student_t_quantile: degrees of freedom " + std::to_string(dof) + " must be > 0");
    if (p < 0.5) return -student_t_quantile(1 - p, dof);
    double lo = 0, hi = 1;
    while (student_t_cdf(hi, dof) < p && hi < 1e300) hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; ++i) {
        const double mid = 0.5 * (lo + hi);
        (student_t_cdf(mid, dof) < p ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
}

} // namespace mpq::fit::detail
