// llama2.c checkpoint reader: the model files of Karpathy's llama2.c ("legacy" version 0
// export), such as the stories260K model embedded in the mpq program.
//
// Layout: 7 little-endian int32 — dim, hidden_dim, n_layers, n_heads, n_kv_heads,
// vocab_size, seq_len — then float32 arrays in this order (kv_dim = dim * n_kv_heads / n_heads,
// head_size = dim / n_heads):
//   tok_embeddings [vocab, dim]; attention_norm [layers][dim]; wq [layers][dim, dim];
//   wk [layers][kv_dim, dim]; wv [layers][kv_dim, dim]; wo [layers][dim, dim];
//   ffn_norm [layers][dim]; w1 [layers][hidden, dim]; w2 [layers][dim, hidden];
//   w3 [layers][hidden, dim]; norm [dim]; freq_cis_real [seq_len, head_size/2];
//   freq_cis_imag [seq_len, head_size/2]; and, only when vocab_size is negative (an unshared
//   classifier; the vocabulary is then |vocab_size|), output [vocab, dim].
// Tensor names follow Meta's Llama checkpoints: tok_embeddings, layers.N.attention_norm,
// layers.N.attention.wq/wk/wv/wo, layers.N.ffn_norm, layers.N.feed_forward.w1/w2/w3, norm,
// output. The two RoPE tables are not weights and are skipped unless asked for.
#pragma once

#include <mpq/io/detail/bytes.hpp>
#include <mpq/io/tensor.hpp>

#include <cstdint>
#include <string>

