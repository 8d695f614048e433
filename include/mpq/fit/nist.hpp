// The NIST StRD nonlinear-regression suite: a reader for its .dat files, the 27 models as
// typed curve models, and a runner that scores a fit by the log relative error (LRE) against
// the certified values. Used by the acceptance test, `mpq nist` and the benchmarks.
#pragma once

#include <mpq/fit/curve_fit.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <fstream>
#include <numbers>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mpq::fit::nist {

/// One problem as read from its .dat file.
struct problem {
    std::string name;
    std::vector<double> start1, start2;       ///< Start 1 (far) and Start 2 (near)
    std::vector<double> certified;           ///< certified parameter values
    std::vector<double> certified_sd;        ///< certified standard deviations
    double certified_rss = 0;
    std::size_t input_count = 1;             ///< 1, or 2 for Nelson
    std::vector<double> x;                   ///< row-major, input_count per observation
    std::vector<double> y;
};

/// Parses the text of a NIST StRD .dat file. Throws std::invalid_argument naming `name` and
/// what is missing if the starting values, certified values or data cannot be found.
inline problem parse(std::string_view text, std::string name) {
    problem p;
    p.name = std::move(name);
    std::istringstream in{std::string(text)};
    std::string line;
    bool in_data = false;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string first;
        ls >> first;
        if (in_data) {
            if (first.empty()) continue;
            std::vector<double> row;
            std::istringstream rs(line);
            double v;
            while (rs >> v) row.push_back(v);
            if (row.size() != 1 + p.input_count)
                throw std::invalid_argument("nist " + p.name + ": data line '" + line + "' has " +
                                            std::to_string(row.size()) + " numbers");
            p.y.push_back(row[0]);
            p.x.insert(p.x.end(), row.begin() + 1, row.end());
        } else if (first == "Data:") {
            std::vector<std::string> cols;
            for (std::string c; ls >> c;) cols.push_back(c);
            if (!cols.empty() && cols[0] == "y") {
                p.input_count = cols.size() - 1;
                in_data = true;
            }
        } else if (first.size() >= 2 && first[0] == 'b' && std::isdigit(static_cast<unsigned char>(first[1]))) {
            std::string eq;
            double s1, s2, c, sd;
            if ((ls >> eq >> s1 >> s2 >> c >> sd) && eq == "=") {
                p.start1.push_back(s1);
                p.start2.push_back(s2);
                p.certified.push_back(c);
                p.certified_sd.push_back(sd);
            }
        } else if (line.find("Residual Sum of Squares:") != std::string::npos) {
            p.certified_rss = std::stod(line.substr(line.find(':') + 1));
        }
    }
    if (p.certified.empty()) throw std::invalid_argument("nist " + p.name + ": no parameter lines 'bN = ...' found");
    if (p.y.empty()) throw std::invalid_argument("nist " + p.name + ": no data block ('Data: y x ...') found");
    return p;
}

/// Reads and parses a .dat file; the problem is named after the file's stem.
inline problem read_file(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw std::invalid_argument("nist: cannot open '" + path + "'");
    std::ostringstream text;
    text << file.rdbuf();
    std::string stem = path.substr(path.find_last_of('/') + 1);
    stem = stem.substr(0, stem.find('.'));
    return parse(text.str(), stem);
}

/// LRE = −log10(|b − c|/|c|) clipped to [0, 11]; the minimum over parameters is the number of
/// correct significant digits. A non-finite estimate scores 0.
inline double log_relative_error(double estimate, double certified) {
    if (!std::isfinite(estimate)) return 0;
    if (estimate == certified) return 11;
    const double rel = certified != 0 ? std::abs(estimate - certified) / std::abs(certified) : std::abs(estimate);
    return std::clamp(-std::log10(rel), 0.0, 11.0);
}

// The 27 models, written once for doubles and dual numbers.
#define MPQ_NIST_MODEL(NAME, P, EXPR)                                                                \
    struct NAME {                                                                                    \
        static constexpr std::size_t parameter_count = P;                                          \
        template <class T>                                                                           \
        T operator()(std::span<const double> xs, std::span<const T, P> b) const {                    \
            using std::exp; using std::atan; using std::cos; using std::sin; using std::pow;         \
            using mpq::fit::exp; using mpq::fit::atan; using mpq::fit::cos; using mpq::fit::sin;     \
            using mpq::fit::pow;                                                                     \
            [[maybe_unused]] const double x = xs[0];                                                 \
            [[maybe_unused]] constexpr double pi = std::numbers::pi;                                 \
            return EXPR;                                                                             \
        }                                                                                            \
    }

