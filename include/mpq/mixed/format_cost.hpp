// Bit accounting from the format API: the format_choice of a block format, so plans and
// searches charge exactly the storage the format reports.
#pragma once

#include <mpq/format/registry.hpp>
#include <mpq/mixed/plan.hpp>

#include <string>

namespace mpq::mixed {

/// The plan entry of `format`: its full name ("mxint4", "mxfp4@16", "int8_vector@128", ...)
/// and its nominal bits per element, scale overhead included (format.bits_per_element();
/// per-tensor scales and NVFP4's tensor scale are not counted, being O(1) per tensor).
inline format_choice format_choice_of(const any_format& format, bool low_precision) {
    return visit_format(format, [&](const auto& f) {
        return format_choice{f.name(), static_cast<double>(f.bits_per_element()), low_precision};
    });
}

/// The plan entry of a format given by registry name and block size (see make_format).
/// Throws std::invalid_argument for an unknown name or a bad block size.
inline format_choice format_choice_of(std::string_view name, std::size_t block, bool low_precision) {
    return format_choice_of(make_format(name, block), low_precision);
}

/// A float format without scales for the high-precision side: "bf16"/"fp16" (16 bits) or
/// "f32" (32 bits). Throws std::invalid_argument for any other name.
inline format_choice plain_float_choice(std::string_view name) {
    if (name == "bf16" || name == "fp16") return {std::string(name), 16.0, false};
    if (name == "f32") return {"f32", 32.0, false};
    throw std::invalid_argument("unknown plain float format '" + std::string(name) + "' (bf16, fp16, f32)");
}

} // namespace mpq::mixed
