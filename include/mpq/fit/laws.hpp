// The scaling laws of mixed-precision quantization as typed models: named parameters,
// physical bounds, starting values computed from the data, and inverses that answer the
// design questions (largest quantization ratio under a loss budget, smallest model for a
// target ratio). All laws are fitted on the logarithm of their response, so every point
// counts by its relative error — the responses span orders of magnitude.
//
//   weak   δ = C·e^(A·Qr)·N^(−γ_N)                       inputs (Qr, N)
//   strong δ = C·e^(A·Qr)·N^(−γ_N)·(Qb + d)^γ_c          inputs (Qr, N, Qb)
//   exp    N = e^(k·(1 − Qr_max) + c)                     input Qr_max, response N
//   power  Δ = A·Qb^k                                     input Qb
//   kumar  δ = C_T·D^γ_D·N^(−γ_N)·e^(−P/γ_post)           inputs (N, D, P)
// δ is a relative loss (or perplexity) degradation, e.g. in percent; N in any fixed unit (the
// embedded data use billions of parameters).
#pragma once

#include <mpq/fit/curve_fit.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mpq::fit::laws {

using std::exp;
using std::log;

/// y = p0 + Σ p_j·x_{j−1}: ordinary linear regression, used for data-driven starts.
template <std::size_t P>
struct linear_model {
    static constexpr std::size_t parameter_count = P;
    template <class T> T operator()(std::span<const double> x, std::span<const T, P> p) const {
        T v = p[0];
        for (std::size_t j = 1; j < P; ++j) v = v + p[j] * x[j - 1];
        return v;
    }
};

namespace detail {
/// Least-squares coefficients of y on (1, x…), x row-major with P − 1 columns.
template <std::size_t P>
std::array<double, P> regress(std::span<const double> x, std::span<const double> y) {
    const auto r = fit_curve(linear_model<P>{}, {.x = x, .y = y, .input_count = P - 1}, std::array<double, P>{});
    return r.parameters;
}
inline double min_column(std::span<const double> x, std::size_t stride, std::size_t col) {
    double m = HUGE_VAL;
    for (std::size_t i = col; i < x.size(); i += stride) m = std::min(m, x[i]);
    return m;
}
inline double max_column(std::span<const double> x, std::size_t stride, std::size_t col) {
    double m = -HUGE_VAL;
    for (std::size_t i = col; i < x.size(); i += stride) m = std::max(m, x[i]);
    return m;
}
} // namespace detail

struct weak {
    static constexpr std::string_view name = "weak";
    static constexpr std::string_view formula = "delta = C * exp(A*Qr) * N^(-gamma_N)";
    static constexpr std::size_t parameter_count = 3;
    static constexpr std::size_t input_count = 2;
    static constexpr std::array<std::string_view, 3> parameter_names = {"C", "A", "gamma_N"};
    static constexpr std::array<std::string_view, 2> input_names = {"Qr", "N"};
    /// log δ.
    template <class T> T operator()(std::span<const double> x, std::span<const T, 3> p) const {
        using std::log;
        using mpq::fit::log;
        return log(p[0]) + p[1] * x[0] - p[2] * std::log(x[1]);
    }
    /// C > 0, A ≥ 0 (more low precision never helps), γ_N ≥ 0 (bigger models never suffer more).
    static constraints bounds(std::span<const double>) { return {.lower = {1e-300, 0, 0}, .upper = {1e300, 200, 20}}; }
    /// From the linear regression of log δ on (Qr, log N), clamped into the bounds.
    static std::array<double, 3> start(std::span<const double> x, std::span<const double> log_y) {
        std::vector<double> z(x.begin(), x.end());
        for (std::size_t i = 1; i < z.size(); i += 2) z[i] = std::log(z[i]);
        const auto b = detail::regress<3>(z, log_y);
        return {std::exp(b[0]), std::max(b[1], 1e-3), std::max(-b[2], 1e-3)};
    }
    /// Largest Qr with δ ≤ budget at size N (may exceed 1 or be negative: clamp as needed).
    static double max_ratio(std::span<const double, 3> p, double budget, double n) {
        return (std::log(budget / p[0]) + p[2] * std::log(n)) / p[1];
    }
    /// Smallest N with δ ≤ budget at ratio Qr.
    static double min_size(std::span<const double, 3> p, double budget, double qr) {
        return std::exp((std::log(p[0] / budget) + p[1] * qr) / p[2]);
    }
};