MPQ_NIST_MODEL(misra1a, 2, b[0] * (1.0 - exp(-b[1] * x)));
MPQ_NIST_MODEL(chwirut, 3, exp(-b[0] * x) / (b[1] + b[2] * x));
MPQ_NIST_MODEL(lanczos, 6, b[0] * exp(-b[1] * x) + b[2] * exp(-b[3] * x) + b[4] * exp(-b[5] * x));
MPQ_NIST_MODEL(gauss, 8,
               b[0] * exp(-b[1] * x) + b[2] * exp(-((x - b[3]) * (x - b[3])) / (b[4] * b[4])) +
                   b[5] * exp(-((x - b[6]) * (x - b[6])) / (b[7] * b[7])));
MPQ_NIST_MODEL(danwood, 2, b[0] * pow(x, b[1]));
MPQ_NIST_MODEL(misra1b, 2, b[0] * (1.0 - 1.0 / ((1.0 + b[1] * x * 0.5) * (1.0 + b[1] * x * 0.5))));
MPQ_NIST_MODEL(kirby2, 5, (b[0] + b[1] * x + b[2] * x * x) / (1.0 + b[3] * x + b[4] * x * x));
MPQ_NIST_MODEL(hahn1, 7,
               (b[0] + b[1] * x + b[2] * x * x + b[3] * x * x * x) /
                   (1.0 + b[4] * x + b[5] * x * x + b[6] * x * x * x));
MPQ_NIST_MODEL(nelson, 3, b[0] - b[1] * xs[0] * exp(-b[2] * xs[1])); // fits log(y)
MPQ_NIST_MODEL(mgh17, 5, b[0] + b[1] * exp(-x * b[3]) + b[2] * exp(-x * b[4]));
MPQ_NIST_MODEL(misra1c, 2, b[0] * (1.0 - pow(1.0 + 2.0 * b[1] * x, -0.5)));
MPQ_NIST_MODEL(misra1d, 2, b[0] * b[1] * x / (1.0 + b[1] * x));
MPQ_NIST_MODEL(roszman1, 4, b[0] - b[1] * x - atan(b[2] / (x - b[3])) / pi);
MPQ_NIST_MODEL(enso, 9,
               b[0] + b[1] * std::cos(2 * pi * x / 12) + b[2] * std::sin(2 * pi * x / 12) +
                   b[4] * cos(2 * pi * x / b[3]) + b[5] * sin(2 * pi * x / b[3]) + b[7] * cos(2 * pi * x / b[6]) +
                   b[8] * sin(2 * pi * x / b[6]));
MPQ_NIST_MODEL(mgh09, 4, b[0] * (x * x + x * b[1]) / (x * x + x * b[2] + b[3]));
MPQ_NIST_MODEL(boxbod, 2, b[0] * (1.0 - exp(-b[1] * x)));
MPQ_NIST_MODEL(rat42, 3, b[0] / (1.0 + exp(b[1] - b[2] * x)));
MPQ_NIST_MODEL(mgh10, 3, b[0] * exp(b[1] / (x + b[2])));
MPQ_NIST_MODEL(eckerle4, 3, (b[0] / b[1]) * exp(-0.5 * ((x - b[2]) / b[1]) * ((x - b[2]) / b[1])));
MPQ_NIST_MODEL(rat43, 4, b[0] / pow(1.0 + exp(b[1] - b[2] * x), 1.0 / b[3]));
MPQ_NIST_MODEL(bennett5, 3, b[0] * pow(b[1] + x, -1.0 / b[2]));
#undef MPQ_NIST_MODEL

/// One scored run.
struct run_result {
    std::string problem;
    int start = 1;
    double lre = 0;                 ///< min over parameters
    double rss = 0;
    summary solve;
    double seconds = 0;
    std::vector<double> parameters;
};

