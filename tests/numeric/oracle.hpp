// An independent oracle for element conversions: it knows nothing of bit layouts. It lists
// every finite value a format can hold (by decoding every code), then rounds a real number by
// searching that sorted list in double precision. The library's encoders work on float bits;
// agreement between the two is the test.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace mpq::test {

struct value_code {
    double value;
    std::uint32_t code;
};

/// Finite magnitudes of the non-negative (or, with `negative`, non-positive) values of an
/// element type with their codes, sorted; -0/+0 collapse.
template <class Element>
std::vector<value_code> non_negative_grid(bool negative = false) {
    std::vector<value_code> grid;
    for (std::uint32_t c = 0; c < Element::code_count; ++c) {
        const double v = Element::decode(c);
        if (!std::isfinite(v)) continue;
        if constexpr (requires { Element::min_int; }) {
            if (Element::to_int(c) < Element::min_int) continue; // decodes, but never produced
        }
        if (v == 0 || (negative ? v < 0 : v > 0)) grid.push_back({std::fabs(v), c});
    }
    std::sort(grid.begin(), grid.end(), [](auto a, auto b) { return a.value < b.value; });
    grid.erase(std::unique(grid.begin(), grid.end(), [](auto a, auto b) { return a.value == b.value; }),
               grid.end());
    return grid;
}

enum class oracle_mode { even, away, zero };

/// Magnitude the element should produce for |x| (saturating), chosen from the grid.
/// "Even" means the neighbour whose code is even (last mantissa / integer bit clear).
inline value_code oracle_round(const std::vector<value_code>& grid, double magnitude, oracle_mode mode) {
    if (magnitude >= grid.back().value) return grid.back();
    auto hi = std::upper_bound(grid.begin(), grid.end(), magnitude,
                               [](double m, const value_code& g) { return m < g.value; });
    auto lo = hi - 1;
    if (lo->value == magnitude) return *lo;
    const double down = magnitude - lo->value, up = hi->value - magnitude;
    switch (mode) {
    case oracle_mode::zero: return *lo;
    case oracle_mode::away: return up <= down ? *hi : *lo;
    case oracle_mode::even:
        if (down < up) return *lo;
        if (up < down) return *hi;
        return (lo->code & 1U) == 0U ? *lo : *hi;
    }
    return *lo;
}

/// Probability-defining threshold of stochastic rounding for |x| between two grid neighbours:
/// floor(fraction * 2^32), fraction = (|x| - lo) / (hi - lo), computed in double.
inline std::uint64_t oracle_stochastic_threshold(const std::vector<value_code>& grid, double magnitude) {
    auto hi = std::upper_bound(grid.begin(), grid.end(), magnitude,
                               [](double m, const value_code& g) { return m < g.value; });
    if (hi == grid.end()) return 0;
    auto lo = hi - 1;
    const double fraction = (magnitude - lo->value) / (hi->value - lo->value);
    return static_cast<std::uint64_t>(std::floor(std::ldexp(fraction, 32)));
}

/// Float inputs that probe a grid: every value, every midpoint (a rounding tie), one float ulp
/// either side of both, values beyond the maximum, and a log-uniform sample across the range
/// including float32 subnormals.
template <class Element>
std::vector<float> probe_inputs(const std::vector<value_code>& grid, std::uint32_t seed = 1) {
    std::vector<float> xs;
    auto push_around = [&](double v) {
        const float f = static_cast<float>(v);
        xs.push_back(f);
        xs.push_back(std::nextafter(f, 0.0f));
        xs.push_back(std::nextafter(f, std::numeric_limits<float>::infinity()));
    };
    for (std::size_t i = 0; i < grid.size(); ++i) {
        push_around(grid[i].value);
        if (i + 1 < grid.size()) push_around((grid[i].value + grid[i + 1].value) / 2);
    }
    const double top = grid.back().value;
    for (double f : {1.0001, 1.5, 2.0, 1e3, 1e30}) push_around(top * f);
    xs.push_back(std::numeric_limits<float>::max());
    xs.push_back(std::numeric_limits<float>::denorm_min());
    xs.push_back(std::numeric_limits<float>::min());
    std::uint32_t state = seed;
    for (int i = 0; i < 20000; ++i) {
        state = state * 1664525U + 1013904223U;
        const double u = (state >> 8) / 16777216.0;
        xs.push_back(static_cast<float>(std::exp2(-150.0 + u * (std::log2(top) + 152.0))));
    }
    std::vector<float> both;
    for (float x : xs) {
        both.push_back(x);
        both.push_back(-x);
    }
    return both;
}

} // namespace mpq::test
