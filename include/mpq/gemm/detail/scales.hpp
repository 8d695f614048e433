// Group scales of a weight segment as float multipliers, with the format's code multiplier
// folded in (the kernels decode 4- and 8-bit integer-like codes to plain integers: MXINT4
// q/4 -> q, E2M1 v -> 2v, MXINT8 q/64 -> q). Every folded product is exact: the code
// multipliers are powers of two and the E8M0 decode is a power of two (subnormal at 2^-127).
#pragma once

#include <mpq/gemm/mixed_matrix.hpp>

#include <array>
#include <cstring>

namespace mpq::detail {

constexpr std::array<float, 256> make_e8m0_table(float multiplier) {
    std::array<float, 256> t{};
    for (std::uint32_t b = 0; b < 256; ++b) t[b] = e8m0::decode(static_cast<std::uint8_t>(b)) * multiplier;
    return t;
}

/// E8M0 byte -> 2^(b-127) * code multiplier of format F.
template <weight_format F>
inline constexpr std::array<float, 256> e8m0_table_v = make_e8m0_table(info(F).code_multiplier);

template <weight_format F>
constexpr const float* e8m0_table() { return e8m0_table_v<F>.data(); }

/// What a kernel needs besides the segment: the matrix's NVFP4 scale table.
struct decode_context {
    const float* nvfp4_table; ///< mixed_matrix::nvfp4_scale_table()
};

/// Multipliers of elements 0..15 (lo) and 16..31 (hi) of unit u of a segment in format F.
template <weight_format F>
inline void unit_scales(const weight_segment& s, std::size_t u, const decode_context& ctx, float& lo,
                        float& hi) {
    constexpr weight_format_info i = info(F);
    if constexpr (i.scale == scale_storage::none) {
        lo = hi = 1.0f;
    } else if constexpr (i.scale == scale_storage::e8m0) {
        lo = hi = e8m0_table<F>()[s.scales[u]];
    } else if constexpr (i.scale == scale_storage::ue4m3) {
        lo = ctx.nvfp4_table[s.scales[2 * u] & 0x7FU];
        hi = ctx.nvfp4_table[s.scales[2 * u + 1] & 0x7FU];
    } else {
        float v;
        std::memcpy(&v, s.scales + 4 * u, 4);
        lo = hi = v * i.code_multiplier;
    }
}

/// Integer (or, for FP8/BF16/FP16/FP32, the element value) that code c of format F decodes
/// to before unit_scales: the scalar twin of the SIMD decoders.
template <weight_format F>
inline float kernel_code_value(std::uint32_t c) {
    constexpr weight_format_info i = info(F);
    if constexpr (i.integer_codes) return decode_weight_code(F, c) / i.code_multiplier;
    else return decode_weight_code(F, c);
}

} // namespace mpq::detail