namespace mpq::io {

/// The hyper-parameters in a llama2.c checkpoint header.
struct llama2c_config {
    std::int32_t dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0;
    std::int32_t vocab_size = 0; ///< always positive here; see shared_classifier
    std::int32_t seq_len = 0;
    bool shared_classifier = true; ///< false when the file's vocab_size was negative
};

struct llama2c_file {
    llama2c_config config;
    tensor_set tensors;
};

namespace detail {

/// The header of a llama2.c checkpoint with the extents derived from it.
struct llama2c_layout {
    llama2c_config config;
    std::size_t dim, hidden, layers, vocab, kv_dim, head_size, seq;
    std::uint64_t file_bytes; ///< the exact file size the header implies
};

inline llama2c_layout parse_llama2c_header(cursor& in) {
    llama2c_layout l;
    auto& c = l.config;
    std::int32_t fields[7];
    const char* names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
    for (int i = 0; i < 7; ++i) fields[i] = in.read<std::int32_t>(names[i]);
    c.dim = fields[0]; c.hidden_dim = fields[1]; c.n_layers = fields[2]; c.n_heads = fields[3];
    c.n_kv_heads = fields[4]; c.seq_len = fields[6];
    c.shared_classifier = fields[5] > 0;
    c.vocab_size = fields[5] == INT32_MIN ? 0 : (fields[5] < 0 ? -fields[5] : fields[5]);
    fields[5] = c.vocab_size;
    for (int i = 0; i < 7; ++i)
        if (fields[i] <= 0 || fields[i] > (1 << 20))
            throw bad_file("llama2.c: header field " + std::string(names[i]) + " = " +
                           std::to_string(fields[i]) + " is out of range [1, 2^20]");
    if (c.dim % c.n_heads != 0)
        throw bad_file("llama2.c: dim " + std::to_string(c.dim) + " is not a multiple of n_heads " +
                       std::to_string(c.n_heads));
    if (c.n_heads % c.n_kv_heads != 0)
        throw bad_file("llama2.c: n_heads " + std::to_string(c.n_heads) +
                       " is not a multiple of n_kv_heads " + std::to_string(c.n_kv_heads));
    l.dim = static_cast<std::size_t>(c.dim);
    l.hidden = static_cast<std::size_t>(c.hidden_dim);
    l.layers = static_cast<std::size_t>(c.n_layers);
    l.vocab = static_cast<std::size_t>(c.vocab_size);
    l.kv_dim = l.dim * static_cast<std::size_t>(c.n_kv_heads) / static_cast<std::size_t>(c.n_heads);
    l.head_size = l.dim / static_cast<std::size_t>(c.n_heads);
    if (l.head_size % 2 != 0)
        throw bad_file("llama2.c: head size " + std::to_string(l.head_size) + " is odd");
    l.seq = static_cast<std::size_t>(c.seq_len);
    // Every extent is at most 2^20, yet the total could overflow: bound it in floating point
    // first (2^50 bytes is far beyond any real checkpoint).
    const double estimate =
        4.0 * (double(l.vocab) * double(l.dim) * 2 +
               double(l.layers) * (2.0 * double(l.dim) * double(l.dim) + 2.0 * double(l.kv_dim) * double(l.dim) +
                                   3.0 * double(l.hidden) * double(l.dim) + 2.0 * double(l.dim)) +
               double(l.seq) * double(l.head_size));
    if (estimate > 0x1p50)
        throw bad_file("llama2.c: header implies an absurd file size (about " + std::to_string(estimate) + " bytes)");
    const std::uint64_t floats =
        l.vocab * l.dim +
        l.layers * (2 * l.dim + 2 * l.dim * l.dim + 2 * l.kv_dim * l.dim + 3 * l.hidden * l.dim) + l.dim +
        l.seq * l.head_size + (c.shared_classifier ? 0 : l.vocab * l.dim);
    l.file_bytes = 28 + 4 * floats;
    return l;
}

} // namespace detail

/// The exact file size the 28-byte llama2.c header at the start of `bytes` implies, or 0 if
/// `bytes` does not start with a valid header. Never throws for bad input.
inline std::uint64_t llama2c_implied_size(std::span<const unsigned char> bytes) {
    try {
        detail::cursor in(bytes, "llama2.c");
        return detail::parse_llama2c_header(in).file_bytes;
    } catch (const bad_file&) {
        return 0;
    }
}

/// Parses a llama2.c checkpoint held in memory. The file size must equal exactly what the
/// header implies. Throws mpq::io::bad_file for a short header, a non-positive or absurd
/// (> 2^20) hyper-parameter, dim not divisible by n_heads, n_heads not divisible by n_kv_heads,
/// an odd head size, or a size mismatch (naming both sizes). `with_rope_tables` adds the
/// freq_cis_real / freq_cis_imag tables as tensors.
inline llama2c_file read_llama2c(std::span<const unsigned char> bytes, bool with_rope_tables = false) {
    detail::cursor in(bytes, "llama2.c");
    const detail::llama2c_layout l = detail::parse_llama2c_header(in);
    llama2c_file file;
    file.config = l.config;
    if (bytes.size() != l.file_bytes)
        throw bad_file("llama2.c: file is " + std::to_string(bytes.size()) +
                       " bytes but its header implies " + std::to_string(l.file_bytes));
    const std::size_t dim = l.dim, hidden = l.hidden, layers = l.layers, vocab = l.vocab,
                      kv_dim = l.kv_dim, head_size = l.head_size, seq = l.seq;
    const bool shared = l.config.shared_classifier;

    auto& out = file.tensors.tensors;
    auto take = [&](std::string name, std::vector<std::size_t> shape) {
        const std::uint64_t n = detail::element_count(shape, "llama2.c: " + name);
        const auto raw = in.take(4 * n, name);
        out.push_back({std::move(name), std::move(shape), detail::convert(raw, detail::stored_type::f32, n)});
    };
    auto per_layer = [&](const std::string& suffix, std::vector<std::size_t> shape) {
        for (std::size_t l = 0; l < layers; ++l) take("layers." + std::to_string(l) + "." + suffix, shape);
    };
    take("tok_embeddings", {vocab, dim});
    per_layer("attention_norm", {dim});
    per_layer("attention.wq", {dim, dim});
    per_layer("attention.wk", {kv_dim, dim});
    per_layer("attention.wv", {kv_dim, dim});
    per_layer("attention.wo", {dim, dim});
    per_layer("ffn_norm", {dim});
    per_layer("feed_forward.w1", {hidden, dim});
    per_layer("feed_forward.w2", {dim, hidden});
    per_layer("feed_forward.w3", {hidden, dim});
    take("norm", {dim});
    if (with_rope_tables) {
        take("freq_cis_real", {seq, head_size / 2});
        take("freq_cis_imag", {seq, head_size / 2});
    } else {
        in.skip(4 * seq * head_size, "RoPE tables");
    }
    if (!shared) take("output", {vocab, dim});
    return file;
}

/// Reads the llama2.c checkpoint at `path` (see the overload above).
inline llama2c_file read_llama2c_file(const std::string& path, bool with_rope_tables = false) {
    const auto bytes = detail::read_file(path);
    return read_llama2c(bytes, with_rope_tables);
}

} // namespace mpq::io
