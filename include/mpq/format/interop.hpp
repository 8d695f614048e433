// Byte layouts of other ecosystems for MXFP4, converted losslessly both ways.
//
// - OCP / torchao / ModelOpt order: byte j holds element 2j in the low nibble and 2j+1 in the
//   high nibble. This is mpq's own packing (packing.hpp), so quantized_tensor<mxfp4>::codes()
//   already is this layout for rows whose length is even.
// - ggml `block_mxfp4` (17 bytes per 32 values): one E8M0 byte, then 16 bytes where byte j holds
//   element j in the low nibble and element j + 16 in the high nibble. ggml gives the byte 0xFF
//   no NaN meaning; mpq's NaN blocks (scale 0xFF, codes 0) convert byte for byte all the same.
// - gpt-oss checkpoints: a `blocks` tensor uint8 [rows, G, 16] (interleaved as OCP) and a
//   `scales` tensor uint8 [rows, G] of E8M0 bytes, G = cols / 32.
// All three need rows whose length is a multiple of 32 blocked along rows with blocks of 32;
// anything else gets std::invalid_argument.
#pragma once

#include <mpq/format/mx.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mpq {

/// One ggml block_mxfp4.
struct ggml_block_mxfp4 {
    std::uint8_t e;
    std::uint8_t qs[16];
};
static_assert(sizeof(ggml_block_mxfp4) == 17, "ggml's block_mxfp4 is 17 bytes");

/// The separate `blocks` and `scales` tensors of a gpt-oss MXFP4 weight.
struct gpt_oss_mxfp4 {
    std::size_t rows = 0;
    std::size_t groups = 0;           ///< G = cols / 32
    std::vector<std::uint8_t> blocks; ///< rows * G * 16 bytes
    std::vector<std::uint8_t> scales; ///< rows * G bytes
};

namespace detail {

template <std::size_t B>
void require_interop_shape(const mx<fp4_e2m1, B>& format, std::size_t cols, block_axis axis, const char* layout) {
    if (format.block_size() != 32)
        throw_invalid(std::string("mpq: the ") + layout + " layout needs blocks of 32, got " +
                      std::to_string(format.block_size()));
    if (cols % 32 != 0)
        throw_invalid(std::string("mpq: the ") + layout + " layout needs rows of a multiple of 32 values, got " +
                      std::to_string(cols));
    if (axis != block_axis::rows) throw_invalid(std::string("mpq: the ") + layout + " layout blocks along rows");
}

} // namespace detail

/// MXFP4 tensor -> ggml block_mxfp4 array (rows * cols / 32 blocks, row by row).
template <std::size_t B, bool Mutable>
std::vector<ggml_block_mxfp4> to_ggml_mxfp4(basic_quantized_view<mx<fp4_e2m1, B>, Mutable> q) {
    detail::require_interop_shape(q.format, q.cols, q.axis, "ggml block_mxfp4");
    q.validate();
    const std::size_t per_row = q.cols / 32;
    std::vector<ggml_block_mxfp4> out(q.rows * per_row);
    for (std::size_t r = 0; r < q.rows; ++r) {
        for (std::size_t b = 0; b < per_row; ++b) {
            auto& block = out[r * per_row + b];
            block.e = q.scales[r * per_row + b];
            for (std::size_t j = 0; j < 16; ++j) {
                block.qs[j] = static_cast<std::uint8_t>(q.code(r, b * 32 + j) | (q.code(r, b * 32 + j + 16) << 4));
            }
        }
    }
    return out;
}

/// ggml block_mxfp4 array -> MXFP4 tensor of rows x cols (cols a multiple of 32).
inline quantized_tensor<mxfp4> from_ggml_mxfp4(std::span<const ggml_block_mxfp4> blocks, std::size_t rows,
                                               std::size_t cols) {
    detail::require_interop_shape(mxfp4{}, cols, block_axis::rows, "ggml block_mxfp4");
    detail::require_size("ggml block_mxfp4 array", blocks.size(), rows * cols / 32);
    quantized_tensor<mxfp4> q(mxfp4{}, rows, cols);
    auto v = q.view();
    const std::size_t per_row = cols / 32;
    for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t b = 0; b < per_row; ++b) {
            const auto& block = blocks[r * per_row + b];
            v.scales[r * per_row + b] = block.e;
            for (std::size_t j = 0; j < 16; ++j) {
                v.set_code(r, b * 32 + j, block.qs[j] & 0xFU);
                v.set_code(r, b * 32 + j + 16, block.qs[j] >> 4);
            }
        }
    }
    return q;
}

/// MXFP4 tensor -> gpt-oss `blocks` / `scales` tensors.
template <std::size_t B, bool Mutable>
gpt_oss_mxfp4 to_gpt_oss(basic_quantized_view<mx<fp4_e2m1, B>, Mutable> q) {
    detail::require_interop_shape(q.format, q.cols, q.axis, "gpt-oss");
    q.validate();
    gpt_oss_mxfp4 out;
    out.rows = q.rows;
    out.groups = q.cols / 32;
    out.blocks.assign(q.codes.begin(), q.codes.end()); // rows of 16-byte interleaved blocks
    out.scales.assign(q.scales.begin(), q.scales.end());
    return out;
}

/// gpt-oss `blocks` / `scales` tensors -> MXFP4 tensor of rows x (32 * groups).
inline quantized_tensor<mxfp4> from_gpt_oss(const gpt_oss_mxfp4& in) {
    detail::require_size("gpt-oss blocks tensor (bytes)", in.blocks.size(), in.rows * in.groups * 16);
    detail::require_size("gpt-oss scales tensor", in.scales.size(), in.rows * in.groups);
    quantized_tensor<mxfp4> q(mxfp4{}, in.rows, in.groups * 32);
    q.codes() = in.blocks;
    q.scales() = in.scales;
    return q;
}

} // namespace mpq
