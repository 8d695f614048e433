// Forward-mode automatic differentiation: a dual number carries a value and its partial
// derivatives with respect to N parameters, so evaluating a model once on duals yields one
// residual and its whole Jacobian row, exact to rounding (no step size to choose).
#pragma once

#include <array>
#include <cmath>
#include <cstddef>

namespace mpq::fit {

/// a + Σ_k d[k]·ε_k with ε_j·ε_k = 0. `value` is the function value, `d[k]` its derivative with
/// respect to the k-th parameter. All operations propagate derivatives by the chain rule;
/// where a function is not differentiable (|x| at 0, sqrt at 0) the one-sided value the
/// standard library's derivative formula gives is used and may be infinite.
template <std::size_t N>
struct dual {
    double value = 0;
    std::array<double, N> d{};

    constexpr dual() = default;
    constexpr dual(double v) : value(v) {} // NOLINT: constants mix freely with duals
    /// The k-th independent variable with value v.
    static constexpr dual variable(double v, std::size_t k) {
        dual x(v);
        x.d[k] = 1;
        return x;
    }

    constexpr dual& operator+=(const dual& o) {
        value += o.value;
        for (std::size_t k = 0; k < N; ++k) d[k] += o.d[k];
        return *this;
    }
    constexpr dual& operator-=(const dual& o) {
        value -= o.value;
        for (std::size_t k = 0; k < N; ++k) d[k] -= o.d[k];
        return *this;
    }
    constexpr dual& operator*=(const dual& o) {
        for (std::size_t k = 0; k < N; ++k) d[k] = d[k] * o.value + value * o.d[k];
        value *= o.value;
        return *this;
    }
    constexpr dual& operator/=(const dual& o) {
        const double inv = 1 / o.value, q = value * inv;
        for (std::size_t k = 0; k < N; ++k) d[k] = (d[k] - q * o.d[k]) * inv;
        value = q;
        return *this;
    }
};

namespace detail {
/// f(x) with derivative f'(x) given: the chain rule for unary functions.
template <std::size_t N>
constexpr dual<N> chain(const dual<N>& x, double f, double df) {
    dual<N> r(f);
    for (std::size_t k = 0; k < N; ++k) r.d[k] = df * x.d[k];
    return r;
}
} // namespace detail

template <std::size_t N> constexpr dual<N> operator+(dual<N> a, const dual<N>& b) { return a += b; }
template <std::size_t N> constexpr dual<N> operator-(dual<N> a, const dual<N>& b) { return a -= b; }
template <std::size_t N> constexpr dual<N> operator*(dual<N> a, const dual<N>& b) { return a *= b; }
template <std::size_t N> constexpr dual<N> operator/(dual<N> a, const dual<N>& b) { return a /= b; }
template <std::size_t N> constexpr dual<N> operator+(dual<N> a, double b) { a.value += b; return a; }
template <std::size_t N> constexpr dual<N> operator+(double a, dual<N> b) { b.value += a; return b; }
template <std::size_t N> constexpr dual<N> operator-(dual<N> a, double b) { a.value -= b; return a; }
template <std::size_t N> constexpr dual<N> operator-(double a, const dual<N>& b) { return dual<N>(a) - b; }
template <std::size_t N> constexpr dual<N> operator*(dual<N> a, double b) {
    a.value *= b;
    for (auto& v : a.d) v *= b;
    return a;
}
template <std::size_t N> constexpr dual<N> operator*(double a, const dual<N>& b) { return b * a; }
template <std::size_t N> constexpr dual<N> operator/(const dual<N>& a, double b) { return a * (1 / b); }
template <std::size_t N> constexpr dual<N> operator/(double a, const dual<N>& b) { return dual<N>(a) / b; }
template <std::size_t N> constexpr dual<N> operator-(const dual<N>& a) { return a * -1.0; }
template <std::size_t N> constexpr dual<N> operator+(const dual<N>& a) { return a; }

// Comparisons look at the value only (branches in a model select a smooth piece).
template <std::size_t N> constexpr bool operator<(const dual<N>& a, const dual<N>& b) { return a.value < b.value; }
template <std::size_t N> constexpr bool operator>(const dual<N>& a, const dual<N>& b) { return a.value > b.value; }
template <std::size_t N> constexpr bool operator<(const dual<N>& a, double b) { return a.value < b; }
template <std::size_t N> constexpr bool operator>(const dual<N>& a, double b) { return a.value > b; }

/// The value part of a double or a dual (for branches and diagnostics in generic models).
constexpr double value_of(double x) { return x; }
template <std::size_t N> constexpr double value_of(const dual<N>& x) { return x.value; }

template <std::size_t N> dual<N> exp(const dual<N>& x) {
    const double e = std::exp(x.value);
    return detail::chain(x, e, e);
}
template <std::size_t N> dual<N> log(const dual<N>& x) { return detail::chain(x, std::log(x.value), 1 / x.value); }
template <std::size_t N> dual<N> log10(const dual<N>& x) {
    return detail::chain(x, std::log10(x.value), 1 / (x.value * 2.302585092994045684));
}
template <std::size_t N> dual<N> sqrt(const dual<N>& x) {
    const double s = std::sqrt(x.value);
    return detail::chain(x, s, 0.5 / s);
}
template <std::size_t N> dual<N> sin(const dual<N>& x) { return detail::chain(x, std::sin(x.value), std::cos(x.value)); }
template <std::size_t N> dual<N> cos(const dual<N>& x) { return detail::chain(x, std::cos(x.value), -std::sin(x.value)); }
template <std::size_t N> dual<N> tan(const dual<N>& x) {
    const double t = std::tan(x.value);
    return detail::chain(x, t, 1 + t * t);
}
template <std::size_t N> dual<N> atan(const dual<N>& x) {
    return detail::chain(x, std::atan(x.value), 1 / (1 + x.value * x.value));
}
template <std::size_t N> dual<N> abs(const dual<N>& x) { return x.value < 0 ? -x : x; }
template <std::size_t N> dual<N> tanh(const dual<N>& x) {
    const double t = std::tanh(x.value);
    return detail::chain(x, t, 1 - t * t);
}

/// x^p for a constant exponent p.
template <std::size_t N> dual<N> pow(const dual<N>& x, double p) {
    const double v = std::pow(x.value, p);
    // p·x^(p−1) written without dividing by x, so x = 0 with p ≥ 1 stays finite.
    return detail::chain(x, v, p * std::pow(x.value, p - 1));
}
/// a^y for a constant positive base a.
template <std::size_t N> dual<N> pow(double a, const dual<N>& y) {
    const double v = std::pow(a, y.value);
    return detail::chain(y, v, v * std::log(a));
}
/// x^y with both variable; defined for x > 0 (derivative in y needs log x).
template <std::size_t N> dual<N> pow(const dual<N>& x, const dual<N>& y) {
    const double v = std::pow(x.value, y.value);
    dual<N> r(v);
    const double dx = y.value * std::pow(x.value, y.value - 1), dy = x.value > 0 ? v * std::log(x.value) : 0.0;
    for (std::size_t k = 0; k < N; ++k) r.d[k] = dx * x.d[k] + dy * y.d[k];
    return r;
}

} // namespace mpq::fit
