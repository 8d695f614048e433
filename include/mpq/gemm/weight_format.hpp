// The formats a tile of a mixed-precision weight matrix can hold, and what the GEMM needs to
// know about each: code width, scale group, scale encoding and nominal bits per weight.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mpq {

/// Format of one tile of a mixed_matrix. Low precision: the MX formats at block size 32,
/// NVFP4 (blocks of 16, ue4m3 block scale times one float tensor scale), and per-vector
/// formats (one float32 absmax scale per row, "per-channel"). High precision: BF16, FP16,
/// FP32 (no scale).
enum class weight_format : std::uint8_t {
    mxint4,
    mxfp4,
    nvfp4,
    mxint8,
    mxfp8_e4m3,
    mxfp8_e5m2,
    int4_vector,
    fp4_vector,
    int8_vector,
    bf16,
    fp16,
    fp32,
};

inline constexpr std::array all_weight_formats{
    weight_format::mxint4,      weight_format::mxfp4,       weight_format::nvfp4,
    weight_format::mxint8,      weight_format::mxfp8_e4m3,  weight_format::mxfp8_e5m2,
    weight_format::int4_vector, weight_format::fp4_vector,  weight_format::int8_vector,
    weight_format::bf16,        weight_format::fp16,        weight_format::fp32};

/// How the per-group scale of a format is stored in a mixed_matrix.
enum class scale_storage : std::uint8_t {
    none,  ///< high-precision formats: the code is the value
    e8m0,  ///< one byte 2^(b-127) per group (MX)
    ue4m3, ///< one unsigned E4M3 byte per group, times the matrix's NVFP4 tensor scale
    f32,   ///< one float32 per group (per-vector formats; the row scale repeated per group)
};

/// Per-format constants used by packing and kernels.
struct weight_format_info {
    std::string_view name;
    int code_bits;               ///< 4, 8, 16 or 32
    std::size_t group;           ///< elements per scale group (16 or 32; 32 for unscaled)
    scale_storage scale;
    bool low_precision;          ///< counts toward Qr
    bool integer_codes;          ///< codes are (scaled) integers: the integer-dot path applies
    /// Codes decode (by the kernels) to the integer code_multiplier^-1 * element value:
    /// MXINT4 q/4 -> q, MXINT8 q/64 -> q, E2M1 v -> 2v. 1 for other formats.
    float code_multiplier;
    double scale_bits_per_group; ///< nominal scale storage per group (bits)
};

namespace detail {

/// info()'s answers, indexed by the format's enumerator. A table rather than a switch: a
/// lookup is one load that compilers inline at every optimisation level, where GCC 12 at
/// -O2 left the switch out of line in the packing code, one call per tile and format.
consteval std::array<weight_format_info, all_weight_formats.size()> make_weight_format_table() {
    std::array<weight_format_info, all_weight_formats.size()> table{};
    auto set = [&](weight_format f, weight_format_info i) { table[static_cast<std::size_t>(f)] = i; };
    set(weight_format::mxint4, {"mxint4", 4, 32, scale_storage::e8m0, true, true, 0.25f, 8});
    set(weight_format::mxfp4, {"mxfp4", 4, 32, scale_storage::e8m0, true, true, 0.5f, 8});
    set(weight_format::nvfp4, {"nvfp4", 4, 16, scale_storage::ue4m3, true, true, 0.5f, 8});
    set(weight_format::mxint8, {"mxint8", 8, 32, scale_storage::e8m0, true, true, 1.0f / 64, 8});
    set(weight_format::mxfp8_e4m3, {"mxfp8_e4m3", 8, 32, scale_storage::e8m0, true, false, 1, 8});
    set(weight_format::mxfp8_e5m2, {"mxfp8_e5m2", 8, 32, scale_storage::e8m0, true, false, 1, 8});
    set(weight_format::int4_vector, {"int4_vector", 4, 32, scale_storage::f32, true, true, 1, 0});
    set(weight_format::fp4_vector, {"fp4_vector", 4, 32, scale_storage::f32, true, true, 0.5f, 0});
    set(weight_format::int8_vector, {"int8_vector", 8, 32, scale_storage::f32, true, true, 1, 0});
    set(weight_format::bf16, {"bf16", 16, 32, scale_storage::none, false, false, 1, 0});
    set(weight_format::fp16, {"fp16", 16, 32, scale_storage::none, false, false, 1, 0});
    set(weight_format::fp32, {"fp32", 32, 32, scale_storage::none, false, false, 1, 0});
    return table;
}

inline constexpr auto weight_format_table = make_weight_format_table();

/// What info() answers for a value outside the enumeration.
inline constexpr weight_format_info unknown_weight_format_info{"?", 32, 32, scale_storage::none, false, false, 1, 0};

static_assert([] {
    for (std::size_t i = 0; i < all_weight_formats.size(); ++i)
        if (static_cast<std::size_t>(all_weight_formats[i]) != i || weight_format_table[i].name.empty()) return false;
    return true;
}(), "every weight_format has its entry in weight_format_table, in enumeration order");

} // namespace detail

/// The constants of format f (code width, scale group and encoding, code multiplier).
constexpr weight_format_info info(weight_format f) {
    const auto i = static_cast<std::size_t>(f);
    return i < detail::weight_format_table.size() ? detail::weight_format_table[i] : detail::unknown_weight_format_info;
}

/// The format's name: "mxint4", "nvfp4", "bf16", ...
constexpr std::string_view to_string(weight_format f) { return info(f).name; }

/// Parses a name printed by to_string; throws std::invalid_argument naming the text.
inline weight_format parse_weight_format(std::string_view text) {
    for (weight_format f : all_weight_formats)
        if (info(f).name == text) return f;
    throw std::invalid_argument("mpq: unknown weight format '" + std::string(text) + "'");
}

/// Nominal bits per weight of a format for rows of length `row_length` (the per-vector
/// formats carry one float32 scale per row): element bits plus scale bits per element.
constexpr double nominal_bits_per_weight(weight_format f, std::size_t row_length) {
    const weight_format_info i = info(f);
    if (i.scale == scale_storage::f32)
        return i.code_bits + (row_length ? 32.0 / static_cast<double>(row_length) : 0.0);
    return i.code_bits + i.scale_bits_per_group / static_cast<double>(i.group);
}

namespace detail {

/// Elements of one code unit: 4-bit codes are repacked per 32 elements (byte j holds element
/// j in its low nibble and element j + 16 in its high nibble); every segment is padded to it.
inline constexpr std::size_t gemm_unit = 32;

constexpr std::size_t round_up(std::size_t n, std::size_t m) { return (n + m - 1) / m * m; }

/// Bytes of a scale of a format.
constexpr std::size_t scale_bytes(weight_format f) {
    switch (info(f).scale) {
    case scale_storage::none: return 0;
    case scale_storage::f32: return 4;
    default: return 1;
    }
}

/// Bytes of one row of a tile segment of `length` elements: codes (padded to whole units),
/// then one scale per group.
constexpr std::size_t segment_code_bytes(weight_format f, std::size_t length) {
    return round_up(length, gemm_unit) * static_cast<std::size_t>(info(f).code_bits) / 8;
}
constexpr std::size_t segment_bytes(weight_format f, std::size_t length) {
    const std::size_t padded = round_up(length, gemm_unit);
    return segment_code_bytes(f, length) + padded / info(f).group * scale_bytes(f);
}

} // namespace detail

} // namespace mpq
