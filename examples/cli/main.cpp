// mpq: the command-line face of the library. Sub-commands register themselves (command.hpp).
#include "cli/args.hpp"
#include "cli/command.hpp"

#include <mpq/version.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

namespace {

void print_help() {
    fmt::print("mpq {} — mixed-precision quantization numerics\n\n", mpq::version_string);
    fmt::print("usage: mpq <command> [options]\n\ncommands:\n");
    auto commands = mpq::cli::registry();
    std::sort(commands.begin(), commands.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    for (const auto& c : commands) fmt::print("  {:<10} {}\n", c.name, c.summary);
    fmt::print("\n");
    for (const auto& c : commands) fmt::print("  mpq {}\n", c.synopsis);
    fmt::print("\nmpq --version prints the version; mpq <command> --help describes a command.\n");
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        print_help();
        return 0;
    }
    if (args[0] == "--version") {
        fmt::print("mpq {}\n", mpq::version_string);
        return 0;
    }
    const auto& commands = mpq::cli::registry();
    auto it = std::find_if(commands.begin(), commands.end(),
                           [&](const auto& c) { return c.name == args[0]; });
    if (it == commands.end()) {
        fmt::print(stderr, "mpq: unknown command '{}' (run 'mpq' for the list)\n", args[0]);
        return mpq::cli::exit_usage;
    }
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (!rest.empty() && (rest[0] == "--help" || rest[0] == "-h")) {
        fmt::print("mpq {}\n  {}\n", it->synopsis, it->summary);
        return 0;
    }
    try {
        return it->run(rest);
    } catch (const mpq::cli::usage_error& e) {
        fmt::print(stderr, "mpq {}: {}\n", it->name, e.what());
        return mpq::cli::exit_usage;
    } catch (const std::invalid_argument& e) {
        std::string_view what = e.what();
        if (what.starts_with("mpq: ")) what.remove_prefix(5); // the library's own prefix
        fmt::print(stderr, "mpq {}: {}\n", it->name, what);
        return mpq::cli::exit_usage;
    } catch (const std::exception& e) {
        fmt::print(stderr, "mpq {}: error: {}\n", it->name, e.what());
        return 1;
    }
}
