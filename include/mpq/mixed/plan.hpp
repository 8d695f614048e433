// Precision plans: a format for every component of a model, the quantization ratio Qr and the
// storage they imply, and a documented line format that engines can load.
//
// Qr = ||W_low||_0 / (||W_low||_0 + ||W_high||_0): the share of parameters held in a format
// marked low precision, counted in parameters.
//
// Plan file format (UTF-8 text, one record per line; blank lines and lines starting with '#'
// are ignored; fields are separated by single spaces or tabs; names contain no whitespace):
//   mpq-plan 1                                  first record: magic and format version
//   granularity layer|matmul|block
//   format <index> <name> <bits_per_element> low|high     indices 0, 1, 2, ... in order
//   component <layer> <matmul|-> <block|-> <parameters> <format index>
//   end                                         last record
// Example:
//   mpq-plan 1
//   granularity matmul
//   format 0 bf16 16 high
//   format 1 mxint4 4.25 low
//   component layers.0 attention.wq - 4096 1
//   component layers.0 attention.wk - 2048 0
//   end
#pragma once

#include <mpq/mixed/model.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <istream>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpq::mixed {

/// A format a plan may assign, with its storage cost. `bits_per_element` includes the scale
/// overhead (MXINT4 with blocks of 32: 4 + 8/32 = 4.25); format_choice_of in
/// mpq/mixed/format_cost.hpp fills it from the format API.
struct format_choice {
    std::string name;
    double bits_per_element = 0;
    bool low_precision = false;
};

/// A format index for every component (`assignment[i]` indexes `formats` for
/// `components[i]`).
struct precision_plan {
    granularity level = granularity::matmul;
    std::vector<format_choice> formats;
    std::vector<component> components;
    std::vector<std::size_t> assignment;

    /// Throws std::invalid_argument unless there is at least one format, every format has a
    /// name without whitespace and finite positive bits, and every component has a valid
    /// format index and at least one parameter.
    void validate() const {
        if (formats.empty()) throw std::invalid_argument("plan: no formats");
        for (const auto& f : formats) {
            if (f.name.empty() || f.name.find_first_of(" \t\r\n#") != std::string::npos)
                throw std::invalid_argument("plan: bad format name '" + f.name + "'");
            if (!(f.bits_per_element > 0) || !std::isfinite(f.bits_per_element))
                throw std::invalid_argument("plan: format '" + f.name + "' has bits per element " +
                                            std::to_string(f.bits_per_element));
        }
        if (assignment.size() != components.size())
            throw std::invalid_argument("plan: " + std::to_string(assignment.size()) + " assignments for " +
                                        std::to_string(components.size()) + " components");
        for (std::size_t i = 0; i < components.size(); ++i) {
            if (assignment[i] >= formats.size())
                throw std::invalid_argument("plan: component '" + components[i].name() + "' has format index " +
                                            std::to_string(assignment[i]) + " of " + std::to_string(formats.size()));
            if (components[i].parameters == 0)
                throw std::invalid_argument("plan: component '" + components[i].name() + "' has 0 parameters");
        }
    }

    /// The format of block `block` of matmul `matmul` in layer `layer` (component::whole: the
    /// whole matmul), whatever the plan's granularity. Throws std::invalid_argument if no
    /// component covers it, or if a whole matmul is asked of a plan that splits it in blocks.
    const format_choice& format_for(const std::string& layer, const std::string& matmul,
                                    std::size_t block = component::whole) const {
        for (std::size_t i = 0; i < components.size(); ++i) {
            const auto& c = components[i];
            if (c.layer != layer) continue;
            if (!c.matmul.empty() && c.matmul != matmul) continue;
            if (c.block != component::whole && block != component::whole && c.block != block) continue;
            if (c.block != component::whole && block == component::whole)
                throw std::invalid_argument("plan: '" + layer + "/" + matmul +
                                            "' is split into blocks; ask for one block");
            return formats[assignment[i]];
        }
        throw std::invalid_argument("plan: no component covers '" + layer + "/" + matmul + "'");
    }
};

/// A plan assigning `fill` (index into `formats`) to every component of `model` at `level`.
inline precision_plan uniform_plan(const model_desc& model, granularity level,
                                   std::vector<format_choice> formats, std::size_t fill = 0) {
    precision_plan p{level, std::move(formats), components(model, level), {}};
    p.assignment.assign(p.components.size(), fill);
    p.validate();
    return p;
}

/// Qr and storage of a plan.
struct plan_summary {
    std::size_t parameters = 0;     ///< all parameters
    std::size_t low_parameters = 0; ///< parameters in low-precision formats
    double qr = 0;                  ///< low_parameters / parameters
    double bits = 0;                ///< sum of parameters x bits_per_element
    double bits_per_weight = 0;     ///< bits / parameters
    double bytes = 0;               ///< bits / 8
    std::vector<std::size_t> parameters_per_format;
};

/// Qr, bits per weight and bytes of `plan` (validated first). Storage uses each format's
/// nominal bits per element, so a component whose length is not a multiple of the block size
/// is charged the same overhead per element as a full block.
inline plan_summary summarize(const precision_plan& plan) {
    plan.validate();
    plan_summary s;
    s.parameters_per_format.assign(plan.formats.size(), 0);
    for (std::size_t i = 0; i < plan.components.size(); ++i) {
        const std::size_t n = plan.components[i].parameters;
        const auto& f = plan.formats[plan.assignment[i]];
        s.parameters += n;
        if (f.low_precision) s.low_parameters += n;
        s.bits += static_cast<double>(n) * f.bits_per_element;
        s.parameters_per_format[plan.assignment[i]] += n;
    }
    s.qr = s.parameters ? static_cast<double>(s.low_parameters) / static_cast<double>(s.parameters) : 0.0;
    s.bits_per_weight = s.parameters ? s.bits / static_cast<double>(s.parameters) : 0.0;
    s.bytes = s.bits / 8.0;
    return s;
}

