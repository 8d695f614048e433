// mpq nist: runs the NIST StRD nonlinear-regression suite (every .dat file in a directory,
// both starting points) with default options and the autodiff Jacobian, and scores each run
// by its log relative error against the certified values.
#include "cli/args.hpp"
#include "cli/command.hpp"

#include <mpq/fit/nist.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace {
using namespace mpq::cli;

int run(std::span<const std::string> args) {
    const parsed_args a(args, {"jacobian"});
    if (a.positional().size() != 1) throw usage_error("expects one directory of NIST StRD .dat files");
    const std::filesystem::path dir = a.positional().front();
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) throw usage_error("'" + dir.string() + "' is not a directory");
    mpq::fit::options opt;
    const std::string jac = a.get_or("jacobian", "autodiff");
    if (jac == "autodiff") opt.jacobian = mpq::fit::jacobian_mode::autodiff;
    else if (jac == "fd" || jac == "finite_difference") opt.jacobian = mpq::fit::jacobian_mode::finite_difference;
    else throw usage_error("unknown --jacobian '" + jac + "' (autodiff, fd)");

    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.is_regular_file() && e.path().extension() == ".dat") files.push_back(e.path());
    if (files.empty()) throw usage_error("no .dat files in '" + dir.string() + "'");
    // NIST's order of difficulty where the name is known, unknown names last.
    auto rank = [](const std::filesystem::path& p) {
        const auto& names = mpq::fit::nist::problem_names;
        return std::find(names.begin(), names.end(), p.stem().string()) - names.begin();
    };
    std::sort(files.begin(), files.end(), [&](const auto& x, const auto& y) {
        return std::pair(rank(x), x.stem().string()) < std::pair(rank(y), y.stem().string());
    });

    fmt::print("{:<10} {:>5} {:>6} {:>6} {:>7}  {:<28} {:>10}\n", "problem", "start", "LRE", "iters", "evals", "status",
               "time (ms)");
    int good = 0, runs = 0;
    double lre_sum = 0, seconds = 0;
    for (const auto& f : files) {
        const auto problem = mpq::fit::nist::read_file(f.string());
        for (int start = 1; start <= 2; ++start) {
            const auto r = mpq::fit::nist::run(problem, start, opt);
            fmt::print("{:<10} {:>5} {:>6.2f} {:>6} {:>7}  {:<28} {:>10.3f}\n", r.problem, start, r.lre, r.solve.iterations,
                       r.solve.residual_evaluations, mpq::fit::to_string(r.solve.stop), r.seconds * 1e3);
            good += r.lre >= 6;
            lre_sum += r.lre;
            seconds += r.seconds;
            ++runs;
        }
    }
    fmt::print("total time: {:.1f} ms\n", seconds * 1e3);
    fmt::print("runs with >= 6 digits: {}/{}, mean LRE: {:.2f}\n", good, runs, lre_sum / runs);
    return 0;
}

const bool registered = register_command(
    {"nist", "nist DIR [--jacobian autodiff|fd]",
     "run the NIST StRD nonlinear least-squares suite (.dat files in DIR) and score by LRE", &run});

} // namespace
