// Formats by name, for programs that choose them at run time (command lines, sweeps, plans).
// Names: mxint8 mxint4 mxfp8_e4m3 mxfp8_e5m2 mxfp6_e3m2 mxfp6_e2m3 mxfp4 nvfp4
//        fp4_e2m1_tensor fp4_e2m1_vector int8_tensor int8_vector int4_tensor int4_vector
#pragma once

#include <mpq/format/mx.hpp>
#include <mpq/format/nvfp4.hpp>
#include <mpq/format/scaled.hpp>

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

namespace mpq {

/// Every format with its run-time parameter (block size or vector length) filled in.
using any_format = std::variant<mx_dynamic<mx_int8_element>, mx_dynamic<mx_int4_element>,
                                mx_dynamic<fp8_e4m3>, mx_dynamic<fp8_e5m2>, mx_dynamic<fp6_e3m2>,
                                mx_dynamic<fp6_e2m3>, mx_dynamic<fp4_e2m1>, nvfp4,
                                per_tensor<fp4_e2m1>, per_vector<fp4_e2m1>, per_tensor<int8_element>,
                                per_vector<int8_element>, per_tensor<int4_element>,
                                per_vector<int4_element>>;

inline constexpr std::array<std::string_view, 14> format_names{
    "mxint8",          "mxint4",          "mxfp8_e4m3",  "mxfp8_e5m2",  "mxfp6_e3m2",
    "mxfp6_e2m3",      "mxfp4",           "nvfp4",       "fp4_e2m1_tensor", "fp4_e2m1_vector",
    "int8_tensor",     "int8_vector",     "int4_tensor", "int4_vector"};

/// The format called `name`. `block` is the MX block size (default 32, any positive size), the
/// vector length of *_vector formats (default 0: one scale per row), and must be 0 or 16 for
/// nvfp4 and 0 for *_tensor. Throws std::invalid_argument naming the bad name or block.
inline any_format make_format(std::string_view name, std::size_t block = 0) {
    auto mx_block = [&] { return block == 0 ? std::size_t{32} : block; };
    auto no_block = [&](std::string_view why) {
        if (block != 0)
            throw std::invalid_argument("mpq: format " + std::string(name) + " takes no block size (" +
                                        std::string(why) + "), got " + std::to_string(block));
    };
    if (name == "mxint8") return mx_dynamic<mx_int8_element>(mx_block());
    if (name == "mxint4") return mx_dynamic<mx_int4_element>(mx_block());
    if (name == "mxfp8_e4m3") return mx_dynamic<fp8_e4m3>(mx_block());
    if (name == "mxfp8_e5m2") return mx_dynamic<fp8_e5m2>(mx_block());
    if (name == "mxfp6_e3m2") return mx_dynamic<fp6_e3m2>(mx_block());
    if (name == "mxfp6_e2m3") return mx_dynamic<fp6_e2m3>(mx_block());
    if (name == "mxfp4") return mx_dynamic<fp4_e2m1>(mx_block());
    if (name == "nvfp4") {
        if (block != 0 && block != 16)
            throw std::invalid_argument("mpq: nvfp4 blocks are 16 elements, got --block " +
                                        std::to_string(block));
        return nvfp4{};
    }
    if (name == "fp4_e2m1_tensor") return no_block("one scale per tensor"), per_tensor<fp4_e2m1>{};
    if (name == "int8_tensor") return no_block("one scale per tensor"), per_tensor<int8_element>{};
    if (name == "int4_tensor") return no_block("one scale per tensor"), per_tensor<int4_element>{};
    if (name == "fp4_e2m1_vector") return per_vector<fp4_e2m1>(block);
    if (name == "int8_vector") return per_vector<int8_element>(block);
    if (name == "int4_vector") return per_vector<int4_element>(block);
    std::string known;
    for (auto n : format_names) known += (known.empty() ? "" : ", ") + std::string(n);
    throw std::invalid_argument("mpq: unknown format '" + std::string(name) + "' (known: " + known + ")");
}

/// Calls fn(format) with the concrete format object.
template <class Fn>
decltype(auto) visit_format(const any_format& format, Fn&& fn) {
    return std::visit(std::forward<Fn>(fn), format);
}

/// The registry name of a format ("mxfp4" for every MX FP4 block size, ...).
inline std::string format_name(const any_format& format) {
    return std::visit([](const auto& f) {
        std::string n = f.name();
        return n.substr(0, n.find('@'));
    }, format);
}

} // namespace mpq