/// Qr of parameter counts: low / (low + high); std::invalid_argument when both are zero.
inline double quantization_ratio(std::size_t low_parameters, std::size_t high_parameters) {
    if (low_parameters + high_parameters == 0)
        throw std::invalid_argument("quantization_ratio: no parameters");
    return static_cast<double>(low_parameters) / static_cast<double>(low_parameters + high_parameters);
}

/// Writes `plan` in the plan file format (header comment). Validates first.
inline void write_plan(std::ostream& out, const precision_plan& plan) {
    plan.validate();
    std::ostringstream text;
    text.precision(17);
    text << "mpq-plan 1\n";
    text << "granularity " << to_string(plan.level) << "\n";
    for (std::size_t i = 0; i < plan.formats.size(); ++i)
        text << "format " << i << " " << plan.formats[i].name << " " << plan.formats[i].bits_per_element << " "
             << (plan.formats[i].low_precision ? "low" : "high") << "\n";
    for (std::size_t i = 0; i < plan.components.size(); ++i) {
        const auto& c = plan.components[i];
        text << "component " << c.layer << " " << (c.matmul.empty() ? "-" : c.matmul) << " "
             << (c.block == component::whole ? std::string("-") : std::to_string(c.block)) << " " << c.parameters
             << " " << plan.assignment[i] << "\n";
    }
    text << "end\n";
    out << text.str();
}

inline std::string plan_to_string(const precision_plan& plan) {
    std::ostringstream out;
    write_plan(out, plan);
    return out.str();
}

namespace detail {

inline std::vector<std::string> split_fields(const std::string& line) {
    std::vector<std::string> fields;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
        std::size_t j = i;
        while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
        if (j > i) fields.push_back(line.substr(i, j - i));
        i = j;
    }
    return fields;
}

inline std::size_t parse_size(const std::string& text, std::size_t line, const char* what) {
    std::size_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size())
        throw std::invalid_argument("plan line " + std::to_string(line) + ": " + what + " '" + text +
                                    "' is not a non-negative integer");
    return value;
}

} // namespace detail

/// Reads a plan in the plan file format. Throws std::invalid_argument with the line number
/// for a missing or wrong header, an unknown record, a wrong field count, a bad number, format
/// indices out of order, a component before the formats or naming an unknown format, a
/// missing "end", or content after it; then validates the plan.
inline precision_plan read_plan(std::istream& in) {
    precision_plan plan;
    std::string line;
    std::size_t number = 0;
    bool have_header = false, have_level = false, ended = false;
    while (std::getline(in, line)) {
        ++number;
        const auto f = detail::split_fields(line);
        if (f.empty() || f[0].starts_with("#")) continue;
        const std::string where = "plan line " + std::to_string(number) + ": ";
        if (ended) throw std::invalid_argument(where + "content after 'end'");
        if (!have_header) {
            if (f.size() != 2 || f[0] != "mpq-plan")
                throw std::invalid_argument(where + "expected the header 'mpq-plan 1'");
            if (f[1] != "1") throw std::invalid_argument(where + "unsupported plan version " + f[1]);
            have_header = true;
            continue;
        }
        if (f[0] == "granularity" && f.size() == 2) {
            plan.level = parse_granularity(f[1]);
            have_level = true;
        } else if (f[0] == "format" && f.size() == 5) {
            if (detail::parse_size(f[1], number, "format index") != plan.formats.size())
                throw std::invalid_argument(where + "format index " + f[1] + " out of order (expected " +
                                            std::to_string(plan.formats.size()) + ")");
            if (!plan.components.empty()) throw std::invalid_argument(where + "format after components");
            double bits = 0;
            auto [end, ec] = std::from_chars(f[3].data(), f[3].data() + f[3].size(), bits);
            if (ec != std::errc{} || end != f[3].data() + f[3].size() || !(bits > 0) || !std::isfinite(bits))
                throw std::invalid_argument(where + "bits per element '" + f[3] + "' is not a positive number");
            if (f[4] != "low" && f[4] != "high")
                throw std::invalid_argument(where + "expected low or high, got '" + f[4] + "'");
            plan.formats.push_back({f[2], bits, f[4] == "low"});
        } else if (f[0] == "component" && f.size() == 6) {
            component c;
            c.layer = f[1];
            c.matmul = f[2] == "-" ? "" : f[2];
            c.block = f[3] == "-" ? component::whole : detail::parse_size(f[3], number, "block");
            c.parameters = detail::parse_size(f[4], number, "parameter count");
            const std::size_t index = detail::parse_size(f[5], number, "format index");
            if (index >= plan.formats.size())
                throw std::invalid_argument(where + "format index " + f[5] + " names no format");
            plan.components.push_back(std::move(c));
            plan.assignment.push_back(index);
        } else if (f[0] == "end" && f.size() == 1) {
            ended = true;
        } else {
            throw std::invalid_argument(where + "unknown or malformed record '" + f[0] + "' with " +
                                        std::to_string(f.size()) + " fields");
        }
    }
    if (!have_header) throw std::invalid_argument("plan: empty input (no 'mpq-plan 1' header)");
    if (!have_level) throw std::invalid_argument("plan: no granularity record");
    if (!ended) throw std::invalid_argument("plan: missing 'end' (truncated file?)");
    plan.validate();
    return plan;
}

inline precision_plan plan_from_string(const std::string& text) {
    std::istringstream in(text);
    return read_plan(in);
}

} // namespace mpq::mixed
