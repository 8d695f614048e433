// Dense packing of element codes into bytes.
//
// Layout (mpq's default, and the OCP / torchao / gpt-oss order for 4-bit codes):
//   8-bit: one code per byte.
//   4-bit: byte j holds code 2j in its low nibble and code 2j+1 in its high nibble.
//   6-bit: every 3 bytes hold 4 codes as a little-endian 24-bit word, code 4j+k in bits 6k..6k+5
//          (mpq's own convention; no reference defines a dense FP6 layout).
// Each row of a 2-D tensor starts on a fresh byte (a fresh 3-byte group for 6-bit codes), so
// rows can be addressed independently; padding bits of a row's last byte are zero.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mpq {

template <int Bits>
struct code_packing {
    static_assert(Bits == 4 || Bits == 6 || Bits == 8, "mpq packs 4-, 6- and 8-bit codes");
    static constexpr int bits = Bits;

    /// Bytes used by a row of n codes.
    static constexpr std::size_t row_bytes(std::size_t n) {
        if constexpr (Bits == 8) return n;
        else if constexpr (Bits == 4) return (n + 1) / 2;
        else return (n + 3) / 4 * 3;
    }

    static constexpr std::uint32_t get(const std::uint8_t* row, std::size_t i) {
        if constexpr (Bits == 8) {
            return row[i];
        } else if constexpr (Bits == 4) {
            return (row[i / 2] >> ((i & 1U) * 4U)) & 0xFU;
        } else {
            const std::uint8_t* g = row + i / 4 * 3;
            const std::uint32_t word = g[0] | (std::uint32_t{g[1]} << 8) | (std::uint32_t{g[2]} << 16);
            return (word >> ((i & 3U) * 6U)) & 0x3FU;
        }
    }

    static constexpr void set(std::uint8_t* row, std::size_t i, std::uint32_t code) {
        if constexpr (Bits == 8) {
            row[i] = static_cast<std::uint8_t>(code);
        } else if constexpr (Bits == 4) {
            const unsigned shift = (i & 1U) * 4U;
            auto& byte = row[i / 2];
            byte = static_cast<std::uint8_t>((byte & ~(0xFU << shift)) | ((code & 0xFU) << shift));
        } else {
            std::uint8_t* g = row + i / 4 * 3;
            std::uint32_t word = g[0] | (std::uint32_t{g[1]} << 8) | (std::uint32_t{g[2]} << 16);
            const unsigned shift = (i & 3U) * 6U;
            word = (word & ~(0x3FU << shift)) | ((code & 0x3FU) << shift);
            g[0] = static_cast<std::uint8_t>(word);
            g[1] = static_cast<std::uint8_t>(word >> 8);
            g[2] = static_cast<std::uint8_t>(word >> 16);
        }
    }
};

} // namespace mpq