struct strong {
    static constexpr std::string_view name = "strong";
    static constexpr std::string_view formula = "delta = C * exp(A*Qr) * N^(-gamma_N) * (Qb + d)^gamma_c";
    static constexpr std::size_t parameter_count = 5;
    static constexpr std::size_t input_count = 3;
    static constexpr std::array<std::string_view, 5> parameter_names = {"C", "A", "gamma_N", "d", "gamma_c"};
    static constexpr std::array<std::string_view, 3> input_names = {"Qr", "N", "Qb"};
    template <class T> T operator()(std::span<const double> x, std::span<const T, 5> p) const {
        using std::log;
        using mpq::fit::log;
        return log(p[0]) + p[1] * x[0] - p[2] * std::log(x[1]) + p[4] * log(x[2] + p[3]);
    }
    /// As weak, plus d > −min Qb (so Qb + d stays positive) and 0 ≤ γ_c ≤ 1.
    static constraints bounds(std::span<const double> x) {
        const double qb_min = detail::min_column(x, 3, 2), qb_max = detail::max_column(x, 3, 2);
        return {.lower = {1e-300, 0, 0, -0.999 * qb_min, 0}, .upper = {1e300, 200, 20, 1e3 * qb_max, 1}};
    }
    /// The weak law's regression for C, A, γ_N with d = 0, then γ_c from the residual slope in log Qb.
    static std::array<double, 5> start(std::span<const double> x, std::span<const double> log_y) {
        std::vector<double> z;
        for (std::size_t i = 0; i + 2 < x.size(); i += 3) {
            z.push_back(x[i]);
            z.push_back(std::log(x[i + 1]));
            z.push_back(std::log(x[i + 2]));
        }
        const auto b = detail::regress<4>(z, log_y);
        return {std::exp(b[0]), std::max(b[1], 1e-3), std::max(-b[2], 1e-3), 0.0, std::clamp(b[3], 0.05, 0.95)};
    }
    static double max_ratio(std::span<const double, 5> p, double budget, double n, double qb) {
        return (std::log(budget / p[0]) + p[2] * std::log(n) - p[4] * std::log(qb + p[3])) / p[1];
    }
    static double min_size(std::span<const double, 5> p, double budget, double qr, double qb) {
        return std::exp((std::log(p[0] / budget) + p[1] * qr + p[4] * std::log(qb + p[3])) / p[2]);
    }
};

struct exponential {
    static constexpr std::string_view name = "exp";
    static constexpr std::string_view formula = "N = exp(k*(1 - Qr_max) + c)";
    static constexpr std::size_t parameter_count = 2;
    static constexpr std::size_t input_count = 1;
    static constexpr std::array<std::string_view, 2> parameter_names = {"k", "c"};
    static constexpr std::array<std::string_view, 1> input_names = {"Qr_max"};
    /// log N.
    template <class T> T operator()(std::span<const double> x, std::span<const T, 2> p) const {
        return p[0] * (1.0 - x[0]) + p[1];
    }
    /// k ≤ 0: a larger model tolerates more low precision.
    static constraints bounds(std::span<const double>) { return {.lower = {-1e3, -1e3}, .upper = {0, 1e3}}; }
    static std::array<double, 2> start(std::span<const double> x, std::span<const double> log_y) {
        std::vector<double> z(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) z[i] = 1 - x[i];
        const auto b = detail::regress<2>(z, log_y);
        return {std::min(b[1], -1e-3), b[0]};
    }
    /// Largest Qr at model size N (the law read backwards).
    static double max_ratio(std::span<const double, 2> p, double n) { return 1 - (std::log(n) - p[1]) / p[0]; }
    static double min_size(std::span<const double, 2> p, double qr) { return std::exp(p[0] * (1 - qr) + p[1]); }
};

struct power {
    static constexpr std::string_view name = "power";
    static constexpr std::string_view formula = "delta = A * Qb^k";
    static constexpr std::size_t parameter_count = 2;
    static constexpr std::size_t input_count = 1;
    static constexpr std::array<std::string_view, 2> parameter_names = {"A", "k"};
    static constexpr std::array<std::string_view, 1> input_names = {"Qb"};
    template <class T> T operator()(std::span<const double> x, std::span<const T, 2> p) const {
        using std::log;
        using mpq::fit::log;
        return log(p[0]) + p[1] * std::log(x[0]);
    }
    /// A > 0, k ≥ 0: coarser blocks never help.
    static constraints bounds(std::span<const double>) { return {.lower = {1e-300, 0}, .upper = {1e300, 20}}; }
    static std::array<double, 2> start(std::span<const double> x, std::span<const double> log_y) {
        std::vector<double> z(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) z[i] = std::log(x[i]);
        const auto b = detail::regress<2>(z, log_y);
        return {std::exp(b[0]), std::max(b[1], 1e-3)};
    }
    /// Largest block size with δ ≤ budget.
    static double max_block(std::span<const double, 2> p, double budget) { return std::pow(budget / p[0], 1 / p[1]); }
};

