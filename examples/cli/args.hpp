// Command-line parsing shared by the mpq sub-commands: "--name value", "--flag" and
// positional arguments, with one clear error for anything unknown or malformed.
#pragma once

#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mpq::cli {

/// Bad usage or bad input: main prints "mpq: <what>" on stderr and exits with status 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class parsed_args {
public:
    /// `valued` options take the next argument as their value; `flags` stand alone.
    parsed_args(std::span<const std::string> args, const std::set<std::string>& valued,
                const std::set<std::string>& flags = {}) {
        for (std::size_t i = 0; i < args.size(); ++i) {
            const std::string& a = args[i];
            if (a.size() > 2 && a.starts_with("--")) {
                std::string name = a.substr(2);
                std::optional<std::string> inline_value;
                if (auto eq = name.find('='); eq != std::string::npos) {
                    inline_value = name.substr(eq + 1);
                    name.resize(eq);
                }
                if (flags.contains(name) && !inline_value) {
                    flags_.insert(name);
                } else if (valued.contains(name)) {
                    if (inline_value) {
                        values_[name] = *inline_value;
                    } else if (i + 1 < args.size()) {
                        values_[name] = args[++i];
                    } else {
                        throw usage_error("option --" + name + " needs a value");
                    }
                } else {
                    throw usage_error("unknown option --" + name);
                }
            } else {
                positional_.push_back(a);
            }
        }
    }

    bool flag(const std::string& name) const { return flags_.contains(name); }
    bool has(const std::string& name) const { return values_.contains(name); }
    const std::vector<std::string>& positional() const { return positional_; }

    std::optional<std::string> get(const std::string& name) const {
        auto it = values_.find(name);
        if (it == values_.end()) return std::nullopt;
        return it->second;
    }
    std::string get_or(const std::string& name, std::string fallback) const {
        return get(name).value_or(std::move(fallback));
    }
    std::string require(const std::string& name) const {
        if (auto v = get(name)) return *v;
        throw usage_error("missing required option --" + name);
    }

    /// An integer option; rejects trailing characters and values outside [lo, hi].
    std::int64_t integer_or(const std::string& name, std::int64_t fallback,
                            std::int64_t lo = INT64_MIN, std::int64_t hi = INT64_MAX) const {
        auto v = get(name);
        if (!v) return fallback;
        return parse_integer(name, *v, lo, hi);
    }
    double number_or(const std::string& name, double fallback) const {
        auto v = get(name);
        if (!v) return fallback;
        return parse_number(name, *v);
    }

    static std::int64_t parse_integer(const std::string& name, std::string_view text,
                                      std::int64_t lo = INT64_MIN, std::int64_t hi = INT64_MAX) {
        std::int64_t value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc{} || end != text.data() + text.size())
            throw usage_error("--" + name + " expects an integer, got '" + std::string(text) + "'");
        if (value < lo || value > hi)
            throw usage_error("--" + name + " value " + std::string(text) + " is out of range [" +
                              std::to_string(lo) + ", " + std::to_string(hi) + "]");
        return value;
    }
    static double parse_number(const std::string& name, std::string_view text) {
        double value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc{} || end != text.data() + text.size())
            throw usage_error("--" + name + " expects a number, got '" + std::string(text) + "'");
        return value;
    }

private:
    std::map<std::string, std::string> values_;
    std::set<std::string> flags_;
    std::vector<std::string> positional_;
};

/// Splits "a,b,c" into its non-empty parts.
inline std::vector<std::string> split_list(std::string_view text, char sep = ',') {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto end = text.find(sep, start);
        if (end == std::string_view::npos) end = text.size();
        if (end > start) parts.emplace_back(text.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

} // namespace mpq::cli
