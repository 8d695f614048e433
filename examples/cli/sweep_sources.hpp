// Tensor sources for mpq sweep: files of any supported format, the embedded stories260K
// weights, and synthetic distributions drawn from a seed.
#pragma once

#include "cli/args.hpp"

#include <mpq/io/any.hpp>

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <string_view>
#include <vector>

extern "C" const unsigned char mpq_stories260K_bin_begin[];
extern "C" const unsigned char mpq_stories260K_bin_end[];

namespace mpq::cli::sweep {

/// The stories260K weights linked into the program (llama2.c checkpoint).
inline io::tensor_set embedded_stories260K() {
    const std::span<const unsigned char> bytes(mpq_stories260K_bin_begin,
                                               static_cast<std::size_t>(mpq_stories260K_bin_end - mpq_stories260K_bin_begin));
    return io::read_llama2c(bytes).tensors;
}

/// A small, platform-independent random source (SplitMix64) with the few distributions the
/// synthetic sources need; std:: distributions differ between standard libraries.
class random_source {
public:
    explicit random_source(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    /// Uniform in (0, 1): never 0, so logarithms are finite.
    double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1p-53; }
    double normal() { // Box-Muller, one value per call
        return std::sqrt(-2.0 * std::log(uniform())) * std::cos(2.0 * std::numbers::pi * uniform());
    }
    double laplace() { // inverse CDF, scale 1
        const double u = uniform() - 0.5;
        return u < 0 ? std::log(1 + 2 * u) : -std::log(1 - 2 * u);
    }
    /// Gamma(shape, 1) by Marsaglia and Tsang (with the shape < 1 boost).
    double gamma(double shape) {
        if (shape < 1.0) return gamma(shape + 1.0) * std::pow(uniform(), 1.0 / shape);
        const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
        while (true) {
            double x, v;
            do {
                x = normal();
                v = 1.0 + c * x;
            } while (v <= 0.0);
            v = v * v * v;
            const double u = uniform();
            if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
        }
    }
    double student_t(double nu) { return normal() / std::sqrt(2.0 * gamma(nu / 2.0) / nu); }

private:
    std::uint64_t state_;
};

/// `count` values of the distribution `spec`, reproducible from `seed`:
///   gaussian       standard normal
///   laplace        Laplace, scale 1
///   student-t:NU   Student's t with NU > 0 degrees of freedom (heavy tails for small NU)
///   outliers:P     standard normal, each value multiplied by 100 with probability P in [0, 1]
/// Throws usage_error naming a bad spec.
inline std::vector<float> synthetic(std::string_view spec, std::size_t count, std::uint64_t seed) {
    random_source rng(seed);
    std::vector<float> v(count);
    auto parameter = [&](std::string_view prefix) {
        const double p = parsed_args::parse_number("synthetic", spec.substr(prefix.size()));
        return p;
    };
    if (spec == "gaussian") {
        for (auto& x : v) x = static_cast<float>(rng.normal());
    } else if (spec == "laplace") {
        for (auto& x : v) x = static_cast<float>(rng.laplace());
    } else if (spec.starts_with("student-t:")) {
        const double nu = parameter("student-t:");
        if (!(nu > 0) || !std::isfinite(nu))
            throw usage_error("--synthetic student-t:NU needs NU > 0, got " + std::string(spec.substr(10)));
        for (auto& x : v) x = static_cast<float>(rng.student_t(nu));
    } else if (spec.starts_with("outliers:")) {
        const double p = parameter("outliers:");
        if (!(p >= 0 && p <= 1))
            throw usage_error("--synthetic outliers:P needs P in [0, 1], got " + std::string(spec.substr(9)));
        for (auto& x : v) {
            const double z = rng.normal();
            x = static_cast<float>(rng.uniform() < p ? 100.0 * z : z);
        }
    } else {
        throw usage_error("unknown --synthetic '" + std::string(spec) +
                          "' (gaussian, laplace, student-t:NU, outliers:P)");
    }
    return v;
}

} // namespace mpq::cli::sweep
