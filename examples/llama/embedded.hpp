// The stories260K model and its tokenizer as linked into the mpq program by
// examples/cli/embed.cmake. Only programs that link those data objects may include this.
#pragma once

#include "llama/checkpoint.hpp"
#include "llama/tokenizer.hpp"

#include <cstddef>
#include <span>

extern "C" const unsigned char mpq_stories260K_bin_begin[], mpq_stories260K_bin_end[];
extern "C" const unsigned char mpq_tok512_bin_begin[], mpq_tok512_bin_end[];

namespace mpq::llama {

inline std::span<const std::byte> embedded_bytes(const unsigned char* begin, const unsigned char* end) {
    return {reinterpret_cast<const std::byte*>(begin), static_cast<std::size_t>(end - begin)};
}

/// stories260K (llama2.c checkpoint), parsed from the program's embedded copy.
inline checkpoint embedded_stories260K() {
    return parse_checkpoint(embedded_bytes(mpq_stories260K_bin_begin, mpq_stories260K_bin_end));
}

/// stories260K's 512-token vocabulary, parsed from the program's embedded copy.
inline tokenizer embedded_tok512() {
    return tokenizer::parse(embedded_bytes(mpq_tok512_bin_begin, mpq_tok512_bin_end));
}

} // namespace mpq::llama
