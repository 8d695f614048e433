// The solver, the curve-fitting front end and the fail-closed statistics.
#include <mpq/fit.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <vector>

// Counts every global allocation of the test program, so a test can prove that a solve does
// not allocate. (GCC cannot see that these new/delete replacements pair malloc with free.)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
std::atomic<long> allocation_count{0};
}
void* operator new(std::size_t n) {
    ++allocation_count;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    ++allocation_count;
    return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return ::operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace {
using namespace mpq::fit;

struct decay { // y = A·e^(−k·x)
    static constexpr std::size_t parameter_count = 2;
    template <class T> T operator()(std::span<const double> x, std::span<const T, 2> p) const {
        using std::exp;
        return p[0] * exp(-p[1] * x[0]);
    }
    void gradient(std::span<const double> x, std::span<const double, 2> p, std::span<double, 2> g) const {
        g[0] = std::exp(-p[1] * x[0]);
        g[1] = -p[0] * x[0] * std::exp(-p[1] * x[0]);
    }
};
struct line { // y = a + b·x
    static constexpr std::size_t parameter_count = 2;
    template <class T> T operator()(std::span<const double> x, std::span<const T, 2> p) const { return p[0] + p[1] * x[0]; }
};
struct product_slope { // y = a·b·x: only a·b is identifiable
    static constexpr std::size_t parameter_count = 2;
    template <class T> T operator()(std::span<const double> x, std::span<const T, 2> p) const { return p[0] * p[1] * x[0]; }
};
struct sine { // y = sin(w·x)
    static constexpr std::size_t parameter_count = 1;
    template <class T> T operator()(std::span<const double> x, std::span<const T, 1> p) const {
        using std::sin;
        return sin(p[0] * x[0]);
    }
};
struct log_model { // y = log(p)·x, undefined for p ≤ 0
    static constexpr std::size_t parameter_count = 1;
    template <class T> T operator()(std::span<const double> x, std::span<const T, 1> p) const {
        using std::log;
        return log(p[0]) * x[0];
    }
};

/// Deterministic small "noise" in [−1, 1].
double wiggle(std::size_t i) { return std::sin(12.9898 * static_cast<double>(i) + 0.5) ; }

struct decay_data {
    std::vector<double> x, y;
    explicit decay_data(std::size_t n = 40, double noise = 0.01) {
        for (std::size_t i = 0; i < n; ++i) {
            x.push_back(0.25 * static_cast<double>(i));
            y.push_back(3.0 * std::exp(-0.5 * x.back()) + noise * wiggle(i));
        }
    }
    observations obs() const { return {.x = x, .y = y}; }
};
} // namespace

TEST_CASE("dual numbers differentiate exactly", "[fit][dual]") {
    using d2 = dual<2>;
    const double a = 0.7, b = 1.3;
    const d2 x = d2::variable(a, 0), y = d2::variable(b, 1);
    const d2 f = exp(x) * sin(y) / (x + y) + pow(x, 2.5) + atan(x / y) + sqrt(y) * log(x + 2.0) + pow(y, x);
    auto value = [](double u, double v) {
        return std::exp(u) * std::sin(v) / (u + v) + std::pow(u, 2.5) + std::atan(u / v) + std::sqrt(v) * std::log(u + 2) +
               std::pow(v, u);
    };
    CHECK(f.value == Approx(value(a, b)).epsilon(1e-15));
    const double h = 1e-6;
    CHECK(f.d[0] == Approx((value(a + h, b) - value(a - h, b)) / (2 * h)).epsilon(1e-8));
    CHECK(f.d[1] == Approx((value(a, b + h) - value(a, b - h)) / (2 * h)).epsilon(1e-8));
}

TEST_CASE("Student t quantiles", "[fit][stats]") {
    CHECK(detail::student_t_quantile(0.975, 10) == Approx(2.228138851986).epsilon(1e-9));
    CHECK(detail::student_t_quantile(0.975, 1) == Approx(12.7062047361747).epsilon(1e-9));
    CHECK(detail::student_t_quantile(0.95, 5) == Approx(2.015048372669).epsilon(1e-9));
    CHECK(detail::student_t_quantile(0.025, 10) == Approx(-2.228138851986).epsilon(1e-9));
    CHECK_THROWS_AS(detail::student_t_quantile(1.0, 3), std::invalid_argument);
}

TEST_CASE("a straight line reproduces the closed-form regression statistics", "[fit][stats]") {
    std::vector<double> x, y;
    for (std::size_t i = 0; i < 12; ++i) {
        x.push_back(static_cast<double>(i));
        y.push_back(1.5 + 0.75 * x.back() + 0.3 * wiggle(i));
    }
    const double n = 12;
    double mx = 0, my = 0;
    for (std::size_t i = 0; i < 12; ++i) mx += x[i] / n, my += y[i] / n;
    double sxx = 0, sxy = 0, syy = 0;
    for (std::size_t i = 0; i < 12; ++i) {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxy += (x[i] - mx) * (y[i] - my);
        syy += (y[i] - my) * (y[i] - my);
    }
    const double b = sxy / sxx, a = my - b * mx;
    double rss = 0;
    for (std::size_t i = 0; i < 12; ++i) rss += (y[i] - a - b * x[i]) * (y[i] - a - b * x[i]);
    const double s2 = rss / (n - 2);

    const auto r = fit_curve(line{}, {.x = x, .y = y}, {0.0, 0.0});
    REQUIRE(r.success());
    CHECK(r.parameters[0] == Approx(a).epsilon(1e-12));
    CHECK(r.parameters[1] == Approx(b).epsilon(1e-12));
    REQUIRE(r.stats.covariance_available);
    CHECK(r.stats.standard_error[1] == Approx(std::sqrt(s2 / sxx)).epsilon(1e-10));
    CHECK(r.stats.standard_error[0] == Approx(std::sqrt(s2 * (1 / n + mx * mx / sxx))).epsilon(1e-10));
    CHECK(r.stats.r_squared == Approx(1 - rss / syy).epsilon(1e-12));
    CHECK(r.stats.adjusted_r_squared == Approx(1 - (rss / syy) * (n - 1) / (n - 2)).epsilon(1e-12));
    CHECK(r.stats.rmse == Approx(std::sqrt(rss / n)).epsilon(1e-12));
    CHECK(r.stats.aic == Approx(n * std::log(rss / n) + 4).epsilon(1e-12));
    CHECK(r.stats.bic == Approx(n * std::log(rss / n) + 2 * std::log(n)).epsilon(1e-12));
    const double t = 2.228138851986; // t(0.975, 10)
    CHECK(r.stats.ci_upper[1] - r.parameters[1] == Approx(t * r.stats.standard_error[1]).epsilon(1e-9));
    CHECK(r.stats.covariance[1] == Approx(-mx * s2 / sxx).epsilon(1e-9)); // cov(a, b)
}

TEST_CASE("solve() does not allocate", "[fit][alloc]") {
    const decay_data data(60);
    const std::array<std::size_t, 2> free = {0, 1};
    detail::curve_problem<decay> problem(decay{}, data.obs(), {1.0, 1.0}, free, jacobian_mode::autodiff,
                                         loss_kind::squared, 1);
    levenberg_marquardt solver(data.y.size(), 2);
    std::array<double, 2> x = {1.0, 1.0};
    const long before = allocation_count.load();
    const summary& s = solver.solve(problem, std::span<double>(x));
    const long during = allocation_count.load() - before;
    REQUIRE(s.success());
    CHECK(s.iterations >= 3);
    CHECK(during == 0);
    CHECK(x[1] == Approx(0.5).epsilon(1e-2));
    // A second solve on the same workspace, with bounds, also allocates nothing.
    const std::array<double, 2> lo = {0.0, 0.0}, hi = {10.0, 0.4};
    x = {1.0, 0.1};
    const long before2 = allocation_count.load();
    const summary& s2 = solver.solve(problem, std::span<double>(x), lo, hi);
    CHECK(allocation_count.load() - before2 == 0);
    CHECK(s2.success());
    CHECK(s2.cost_history.size() >= 2);
}

TEST_CASE("Jacobian modes agree", "[fit]") {
    const decay_data data;
    options fd, an;
    fd.jacobian = jacobian_mode::finite_difference;
    an.jacobian = jacobian_mode::analytic;
    const auto a = fit_curve(decay{}, data.obs(), {1.0, 1.0});
    const auto b = fit_curve(decay{}, data.obs(), {1.0, 1.0}, {}, fd);
    const auto c = fit_curve(decay{}, data.obs(), {1.0, 1.0}, {}, an);
    REQUIRE((a.success() && b.success() && c.success()));
    CHECK(b.parameters[1] == Approx(a.parameters[1]).epsilon(1e-8));
    CHECK(c.parameters[1] == Approx(a.parameters[1]).epsilon(1e-12));
    CHECK(a.parameters[0] == Approx(3.0).epsilon(1e-2));
    CHECK(a.solve.cost_history.front() >= a.solve.cost_history.back());
}

TEST_CASE("bounds hold the answer and make the covariance unavailable", "[fit][bounds]") {
    const decay_data data;
    const auto r = fit_curve(decay{}, data.obs(), {1.0, 0.1}, {.lower = {0, 0}, .upper = {100, 0.3}});
    REQUIRE(r.success());
    CHECK(r.parameters[1] == 0.3);
    CHECK(r.stats.at_bound[1]);
    CHECK_FALSE(r.stats.at_bound[0]);
    CHECK_FALSE(r.stats.covariance_available);
    CHECK(std::isnan(r.stats.standard_error[0]));
    CHECK(r.stats.covariance_note.find("bound") != std::string::npos);
    // The same as fixing k at the bound and fitting A alone.
    const auto fixed = fit_curve(decay{}, data.obs(), {1.0, 0.3}, {.fixed = {0, 1}});
    REQUIRE(fixed.success());
    CHECK(fixed.parameters[0] == Approx(r.parameters[0]).epsilon(1e-9));
    CHECK(fixed.stats.free_parameters == 1);
    CHECK(fixed.stats.standard_error[1] == 0);
    CHECK(fixed.stats.covariance_available);
    // A bound that is not active changes nothing.
    const auto loose = fit_curve(decay{}, data.obs(), {1.0, 0.1}, {.lower = {0, 0}, .upper = {100, 5}});
    const auto free_fit = fit_curve(decay{}, data.obs(), {1.0, 0.1});
    CHECK(loose.parameters[1] == Approx(free_fit.parameters[1]).epsilon(1e-12));
    CHECK(loose.stats.covariance_available);
}

TEST_CASE("weights: a common factor on sigma changes neither estimates nor standard errors", "[fit][weights]") {
    const decay_data data;
    std::vector<double> s1(data.y.size(), 1.0), s7(data.y.size(), 7.0);
    const auto a = fit_curve(decay{}, {.x = data.x, .y = data.y, .sigma = s1}, {1.0, 1.0});
    const auto b = fit_curve(decay{}, {.x = data.x, .y = data.y, .sigma = s7}, {1.0, 1.0});
    CHECK(a.parameters[1] == Approx(b.parameters[1]).epsilon(1e-10));
    CHECK(a.stats.standard_error[1] == Approx(b.stats.standard_error[1]).epsilon(1e-8));
    // A down-weighted outlier barely moves the fit.
    auto y = data.y;
    y[5] += 2;
    std::vector<double> s(data.y.size(), 0.01);
    s[5] = 100;
    const auto w = fit_curve(decay{}, {.x = data.x, .y = y, .sigma = s}, {1.0, 1.0});
    CHECK(w.parameters[1] == Approx(a.parameters[1]).epsilon(1e-4));
    std::vector<double> bad(data.y.size(), 1.0);
    bad[3] = 0;
    CHECK_THROWS_AS(fit_curve(decay{}, {.x = data.x, .y = data.y, .sigma = bad}, {1.0, 1.0}), std::invalid_argument);
}

TEST_CASE("robust losses resist outliers", "[fit][robust]") {
    std::vector<double> x, y;
    for (std::size_t i = 0; i < 30; ++i) {
        x.push_back(static_cast<double>(i));
        y.push_back(2 + 0.5 * x.back() + 0.05 * wiggle(i));
    }
    y[4] += 30;
    y[28] += 60;
    y[29] += 60;
    const auto plain = fit_curve(line{}, {.x = x, .y = y}, {0.0, 0.0});
    for (auto kind : {loss_kind::huber, loss_kind::cauchy}) {
        options opt;
        opt.loss = kind;
        opt.loss_scale = 0.2;
        const auto r = fit_curve(line{}, {.x = x, .y = y}, {0.0, 0.0}, {}, opt);
        REQUIRE(r.success());
        CHECK(std::abs(r.parameters[1] - 0.5) < 0.01);
        CHECK_FALSE(r.stats.covariance_available);
    }
    CHECK(std::abs(plain.parameters[1] - 0.5) > 0.1);
}

TEST_CASE("rank deficiency is reported and the covariance withheld", "[fit][stats]") {
    std::vector<double> x = {1, 2, 3, 4, 5}, y = {2.1, 3.9, 6.2, 7.9, 10.1};
    const auto r = fit_curve(product_slope{}, {.x = x, .y = y}, {1.0, 1.0});
    CHECK(r.success());
    CHECK(r.parameters[0] * r.parameters[1] == Approx(2.0).epsilon(0.05));
    CHECK(r.stats.rank == 1);
    CHECK_FALSE(r.stats.covariance_available);
    CHECK(r.stats.covariance_note.find("rank") != std::string::npos);
    CHECK(std::isnan(r.stats.covariance[0]));
}

TEST_CASE("seeded multi-start escapes a local minimum, reproducibly", "[fit][multistart]") {
    std::vector<double> x, y;
    for (std::size_t i = 0; i < 50; ++i) {
        x.push_back(0.2 * static_cast<double>(i));
        y.push_back(std::sin(2.7 * x.back()));
    }
    const constraints box{.lower = {0.1}, .upper = {6.0}};
    const auto single = fit_curve(sine{}, {.x = x, .y = y}, {0.5}, box);
    CHECK(std::abs(single.parameters[0] - 2.7) > 0.1); // stuck
    options opt;
    opt.multi_starts = 30;
    opt.seed = 42;
    const auto multi = fit_curve(sine{}, {.x = x, .y = y}, {0.5}, box, opt);
    REQUIRE(multi.success());
    CHECK(multi.parameters[0] == Approx(2.7).epsilon(1e-9));
    CHECK(multi.starts == 31);
    const auto again = fit_curve(sine{}, {.x = x, .y = y}, {0.5}, box, opt);
    CHECK(again.parameters[0] == multi.parameters[0]);
    CHECK(again.solve.final_cost == multi.solve.final_cost);
}

TEST_CASE("failures are reported, not hidden", "[fit][status]") {
    const decay_data data;
    options opt;
    opt.max_iterations = 1;
    const auto r = fit_curve(decay{}, data.obs(), {100.0, 9.0}, {}, opt);
    CHECK_FALSE(r.success());
    CHECK(r.solve.stop == status::max_iterations);
    CHECK_FALSE(r.stats.covariance_available);

    std::vector<double> x = {1, 2, 3}, y = {1, 2, 3};
    const auto bad = fit_curve(log_model{}, {.x = x, .y = y}, {-1.0});
    CHECK(bad.solve.stop == status::invalid_start);
    CHECK_FALSE(bad.success());
}

TEST_CASE("bad input throws std::invalid_argument", "[fit][input]") {
    const decay_data data;
    std::vector<double> short_y(data.y.begin(), data.y.begin() + 5);
    CHECK_THROWS_AS(fit_curve(decay{}, {.x = data.x, .y = short_y}, {1.0, 1.0}), std::invalid_argument);
    CHECK_THROWS_AS(fit_curve(decay{}, data.obs(), {1.0, 1.0}, {.lower = {0, 2}, .upper = {1, 1}}),
                    std::invalid_argument);
    CHECK_THROWS_AS(fit_curve(decay{}, data.obs(), {1.0, 1.0}, {.lower = {0}}), std::invalid_argument);
    std::vector<double> one_x = {1.0}, one_y = {2.0};
    CHECK_THROWS_AS(fit_curve(decay{}, {.x = one_x, .y = one_y}, {1.0, 1.0}), std::invalid_argument);
    CHECK_THROWS_AS(levenberg_marquardt(1, 2), std::invalid_argument);
    CHECK_THROWS_AS(fit_curve(decay{}, data.obs(), {1.0, 1.0}, {.fixed = {1, 1}}), std::invalid_argument);
}

namespace {
struct shifted_power_log { // log y = log c + g·log(x + d), the strong law's block-size factor
    static constexpr std::size_t parameter_count = 3;
    template <class T> T operator()(std::span<const double> x, std::span<const T, 3> p) const {
        using std::log;
        using mpq::fit::log;
        return log(p[0]) + p[2] * log(x[0] + p[1]);
    }
};
} // namespace

TEST_CASE("a step clipped at a bound that does not descend shrinks the trust region", "[lm][bounds]") {
    // Measured data falling slightly with x while the exponent is bounded below by 0, and a
    // start near that bound: the first Gauss–Newton step leaves the box, its clipped version
    // raises the cost, and the solver must shrink the region until it finds descent (it once
    // spun on the same rejected step until the evaluation limit).
    const std::vector<double> x = {16, 32, 64, 128, 256};
    std::vector<double> y;
    for (double v : {0.108180, 0.107413, 0.112519, 0.103010, 0.100501}) y.push_back(std::log(v));
    double mean = 0;
    for (double v : y) mean += v / static_cast<double>(y.size());
    double constant_cost = 0; // the best fit with the exponent at its bound 0
    for (double v : y) constant_cost += 0.5 * (v - mean) * (v - mean);
    const auto fit = fit_curve(shifted_power_log{}, {.x = x, .y = y, .input_count = 1},
                               std::array<double, 3>{0.119, 0.0, 0.05},
                               {.lower = {1e-300, -15.984, 0}, .upper = {1e300, 256000, 1}}, {.multi_starts = 0});
    REQUIRE(fit.success());
    CHECK(fit.solve.residual_evaluations < 200);
    CHECK(fit.parameters[2] == 0.0);
    CHECK(fit.solve.final_cost == Approx(constant_cost).epsilon(1e-6));
}
