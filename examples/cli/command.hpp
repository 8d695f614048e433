// The mpq program's sub-command registry. Each sub-command lives in its own source file and
// registers itself at start-up, so adding one never touches the others.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mpq::cli {

/// Exit status for bad usage or bad input (unknown names, unreadable files, malformed data).
inline constexpr int exit_usage = 2;

struct command {
    std::string_view name;
    std::string_view synopsis; ///< one line for the help screen, e.g. "qdq --format NAME ..."
    std::string_view summary;  ///< what the command does, one line
    int (*run)(std::span<const std::string> args); ///< args exclude the command name
};

/// All registered commands, in registration order.
inline std::vector<command>& registry() {
    static std::vector<command> commands;
    return commands;
}

/// Adds a command; use as `static const bool registered = register_command({...});`.
inline bool register_command(const command& c) {
    registry().push_back(c);
    return true;
}

} // namespace mpq::cli