struct kumar {
    static constexpr std::string_view name = "kumar";
    static constexpr std::string_view formula = "delta = C_T * D^gamma_D * N^(-gamma_N) * exp(-P/gamma_post)";
    static constexpr std::size_t parameter_count = 4;
    static constexpr std::size_t input_count = 3;
    static constexpr std::array<std::string_view, 4> parameter_names = {"C_T", "gamma_D", "gamma_N", "gamma_post"};
    static constexpr std::array<std::string_view, 3> input_names = {"N", "D", "P"};
    template <class T> T operator()(std::span<const double> x, std::span<const T, 4> p) const {
        using std::log;
        using mpq::fit::log;
        return log(p[0]) + p[1] * std::log(x[1]) - p[2] * std::log(x[0]) - x[2] / p[3];
    }
    /// C_T > 0, γ_D ≥ 0, γ_N ≥ 0, γ_post > 0 (more post-training bits never hurt).
    static constraints bounds(std::span<const double>) {
        return {.lower = {1e-300, 0, 0, 1e-3}, .upper = {1e300, 20, 20, 1e3}};
    }
    static std::array<double, 4> start(std::span<const double> x, std::span<const double> log_y) {
        std::vector<double> z;
        for (std::size_t i = 0; i + 2 < x.size(); i += 3) {
            z.push_back(std::log(x[i + 1]));
            z.push_back(std::log(x[i]));
            z.push_back(x[i + 2]);
        }
        const auto b = detail::regress<4>(z, log_y);
        return {std::exp(b[0]), std::max(b[1], 1e-3), std::max(-b[2], 1e-3), b[3] < 0 ? std::min(-1 / b[3], 1e3) : 1.0};
    }
    /// Smallest N with δ ≤ budget for D training tokens and P post-training bits.
    static double min_size(std::span<const double, 4> p, double budget, double d, double bits) {
        return std::pow(p[0] * std::pow(d, p[1]) * std::exp(-bits / p[3]) / budget, 1 / p[2]);
    }
};

/// A fitted law: the curve-fit result plus R² of the law on the response's own (linear) scale.
template <class Law>
struct law_fit {
    curve_fit_result<Law::parameter_count> fit;
    double r_squared_linear = 0;
    /// The law's prediction of the response (not its logarithm) at inputs x.
    double predict(std::span<const double> x) const {
        return std::exp(Law{}(x, std::span<const double, Law::parameter_count>(fit.parameters)));
    }
};

/// Fits `Law` to responses y (> 0) at inputs x (row-major, Law::input_count per point) by
/// least squares on log y, from data-driven starts inside the law's physical bounds. Throws
/// std::invalid_argument naming the first offending point when y ≤ 0, an input whose logarithm
/// is taken is ≤ 0, a value is not finite, sizes disagree, or there are fewer points than
/// parameters.
template <class Law>
law_fit<Law> fit_law(std::span<const double> x, std::span<const double> y, options opt = {}) {
    constexpr std::size_t P = Law::parameter_count, K = Law::input_count;
    if (x.size() != y.size() * K)
        throw std::invalid_argument("fit_law(" + std::string(Law::name) + "): " + std::to_string(x.size()) +
                                    " inputs for " + std::to_string(y.size()) + " points of " + std::to_string(K));
    if (y.size() < P)
        throw std::invalid_argument("fit_law(" + std::string(Law::name) + "): " + std::to_string(y.size()) +
                                    " points for " + std::to_string(P) + " parameters");
    std::vector<double> log_y(y.size());
    for (std::size_t i = 0; i < y.size(); ++i) {
        if (!(y[i] > 0) || !std::isfinite(y[i]))
            throw std::invalid_argument("fit_law(" + std::string(Law::name) + "): response " + std::to_string(y[i]) +
                                        " at point " + std::to_string(i) + " is not positive (its log is taken)");
        log_y[i] = std::log(y[i]);
        for (std::size_t k = 0; k < K; ++k) {
            const double v = x[i * K + k];
            const std::string_view in = Law::input_names[k];
            const bool logged = in == "N" || in == "D" || in == "Qb";
            if (!std::isfinite(v) || (logged && !(v > 0)))
                throw std::invalid_argument("fit_law(" + std::string(Law::name) + "): input " + std::string(in) + " = " +
                                            std::to_string(v) + " at point " + std::to_string(i) +
                                            (logged ? " must be positive (its log is taken)" : " is not finite"));
        }
    }
    const constraints box = Law::bounds(x);
    std::array<double, P> start = Law::start(x, log_y);
    for (std::size_t j = 0; j < P; ++j) start[j] = std::clamp(start[j], box.lower[j], box.upper[j]);
    law_fit<Law> out;
    out.fit = fit_curve(Law{}, {.x = x, .y = log_y, .input_count = K}, start, box, opt);
    double mean = 0, rss = 0, tss = 0;
    for (double v : y) mean += v / static_cast<double>(y.size());
    for (std::size_t i = 0; i < y.size(); ++i) {
        const double r = y[i] - out.predict(x.subspan(i * K, K));
        rss += r * r;
        tss += (y[i] - mean) * (y[i] - mean);
    }
    out.r_squared_linear = tss > 0 ? 1 - rss / tss : std::numeric_limits<double>::quiet_NaN();
    return out;
}

} // namespace mpq::fit::laws
