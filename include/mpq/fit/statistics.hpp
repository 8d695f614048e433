// Statistics of a least-squares fit that fail closed: goodness of fit is always reported,
// but the covariance (and with it standard errors and confidence intervals) only when it is
// meaningful — full-rank Jacobian, no parameter held at a bound, ordinary squared loss, and
// more observations than free parameters. Otherwise `covariance_note` says why not.
#pragma once

#include <mpq/fit/detail/student_t.hpp>
#include <mpq/fit/detail/trust_region_qr.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace mpq::fit {

struct statistics {
    std::size_t observations = 0;
    std::size_t free_parameters = 0;
    std::size_t degrees_of_freedom = 0; ///< observations − free parameters
    std::size_t rank = 0;               ///< numerical rank of the weighted Jacobian (free columns)
    double rss = 0;                     ///< Σ ((y − f)/σ)²: weighted residual sum of squares
    double rmse = 0;                    ///< √(rss / observations)
    double residual_variance = 0;       ///< s² = rss / degrees_of_freedom (NaN without dof)
    double r_squared = 0;               ///< 1 − rss / Σ ((y − ȳ_w)/σ)², ȳ_w the weighted mean
    double adjusted_r_squared = 0;      ///< 1 − (1 − R²)(n − 1)/(n − p)
    double aic = 0;                     ///< n·ln(rss/n) + 2p (Gaussian errors, constants dropped)
    double bic = 0;                     ///< n·ln(rss/n) + p·ln n
    bool covariance_available = false;
    std::string covariance_note;        ///< why the covariance is unavailable (empty if available)
    std::vector<char> at_bound;         ///< per parameter: held at a bound at the solution
    /// Per parameter (fixed ones get 0 / their value); NaN when the covariance is unavailable.
    std::vector<double> covariance;     ///< p×p row-major, s²·(JᵀJ)⁻¹
    std::vector<double> standard_error;
    std::vector<double> ci_lower, ci_upper; ///< two-sided Student-t interval at the confidence level
};

namespace detail {

/// Fills the covariance part of `st`. `jacobian` is m×k column-major for the k free
/// parameters (weighted, derivative of residuals), `free_index[c]` maps column c to the full
/// parameter index; `values` are the full parameter values (p entries). Overwrites jacobian.
inline void covariance_from_jacobian(statistics& st, std::span<double> jacobian, std::size_t m,
                                     std::span<const std::size_t> free_index, std::span<const double> values,
                                     double rank_tolerance, double confidence_level) {
    const std::size_t p = values.size(), k = free_index.size();
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    st.covariance.assign(p * p, nan);
    st.standard_error.assign(p, nan);
    st.ci_lower.assign(p, nan);
    st.ci_upper.assign(p, nan);
    for (std::size_t j = 0; j < p; ++j) {
        bool is_free = false;
        for (auto f : free_index) is_free |= f == j;
        if (!is_free) { // fixed: no uncertainty by construction
            for (std::size_t i = 0; i < p; ++i) st.covariance[j * p + i] = st.covariance[i * p + j] = 0;
            st.standard_error[j] = 0;
            st.ci_lower[j] = st.ci_upper[j] = values[j];
        }
    }
    // Scale columns to unit norm so the rank decision does not depend on parameter units.
    std::vector<double> norms(k), r_diag(k), tau(k), col_norms(k), work(k);
    std::vector<std::size_t> perm(k);
    for (std::size_t c = 0; c < k; ++c) {
        norms[c] = norm2(jacobian.data() + c * m, m);
        if (norms[c] == 0) continue;
        for (std::size_t i = 0; i < m; ++i) jacobian[c * m + i] /= norms[c];
    }
    pivoted_qr(jacobian.data(), m, k, perm.data(), r_diag.data(), tau.data(), col_norms.data(), work.data());
    st.rank = 0;
    const double lead = k ? std::abs(r_diag[0]) : 0;
    for (std::size_t c = 0; c < k; ++c)
        if (lead > 0 && std::abs(r_diag[c]) > rank_tolerance * lead) ++st.rank;
    if (st.rank < k) {
        st.covariance_note = "Jacobian rank deficient (rank " + std::to_string(st.rank) + " of " + std::to_string(k) +
                             " free parameters): parameters not identifiable";
        return;
    }
    if (!st.covariance_note.empty()) return; // an earlier reason (bound, loss, dof)
    // R⁻¹ (upper triangular), then C = R⁻¹R⁻ᵀ in pivoted, scaled coordinates.
    std::vector<double> rinv(k * k, 0.0); // column-major
    for (std::size_t j = 0; j < k; ++j) {
        rinv[j + j * k] = 1 / r_diag[j];
        for (std::size_t i = j; i-- > 0;) {
            double sum = 0;
            for (std::size_t l = i + 1; l <= j; ++l) {
                const double ril = l == i ? r_diag[i] : jacobian[i + l * m];
                sum += ril * rinv[l + j * k];
            }
            rinv[i + j * k] = -sum / r_diag[i];
        }
    }
    const double s2 = st.residual_variance;
    for (std::size_t a = 0; a < k; ++a) {
        for (std::size_t b = 0; b < k; ++b) {
            double sum = 0;
            for (std::size_t l = std::max(a, b); l < k; ++l) sum += rinv[a + l * k] * rinv[b + l * k];
            const std::size_t ca = perm[a], cb = perm[b];
            st.covariance[free_index[ca] * p + free_index[cb]] = s2 * sum / (norms[ca] * norms[cb]);
        }
    }
    const double t = student_t_quantile(0.5 + 0.5 * confidence_level, static_cast<double>(st.degrees_of_freedom));
    for (auto j : free_index) {
        st.standard_error[j] = std::sqrt(st.covariance[j * p + j]);
        st.ci_lower[j] = values[j] - t * st.standard_error[j];
        st.ci_upper[j] = values[j] + t * st.standard_error[j];
    }
    st.covariance_available = true;
}

} // namespace detail
} // namespace mpq::fit