namespace detail {
template <class M>
run_result run_model(const problem& p, int start, const options& opt) {
    constexpr std::size_t P = M::parameter_count;
    if (p.certified.size() != P)
        throw std::invalid_argument("nist " + p.name + ": file has " + std::to_string(p.certified.size()) +
                                    " parameters, model expects " + std::to_string(P));
    std::vector<double> y = p.y;
    if (p.name == "Nelson") // the certified model is for log(y)
        for (auto& v : y) v = std::log(v);
    std::array<double, P> x0{};
    const auto& s = start == 1 ? p.start1 : p.start2;
    std::copy(s.begin(), s.end(), x0.begin());
    const auto t0 = std::chrono::steady_clock::now();
    const auto fit = fit_curve(M{}, observations{.x = p.x, .y = y, .input_count = p.input_count}, x0, {}, opt);
    const auto t1 = std::chrono::steady_clock::now();
    run_result r;
    r.problem = p.name;
    r.start = start;
    r.solve = fit.solve;
    r.seconds = std::chrono::duration<double>(t1 - t0).count();
    r.rss = fit.stats.rss;
    r.parameters.assign(fit.parameters.begin(), fit.parameters.end());
    r.lre = 11;
    for (std::size_t j = 0; j < P; ++j) r.lre = std::min(r.lre, log_relative_error(fit.parameters[j], p.certified[j]));
    return r;
}
} // namespace detail

/// Fits problem `p` from start 1 or 2 with `opt` and scores it. Throws std::invalid_argument
/// for an unknown problem name, a start other than 1 or 2, or a parameter-count mismatch.
inline run_result run(const problem& p, int start, const options& opt = {}) {
    if (start != 1 && start != 2) throw std::invalid_argument("nist: start must be 1 or 2, got " + std::to_string(start));
    const std::string& n = p.name;
    if (n == "Misra1a") return detail::run_model<misra1a>(p, start, opt);
    if (n == "Chwirut1" || n == "Chwirut2") return detail::run_model<chwirut>(p, start, opt);
    if (n == "Lanczos1" || n == "Lanczos2" || n == "Lanczos3") return detail::run_model<lanczos>(p, start, opt);
    if (n == "Gauss1" || n == "Gauss2" || n == "Gauss3") return detail::run_model<gauss>(p, start, opt);
    if (n == "DanWood") return detail::run_model<danwood>(p, start, opt);
    if (n == "Misra1b") return detail::run_model<misra1b>(p, start, opt);
    if (n == "Kirby2") return detail::run_model<kirby2>(p, start, opt);
    if (n == "Hahn1" || n == "Thurber") return detail::run_model<hahn1>(p, start, opt);
    if (n == "Nelson") return detail::run_model<nelson>(p, start, opt);
    if (n == "MGH17") return detail::run_model<mgh17>(p, start, opt);
    if (n == "Misra1c") return detail::run_model<misra1c>(p, start, opt);
    if (n == "Misra1d") return detail::run_model<misra1d>(p, start, opt);
    if (n == "Roszman1") return detail::run_model<roszman1>(p, start, opt);
    if (n == "ENSO") return detail::run_model<enso>(p, start, opt);
    if (n == "MGH09") return detail::run_model<mgh09>(p, start, opt);
    if (n == "BoxBOD") return detail::run_model<boxbod>(p, start, opt);
    if (n == "Rat42") return detail::run_model<rat42>(p, start, opt);
    if (n == "MGH10") return detail::run_model<mgh10>(p, start, opt);
    if (n == "Eckerle4") return detail::run_model<eckerle4>(p, start, opt);
    if (n == "Rat43") return detail::run_model<rat43>(p, start, opt);
    if (n == "Bennett5") return detail::run_model<bennett5>(p, start, opt);
    throw std::invalid_argument("nist: unknown problem '" + n + "'");
}

/// The 27 problem names in NIST's order of difficulty.
inline constexpr std::array<std::string_view, 27> problem_names = {
    "Misra1a", "Chwirut2", "Chwirut1", "Lanczos3", "Gauss1",   "Gauss2",  "DanWood", "Misra1b", "Kirby2",
    "Hahn1",   "Nelson",   "MGH17",    "Lanczos1", "Lanczos2", "Gauss3",  "Misra1c", "Misra1d", "Roszman1",
    "ENSO",    "MGH09",    "Thurber",  "BoxBOD",   "Rat42",    "MGH10",   "Eckerle4", "Rat43",  "Bennett5"};

} // namespace mpq::fit::nist
